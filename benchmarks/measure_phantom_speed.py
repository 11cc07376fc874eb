"""Wall time of generating the demo protocol's phantom cohort (``protocols/quick.yaml``).

Simulates the demo's subjects exactly as the runner does (``suite.runner.run._prepare_phantom``:
per preset ``cohort(subjects, seed + 1000·preset_index, ...)`` with the protocol's overrides)
and writes them (ISMRMRD + NIfTI) into a temporary folder; prints the wall time per subject, the
total and the CPU time of the process (the better measure on a shared machine). Measures
whatever ``suite`` is first on ``sys.path`` (``PYTHONPATH=. python benchmarks/...`` from a
checkout).

Run: ``PYTHONPATH=. nice .venv/bin/python benchmarks/measure_phantom_speed.py [--repeat 2]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

DEMO = {"subjects": 2, "seed": 0, "presets": ["siemens-1.5t", "philips-3t"],
        "pathologies": ["normal", "dilated", "hypertrophic"],
        "overrides": {"matrix": [80, 100], "pixel_spacing_mm": 3.6, "n_frames": 8,
                      "n_coils": 8}}


def main(repeat: int = 1) -> None:
    from suite.phantom import cohort
    from suite.phantom.writer import write_subject

    best = None
    for _ in range(repeat):
        times = []
        cpu0 = time.process_time()
        with tempfile.TemporaryDirectory() as tmp:
            index = 0
            for p_i, preset in enumerate(DEMO["presets"]):
                specs = cohort(DEMO["subjects"], seed=DEMO["seed"] + 1000 * p_i, preset=preset,
                               pathology=DEMO["pathologies"])
                for spec in specs:
                    subject = f"phantom-{index:03d}"
                    index += 1
                    t0 = time.perf_counter()
                    case = dataclasses.replace(spec, subject=subject).simulate(
                        **DEMO["overrides"])
                    t1 = time.perf_counter()
                    write_subject(Path(tmp) / subject, case)
                    times.append((subject, preset, spec.pathology, t1 - t0,
                                  time.perf_counter() - t1))
        total = sum(t[3] + t[4] for t in times)
        if best is None or total < best[0]:
            best = (total, times, time.process_time() - cpu0)
    total, times, cpu = best
    for subject, preset, pathology, sim, write in times:
        print(f"{subject} {preset:13s} {pathology:13s} simulate {sim:6.2f} s  write {write:5.2f} s")
    print(f"total {total:.1f} s wall, {cpu:.1f} s CPU for {len(times)} subjects "
          f"(best of {repeat})")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1)
    main(ap.parse_args().repeat)

"""Runner scaling and memory, measured in one run (prints; asserts nothing).

1. the same protocol with the local executor at 1 and 2 workers (and Dask with 2 workers when
   `distributed` is installed): wall time and the speed ratio 2 workers / 1 worker, and the
   CPU seconds of the run's main process and of its workers (with their fork server), which a
   loaded machine does not inflate the way it inflates wall times;
2. peak resident memory of the run's processes (``ru_maxrss`` of this process and of its
   children), for the benchmark protocol and, with ``--quick``, for ``protocols/quick.yaml``.

Each configuration runs in a fresh Python process that has imported the job's modules before
the clock starts (as the earlier in-process measurement had, after its warm-up run), so no run
inherits another's worker processes or fork server.

Run: ``.venv/bin/python benchmarks/bench_runner.py [--quick] [--small]``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

#: The demo's reconstruction workload (protocols/quick.yaml's acquisition, two presets, R = 4
#: and 8, the iterative methods): 32 jobs of about 2 CPU-s, about a minute on one worker. A
#: workload of sub-second jobs (the `tiny` preset, which this benchmark used before) measures
#: the workers' start-up (a spawned worker imports torch and the suite: about 4 s), not the
#: runner's scaling: ``--small`` still runs it and prints that fixed cost.
PROTOCOL = {
    "name": "bench-runner",
    "seed": 0,
    "datasets": [{"name": "phantom", "phantom": {
        "subjects": 2, "seed": 1, "presets": ["siemens-1.5t", "philips-3t"],
        "pathologies": ["normal", "dilated"],
        "overrides": {"matrix": [80, 100], "pixel_spacing_mm": 3.6, "n_frames": 8,
                      "n_coils": 8}}}],
    "conditions": [{"name": "R4", "type": "undersample", "pattern": "kt-gaussian",
                    "acceleration": 4, "acs_lines": 12},
                   {"name": "R8", "type": "undersample", "pattern": "kt-gaussian",
                    "acceleration": 8, "acs_lines": 8}],
    "methods": {"recon": ["zero-filled", "cg-sense", {"name": "kt-cs", "params": {"max_iter": 30}},
                         {"name": "lowrank-sparse", "params": {"max_iter": 30}}]},
    "metrics": {"image": {"profiles": ["fastmri"]}},
    "analyses": {"bootstrap": {"n_resamples": 100}},
}

#: The small workload (16 sub-second jobs): what the workers' start-up costs.
SMALL_PROTOCOL = {
    **PROTOCOL,
    "datasets": [{"name": "phantom", "phantom": {"subjects": 4, "seed": 1, "presets": ["tiny"],
                                                 "overrides": {"n_frames": 8}}}],
    "conditions": [{"name": "R4", "type": "undersample", "pattern": "kt-gaussian",
                    "acceleration": 4, "acs_lines": 8}],
    "methods": {"recon": ["zero-filled", {"name": "cg-sense", "params": {"max_iter": 30}},
                         {"name": "kt-cs", "params": {"max_iter": 60}}, "lowrank-sparse"]},
}


def timed_run(proto_path, out, executor, workers):
    from suite.protocol import load_protocol
    from suite.runner import run_protocol

    proto = load_protocol(proto_path)
    t0 = time.perf_counter()
    result = run_protocol(proto, out, executor=executor, workers=workers, analyse=False)
    return time.perf_counter() - t0, result


def _cpu(usage) -> float:
    return usage.ru_utime + usage.ru_stime


def measured_run(proto_path, out, executor: str, workers: int) -> dict:
    """One run in a fresh process (the job's modules imported before the clock starts):
    wall seconds, CPU seconds of its main process and of its other processes (workers, their
    fork server, a Dask cluster's workers), number of jobs."""
    code = ("import json, sys; sys.path[:0] = sys.argv[1:3]; import bench_runner; "
            "print(json.dumps(bench_runner._child_run(*sys.argv[3:])))")
    here = Path(__file__).resolve().parent
    proc = subprocess.run([sys.executable, "-c", code, str(here.parent), str(here),
                           str(proto_path), str(out), executor, str(workers)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _child_run(proto_path, out, executor, workers) -> dict:
    import importlib

    from suite.runner.workers import WORKER_PRELOAD

    for name in WORKER_PRELOAD:  # warm, as a main process that has run jobs before
        importlib.import_module(name)
    c0, k0 = _cpu(resource.getrusage(resource.RUSAGE_SELF)), \
        _cpu(resource.getrusage(resource.RUSAGE_CHILDREN))
    wall, result = timed_run(proto_path, out, executor, int(workers))
    main_cpu = _cpu(resource.getrusage(resource.RUSAGE_SELF)) - c0
    return {"wall": wall, "main_cpu": main_cpu, "n_jobs": result.n_jobs,
            "other_cpu": _cpu(resource.getrusage(resource.RUSAGE_CHILDREN)) - k0}


def peak_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, kids


def result_values(run_dir: Path) -> list:
    """The results table of a run as sorted tuples (every column but the job timings)."""
    import sqlite3

    con = sqlite3.connect(run_dir / "results.sqlite")
    try:
        cols = [r[1] for r in con.execute("PRAGMA table_info(results)") if r[1] != "seconds"]
        return sorted(map(repr, con.execute(f"SELECT {', '.join(cols)} FROM results")))
    finally:
        con.close()


def scaling(tmp: Path, dask: bool = True, protocol: dict = PROTOCOL) -> dict:
    """Wall times (s) of the benchmark protocol: ``local x1``, ``local x2`` and ``dask x2``
    (None without ``distributed``), each in a fresh process (:func:`measured_run`; ``<label>
    cpu``: CPU seconds of its main process and of its other processes), the cohort generated
    once beforehand; ``identical``: the runs' results tables are equal."""
    proto = tmp / "bench.yaml"
    proto.write_text(yaml.safe_dump(protocol))
    # generate the cohort once so the timed runs measure jobs, not phantom simulation
    timed_run(proto, tmp / "warm", "serial", 1)
    data = tmp / "warm" / "data"
    times = {"n_jobs": 0}
    values: list = []
    runs = [("local x1", "local", 1), ("local x2", "local", 2)]
    try:
        import distributed  # noqa: F401

        if dask:
            runs.append(("dask x2", "dask", 2))
    except ImportError:
        times["dask x2"] = None
    for label, executor, workers in runs:
        out = tmp / label.replace(" ", "")
        out.mkdir()
        (out / "data").symlink_to(data, target_is_directory=True)
        run = measured_run(proto, out, executor, workers)
        times[label], times["n_jobs"] = run["wall"], run["n_jobs"]
        times[f"{label} cpu"] = (run["main_cpu"], run["other_cpu"])
        values.append(result_values(out))
    times["identical"] = all(v == values[0] for v in values[1:])
    return times


def main(quick: bool, small: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if small:
            (tmp / "small").mkdir()
            t = scaling(tmp / "small", dask=False, protocol=SMALL_PROTOCOL)
            print(f"small workload ({t['n_jobs']} sub-second jobs): local x1 {t['local x1']:.1f} s, "
                  f"x2 {t['local x2']:.1f} s: the difference is the workers' start-up")
        times = scaling(tmp)
        for label in ("local x1", "local x2", "dask x2"):
            if times.get(label) is not None:
                main_cpu, other = times[f"{label} cpu"]
                print(f"{label}: {times[label]:.1f} s wall for {times['n_jobs']} jobs; CPU-s: "
                      f"main process {main_cpu:.1f}, workers and fork server {other:.1f}")
        one = sum(times["local x1 cpu"])
        for label in ("local x2", "dask x2"):
            if times.get(label) is not None:
                print(f"{label}: CPU-s of all its processes / those of local x1: "
                      f"{sum(times[f'{label} cpu']) / one:.3f} (the work two workers add; a "
                      "loaded machine inflates CPU seconds far less than wall times)")
        print(f"results identical across executors and worker counts: {times['identical']}")
        print(f"speed ratio 2 workers / 1 worker: {times['local x1'] / times['local x2']:.2f}x "
              "(2 cores; 2.0 would be perfect scaling)")
        if times.get("dask x2") is None:
            print("dask: `distributed` not installed (extra cmrsuite[dask])")
        else:
            t = times["dask x2"]
            print(f"dask LocalCluster x2: {t:.1f} s, ratio to local x1 "
                  f"{times['local x1'] / t:.2f}x")
        own, kids = peak_mb()
        print(f"peak RSS: this process {own:.0f} MB, largest process of the runs {kids:.0f} MB")
        if quick:
            from suite.demo import QUICK_PROTOCOL

            t, res = timed_run(QUICK_PROTOCOL, tmp / "quick", "local", 2)
            own, kids = peak_mb()
            print(f"quick protocol: {t:.0f} s for {res.n_jobs} jobs; peak RSS main {own:.0f} MB, "
                  f"largest worker {kids:.0f} MB")


if __name__ == "__main__":
    main("--quick" in sys.argv, "--small" in sys.argv)

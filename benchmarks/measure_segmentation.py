"""Dice of the reference segmentation methods on held-out phantom subjects, every vendor preset
× pathology: the tables of docs/segmentation-methods.md are this script's output.

Held-out seeds ``500 + 10·preset_index + pathology_index`` (training seeds start at 20000);
native preset matrix, spacing, coils, contrast and SNR; ``--frames`` frames (default 8); the
input is what the harness feeds segmentation: the root-sum-of-squares of the fully sampled
k-space. Dice is 3-D per phase (``suite.metrics.segmentation.evaluate``, policy ``worst``),
averaged over ED and ES. Prints Markdown tables (asserts nothing).

Run: ``.venv/bin/python benchmarks/measure_segmentation.py [--frames 8]``.
"""

from __future__ import annotations

import sys

import numpy as np

PRESETS = ("siemens-1.5t", "siemens-3t", "philips-3t", "ge-1.5t")
PATHOLOGIES = ("normal", "dilated", "hypertrophic", "infarcted", "abnormal-rv")


def main(n_frames: int = 8) -> None:
    import reference_impls
    from suite.metrics.segmentation import evaluate
    from suite.mr import ifft2c, rss
    from suite.phantom import simulate

    methods = {name: reference_impls.get("segmentation", name) for name in ("classical", "unet")}
    table = {name: {} for name in methods}
    for p_i, preset in enumerate(PRESETS):
        for q_i, pathology in enumerate(PATHOLOGIES):
            case = simulate(seed=500 + 10 * p_i + q_i, preset=preset, pathology=pathology,
                            n_frames=n_frames)
            image = np.asarray(rss(ifft2c(case.kspace), dim=2), np.float32)
            m = case.meta
            spacing = (m.slice_spacing_mm, *m.pixel_spacing_mm)
            for name, method in methods.items():
                res = evaluate(case.labels, method(image, m.pixel_spacing_mm), spacing,
                               ed_frame=m.ed_frame, es_frame=m.es_frame)
                table[name][preset, pathology] = [
                    np.mean([res.value(s, ph, "dice") for ph in ("ED", "ES")])
                    for s in ("LV", "MYO", "RV")]
            print(f"# done {preset} {pathology}", file=sys.stderr, flush=True)
    for name, cells in table.items():
        print(f"\n### `{name}` (Dice LV / MYO / RV, RSS input)\n")
        print("| preset | " + " | ".join(PATHOLOGIES) + " | mean |")
        print("|---" * (len(PATHOLOGIES) + 2) + "|")
        for preset in PRESETS:
            row = [cells[preset, q] for q in PATHOLOGIES]
            mean = np.mean(row, axis=0)
            fmt = lambda v: " / ".join(f"{x:.2f}" for x in v)  # noqa: E731
            print(f"| `{preset}` | " + " | ".join(fmt(v) for v in row) + f" | {fmt(mean)} |")
        allv = np.array(list(cells.values()))
        print(f"\nminimum over the 20 subjects: LV {allv[:, 0].min():.2f}, MYO {allv[:, 1].min():.2f},"
              f" RV {allv[:, 2].min():.2f}")


if __name__ == "__main__":
    frames = int(sys.argv[sys.argv.index("--frames") + 1]) if "--frames" in sys.argv else 8
    main(frames)

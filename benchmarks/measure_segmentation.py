"""Dice of the reference segmentation methods on held-out phantom subjects, every vendor preset
× pathology, and where they fail: the tables of docs/segmentation-methods.md are this script's
output.

Held-out seeds ``500 + 10·preset_index + pathology_index`` (U-Net training seeds start at
20000); native preset matrix, spacing, coils, contrast and SNR; ``--frames`` frames (default
8); the input is what the harness feeds segmentation: the root-sum-of-squares of the fully
sampled k-space. Dice is 3-D per phase (``suite.metrics.segmentation.evaluate``, policy
``worst``), averaged over ED and ES. Failure analysis (ED and ES pooled, all subjects):

* Dice of the LV cavity and myocardium on **basal**, **mid** and **apical** thirds of the
  slices that hold the LV at end-diastole;
* the share of **papillary-muscle** and **LV-trabecula** pixels (extended truth labels 4, 5)
  labelled LV cavity, as the ACDC convention asks;
* the share of **atrium, aorta and outflow-tract** pixels (extended labels 7–10) labelled as
  a ventricle or myocardium (false positives at the base).

Prints Markdown tables (asserts nothing). Run:
``.venv/bin/python benchmarks/measure_segmentation.py [--frames 8] [--weights DIR]
[--methods unet] [--json FILE]``: ``--weights`` scores the U-Net weights in ``DIR``
(``seg-unet.pt`` / ``.json``, e.g. a candidate written by ``cmrsuite train seg-unet --out DIR``)
instead of the shipped ones; ``--methods`` limits the methods (comma-separated); ``--json``
also writes the per-subject Dice (LV, MYO, RV) and the means.
"""

from __future__ import annotations

import sys

import numpy as np

PRESETS = ("siemens-1.5t", "siemens-3t", "philips-3t", "ge-1.5t")
PATHOLOGIES = ("normal", "dilated", "hypertrophic", "infarcted", "abnormal-rv")
GROUPS = ("basal", "mid", "apical")


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    s = a.sum() + b.sum()
    return float(2 * (a & b).sum() / s) if s else 1.0


def _failures(case, pred) -> dict:
    """Pixel counts and Dice pieces of the failure analysis for one case (ED and ES)."""
    ext = case.truth["labels_extended"]
    out = {"pm": [0, 0], "trab": [0, 0], "base_fp": [0, 0]}
    for g in GROUPS:
        out[g] = {"LV": [], "MYO": []}
    lv_slices = np.flatnonzero((case.labels[:, case.meta.ed_frame] == 3).any(axis=(1, 2)))
    thirds = np.array_split(lv_slices, 3)
    for f in (case.meta.ed_frame, case.meta.es_frame):
        p, e = pred[:, f], ext[:, f]
        for code, key in ((4, "pm"), (5, "trab")):
            m = e == code
            out[key][0] += int((p[m] == 3).sum())
            out[key][1] += int(m.sum())
        m = e >= 7
        out["base_fp"][0] += int((p[m] > 0).sum())
        out["base_fp"][1] += int(m.sum())
        for g, sl in zip(GROUPS, thirds):
            if sl.size:
                ref = case.labels[sl, f]
                out[g]["LV"].append(_dice(ref == 3, p[sl] == 3))
                out[g]["MYO"].append(_dice(ref == 2, p[sl] == 2))
    return out


def main(n_frames: int = 8, weights: str | None = None,
         names: tuple[str, ...] = ("classical", "unet"), json_path: str | None = None) -> dict:
    import reference_impls
    from reference_impls.segmentation.unet import UNetSegmenter
    from suite.metrics.segmentation import evaluate
    from suite.mr import ifft2c, rss
    from suite.phantom import simulate

    methods = {name: (UNetSegmenter(weights_dir=weights) if name == "unet" and weights
                      else reference_impls.get("segmentation", name)) for name in names}
    table = {name: {} for name in methods}
    fails = {name: [] for name in methods}
    for p_i, preset in enumerate(PRESETS):
        for q_i, pathology in enumerate(PATHOLOGIES):
            case = simulate(seed=500 + 10 * p_i + q_i, preset=preset, pathology=pathology,
                            n_frames=n_frames)
            image = np.asarray(rss(ifft2c(case.kspace), dim=2), np.float32)
            m = case.meta
            spacing = (m.slice_spacing_mm, *m.pixel_spacing_mm)
            for name, method in methods.items():
                pred = method(image, m.pixel_spacing_mm)
                res = evaluate(case.labels, pred, spacing, ed_frame=m.ed_frame,
                               es_frame=m.es_frame)
                table[name][preset, pathology] = [
                    np.mean([res.value(s, ph, "dice") for ph in ("ED", "ES")])
                    for s in ("LV", "MYO", "RV")]
                fails[name].append(_failures(case, pred))
            print(f"# done {preset} {pathology}", file=sys.stderr, flush=True)
    fmt = lambda v: " / ".join(f"{x:.2f}" for x in v)  # noqa: E731
    for name, cells in table.items():
        print(f"\n### `{name}` (Dice LV / MYO / RV, RSS input)\n")
        print("| preset | " + " | ".join(PATHOLOGIES) + " | mean |")
        print("|---" * (len(PATHOLOGIES) + 2) + "|")
        for preset in PRESETS:
            row = [cells[preset, q] for q in PATHOLOGIES]
            print(f"| `{preset}` | " + " | ".join(fmt(v) for v in row)
                  + f" | {fmt(np.mean(row, axis=0))} |")
        allv = np.array(list(cells.values()))
        print(f"\nmean over the 20 subjects: LV {allv[:, 0].mean():.2f}, MYO "
              f"{allv[:, 1].mean():.2f}, RV {allv[:, 2].mean():.2f}; minimum: LV "
              f"{allv[:, 0].min():.2f}, MYO {allv[:, 1].min():.2f}, RV {allv[:, 2].min():.2f}")
    print("\n### Where they fail (20 subjects, ED and ES)\n")
    print("| method | LV Dice basal / mid / apical | MYO Dice basal / mid / apical | "
          "papillary muscles → cavity | LV trabeculae → cavity | atria/vessels labelled "
          "ventricle |")
    print("|---|---|---|---|---|---|")
    for name, rows in fails.items():
        lv = [np.mean([d for r in rows for d in r[g]["LV"]]) for g in GROUPS]
        myo = [np.mean([d for r in rows for d in r[g]["MYO"]]) for g in GROUPS]
        rate = {k: sum(r[k][0] for r in rows) / max(sum(r[k][1] for r in rows), 1)
                for k in ("pm", "trab", "base_fp")}
        print(f"| `{name}` | {fmt(lv)} | {fmt(myo)} | {rate['pm']:.0%} | {rate['trab']:.0%} | "
              f"{rate['base_fp']:.0%} |")
    out = {name: {"cells": {f"{p}/{q}": [float(x) for x in v] for (p, q), v in cells.items()},
                  "mean": [float(x) for x in np.mean(list(cells.values()), axis=0)]}
           for name, cells in table.items()}
    if json_path:
        import json
        with open(json_path, "w") as fh:
            json.dump({"frames": n_frames, "weights": weights, "methods": out}, fh, indent=1)
    return out


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--weights", default=None, help="folder with seg-unet.pt/.json to score")
    ap.add_argument("--methods", default="classical,unet")
    ap.add_argument("--json", default=None, help="also write the Dice values to this file")
    a = ap.parse_args()
    main(a.frames, a.weights, tuple(a.methods.split(",")), a.json)

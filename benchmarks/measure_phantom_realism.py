"""Realism report of the phantom: SNR, CNR, intensity histograms, edge sharpness and texture
per vendor preset (the tables of docs/phantom.md, "How hard is the phantom").

Subjects: seeds ``700 + pathology_index`` (one per pathology) at every vendor preset, native
matrix, spacing, coils and SNR, 3 frames (the statistics use end-diastole); each simulated
twice (noisy and noise-free) for the difference-method noise estimate. Statistics:
:mod:`suite.phantom.realism`. Prints Markdown (asserts nothing).

Run: ``.venv/bin/python benchmarks/measure_phantom_realism.py``.
"""

from __future__ import annotations

import sys

import numpy as np

PRESETS = ("siemens-1.5t", "siemens-3t", "philips-3t", "ge-1.5t")
PATHOLOGIES = ("normal", "dilated", "hypertrophic", "infarcted", "abnormal-rv")


def main() -> None:
    from suite.phantom import simulate
    from suite.phantom.realism import realism_stats

    rows = {}
    for preset in PRESETS:
        stats = []
        for q_i, pathology in enumerate(PATHOLOGIES):
            kw = dict(seed=700 + q_i, preset=preset, pathology=pathology, n_frames=3)
            stats.append(realism_stats(simulate(**kw), simulate(**kw, snr=None), preset,
                                       pathology))
            print(f"# {stats[-1].summary()}", file=sys.stderr, flush=True)
        rows[preset] = stats
    keys = [("snr_blood", "SNR blood", "{:.0f}"), ("snr_myo", "SNR myo", "{:.0f}"),
            ("cnr_blood_myo", "CNR blood-myo", "{:.0f}"),
            ("blood_myo_ratio", "blood/myo", "{:.2f}"),
            ("histogram_overlap", "histogram overlap", "{:.2f}"),
            ("edge_10_90_mm", "edge 10-90 % (mm)", "{:.2f}"),
            ("blood_cv", "CV blood", "{:.3f}"), ("myo_cv", "CV myo", "{:.3f}"),
            ("myo_glcm_contrast", "GLCM contrast myo", "{:.2f}"),
            ("myo_glcm_homogeneity", "GLCM homogeneity myo", "{:.2f}")]
    print("| preset | " + " | ".join(k[1] for k in keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for preset, stats in rows.items():
        cells = []
        for attr, _, fmt in keys:
            v = np.array([getattr(s, attr) for s in stats], float)
            cells.append(f"{fmt.format(np.nanmedian(v))} ({fmt.format(np.nanmin(v))}–"
                         f"{fmt.format(np.nanmax(v))})")
        print(f"| `{preset}` | " + " | ".join(cells) + " |")
    print("\nIntensity histograms (median over the five subjects; intensities / median blood):\n")
    print("| preset | blood p5 / p50 / p95 | myocardium p5 / p50 / p95 |")
    print("|---|---|---|")
    for preset, stats in rows.items():
        b = np.median([s.blood_p5_p50_p95 for s in stats], axis=0)
        m = np.median([s.myo_p5_p50_p95 for s in stats], axis=0)
        print(f"| `{preset}` | " + " / ".join(f"{v:.2f}" for v in b) + " | "
              + " / ".join(f"{v:.2f}" for v in m) + " |")


if __name__ == "__main__":
    main()

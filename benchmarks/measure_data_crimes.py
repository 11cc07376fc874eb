"""Data crimes on the phantom: detector margins and how much each crime inflates recon scores.

Part 1 (detector margins): :func:`suite.data.audit.audit_case` scores of honest phantom raw
data (several presets and SNRs, noise-free included) and of each crime of
:func:`suite.conditions.commit_crime`, beside the thresholds.

Part 2 (inflation, Shimron et al. PNAS 2022): a small phantom cohort, each subject honest and
crimed, undersampled with the same seeded kt-gaussian mask at R = 4, reconstructed with
zero-filled and CG-SENSE (ESPIRiT maps), scored against the *case's own* fully sampled RSS
reference under the fastMRI profile, exactly as the runner scores (suite.runner.execute). The
inflation is the relative change of the crimed score against the honest one (NMSE: lower is
better, so a negative change flatters the method).

Run: ``OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/measure_data_crimes.py``
(about a minute on one core; ``--subjects`` and ``--acceleration`` change the cohort). The
tables in docs/robustness-audit.md are this script's output.
"""

from __future__ import annotations

import argparse

import numpy as np

PHANTOM = {"matrix": (80, 100), "pixel_spacing_mm": 3.6, "n_frames": 4, "n_coils": 8,
           "n_slices": 3}


def _fmt(x):
    return "n/a" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{x:.3g}"


def margins(n_seeds: int) -> None:
    from suite.conditions import commit_crime
    from suite.data.audit import THRESHOLDS, audit_case
    from suite.phantom import simulate

    keys = ("zero_band_fraction", "periphery_rel_power_ky", "periphery_rel_power_kx",
            "hermitian_error", "noise_coherence", "level_ratio_rss", "blockiness",
            "blockiness_median")
    configs = [("tiny", snr) for snr in (5, 20, 60, 150, None)] + [
        ("siemens-1.5t", 20), ("philips-3t", 25), ("ge-1.5t", 16), ("siemens-3t", None)]
    variants = ("honest", "zero-padded", "magnitude", "quantised", "jpeg", "magnitude, 1 coil")
    found = {(g, v, k): [] for g in ("tiny", "clinical") for v in variants for k in keys}
    flagged = {(g, v): [0, 0] for g in ("tiny", "clinical") for v in variants}
    for preset, snr in configs:
        group = "tiny" if preset == "tiny" else "clinical"
        kw = {} if preset == "tiny" else {k: PHANTOM[k] for k in ("matrix", "pixel_spacing_mm")}
        for seed in range(n_seeds):
            case = simulate(seed=seed, preset=preset, snr=snr, n_frames=2, n_slices=2, **kw)
            for v in variants:
                c = case if v == "honest" else (
                    commit_crime(case, "magnitude", coils="single") if v.endswith("1 coil")
                    else commit_crime(case, v))
                r = audit_case(c)
                for k in keys:
                    if k in r.scores and np.isfinite(r.scores[k]):
                        found[(group, v, k)].append(r.scores[k])
                flagged[(group, v)][0] += int(r.flagged)
                flagged[(group, v)][1] += 1
    print(f"## Detector scores: min-max over {n_seeds} seeds; tiny = preset tiny (60x72, 5 mm) "
          "at SNR 5, 20, 60, 150 and noise-free; clinical = siemens-1.5t SNR 20, philips-3t "
          "SNR 25, ge-1.5t SNR 16, siemens-3t noise-free at 80x100, 3.6 mm\n")
    print("| data | group | " + " | ".join(keys) + " | cases flagged |")
    print("|---" * (len(keys) + 3) + "|")
    for v in variants:
        for g in ("tiny", "clinical"):
            cells = []
            for k in keys:
                vals = found[(g, v, k)]
                cells.append("n/a" if not vals else f"{_fmt(min(vals))} - {_fmt(max(vals))}")
            n_flag, n = flagged[(g, v)]
            print(f"| {v} | {g} | " + " | ".join(cells) + f" | {n_flag}/{n} |")
    print("\nThresholds: " + ", ".join(f"{k} = {v:g}" for k, v in THRESHOLDS.items()) + "\n")


def inflation(n_subjects: int, acceleration: float) -> None:
    import reference_impls
    from suite.conditions import commit_crime
    from suite.metrics.image import score
    from suite.mr import ifft2c, make_mask, rss
    from suite.phantom import simulate

    methods = {"zero-filled": reference_impls.get("recon", "zero-filled"),
               "cg-sense": reference_impls.get("recon", "cg-sense")}
    variants = ("honest", "zero-padded", "magnitude", "quantised", "jpeg")
    acc = {(m, v, k): [] for m in methods for v in variants for k in ("nmse", "psnr", "ssim")}
    for seed in range(n_subjects):
        case = simulate(seed=seed, preset="siemens-1.5t", **PHANTOM)
        mask = make_mask("kt-gaussian", case.kspace.shape, acceleration, acs_lines=12,
                         rng=np.random.default_rng(seed)).mask
        for v in variants:
            c = case if v == "honest" else commit_crime(case, v)
            ref = np.asarray(rss(ifft2c(c.kspace), dim=2), np.float64)
            under = c.replace(kspace=(c.kspace * mask).astype(np.complex64), mask=mask)
            for name, method in methods.items():
                img = np.abs(method(under)).astype(np.float64)
                s = score(ref, img, profile="fastmri")
                for k in ("nmse", "psnr", "ssim"):
                    acc[(name, v, k)].append(getattr(s, k))
    print(f"## Inflation at R = {acceleration:g} (kt-gaussian, 12 ACS lines), {n_subjects} "
          f"subjects, siemens-1.5t {PHANTOM}\n")
    print("| method | data | NMSE | PSNR dB | SSIM | NMSE change vs honest | SSIM change |")
    print("|---|---|---|---|---|---|---|")
    for name in methods:
        h = {k: np.mean(acc[(name, "honest", k)]) for k in ("nmse", "psnr", "ssim")}
        for v in variants:
            m = {k: np.mean(acc[(name, v, k)]) for k in ("nmse", "psnr", "ssim")}
            dn = "" if v == "honest" else f"{100 * (m['nmse'] / h['nmse'] - 1):+.0f} %"
            ds = "" if v == "honest" else f"{m['ssim'] - h['ssim']:+.3f}"
            print(f"| {name} | {v} | {m['nmse']:.4f} | {m['psnr']:.2f} | {m['ssim']:.3f} | "
                  f"{dn} | {ds} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", type=int, default=4)
    ap.add_argument("--acceleration", type=float, default=4.0)
    ap.add_argument("--seeds", type=int, default=3, help="seeds per margin configuration")
    ap.add_argument("--skip-margins", action="store_true")
    args = ap.parse_args()
    if not args.skip_margins:
        margins(args.seeds)
    inflation(args.subjects, args.acceleration)


if __name__ == "__main__":
    main()

"""Cost of one adversarial evaluation relative to one clean evaluation of the same method.

For every reference reconstruction method (one phantom slice at the unrolled networks' training
geometry: 80 × 100 matrix, 12 frames, 8 coils, k-t Gaussian R = 4 with 12 ACS lines) and for
the segmentation methods (U-Net white-box, classical black-box) on the same slice's reference
images, prints (asserts nothing):

* ``clean``: one call ``method(case)`` (reconstruction, coil-map estimation included) or
  ``method(images, spacing)`` (segmentation), the median of 5 calls (a zero-filled call takes
  ≈ 6 ms, which one timing measures only to ± 20 %);
* ``attack``: one :func:`~suite.robustness.recon_attacks.attack_recon` /
  :func:`~suite.robustness.seg_attacks.attack_segmentation` at one budget (``--steps``
  projected-gradient steps; black-box methods: ``n_queries`` = 8 random-search queries),
  everything included (map estimation, clean output, final evaluation); a reconstruction
  attack the median of 3 calls (the first gradient of a process also starts autograd's
  machinery: timed once, the zero-filled attack, the first, measured 0.20-0.44 s);
* ``random``: one :func:`random_recon` / :func:`random_segmentation` at the same budget;
* the ratios attack / clean and random / clean, and the attack's cost per gradient step
  relative to one clean evaluation.

Run: ``.venv/bin/python benchmarks/bench_robustness.py [--steps 5] [--methods a,b]``
(or ``make bench``). One torch thread, so the ratios do not depend on the machine's load.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

RECON = ("zero-filled", "cg-sense", "kt-cs", "lowrank-sparse", "unrolled", "unrolled-ssdu")
SEG = ("unet", "classical")


def timed(fn, repeat: int = 1):
    """``(median seconds of `repeat` calls, the last call's output)``."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def phantom_slice():
    from suite.mr import make_mask
    from suite.phantom import simulate

    case = simulate(seed=123, preset="siemens-1.5t", matrix=(80, 100), pixel_spacing_mm=3.6,
                    n_frames=12, n_coils=8, n_slices=3).slice_case(1)
    s = make_mask("kt-gaussian", case.kspace.shape, 4, 12, np.random.default_rng(0))
    return case, case.replace(kspace=(case.kspace * s.mask).astype(np.complex64), mask=s.mask)


def bench_recon(case, names, steps, budget=0.02):
    import reference_impls
    from suite.robustness import attack_recon, is_differentiable, random_recon

    print(f"reconstruction, one slice {case.kspace.shape[1:]} (frame, coil, ky, kx), R = 4, "
          f"budget {budget}, {steps} PGD steps (black-box: 8 queries)")
    print(f"  {'method':<15} {'access':<9} {'clean s':>8} {'attack s':>9} {'random s':>9} "
          f"{'attack/clean':>12} {'random/clean':>12} {'per step':>9}")
    ratios = {}
    for name in names:
        try:
            method = reference_impls.get("recon", name)
        except Exception as exc:  # e.g. weights not trained yet
            print(f"  {name:<15} skipped: {exc}")
            continue
        method(case)  # warm-up (lazy imports, allocator)
        t_clean, _ = timed(lambda: method(case), repeat=5)
        t_attack, adv = timed(lambda: attack_recon(method, case, [budget], steps=steps),
                              repeat=3)
        t_rand, _ = timed(lambda: random_recon(method, case, [budget]))
        white = is_differentiable(method)
        per_step = (t_attack - 2 * t_clean) / steps / t_clean if white else float("nan")
        print(f"  {name:<15} {'white' if white else 'black':<9} {t_clean:8.2f} {t_attack:9.2f} "
              f"{t_rand:9.2f} {t_attack / t_clean:12.1f} {t_rand / t_clean:12.1f} "
              f"{per_step:9.1f}   (deviation {adv[0].deviation:.3g})")
        ratios[name] = t_attack / t_clean
    return ratios


def bench_segmentation(full_case, names, steps, budget=0.03):
    import reference_impls
    from suite.robustness import attack_segmentation, is_differentiable, random_segmentation

    images = np.abs(full_case.reference).astype(np.float32)
    spacing = full_case.meta.pixel_spacing_mm
    print(f"\nsegmentation, {images.shape[1]} images {images.shape[2:]}, L-inf budget {budget}, "
          f"PGD {steps} steps (black-box: 8 queries)")
    print(f"  {'method':<15} {'access':<9} {'clean s':>8} {'attack s':>9} {'random s':>9} "
          f"{'attack/clean':>12} {'random/clean':>12}")
    ratios = {}
    for name in names:
        try:
            method = reference_impls.get("segmentation", name)
        except Exception as exc:
            print(f"  {name:<15} skipped: {exc}")
            continue
        method(images, spacing)
        t_clean, _ = timed(lambda: method(images, spacing), repeat=5)
        t_attack, adv = timed(lambda: attack_segmentation(method, images, spacing, [budget],
                                                          attack="pgd", steps=steps))
        t_rand, _ = timed(lambda: random_segmentation(method, images, spacing, [budget]))
        white = is_differentiable(method)
        print(f"  {name:<15} {'white' if white else 'black':<9} {t_clean:8.2f} {t_attack:9.2f} "
              f"{t_rand:9.2f} {t_attack / t_clean:12.1f} {t_rand / t_clean:12.1f}   "
              f"(label change {adv[0].deviation:.3g})")
        ratios[name] = t_attack / t_clean
    return ratios


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--methods", default=",".join(RECON + SEG),
                        help="comma-separated method names (recon and segmentation)")
    args = parser.parse_args()
    names = [n.strip() for n in args.methods.split(",") if n.strip()]
    torch.set_num_threads(1)
    full, under = phantom_slice()
    bench_recon(under, [n for n in names if n in RECON], args.steps)
    bench_segmentation(full, [n for n in names if n in SEG], args.steps)


if __name__ == "__main__":
    main()

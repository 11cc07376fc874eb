"""Surface-distance metrics: suite.metrics.segmentation.evaluate vs an established implementation.

Plain script: prints timings, the speed ratio and the largest value difference; asserts
nothing. Run with ``python benchmarks/bench_surface_distance.py``.

Data: a synthetic (slice, frame, y, x) = (10, 25, 256, 256) ACDC label stack (ellipsoidal LV
blood pool, myocardial shell, crescent-like RV ellipsoid, all shrinking towards ES), spacing
(dz, dy, dx) = (10, 1.4, 1.4) mm. The prediction is the reference shifted by a few pixels,
with the LV dilated at ED and the RV eroded at ES. Like ``evaluate``, only the ED and ES
frames are scored: 3 structures × 2 phases = 6 3-D mask pairs.

Reference implementation: medpy ``hd``, ``hd95``, ``assd`` (``connectivity=1``, the ACDC
extended script's calls) when medpy is installed; otherwise scipy/scikit-image equivalents
(boundary by ``binary_erosion``, distances by ``cKDTree``).
"""

from __future__ import annotations

import time

import numpy as np
from scipy import ndimage

from suite.metrics.segmentation import evaluate

SHAPE = (10, 25, 256, 256)
SPACING = (10.0, 1.4, 1.4)
ED, ES = 0, 10
LABELS = {"LV": 3, "MYO": 2, "RV": 1}


def synthetic_stack() -> np.ndarray:
    ns, nf, ny, nx = SHAPE
    z, y, x = np.meshgrid(np.arange(ns) * SPACING[0], np.arange(ny) * SPACING[1],
                          np.arange(nx) * SPACING[2], indexing="ij")
    cz, cy, cx = 45.0, 180.0, 170.0
    lab = np.zeros(SHAPE, np.uint8)
    for f in range(nf):
        s = 0.75 + 0.25 * np.cos(2 * np.pi * (f - ED) / nf)        # 1 at ED, 0.5 near ES
        lv = ((z - cz) / 50) ** 2 + ((y - cy) / (28 * s)) ** 2 + ((x - cx) / (26 * s)) ** 2
        epi = (((z - cz) / 58) ** 2 + ((y - cy) / (28 * s + 10)) ** 2
               + ((x - cx) / (26 * s + 10)) ** 2)
        rv = ((z - cz) / 45) ** 2 + ((y - cy + 5) / (38 * s)) ** 2 + ((x - cx + 55) / (22 * s)) ** 2
        frame = np.zeros((ns, ny, nx), np.uint8)
        frame[(rv <= 1) & (epi > 1)] = 1
        frame[epi <= 1] = 2
        frame[lv <= 1] = 3
        lab[:, f] = frame
    return lab


def perturbed(ref: np.ndarray) -> np.ndarray:
    pred = np.roll(ref, (2, -3), axis=(2, 3)).copy()
    ed, es = pred[:, ED], pred[:, ES]
    ed[ndimage.binary_dilation(ed == 3, iterations=2) & (ed == 2)] = 3
    rv = es == 1
    es[rv & ~ndimage.binary_erosion(rv, iterations=2)] = 0
    return pred


def medpy_metrics(ref, pred):
    from medpy.metric import binary as mb

    out = {}
    for name, label in LABELS.items():
        for phase, f in (("ED", ED), ("ES", ES)):
            r, p = ref[:, f] == label, pred[:, f] == label
            out[(name, phase)] = {
                "hd": mb.hd(p, r, voxelspacing=SPACING, connectivity=1),
                "hd95": mb.hd95(p, r, voxelspacing=SPACING, connectivity=1),
                "assd": mb.assd(p, r, voxelspacing=SPACING, connectivity=1),
            }
    return out


def medpy_hd_only(ref, pred):
    from medpy.metric import binary as mb

    return [mb.hd(pred[:, f] == label, ref[:, f] == label, voxelspacing=SPACING, connectivity=1)
            for label in LABELS.values() for f in (ED, ES)]


def scipy_metrics(ref, pred):
    from scipy.spatial import cKDTree

    cross = ndimage.generate_binary_structure(3, 1)
    sp = np.asarray(SPACING)
    out = {}
    for name, label in LABELS.items():
        for phase, f in (("ED", ED), ("ES", ES)):
            r, p = ref[:, f] == label, pred[:, f] == label
            br = np.argwhere(r & ~ndimage.binary_erosion(r, cross)) * sp
            bp = np.argwhere(p & ~ndimage.binary_erosion(p, cross)) * sp
            d1, d2 = cKDTree(bp).query(br)[0], cKDTree(br).query(bp)[0]
            pooled = np.concatenate([d1, d2])
            out[(name, phase)] = {"hd": pooled.max(), "hd95": np.percentile(pooled, 95),
                                  "assd": pooled.mean()}
    return out


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main() -> None:
    ref = synthetic_stack()
    pred = perturbed(ref)
    print(f"label stack {SHAPE} (slice, frame, y, x), spacing (dz, dy, dx) = {SPACING} mm; "
          f"ED frame {ED}, ES frame {ES}; 6 mask pairs")

    t_ours, ours = best_of(lambda: evaluate(ref, pred, SPACING, ed_frame=ED, es_frame=ES))
    try:
        import medpy  # noqa: F401
        from importlib.metadata import version

        label = f"medpy {version('medpy')} hd + hd95 + assd"
        t_ref, theirs = best_of(lambda: medpy_metrics(ref, pred), repeat=1)
        t_one, _ = best_of(lambda: medpy_hd_only(ref, pred), repeat=1)
        # medpy < 0.5 'assd' is the mean of the directed means (our masd)
        assd_key = "assd" if tuple(int(v) for v in version("medpy").split(".")[:2]) >= (0, 5) \
            else "masd"
    except ImportError:
        t_one = None
        label = "scipy cKDTree (medpy not installed)"
        t_ref, theirs = best_of(lambda: scipy_metrics(ref, pred), repeat=1)
        assd_key = "assd"

    print(f"\nsuite evaluate (Dice, HD, HD95, ASSD, MASD, NSD): {t_ours * 1e3:8.1f} ms")
    print(f"{label:<50}: {t_ref * 1e3:8.1f} ms")
    print(f"speed ratio (reference / suite): {t_ref / t_ours:.1f}x")
    if t_one is not None:
        print(f"medpy hd alone (one surface-distance pass per pair, same work as ours): "
              f"{t_one * 1e3:.1f} ms, ratio {t_one / t_ours:.1f}x")

    print(f"\n{'structure':<9} {'phase':<5} {'HD ours':>9} {'HD ref':>9} {'HD95 ours':>10} "
          f"{'HD95 ref':>9} {'ASSD ours':>10} {'ASSD ref':>9}")
    max_diff = 0.0
    for (name, phase), ref_vals in theirs.items():
        s = ours.get(name, phase)
        mine = {"hd": s.hd, "hd95": s.hd95, "assd": getattr(s, assd_key)}
        max_diff = max(max_diff, *(abs(mine[k] - ref_vals[k]) for k in mine))
        print(f"{name:<9} {phase:<5} {mine['hd']:9.3f} {ref_vals['hd']:9.3f} "
              f"{mine['hd95']:10.3f} {ref_vals['hd95']:9.3f} {mine['assd']:10.4f} "
              f"{ref_vals['assd']:9.4f}")
    print(f"\nmax |difference| over HD, HD95, ASSD: {max_diff:.3g} mm")


if __name__ == "__main__":
    main()

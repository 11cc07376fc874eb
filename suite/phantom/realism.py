"""Image statistics that measure how hard the phantom's cine images are (the realism report).

All statistics are taken on what the harness gives segmentation, the root-sum-of-squares
(RSS) magnitude of the fully sampled coil images, at end-diastole, over every slice that holds
the structure, with the phantom's ACDC labels as regions:

* **noise** ``σ``: SD of the difference between the noisy and the noise-free RSS images of the
  same subject inside the heart's bounding box (the two-acquisition difference method;
  ``σ = SD(diff)``, the noise-free twin replaces the second acquisition);
* **SNR** of blood (LV cavity) and myocardium: mean noise-free signal / σ; **CNR** = (blood −
  myocardium) / σ; blood/myocardium **signal ratio**;
* **intensity histograms**: blood and myocardium intensities divided by the median blood
  intensity, summarised by their 5th/50th/95th percentiles and by the overlap (fraction of
  myocardium pixels brighter than the blood's 5th percentile);
* **edge sharpness**: 10–90 % rise distance (mm) of the noise-free intensity across the LV
  endocardial border along 36 rays from the LV centroid of the mid-ventricular slice (median
  over rays; the blood and myocardium levels are the medians of the two regions in that
  slice);
* **texture**: coefficient of variation (SD/mean) of the noisy blood pool and myocardium, and
  the grey-level co-occurrence contrast and homogeneity of the myocardium (16 levels,
  distance 1 pixel, 4 directions; Haralick et al., IEEE Trans Syst Man Cybern 1973;3:610).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["RealismStats", "realism_stats"]


@dataclass(frozen=True)
class RealismStats:
    """Realism statistics of one subject (see the module docstring; units in the names)."""

    preset: str
    pathology: str
    noise_sigma: float
    snr_blood: float
    snr_myo: float
    cnr_blood_myo: float
    blood_myo_ratio: float
    blood_p5_p50_p95: tuple[float, float, float]
    myo_p5_p50_p95: tuple[float, float, float]
    histogram_overlap: float
    edge_10_90_mm: float
    blood_cv: float
    myo_cv: float
    myo_glcm_contrast: float
    myo_glcm_homogeneity: float

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (f"{self.preset}/{self.pathology}: SNR blood {self.snr_blood:.1f}, myo "
                f"{self.snr_myo:.1f}, CNR {self.cnr_blood_myo:.1f}, ratio "
                f"{self.blood_myo_ratio:.2f}, edge {self.edge_10_90_mm:.2f} mm, CV blood "
                f"{self.blood_cv:.3f}, myo {self.myo_cv:.3f}")


def _rss(case) -> np.ndarray:
    from suite.mr.fft import ifft2c

    return np.sqrt((np.abs(ifft2c(case.kspace)) ** 2).sum(axis=2)).astype(np.float64)


def _edge_width(img: np.ndarray, lab: np.ndarray, spacing_mm: float) -> float:
    from scipy.ndimage import map_coordinates

    blood, myo = lab == 3, lab == 2
    if blood.sum() < 5 or myo.sum() < 5:
        return float("nan")
    cy, cx = np.argwhere(blood).mean(axis=0)
    hi, lo = float(np.median(img[blood])), float(np.median(img[myo]))
    t = np.arange(0.0, 60.0 / spacing_mm, 0.05)
    widths = []
    for ang in np.arange(36) * (2 * np.pi / 36):
        ys, xs = cy + t * np.sin(ang), cx + t * np.cos(ang)
        prof = map_coordinates(img, [ys, xs], order=1, mode="nearest")
        labs = map_coordinates(lab.astype(float), [ys, xs], order=0, mode="nearest")
        out = np.flatnonzero(labs != 3)
        if out.size == 0:
            continue
        k, half = out[0], int(round(4.0 / spacing_mm / 0.05))   # ± 4 mm around the border
        seg = (prof[max(k - half, 0):k + half] - lo) / (hi - lo)
        below90 = np.flatnonzero(seg < 0.9)
        below10 = np.flatnonzero(seg < 0.1)
        if below90.size == 0 or below10.size == 0:
            continue
        widths.append((below10[0] - below90[0]) * 0.05 * spacing_mm)
    return float(np.median(widths)) if widths else float("nan")


def _glcm(values: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    from skimage.feature import graycomatrix, graycoprops

    v = values[mask]
    lo, hi = np.percentile(v, [1, 99])
    q = np.clip(((values - lo) / max(hi - lo, 1e-12) * 15).round(), 0, 15).astype(np.uint8)
    q = np.where(mask, q + 1, 0).astype(np.uint8)                # 0 = outside the mask
    g = graycomatrix(q, [1], [0, np.pi / 4, np.pi / 2, 3 * np.pi / 4], levels=17)
    g[0, :, :, :] = 0
    g[:, 0, :, :] = 0
    return (float(graycoprops(g, "contrast").mean()),
            float(graycoprops(g, "homogeneity").mean()))


def realism_stats(noisy, clean, preset: str = "", pathology: str = "") -> RealismStats:
    """Realism statistics of a noisy simulated Case and its noise-free twin (``snr=None``,
    same seed and settings)."""
    rn, rc = _rss(noisy), _rss(clean)
    ed = int(noisy.meta.ed_frame or 0)
    lab = noisy.labels[:, ed]
    img_n, img_c = rn[:, ed], rc[:, ed]
    heart = lab > 0
    ys, xs = np.nonzero(heart.any(axis=0))
    box = (slice(None), slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    sigma = float(np.std(img_n[box] - img_c[box], ddof=1))
    blood, myo = lab == 3, lab == 2
    b, m = float(img_c[blood].mean()), float(img_c[myo].mean())
    med = float(np.median(img_n[blood]))
    pb = tuple(float(v) for v in np.percentile(img_n[blood] / med, [5, 50, 95]))
    pm = tuple(float(v) for v in np.percentile(img_n[myo] / med, [5, 50, 95]))
    overlap = float((img_n[myo] > np.percentile(img_n[blood], 5)).mean())
    counts = (lab == 3).sum(axis=(1, 2))
    mid = int(np.argsort(counts)[len(counts) // 2]) if counts.any() else 0
    mid = int(np.argmax(counts)) if counts[mid] == 0 else mid
    edge = _edge_width(img_c[mid], lab[mid], float(noisy.meta.pixel_spacing_mm[0]))
    con, hom = _glcm(img_n[mid], myo[mid])
    return RealismStats(
        preset=preset, pathology=pathology, noise_sigma=sigma, snr_blood=b / sigma,
        snr_myo=m / sigma, cnr_blood_myo=(b - m) / sigma, blood_myo_ratio=b / m,
        blood_p5_p50_p95=pb, myo_p5_p50_p95=pm, histogram_overlap=overlap,
        edge_10_90_mm=edge,
        blood_cv=float(img_n[blood].std() / img_n[blood].mean()),
        myo_cv=float(img_n[myo].std() / img_n[myo].mean()),
        myo_glcm_contrast=con, myo_glcm_homogeneity=hom)

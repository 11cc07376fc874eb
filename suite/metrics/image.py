"""Image-quality metrics (NMSE, PSNR, SSIM) on magnitude images, with named scoring profiles.

Profiles reproduce published conventions exactly (DESIGN.md, "Scoring profiles").

``fastmri`` (facebookresearch/fastMRI ``fastmri/evaluate.py`` at 91f2df4):

* the whole case is one volume: images ``(slice, frame, y, x)`` are flattened to
  ``(n_images, y, x)``;
* NMSE = ||ref − pred||² / ||ref||² over the volume;
* PSNR = 10·log10(data_range² / MSE) over the volume with ``data_range = max(ref)``
  (the reference *volume* maximum, not the per-image maximum, and not max − min);
* SSIM per 2-D image with a 7×7 uniform window, K1 = 0.01, K2 = 0.03, sample covariance
  (N/(N−1) correction), data range = ``max(ref)`` of the volume, the SSIM map averaged over the
  image after removing a 3-pixel border (as ``skimage.metrics.structural_similarity``), then the
  mean over images.

``cmrxrecon2023`` (CmrxRecon/CMRxRecon ``CMRxReconDemo/run4Ranking.m``, ``Evaluation/Evaluation.py``):

* the ranking selection of :mod:`suite.metrics.cmrxrecon_profile`
  (:func:`~suite.metrics.cmrxrecon_profile.cmrxrecon_select`): central two slices, MATLAB
  ``round(ns/2)-1 : round(ns/2)`` (1-based; all slices when ns < 3); first three frames (all
  frames when fewer); centre crop to ``round(nx/3)`` along the readout (x) and ``round(ny/2)``
  along the phase encode (y), with the offsets of Lustig's ``crop.m``: 0-based start
  ``floor(m/2) + ceil(-s/2)`` (differs by one pixel from fastMRI's ``(m - s)//2`` when m is even
  and s is odd); MATLAB ``round`` rounds halves away from zero;
* each 2-D image divided by its own maximum, reference and prediction separately;
* NMSE, PSNR and SSIM per image with the fastMRI functions (data range = max of the normalised
  reference = 1), then the mean over images.

``cmrxrecon2024`` (CmrxRecon2025-snippets ``evaluation-2024/Evaluation.py``): as 2023 but each
image is z-scored, ``(x − mean) / (std + 1e-8)`` (population std), and the data range is the
maximum of the normalised reference. The organisers' ``Val_Score2024.py`` swaps the arguments in
one branch, so their data range there is the maximum of the normalised *prediction*; this profile
follows the documented signature (reference first), not that quirk.

``cmrxrecon2025`` (``evaluation-2025/Evaluation.py``): as 2023 but each image is divided by the
99.5th percentile of its magnitude (numpy's default linear interpolation; no clipping).

Arguments follow the scikit-learn order: reference first, prediction second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import uniform_filter1d

from suite._validation import check_finite, check_ndim, check_option, check_same_shape
from suite.metrics.cmrxrecon_profile import cmrxrecon_select
from suite.metrics.contract import (HIGHER, LOWER, MetricFamily, MetricRow, MetricSpec,
                                    metric_row, register_family, register_metric)

__all__ = ["nmse", "psnr", "ssim_per_image", "score", "image_rows", "ImageScores", "PROFILES",
           "IMAGE_METRICS"]

PROFILES = ("fastmri", "cmrxrecon2023", "cmrxrecon2024", "cmrxrecon2025")

#: Declarations of the stored image metrics (names of :class:`ImageScores` fields).
IMAGE_METRICS = (
    register_metric(MetricSpec(
        "nmse", "1", LOWER, "normalised mean squared error", "image",
        "||ref - pred||^2 / ||ref||^2 (fastMRI evaluate.py nmse); under the CMRxRecon profiles "
        "per image, then averaged", optimum=0.0)),
    register_metric(MetricSpec(
        "psnr", "dB", HIGHER, "peak signal-to-noise ratio", "image",
        "10 log10(data_range^2 / MSE), data range from the reference (see the profile)",
        optimum=float("inf"))),
    register_metric(MetricSpec(
        "ssim", "1", HIGHER, "structural similarity", "image",
        "Wang et al. 2004, 7x7 uniform window, K1 0.01, K2 0.03, sample covariance",
        optimum=1.0)),
)


def _prepare(reference, prediction, where):
    ref = np.asarray(reference)
    pred = np.asarray(prediction)
    check_same_shape(ref, pred, names=("reference", "prediction"), where=where)
    for name, a in (("reference", ref), ("prediction", pred)):
        if a.dtype.kind == "c":
            raise ValueError(f"{where}: `{name}` must be real magnitude; got dtype {a.dtype}")
        check_finite(a, name=name, where=where)
    return ref.astype(np.float64), pred.astype(np.float64)


def nmse(reference, prediction) -> float:
    """Normalised mean squared error ``||ref − pred||² / ||ref||²`` over all elements.

    Lower is better; 0 for a perfect prediction. Raises ``ValueError`` for an all-zero reference.
    """
    ref, pred = _prepare(reference, prediction, "nmse")
    denom = float(np.sum(ref**2))
    if denom == 0.0:
        raise ValueError("nmse: `reference` is all zero, NMSE is undefined")
    return float(np.sum((ref - pred) ** 2) / denom)


def psnr(reference, prediction, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB: ``10·log10(data_range² / MSE)``.

    ``data_range`` defaults to ``max(reference)`` (fastMRI convention). Returns ``inf`` when the
    prediction equals the reference.
    """
    ref, pred = _prepare(reference, prediction, "psnr")
    dr = float(ref.max()) if data_range is None else float(data_range)
    mse = float(np.mean((ref - pred) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(dr**2 / mse))


def ssim_per_image(
    reference,
    prediction,
    data_range: float | None = None,
    win_size: int = 7,
    k1: float = 0.01,
    k2: float = 0.03,
) -> np.ndarray:
    """SSIM of each 2-D image (Wang et al., IEEE TIP 2004), uniform window, sample covariance.

    Parameters
    ----------
    reference, prediction : ndarray, real, ``(..., y, x)``
    data_range : float, default ``max(reference)`` over the whole array

    Returns
    -------
    ndarray, float64, shape ``(...)``: one SSIM per image, higher is better, 1 when equal.

    Notes
    -----
    Equals ``skimage.metrics.structural_similarity(ref, pred, win_size=7, data_range=..., K1,
    K2, use_sample_covariance=True, gaussian_weights=False)`` per image: local statistics by a
    uniform ``win_size²`` filter, covariances scaled by N/(N−1), the SSIM map averaged over the
    valid region (border of ``(win_size − 1) // 2`` pixels removed).
    """
    ref, pred = _prepare(reference, prediction, "ssim_per_image")
    check_ndim(ref, range(2, 8), name="reference", where="ssim_per_image", axes="(..., y, x)")
    if min(ref.shape[-2:]) < win_size:
        raise ValueError(
            f"ssim_per_image: images must be at least {win_size}x{win_size}; got {ref.shape[-2:]}"
        )
    dr = float(ref.max()) if data_range is None else float(data_range)
    return _ssim_values(ref, pred, dr, win_size, k1, k2)


def _ssim_values(ref, pred, dr, win_size=7, k1=0.01, k2=0.03):
    """SSIM per image of validated float64 arrays ``(..., y, x)``; shape ``(...)``."""
    lead = ref.shape[:-2]
    x_all = ref.reshape(-1, *ref.shape[-2:])
    y_all = pred.reshape(-1, *pred.shape[-2:])
    # Images are processed in small chunks so that the working set stays in cache.
    chunk = max(1, (1 << 19) // max(1, x_all[0].size))
    values = [
        _ssim_chunk(x_all[i : i + chunk], y_all[i : i + chunk], dr, win_size, k1, k2)
        for i in range(0, x_all.shape[0], chunk)
    ]
    return np.concatenate(values).reshape(lead)


def _ssim_chunk(x, y, dr, win_size, k1, k2):
    """SSIM of each image of ``(n, y, x)`` float64 (see :func:`ssim_per_image`)."""
    n = win_size * win_size
    cov_norm = n / (n - 1)
    ux, uy = _box_mean(x, win_size), _box_mean(y, win_size)
    uxx, uyy, uxy = _box_mean(x * x, win_size), _box_mean(y * y, win_size), _box_mean(x * y, win_size)
    c1 = (k1 * dr) ** 2
    c2 = (k2 * dr) ** 2
    # In-place arithmetic on the five filtered maps (large volumes: avoid temporaries).
    uxy_mean = ux * uy  # μxμy
    uxy -= uxy_mean
    uxy *= 2 * cov_norm
    uxy += c2  # 2σxy + C2
    uxx -= ux * ux
    uyy -= uy * uy
    uxx += uyy
    uxx *= cov_norm
    uxx += c2  # σx² + σy² + C2
    ux *= ux
    uy *= uy
    ux += uy
    ux += c1  # μx² + μy² + C1
    uxy_mean *= 2
    uxy_mean += c1  # 2μxμy + C1
    uxy_mean *= uxy
    ux *= uxx
    uxy_mean /= ux
    return uxy_mean.mean(axis=(1, 2))


def _box_mean(a: np.ndarray, w: int) -> np.ndarray:
    """Mean over every ``w × w`` window fully inside each image of ``(n, y, x)`` ("valid" region).

    Separable uniform filter (``scipy.ndimage.uniform_filter1d``, as scikit-image) cropped to the
    windows that lie inside the image, where skimage keeps the SSIM map; boundary handling
    therefore never enters.
    """
    h = w // 2
    out = uniform_filter1d(a, w, axis=1, mode="constant")[:, h : a.shape[1] - h]
    out = uniform_filter1d(out, w, axis=2, mode="constant")[:, :, h : a.shape[2] - h]
    return out


@dataclass(frozen=True)
class ImageScores:
    """NMSE, PSNR (dB) and SSIM of one case under a named profile."""

    nmse: float
    psnr: float
    ssim: float
    profile: str
    n_images: int

    def to_dict(self) -> dict:
        return {"nmse": self.nmse, "psnr": self.psnr, "ssim": self.ssim,
                "profile": self.profile, "n_images": self.n_images}

    def summary(self) -> str:
        return (f"NMSE {self.nmse:.4g}  PSNR {self.psnr:.2f} dB  SSIM {self.ssim:.4f} "
                f"({self.profile} profile, {self.n_images} images)")


def _normalise(img: np.ndarray, profile: str) -> np.ndarray:
    """Per-image normalisation of ``(n_images, y, x)`` under a CMRxRecon profile."""
    if profile == "cmrxrecon2023":
        peak = img.max(axis=(-2, -1), keepdims=True)
        if np.any(peak == 0):
            raise ValueError(f"score: an image is all zero, cannot normalise by its maximum ({profile})")
        return img / peak
    if profile == "cmrxrecon2024":
        mean = img.mean(axis=(-2, -1), keepdims=True)
        std = img.std(axis=(-2, -1), keepdims=True)
        return (img - mean) / (std + 1e-8)
    # cmrxrecon2025
    p = np.percentile(np.abs(img), 99.5, axis=(-2, -1), keepdims=True)
    if np.any(p == 0):
        raise ValueError(f"score: an image has a zero 99.5th percentile ({profile})")
    return np.abs(img) / p


def score(reference, prediction, profile: str = "fastmri") -> ImageScores:
    """Score a magnitude prediction against its reference under a named profile.

    Parameters
    ----------
    reference, prediction : ndarray, real, ``(slice, frame, y, x)`` or ``(slice, y, x)``
        (a 3-D volume is treated as one frame per slice).
    profile : str
        One of :data:`PROFILES` (see the module docstring).

    Returns
    -------
    ImageScores
        NMSE (lower is better), PSNR in dB and SSIM (higher is better) and the number of 2-D
        images scored.
    """
    check_option(profile, PROFILES, name="profile", where="score")
    ref, pred = _prepare(reference, prediction, "score")
    check_ndim(ref, (3, 4), name="reference", where="score", axes="(slice, frame, y, x)")
    if ref.ndim == 3:
        ref, pred = ref[:, None], pred[:, None]
    if profile == "fastmri":
        vol_ref = ref.reshape(-1, *ref.shape[-2:])
        vol_pred = pred.reshape(-1, *pred.shape[-2:])
        dr = float(vol_ref.max())
        sq_err = float(np.sum((vol_ref - vol_pred) ** 2))
        return ImageScores(
            nmse=sq_err / float(np.sum(vol_ref**2)),
            psnr=float(10.0 * np.log10(dr**2 / (sq_err / vol_ref.size))) if sq_err else float("inf"),
            ssim=float(np.mean(_ssim_values(vol_ref, vol_pred, dr))),
            profile=profile,
            n_images=int(vol_ref.shape[0]),
        )
    imgs_ref = _normalise(cmrxrecon_select(ref), profile)
    imgs_pred = _normalise(cmrxrecon_select(pred), profile)
    n_img = imgs_ref.shape[0]
    nm, ps, ss = [], [], []
    for a, b in zip(imgs_ref, imgs_pred):
        dr = float(a.max())
        nm.append(nmse(a, b))
        ps.append(psnr(a, b, data_range=dr))
        ss.append(float(_ssim_values(a, b, dr)))
    return ImageScores(nmse=float(np.mean(nm)), psnr=float(np.mean(ps)), ssim=float(np.mean(ss)),
                       profile=profile, n_images=int(n_img))


def image_rows(reference, prediction, *, profile: str = "fastmri") -> list[MetricRow]:
    """NMSE, PSNR and SSIM of one case as stored rows (:mod:`suite.metrics.contract`).

    Parameters
    ----------
    reference, prediction : ndarray, real, ``(slice, frame, y, x)``
        Magnitude images; the reference is the fully sampled image the profile scores against.
    profile : str
        One of :data:`PROFILES`; stored as the rows' ``profile``.

    Returns
    -------
    list of MetricRow
        One row per metric of :data:`IMAGE_METRICS`. Non-finite values in either input, or a
        reference the profile cannot normalise (all zero), give rows with ``value=None`` and
        status ``undefined`` rather than a number.
    """
    check_option(profile, PROFILES, name="profile", where="image_rows")
    ref, pred = np.asarray(reference), np.asarray(prediction)
    check_same_shape(ref, pred, names=("reference", "prediction"), where="image_rows",
                     axes="(slice, frame, y, x)")
    if not (np.isfinite(ref).all() and np.isfinite(pred).all()):
        return [metric_row(m.name, None, status="undefined", profile=profile)
                for m in IMAGE_METRICS]
    try:
        s = score(ref, pred, profile=profile)
    except ValueError:  # e.g. an all-zero reference image: the profile's normalisation fails
        return [metric_row(m.name, None, status="undefined", profile=profile)
                for m in IMAGE_METRICS]
    return [metric_row(m.name, getattr(s, m.name), profile=profile) for m in IMAGE_METRICS]


def _example(rng):
    ref = rng.random((2, 3, 16, 16)) + 0.5
    pred = ref + 0.1 * rng.standard_normal(ref.shape)
    return ref, np.abs(pred), {"profile": "fastmri"}


register_family(MetricFamily("image", tuple(m.name for m in IMAGE_METRICS), image_rows, _example))

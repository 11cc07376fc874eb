"""Image-quality metrics (NMSE, PSNR, SSIM) on magnitude images, with named scoring profiles.

Profiles reproduce published conventions exactly (DESIGN.md, "Scoring profiles"). This module
implements the ``fastmri`` profile; the challenge profiles are added by the reconstruction issue.

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

Arguments follow the scikit-learn order: reference first, prediction second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from suite._validation import check_finite, check_ndim, check_option, check_same_shape

__all__ = ["nmse", "psnr", "ssim_per_image", "score", "ImageScores", "PROFILES"]

PROFILES = ("fastmri",)


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
    lead = ref.shape[:-2]
    x = torch.from_numpy(ref.reshape(-1, 1, *ref.shape[-2:]))
    y = torch.from_numpy(pred.reshape(-1, 1, *pred.shape[-2:]))
    n = win_size * win_size
    kernel = torch.full((1, 1, win_size, win_size), 1.0 / n, dtype=torch.float64)
    cov_norm = n / (n - 1)

    def filt(t):
        return F.conv2d(t, kernel)  # "valid" region only: equals skimage's crop of the border

    ux, uy = filt(x), filt(y)
    uxx, uyy, uxy = filt(x * x), filt(y * y), filt(x * y)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1 = (k1 * dr) ** 2
    c2 = (k2 * dr) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    return s.mean(dim=(1, 2, 3)).numpy().reshape(lead)


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


def score(reference, prediction, profile: str = "fastmri") -> ImageScores:
    """Score a magnitude prediction against its reference under a named profile.

    Parameters
    ----------
    reference, prediction : ndarray, real, ``(slice, frame, y, x)`` or ``(slice, y, x)``
    profile : str
        One of :data:`PROFILES` (see the module docstring).
    """
    check_option(profile, PROFILES, name="profile", where="score")
    ref, pred = _prepare(reference, prediction, "score")
    check_ndim(ref, (3, 4), name="reference", where="score", axes="(slice, frame, y, x)")
    vol_ref = ref.reshape(-1, *ref.shape[-2:])
    vol_pred = pred.reshape(-1, *pred.shape[-2:])
    dr = float(vol_ref.max())
    return ImageScores(
        nmse=nmse(vol_ref, vol_pred),
        psnr=psnr(vol_ref, vol_pred, data_range=dr),
        ssim=float(np.mean(ssim_per_image(vol_ref, vol_pred, data_range=dr))),
        profile=profile,
        n_images=int(vol_ref.shape[0]),
    )

"""Coil sensitivity estimation from the fully sampled centre of k-space (ACS).

``espirit_maps`` follows Uecker et al., "ESPIRiT — an eigenvalue approach to autocalibrating
parallel MRI: where SENSE meets GRAPPA", MRM 71:990–1001, 2014 (doi 10.1002/mrm.24751):

1. calibration matrix of all ``kernel × kernel × coil`` patches of the ACS region
   (rows = patch positions);
2. its right singular vectors with singular value ≥ ``threshold · σ_max`` span the signal
   subspace; each is a k-space kernel ``(coil, kernel, kernel)``;
3. each kernel, zero-padded to the image matrix and inverse-FFT'd (centred, orthonormal), gives
   per-pixel vectors ``a_n(r)``; the per-pixel matrix ``G(r) = c · Σ_n a_n(r) a_n(r)^H`` with
   ``c = N_pixels / kernel²`` has eigenvalue ≈ 1 where the coils see signal;
4. the maps are the eigenvectors of the largest eigenvalue, set to zero where that eigenvalue is
   below ``crop``, with the phase of coil 0 removed (a smooth, reproducible phase reference).

The result is normalised so that ``Σ_c |S_c(r)|² = 1`` inside the support.

``lowres_maps`` is the documented fallback (used when the ACS region is smaller than
``max(kernel + 6, 12)`` lines, where the ESPIRiT support shrinks): coil images from the Hann-windowed ACS region
divided by their RSS (Walsh-free "sum-of-squares normalised" maps), the approach of many
baseline implementations; smoother but biased where the object is dark.
"""

from __future__ import annotations

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from suite.mr import ifft2c

__all__ = ["acs_region", "espirit_maps", "lowres_maps", "estimate_coil_maps"]


def acs_region(kspace: np.ndarray, mask: np.ndarray, max_width: int = 24) -> tuple[slice, slice]:
    """The largest centred block of ky lines sampled in every frame, and a centred kx window.

    Parameters
    ----------
    kspace : complex64 ``(slice, frame, coil, ky, kx)``
    mask : bool, broadcastable to ``kspace``

    Returns
    -------
    (ky_slice, kx_slice) of the calibration region; empty ky slice when no ACS exists.
    """
    ny, nx = kspace.shape[-2:]
    full = np.broadcast_to(mask, kspace.shape)
    lines = full.all(axis=(0, 1, 2, 4))  # ky sampled in every slice/frame/coil across kx
    c = ny // 2
    if not lines[c]:
        return slice(c, c), slice(0, 0)
    lo = c
    while lo - 1 >= 0 and lines[lo - 1]:
        lo -= 1
    hi = c + 1
    while hi < ny and lines[hi]:
        hi += 1
    width_x = min(nx, max(max_width, hi - lo))
    x0 = nx // 2 - width_x // 2
    return slice(lo, hi), slice(x0, x0 + width_x)


def _calibration_data(kspace, mask, max_width=24):
    """Time-averaged ACS block ``(slice, coil, n_ky, n_kx)`` (complex128)."""
    sy, sx = acs_region(kspace, mask, max_width)
    calib = kspace[:, :, :, sy, sx].astype(np.complex128).mean(axis=1)
    return calib


def espirit_maps(
    kspace: np.ndarray,
    mask: np.ndarray,
    kernel: int = 6,
    threshold: float = 0.02,
    crop: float = 0.8,
    max_calib: int = 24,
) -> np.ndarray:
    """ESPIRiT coil maps (one set per slice) from the ACS region.

    Parameters
    ----------
    kspace : complex64 ``(slice, frame, coil, ky, kx)``
    mask : bool broadcastable to ``kspace``
    kernel : int
        Kernel width in k-space samples (square).
    threshold : float
        Singular values kept: ``σ ≥ threshold · σ_max``.
    crop : float
        Maps are zero where the largest eigenvalue is below ``crop``.
    max_calib : int
        Calibration region width along kx (and the ACS lines along ky, up to it).

    Returns
    -------
    ndarray complex64 ``(slice, coil, ky, kx)``, ``Σ_c |S_c|² = 1`` inside the support.

    Raises
    ------
    ValueError
        When the ACS region is smaller than ``kernel + 2`` lines (use :func:`lowres_maps`).
    """
    ns, _, nc, ny, nx = kspace.shape
    calib = _calibration_data(kspace, mask, max_calib)
    cy, cx = calib.shape[-2:]
    min_calib = max(kernel + 6, 12)
    if cy < min_calib or cx < min_calib:
        # With fewer lines the calibration matrix has too few rows: the maps stay accurate where
        # they are non-zero but the eigenvalue support shrinks (51 % of the body lost at 8 lines,
        # 3 % at 12 on the phantom), so a smaller centre is refused.
        raise ValueError(
            f"espirit_maps: the fully sampled centre is {cy}x{cx}, smaller than "
            f"{min_calib}x{min_calib} (kernel {kernel} + 6, at least 12); "
            "use lowres_maps or acquire more ACS lines"
        )
    out = np.zeros((ns, nc, ny, nx), np.complex64)
    for s in range(ns):
        c = calib[s]
        # patches: (positions, coil*kernel*kernel)
        win = np.lib.stride_tricks.sliding_window_view(c, (kernel, kernel), axis=(1, 2))
        # win: (coil, cy-k+1, cx-k+1, k, k) -> (positions, coil, k, k)
        patches = win.transpose(1, 2, 0, 3, 4).reshape(-1, nc * kernel * kernel)
        with threadpool_limits(limits=1, user_api="blas"):  # small SVD: threads only stall
            _, sv, vh = np.linalg.svd(patches, full_matrices=False)
        keep = sv >= threshold * sv[0]
        # Patches are rows, so the projection acting on a patch as a column vector is
        # conj(V) V^T: the kernels are the rows of vh themselves (no conjugation).
        kernels = vh[keep].reshape(-1, nc, kernel, kernel)
        # zero-pad kernels to the matrix, centred like the k-space itself
        padded = np.zeros((kernels.shape[0], nc, ny, nx), np.complex128)
        y0, x0 = ny // 2 - kernel // 2, nx // 2 - kernel // 2
        padded[:, :, y0 : y0 + kernel, x0 : x0 + kernel] = kernels
        a = ifft2c(padded)  # (n_kernels, coil, y, x)
        a = torch.from_numpy(a).permute(2, 3, 1, 0)  # (y, x, coil, n)
        gram = (a @ a.conj().transpose(-1, -2)) * (ny * nx / kernel**2)
        evals, evecs = torch.linalg.eigh(gram)  # ascending
        top = evecs[..., :, -1]  # eigenvectors are columns: (y, x, coil)
        lam = evals[..., -1]
        phase0 = top[..., :1] / (top[..., :1].abs() + 1e-12)
        maps = top * phase0.conj()
        maps = maps * (lam > crop).unsqueeze(-1)
        out[s] = maps.permute(2, 0, 1).numpy().astype(np.complex64)
    return out


def lowres_maps(kspace: np.ndarray, mask: np.ndarray, max_calib: int = 24) -> np.ndarray:
    """Fallback maps: Hann-windowed ACS coil images divided by their RSS.

    Returns complex64 ``(slice, coil, ky, kx)`` with ``Σ_c |S_c|² = 1`` where the RSS is
    above 1 % of its maximum, zero elsewhere.
    """
    ns, _, nc, ny, nx = kspace.shape
    sy, sx = acs_region(kspace, mask, max_calib)
    if sy.stop - sy.start < 2:
        raise ValueError("lowres_maps: no fully sampled centre (ACS) found in the mask")
    calib = kspace[:, :, :, sy, sx].astype(np.complex128).mean(axis=1)
    wy = np.hanning(calib.shape[-2] + 2)[1:-1]
    wx = np.hanning(calib.shape[-1] + 2)[1:-1]
    padded = np.zeros((ns, nc, ny, nx), np.complex128)
    padded[..., sy, sx] = calib * wy[:, None] * wx[None, :]
    imgs = ifft2c(padded)
    rss = np.sqrt((np.abs(imgs) ** 2).sum(axis=1, keepdims=True))
    support = rss > 0.01 * rss.max(axis=(-2, -1), keepdims=True)
    maps = np.where(support, imgs / np.maximum(rss, 1e-30), 0)
    return maps.astype(np.complex64)


def estimate_coil_maps(case, method: str = "espirit", **params) -> tuple[np.ndarray, str]:
    """Maps for a Case: ``case.coil_maps`` if given, else ESPIRiT, else the low-res fallback.

    Returns
    -------
    (maps complex64 ``(slice, coil, ky, kx)``, the name of the estimator actually used).
    """
    if case.coil_maps is not None:
        return case.coil_maps, "given"
    if method == "espirit":
        try:
            return espirit_maps(case.kspace, case.mask, **params), "espirit"
        except ValueError:
            return lowres_maps(case.kspace, case.mask), "lowres-fallback"
    if method == "lowres":
        return lowres_maps(case.kspace, case.mask), "lowres"
    raise ValueError(f"estimate_coil_maps: method must be 'espirit' or 'lowres'; got {method!r}")

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

import hashlib

import numpy as np
import torch

from suite.mr import ifft2c, native_thread_limits

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
    # per-axis inverse-DFT basis of the kernel support, centred like the k-space itself
    phi_y = _support_basis(ny, ny // 2 - kernel // 2, kernel)
    phi_x = _support_basis(nx, nx // 2 - kernel // 2, kernel)
    for s in range(ns):
        c = calib[s]
        # patches: (positions, coil*kernel*kernel)
        win = np.lib.stride_tricks.sliding_window_view(c, (kernel, kernel), axis=(1, 2))
        # win: (coil, cy-k+1, cx-k+1, k, k) -> (positions, coil, k, k)
        patches = win.transpose(1, 2, 0, 3, 4).reshape(-1, nc * kernel * kernel)
        with native_thread_limits(1, user_api="blas"):  # small SVD: threads only stall
            _, sv, vh = np.linalg.svd(patches, full_matrices=False)
            keep = sv >= threshold * sv[0]
            # Patches are rows, so the projection acting on a patch as a column vector is
            # conj(V) V^T: the kernels are the rows of vh themselves (no conjugation).
            gram = _pixel_gram(vh[keep], nc, kernel, phi_y, phi_x) * (ny * nx / kernel**2)
        evals, evecs = torch.linalg.eigh(torch.from_numpy(gram))  # ascending
        top = evecs[..., :, -1]  # eigenvectors are columns: (y, x, coil)
        lam = evals[..., -1]
        phase0 = top[..., :1] / (top[..., :1].abs() + 1e-12)
        maps = top * phase0.conj()
        maps = maps * (lam > crop).unsqueeze(-1)
        out[s] = maps.permute(2, 0, 1).numpy().astype(np.complex64)
    return out


def _support_basis(n: int, start: int, kernel: int) -> np.ndarray:
    """``φ[r, i]``: the centred orthonormal inverse DFT (``ifft2c`` along one axis) of a unit
    impulse at k-space index ``start + i``, evaluated at pixel ``r``; complex128 ``(n, kernel)``."""
    impulses = np.zeros((kernel, n), np.complex128)
    impulses[np.arange(kernel), start + np.arange(kernel)] = 1.0
    return np.fft.fftshift(np.fft.ifft(np.fft.ifftshift(impulses, axes=-1), axis=-1,
                                       norm="ortho"), axes=-1).T


def _pixel_gram(kernels: np.ndarray, nc: int, kernel: int, phi_y: np.ndarray,
                phi_x: np.ndarray) -> np.ndarray:
    """``G(r) = Σ_n a_n(r) a_n(r)^H`` for every pixel, ``a_n`` the image-domain kernels.

    ``kernels`` are the rows ``(n, coil·kernel·kernel)`` of the signal subspace; ``a_n`` is the
    inverse DFT of kernel ``n`` zero-padded to the matrix (module docstring, step 3). Instead
    of transforming every padded kernel, ``G`` is assembled from the kernels' correlation
    ``C = K^T conj(K)`` (``(coil·k²)²``) and the separable bases ``φ_y, φ_x``:
    ``G_cc'(y, x) = Σ φ_y[y,i] conj(φ_y[y,i']) φ_x[x,j] conj(φ_x[x,j']) C[(c,i,j), (c',i',j')]``,
    two matrix products instead of ``n · coil`` FFTs. Returns complex128 ``(y, x, coil, coil)``.
    """
    k = kernel
    ny, nx = phi_y.shape[0], phi_x.shape[0]
    corr = kernels.T @ kernels.conj()  # ((c,i,j), (c',i',j'))
    corr = corr.reshape(nc, k, k, nc, k, k).transpose(0, 1, 3, 4, 2, 5).reshape(-1, k * k)
    pair_x = (phi_x[:, :, None] * phi_x.conj()[:, None, :]).reshape(nx, k * k)  # (x, (j,j'))
    t = (corr @ pair_x.T).reshape(nc, k, nc, k, nx)  # (c, i, c', i', x)
    t = t.transpose(1, 3, 0, 2, 4).reshape(k * k, nc * nc * nx)  # ((i,i'), (c,c',x))
    pair_y = (phi_y[:, :, None] * phi_y.conj()[:, None, :]).reshape(ny, k * k)  # (y, (i,i'))
    gram = (pair_y @ t).reshape(ny, nc, nc, nx)
    return np.ascontiguousarray(gram.transpose(0, 3, 1, 2))


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

    Notes
    -----
    Estimates are remembered for the last few inputs of this process (keyed by a hash of what
    the estimators read: the mask, the ACS block of the k-space, the estimator and its
    parameters), so the methods and attacks of one
    job that need the maps of the same data estimate them once. The cached values are exactly
    what the estimator returns; callers get a copy.
    """
    if case.coil_maps is not None:
        return case.coil_maps, "given"
    if method not in ("espirit", "lowres"):
        raise ValueError(f"estimate_coil_maps: method must be 'espirit' or 'lowres'; "
                         f"got {method!r}")
    key = _memo_key(case.kspace, case.mask, method, params)
    hit = _MEMO.get(key)
    if hit is None:
        hit = _estimate(case.kspace, case.mask, method, params)
        _MEMO[key] = hit
        while len(_MEMO) > _MEMO_SIZE:
            _MEMO.pop(next(iter(_MEMO)))
    else:
        _MEMO[key] = _MEMO.pop(key)  # most recently used last
    return hit[0].copy(), hit[1]


def _estimate(kspace, mask, method: str, params: dict) -> tuple[np.ndarray, str]:
    if method == "espirit":
        try:
            return espirit_maps(kspace, mask, **params), "espirit"
        except ValueError:
            return lowres_maps(kspace, mask), "lowres-fallback"
    return lowres_maps(kspace, mask), "lowres"


#: Recent estimates, oldest first (see :func:`estimate_coil_maps`).
_MEMO: dict[str, tuple[np.ndarray, str]] = {}
_MEMO_SIZE = 4


def _memo_key(kspace, mask, method: str, params: dict) -> str:
    """Hash of everything the estimators read: shapes, mask, the ACS blocks, the parameters."""
    h = hashlib.blake2b(digest_size=20)
    h.update(f"{kspace.dtype.str}{kspace.shape}{method}{sorted(params.items())}".encode())
    mask = np.asarray(mask)
    h.update(f"{mask.dtype.str}{mask.shape}".encode())
    h.update(np.ascontiguousarray(mask).view(np.uint8).reshape(-1))
    for width in sorted({int(params.get("max_calib", 24)), 24}):
        sy, sx = acs_region(kspace, mask, width)
        h.update(np.ascontiguousarray(kspace[:, :, :, sy, sx]).view(np.uint8).reshape(-1))
    return h.hexdigest()

"""From the simulation grid to acquired k-space (no inverse crime).

The object is rendered on a grid ``q`` times finer than the acquired matrix (same FOV) and
transformed with the centred orthonormal DFT (:mod:`suite.mr.fft` convention). Coil
sensitivities are smooth: they are Keys-interpolated from Biot–Savart samples on a coarse
grid of spacing ``g`` (:mod:`suite.phantom.coils`), so their spectrum is concentrated within
``± FOV / (2g)`` cycles per FOV. The coil modulation is therefore applied on an intermediate
grid holding the acquired band plus a margin ``m ≥ FOV / (2g) + 4`` samples on each side:

1. ``X = crop_{n + 2m}(F_fine · object)``   (object band-limited to the widened band)
2. ``x_int = F_int⁻¹ X``; coil images ``S_c · x_int`` on the intermediate grid
3. ``k_c = crop_n(F_int · (S_c · x_int))``

For maps band-limited to ``± m`` this equals cropping the DFT of the fine-grid product
``S_c · object`` exactly (the convolution ``Ŝ_c ∗ X`` at ``|k| < n/2`` only needs ``X`` at
``|k| < n/2 + m``; wrap-around lands outside the crop); the residual for our maps is checked
in the tests against the direct fine-grid product. Each crop is scaled by
``sqrt(N_out / N_in)`` so intensities do not depend on the grid: a constant image ``c`` on
the fine grid gives ``c`` on the acquired grid under ``ifft2c`` (tested).

The acquired data thus carry partial volume and truncation (Gibbs) effects of a
finely-resolved object, instead of being the DFT of a piecewise-constant image on the
acquired grid (the "inverse crime"; Guerquin-Kern et al., IEEE TMI 2012;31:626).
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft

__all__ = ["centred_dft", "input_modulation", "fine_to_kspace", "coil_kspace"]


def input_modulation(n: int) -> np.ndarray:
    """``exp(2πi c j / n)``, ``c = n // 2``: folds ``ifftshift`` into a product (complex64)."""
    j = np.arange(n)
    return np.exp(2j * np.pi * ((n // 2 * j) % n) / n).astype(np.complex64)


def centred_dft(x: np.ndarray, axis: int, keep: int, *, premodulated: bool = False,
                inverse: bool = False) -> np.ndarray:
    """Centred orthonormal DFT along ``axis``, keeping the ``keep`` central outputs.

    ``K[k] = N^{-1/2} Σ_j x[j] exp(∓2πi (k − c)(j − c) / N)``, ``c = N // 2``, returned for
    centred indices ``k = c − keep//2 … c − keep//2 + keep − 1`` (DC at ``keep // 2``).
    Equals ``fftshift(fft(ifftshift(x), norm="ortho"))`` (or the inverse) cropped, without
    the shifts. ``premodulated`` means ``x`` was already multiplied by
    :func:`input_modulation` along ``axis`` (forward only).

    Parameters
    ----------
    x : ndarray, complex64
    axis : int
    keep : int
        ``1 ≤ keep ≤ N``.

    Returns
    -------
    ndarray, complex64, ``x``'s shape with ``keep`` along ``axis`` (not rescaled).
    """
    n = x.shape[axis]
    c = n // 2
    shape = [1] * x.ndim
    shape[axis] = n
    if inverse:
        x = np.conj(x)
    if not premodulated or inverse:
        x = x * input_modulation(n).reshape(shape)
    y = sfft.fft(x, axis=axis, norm="ortho", workers=-1)
    k = np.arange(c - keep // 2, c - keep // 2 + keep)
    y = np.take(y, k, axis=axis)
    out_phase = np.exp(2j * np.pi * ((c * k - c * c) % n) / n).astype(np.complex64)
    shape[axis] = keep
    y = y * out_phase.reshape(shape)
    return np.conj(y) if inverse else y


def fine_to_kspace(images: np.ndarray, matrix, oversample: int) -> np.ndarray:
    """Centred k-space of fine-grid images cropped to the acquired ``matrix`` (scaled).

    Parameters
    ----------
    images : ndarray, complex64, shape (..., q·ny, q·nx)
    matrix : (int, int)
        Acquired ``(ny, nx)``.
    oversample : int
        ``q``.

    Returns
    -------
    ndarray, complex64, shape (..., ny, nx): ``fft2c`` of the band-limited image on the
    acquired grid.

    Examples
    --------
    >>> from suite.mr.fft import ifft2c
    >>> k = fine_to_kspace(np.full((12, 15), 2.0 + 0j, np.complex64), (4, 5), 3)
    >>> np.allclose(ifft2c(k), 2.0)
    True
    """
    ny, nx = (int(v) for v in matrix)
    hf, wf = images.shape[-2:]
    if (hf, wf) != (oversample * ny, oversample * nx):
        raise ValueError(f"fine_to_kspace: images must be (..., {oversample * ny}, "
                         f"{oversample * nx}); got {images.shape}")
    k = centred_dft(centred_dft(images.astype(np.complex64), -1, nx), -2, ny)
    return (k * np.float32(1.0 / oversample)).astype(np.complex64, copy=False)


def coil_kspace(objects: np.ndarray, maps_int: np.ndarray, matrix,
                premodulated: bool = False) -> np.ndarray:
    """Acquired coil k-space of fine-grid objects via the intermediate grid.

    Parameters
    ----------
    objects : ndarray, complex64, shape (frame, Hf, Wf)
        Objects on the simulation grid (optionally premodulated along both axes).
    maps_int : ndarray, complex64, shape (coil, Hi, Wi)
        Coil maps at the intermediate-grid pixel centres (``ny ≤ Hi ≤ Hf``).
    matrix : (int, int)
        Acquired ``(ny, nx)``.

    Returns
    -------
    ndarray, complex64, shape (frame, coil, ny, nx)
    """
    ny, nx = (int(v) for v in matrix)
    hf, wf = objects.shape[-2:]
    hi, wi = maps_int.shape[-2:]
    k = centred_dft(objects, -1, wi, premodulated=premodulated)
    k = centred_dft(k, -2, hi, premodulated=premodulated)
    k *= np.float32(np.sqrt(hi * wi / (hf * wf)))
    x_int = centred_dft(centred_dft(k, -1, wi, inverse=True), -2, hi, inverse=True)
    coil = x_int[:, None] * maps_int[None]
    out = centred_dft(centred_dft(coil, -1, nx), -2, ny)
    out *= np.float32(np.sqrt(ny * nx / (hi * wi)))
    return out.astype(np.complex64, copy=False)

"""Centred orthonormal 2-D FFT over the last two axes (DESIGN.md, Conventions).

``fft2c(x) = fftshift(fft2(ifftshift(x), norm="ortho"))`` over axes (-2, -1), and ``ifft2c``
its inverse. With ``norm="ortho"`` both are unitary, so ``||fft2c(x)|| = ||x||`` and the
adjoint of ``fft2c`` is ``ifft2c``. This matches fastMRI ``fastmri/fftc.py`` (``fft2c_new``),
sigpy ``sigpy.fft`` (``center=True``, ``norm="ortho"``) and the CMRxRecon ``ifft2c`` up to its
sqrt(Nx·Ny) scale.

Both accept a torch tensor (returned as a tensor, differentiable) or a numpy array (returned as
a numpy array of the matching complex dtype); this is the one FFT of the suite.

Implementation: along an axis of even length ``n`` the two shifts are circular shifts by
``n/2``, which the DFT turns into sign modulations: ``fftshift(fft(ifftshift(x)))[k] =
(−1)^(k + n/2) · fft((−1)^j x[j])[k]`` (the shift theorem), and the same for the inverse DFT.
Multiplying by ±1 is exact in floating point, so the centred transform costs one FFT and two
sign multiplications (no copies for the shifts); :func:`centring_signs` exposes the two sign
patterns so that operators (:class:`suite.mr.SenseOperator`) fold them into their coil maps and
masks. Odd axes keep the circular shifts (``torch.fft.fftshift``).
"""

from __future__ import annotations

import functools

import numpy as np
import torch

__all__ = ["fft2c", "ifft2c", "centring_signs"]

_AXES = (-2, -1)


def _as_tensor(x):
    if isinstance(x, torch.Tensor):
        return x, False
    arr = np.asarray(x)
    if arr.dtype.kind != "c":
        arr = arr.astype(np.complex64 if arr.dtype != np.float64 else np.complex128)
    return torch.from_numpy(np.ascontiguousarray(arr)), True


def _axis_signs(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(pre, post)`` sign vectors of one axis: ``(−1)^j`` and ``(−1)^(k + n/2)`` for even
    ``n``; ones for odd ``n`` (that axis keeps its circular shifts)."""
    if n % 2:
        return np.ones(n), np.ones(n)
    pre = 1.0 - 2.0 * (np.arange(n) % 2)
    return pre, pre * (1.0 - 2.0 * ((n // 2) % 2))


@functools.lru_cache(maxsize=64)
def centring_signs(ny: int, nx: int, dtype: torch.dtype = torch.float32,
                   device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Sign patterns ``(pre, post)``, real ``(ny, nx)``, of the centred FFT on even axes.

    For even ``ny`` and ``nx``: ``fft2c(x) = post · fft2(pre · x)`` and
    ``ifft2c(k) = post · ifft2(pre · k)`` (orthonormal FFTs, no shifts). An odd axis has
    ones in both patterns and needs its circular shifts (as :func:`fft2c` does).

    Parameters
    ----------
    ny, nx : int
        Image (or k-space) size along y and x.
    dtype : torch real dtype, default float32
        ``torch.float64`` for complex128 data.
    device : str, default "cpu"

    Returns
    -------
    (pre, post) : torch.Tensor, ``dtype``, ``(ny, nx)``, entries ±1 (cached; do not modify).

    Examples
    --------
    >>> import torch
    >>> pre, post = centring_signs(4, 4, torch.float64)
    >>> x = torch.randn(4, 4, dtype=torch.complex128)
    >>> torch.allclose(post * torch.fft.fft2(pre * x, norm="ortho"), fft2c(x))
    True
    """
    py, qy = _axis_signs(ny)
    px, qx = _axis_signs(nx)
    pre = torch.as_tensor(np.outer(py, px), dtype=dtype, device=device)
    post = torch.as_tensor(np.outer(qy, qx), dtype=dtype, device=device)
    return pre, post


def _centred(t: torch.Tensor, transform) -> torch.Tensor:
    """``fftshift(transform(ifftshift(t)))`` over the last two axes (module docstring)."""
    if not t.is_complex():
        t = t.to(torch.complex64)
    ny, nx = t.shape[-2:]
    odd = tuple(d for d, n in zip(_AXES, (ny, nx)) if n % 2)
    if len(odd) == 2:
        return torch.fft.fftshift(transform(torch.fft.ifftshift(t, dim=_AXES), dim=_AXES,
                                            norm="ortho"), dim=_AXES)
    pre, post = centring_signs(ny, nx, t.real.dtype, str(t.device))
    z = t * pre
    if odd:
        z = torch.fft.ifftshift(z, dim=odd)
    out = transform(z, dim=_AXES, norm="ortho")
    if odd:
        out = torch.fft.fftshift(out, dim=odd)
    return out.mul_(post)


def fft2c(x):
    """Centred orthonormal forward 2-D FFT over the last two axes (image → k-space).

    Parameters
    ----------
    x : torch.Tensor or numpy.ndarray, complex, shape (..., y, x)

    Returns
    -------
    Same type and shape as ``x``, complex: k-space ``(..., ky, kx)`` with DC at
    ``(ny // 2, nx // 2)``.

    Examples
    --------
    >>> import numpy as np
    >>> k = fft2c(np.ones((4, 4), np.complex64))
    >>> float(abs(k[2, 2]))  # DC of a constant image is sqrt(N) under norm="ortho"
    4.0
    """
    t, was_numpy = _as_tensor(x)
    out = _centred(t, torch.fft.fft2)
    return out.numpy() if was_numpy else out


def ifft2c(k):
    """Centred orthonormal inverse 2-D FFT over the last two axes (k-space → image).

    The exact inverse and adjoint of :func:`fft2c`.
    """
    t, was_numpy = _as_tensor(k)
    out = _centred(t, torch.fft.ifft2)
    return out.numpy() if was_numpy else out

"""Centred orthonormal 2-D FFT over the last two axes (DESIGN.md, Conventions).

``fft2c(x) = fftshift(fft2(ifftshift(x), norm="ortho"))`` over axes (-2, -1), and ``ifft2c``
its inverse. With ``norm="ortho"`` both are unitary, so ``||fft2c(x)|| = ||x||`` and the
adjoint of ``fft2c`` is ``ifft2c``. This matches fastMRI ``fastmri/fftc.py`` (``fft2c_new``),
sigpy ``sigpy.fft`` (``center=True``, ``norm="ortho"``) and the CMRxRecon ``ifft2c`` up to its
sqrt(Nx·Ny) scale.

Both accept a torch tensor (returned as a tensor, differentiable) or a numpy array (returned as
a numpy array of the matching complex dtype); this is the one FFT of the suite.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["fft2c", "ifft2c"]

_AXES = (-2, -1)


def _as_tensor(x):
    if isinstance(x, torch.Tensor):
        return x, False
    arr = np.asarray(x)
    if arr.dtype.kind != "c":
        arr = arr.astype(np.complex64 if arr.dtype != np.float64 else np.complex128)
    return torch.from_numpy(np.ascontiguousarray(arr)), True


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
    if not t.is_complex():
        t = t.to(torch.complex64)
    out = torch.fft.fftshift(
        torch.fft.fft2(torch.fft.ifftshift(t, dim=_AXES), dim=_AXES, norm="ortho"), dim=_AXES
    )
    return out.numpy() if was_numpy else out


def ifft2c(k):
    """Centred orthonormal inverse 2-D FFT over the last two axes (k-space → image).

    The exact inverse and adjoint of :func:`fft2c`.
    """
    t, was_numpy = _as_tensor(k)
    if not t.is_complex():
        t = t.to(torch.complex64)
    out = torch.fft.fftshift(
        torch.fft.ifft2(torch.fft.ifftshift(t, dim=_AXES), dim=_AXES, norm="ortho"), dim=_AXES
    )
    return out.numpy() if was_numpy else out

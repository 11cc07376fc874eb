"""Raw-data operations shared by the ISMRMRD reader and writer.

* 1-D centred orthonormal FFT along the readout (last axis), the 1-D form of the suite
  convention ``fftshift(fft(ifftshift(x), norm="ortho"))`` (DESIGN.md, Conventions).
* Readout oversampling: adding it zero-pads the image along x to ``os · nx`` (centred, start at
  ``(os·nx − nx) // 2``); removing it is inverse FFT, centre crop, FFT, as the OCMR example
  notebook does (crop ``RO/4 : 3·RO/4`` for ``os = 2``; MRIOSU/OCMR ``Python/example_ocmr.ipynb``).
  Both maps are exact inverses of each other up to float rounding because the FFTs are unitary.
* Noise prewhitening: noise covariance ``Ψ = X Xᴴ / (N − 1)`` from the noise samples ``X``
  ``(coil, N)`` (no mean removal, as Gadgetron's ``NoiseAdjustGadget``), scaled by the ratio of
  noise to imaging dwell time when both are known; whitening matrix ``W = L⁻¹`` with
  ``Ψ = L Lᴴ`` (Cholesky), so whitened noise has identity covariance.
  Reference: Pruessmann et al., MRM 46:638 (2001), appendix; Hansen & Kellman, JMRI 41:573
  (2015), doi 10.1002/jmri.24687.
* Acquisition flags: flag ``n`` of ismrmrd/ismrmrd-python ``ismrmrd/constants.py`` is the bit
  ``1 << (n - 1)`` of the acquisition header's ``flags`` (``ismrmrd/flags.py``).
"""

from __future__ import annotations

import numpy as np


def flag_bit(flag: int) -> int:
    """The bit mask of ISMRMRD acquisition flag number ``flag`` (1-based).

    >>> flag_bit(1), flag_bit(19)
    (1, 262144)
    """
    return 1 << (flag - 1)


def fft1c(x: np.ndarray) -> np.ndarray:
    """Centred orthonormal FFT along the last axis (image x → kx)."""
    return np.fft.fftshift(np.fft.fft(np.fft.ifftshift(x, axes=-1), axis=-1, norm="ortho"),
                           axes=-1)


def ifft1c(x: np.ndarray) -> np.ndarray:
    """Centred orthonormal inverse FFT along the last axis (kx → image x)."""
    return np.fft.fftshift(np.fft.ifft(np.fft.ifftshift(x, axes=-1), axis=-1, norm="ortho"),
                           axes=-1)


def add_oversampling(k: np.ndarray, os: int) -> np.ndarray:
    """k-space ``(..., nx)`` → readout-oversampled k-space ``(..., os·nx)``, complex64."""
    nx = k.shape[-1]
    img = ifft1c(k)
    pad = np.zeros(k.shape[:-1] + (os * nx,), img.dtype)
    start = (os * nx - nx) // 2
    pad[..., start:start + nx] = img
    return fft1c(pad).astype(np.complex64)


def remove_oversampling(k: np.ndarray, nx: int) -> np.ndarray:
    """Readout-oversampled k-space ``(..., M)`` → ``(..., nx)``: ifft, centre crop, fft."""
    m = k.shape[-1]
    start = (m - nx) // 2
    return fft1c(ifft1c(k)[..., start:start + nx]).astype(np.complex64)


def sampled_after_decimation(offset: int, n_samples: int, m: int, nx: int) -> np.ndarray:
    """Which of ``nx`` decimated readout positions lie inside acquired samples.

    The oversampled grid (length ``m``, centre ``m // 2``) holds samples ``offset ..
    offset + n_samples − 1``; decimated position ``i`` sits at oversampled position
    ``m // 2 + (m / nx) · (i − nx // 2)``. Returns a bool vector ``(nx,)``.
    """
    i = np.arange(nx)
    j = m // 2 + (m / nx) * (i - nx // 2)
    return (j >= offset - 1e-9) & (j <= offset + n_samples - 1 + 1e-9)


def noise_covariance(noise: np.ndarray) -> np.ndarray:
    """Ψ = X Xᴴ / (N − 1) of noise samples ``(coil, N)``; complex128 ``(coil, coil)``."""
    x = noise.astype(np.complex128)
    n = x.shape[1]
    return (x @ x.conj().T) / max(n - 1, 1)


def whitening_matrix(psi: np.ndarray) -> np.ndarray:
    """``L⁻¹`` for ``Ψ = L Lᴴ``; raises ``numpy.linalg.LinAlgError`` if Ψ is not PD."""
    lower = np.linalg.cholesky(psi)
    return np.linalg.inv(lower)

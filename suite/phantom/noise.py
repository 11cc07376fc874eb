"""Noise level from the SNR definition, and complex Gaussian noise.

SNR definition (MRXCAT-like "cardiac SNR", Wissmann et al., JCMR 2014;16:63, restated):

    SNR = S_myo / σ

* ``S_myo``: mean over all LV-myocardium pixels (label 2) of the end-diastolic frame, all
  slices, of the noise-free root-sum-of-squares coil image
  ``sqrt(Σ_c |ifft2c(k_c)|²)`` on the acquired grid (coil shading included);
* ``σ``: standard deviation of the real part, and of the imaginary part, of the complex
  Gaussian noise added to every k-space sample of an average coil: the noise of coil ``c``
  has SD ``σ · sqrt(Ψ_cc)`` per component with ``mean_c Ψ_cc = 1``. Under the orthonormal FFT
  the coil images carry the same noise per pixel.

Coil noise is correlated (:func:`coil_noise_covariance`): receive arrays couple through
mutual inductance and shared sample noise, so neighbouring coils have correlated noise
(Roemer et al., "The NMR phased array", MRM 1990;16:192); the phantom's covariance is
``Ψ = D^{1/2} ((1 − ρ0) I + ρ0 K) D^{1/2}`` with ``K_ij = exp(−d_ij / 100 mm)`` (``d`` the
distance between coil centres), ``ρ0`` 0.1–0.3 and per-coil variances ``D`` 0.85–1.15
(normalised to mean 1): positive definite by construction, correlation coefficients up to
0.3 between neighbours. Noise ``n = L z`` with ``L`` the Cholesky factor of ``Ψ`` and ``z``
i.i.d. complex Gaussian of SD σ per component.
"""

from __future__ import annotations

import numpy as np

__all__ = ["myocardial_signal", "add_complex_noise", "coil_noise_covariance"]


def myocardial_signal(coil_images: np.ndarray, labels: np.ndarray) -> tuple[float, int]:
    """Sum and count of the RSS magnitude over myocardium pixels (label 2).

    Parameters
    ----------
    coil_images : ndarray, complex, shape (coil, y, x)
    labels : ndarray, uint8, shape (y, x)

    Returns
    -------
    (sum, count) : (float, int)
    """
    mag = np.sqrt((np.abs(coil_images) ** 2).sum(axis=0))
    m = labels == 2
    return float(mag[m].astype(np.float64).sum()), int(m.sum())


def coil_noise_covariance(centres_mm: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Noise covariance of a receive array (module docstring), float64 ``(coil, coil)``.

    A fixed number of values is drawn (``1 + 64``) whatever the coil count.
    """
    c = np.asarray(centres_mm, dtype=np.float64)
    n = c.shape[0]
    rho0 = rng.uniform(0.1, 0.3)
    var = rng.uniform(0.85, 1.15, size=64)[:n]
    var = var / var.mean()
    d = np.linalg.norm(c[:, None, :] - c[None, :, :], axis=-1)
    k = (1.0 - rho0) * np.eye(n) + rho0 * np.exp(-d / 100.0)
    s = np.sqrt(var)
    return s[:, None] * k * s[None, :]


def add_complex_noise(kspace: np.ndarray, sigma: float, rng: np.random.Generator,
                      covariance: np.ndarray | None = None, coil_axis: int = -3) -> None:
    """Add complex Gaussian noise (σ per real and imaginary part) to ``kspace`` in place.

    Parameters
    ----------
    kspace : ndarray, complex64, any shape
        Modified in place (memory: a full cine k-space can exceed 1 GB).
    sigma : float
        ≥ 0; 0 adds nothing and draws nothing.
    rng : numpy.random.Generator
    covariance : ndarray (coil, coil), optional
        Coil noise covariance (mean diagonal 1); default uncorrelated.
    coil_axis : int
        Axis of ``kspace`` holding the coils (default −3: ``(..., coil, ky, kx)``).
    """
    if sigma < 0:
        raise ValueError(f"add_complex_noise: sigma must be >= 0; got {sigma}")
    if sigma == 0:
        return
    if kspace.dtype != np.complex64:
        raise ValueError(f"add_complex_noise: kspace must be complex64; got {kspace.dtype}")
    n = rng.standard_normal(2 * kspace.size, dtype=np.float32)  # (re, im) interleaved
    n *= np.float32(sigma)
    noise = n.view(np.complex64).reshape(kspace.shape)
    if covariance is not None:
        chol = np.linalg.cholesky(np.asarray(covariance, dtype=np.float64)).astype(np.complex64)
        noise = np.moveaxis(np.tensordot(chol, np.moveaxis(noise, coil_axis, 0), axes=(1, 0)),
                            0, coil_axis)
    kspace += noise

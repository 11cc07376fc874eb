"""Noise level from the SNR definition, and complex Gaussian noise.

SNR definition (MRXCAT-like "cardiac SNR", Wissmann et al., JCMR 2014;16:63, restated):

    SNR = S_myo / σ

* ``S_myo``: mean over all LV-myocardium pixels (label 2) of the end-diastolic frame, all
  slices, of the noise-free root-sum-of-squares coil image
  ``sqrt(Σ_c |ifft2c(k_c)|²)`` on the acquired grid (coil shading included);
* ``σ``: standard deviation of the real part, and of the imaginary part, of the i.i.d.
  complex Gaussian noise added to every k-space sample of every coil. Under the orthonormal
  FFT the coil images carry the same σ per pixel and component. Coils are uncorrelated.
"""

from __future__ import annotations

import numpy as np

__all__ = ["myocardial_signal", "add_complex_noise"]


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


def add_complex_noise(kspace: np.ndarray, sigma: float, rng: np.random.Generator) -> None:
    """Add complex Gaussian noise (σ per real and imaginary part) to ``kspace`` in place.

    Parameters
    ----------
    kspace : ndarray, complex64, any shape
        Modified in place (memory: a full cine k-space can exceed 1 GB).
    sigma : float
        ≥ 0; 0 adds nothing and draws nothing.
    rng : numpy.random.Generator
    """
    if sigma < 0:
        raise ValueError(f"add_complex_noise: sigma must be >= 0; got {sigma}")
    if sigma == 0:
        return
    if kspace.dtype != np.complex64:
        raise ValueError(f"add_complex_noise: kspace must be complex64; got {kspace.dtype}")
    n = rng.standard_normal(2 * kspace.size, dtype=np.float32)  # (re, im) interleaved
    n *= np.float32(sigma)
    kspace += n.view(np.complex64).reshape(kspace.shape)

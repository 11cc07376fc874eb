"""Temporal-frequency retention: the x-f spectrum of the heart region, prediction vs reference."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from suite._serialise import readonly
from suite.metrics.temporal._inputs import (
    check_images, check_labels, check_nonnegative, check_pixel_spacing,
    check_temporal_resolution, dilate_mm, intensity_gain,
)
from suite.metrics.temporal._result import DESCRIPTIVE, LOWER, TARGET_ONE, TemporalResult, declare

__all__ = ["temporal_frequency_retention", "TemporalSpectrumResult"]

#: Largest |10·log10(retention)| reported (retention clipped to [1e-10, 1e10]): finite worst case.
MAX_RETENTION_DB = 100.0
#: Reference energies below this fraction of the total non-DC reference energy count as none
#: (floating-point leakage of a pure-frequency signal), so their ratios are NaN.
NEGLIGIBLE = 1e-12


@dataclass(frozen=True)
class TemporalSpectrumResult(TemporalResult):
    """Temporal spectrum comparison of one case (see :func:`temporal_frequency_retention`).

    Attributes
    ----------
    high_frequency_retention : float
        ``E_pred(high) / E_ref(high)``: 1 perfect, < 1 temporal blurring, > 1 temporal noise or
        flicker. NaN when the reference has no energy in the high band (not applicable; below
        ``NEGLIGIBLE`` = 1e-12 of its total non-DC energy counts as none).
    retention_error_db : float
        ``|10·log10(retention)|`` in dB (lower is better), at most ``MAX_RETENTION_DB``.
    xf_error : float
        Relative L2 error of the x-f spectra without DC (lower is better); by Parseval equal to
        the relative error of the mean-removed x-t signals.
    frequencies_hz : ndarray (n_freq,), float64
        Folded non-DC temporal frequencies ``m / (n·Δt)``, m = 1 … floor(n/2), Hz.
    reference_energy, prediction_energy : ndarray (n_freq,), float64
        Energy ``Σ |X|²`` per folded frequency over the heart region (±m combined), in squared
        image units × frames (orthonormal FFT); prediction after the intensity gain.
    per_frequency_retention : ndarray (n_freq,), float64
        ``prediction_energy / reference_energy`` (NaN where the reference energy is
        negligible, as above).
    per_frequency_xf_error : ndarray (n_freq,), float64
        Error norm per folded frequency over the total non-DC reference norm, so the root sum
        of squares equals ``xf_error``.
    band_edges_hz : ndarray (n_bands + 1,), float64
        Equal bands of the Nyquist range; band b holds ``edges[b] < f ≤ edges[b + 1]``.
    band_retention : ndarray (n_bands,), float64
        Retention per band (NaN for a band without reference energy or without frequencies).
    """

    high_frequency_retention: float
    retention_error_db: float
    xf_error: float
    cutoff_hz: float
    cutoff_fraction: float
    intensity_gain: float
    n_roi_pixels: int
    roi_margin_mm: float
    frequencies_hz: np.ndarray = field(repr=False, compare=False)
    reference_energy: np.ndarray = field(repr=False, compare=False)
    prediction_energy: np.ndarray = field(repr=False, compare=False)
    per_frequency_retention: np.ndarray = field(repr=False, compare=False)
    per_frequency_xf_error: np.ndarray = field(repr=False, compare=False)
    band_edges_hz: np.ndarray = field(repr=False, compare=False)
    band_retention: np.ndarray = field(repr=False, compare=False)

    METRIC = "temporal-frequency retention"
    HEADLINE = "high_frequency_retention"
    CONVENTION = (
        "Heart region = union of all labels > 0 over frames, per slice, dilated by the margin. "
        "Temporal mean removed, orthonormal FFT along frames, energy folded over +/- frequency. "
        "High band = folded frequencies strictly above cutoff_fraction x Nyquist (1/(2 dt)). "
        "Prediction scaled by the least-squares gain of its temporal-mean image on the region "
        "(scale-invariant; a circular temporal filter keeps gain 1)."
    )
    QUANTITIES = declare(
        ("high_frequency_retention", "1", TARGET_ONE, "E_pred(high) / E_ref(high)"),
        ("retention_error_db", "dB", LOWER, "|10 log10(retention)|"),
        ("xf_error", "1", LOWER, "relative L2 error of the x-f spectra (no DC)"),
        ("cutoff_hz", "Hz", DESCRIPTIVE, "lower edge of the high band (exclusive)"),
        ("intensity_gain", "1", DESCRIPTIVE, "gain applied to the prediction"),
    )


def _fold(per_bin: np.ndarray, n: int) -> np.ndarray:
    """Fold ``(n,)`` FFT-bin values onto m = 1 … n//2 by adding bins m and n − m."""
    m = np.arange(1, n // 2 + 1)
    mirror = n - m
    return per_bin[m] + np.where(mirror != m, per_bin[mirror], 0.0)


def temporal_frequency_retention(reference, prediction, labels, spacing_mm,
                                 temporal_resolution_ms, *, cutoff_fraction: float = 0.25,
                                 n_bands: int = 4,
                                 roi_margin_mm: float = 10.0) -> TemporalSpectrumResult:
    """Energy retained in high temporal frequencies inside the heart (x-f analysis).

    Parameters
    ----------
    reference, prediction : ndarray, real, ``(slice, frame, y, x)``
        Magnitude images over one periodic cardiac cycle (≥ 4 frames), same shape.
    labels : ndarray, integer, ``(slice, frame, y, x)``
        Reference ACDC labels; must contain LV blood pool (3).
    spacing_mm : (float, float)
        In-plane pixel spacing ``(dy, dx)``, mm (for the dilation margin).
    temporal_resolution_ms : float
        Frame interval Δt, ms.
    cutoff_fraction : float in [0, 1), default 0.25
        High band = folded frequencies ``f > cutoff_fraction · 1/(2Δt)``; with the default
        the lowest quarter of the non-DC range (the fundamental and first harmonics at typical
        20–30 frames) is excluded.
    n_bands : int, default 4
        Number of equal bands of the Nyquist range for ``band_retention``.
    roi_margin_mm : float, default 10
        Dilation of the union of labels > 0 over frames, mm.

    Returns
    -------
    TemporalSpectrumResult
        Headline ``high_frequency_retention`` (closest to 1 is best); ``retention_error_db``
        and ``xf_error`` are lower-better.

    Raises
    ------
    ValueError
        Invalid shapes or values, labels without LV, an option out of range, a reference
        without temporal change inside the region, or a prediction that is zero there.

    Notes
    -----
    For each region pixel, ``X = FFT_t(x − mean_t x)`` (``norm="ortho"``); energies sum
    ``|X|²`` over pixels and over the bins m and n − m. For a circular temporal filter with
    frequency response H, the prediction energy at each frequency is exactly ``|H(f)|²`` times
    the reference's, so ``per_frequency_retention = |H(f)|²``.

    References
    ----------
    Tsao J, Boesiger P, Pruessmann KP. k-t BLAST and k-t SENSE. Magn Reson Med 2003;50:1031-1042
    (x-f representation of dynamic series).
    Schlemper J, et al. A deep cascade of convolutional neural networks for dynamic MR image
    reconstruction. IEEE TMI 2018;37:491-503.
    Küstner T, et al. CINENet. Sci Rep 2020;10:13710.

    Examples
    --------
    A uniform flicker at m = 3 of 8 frames through the 3-tap filter [1/4, 1/2, 1/4]:

    >>> import numpy as np
    >>> f = np.arange(8)
    >>> ref = np.ones((1, 8, 16, 16)) * (1 + 0.5 * np.cos(2 * np.pi * 3 * f / 8))[:, None, None]
    >>> labels = np.zeros(ref.shape, np.uint8)
    >>> labels[..., 6:10, 6:10] = 3
    >>> blurred = 0.25 * np.roll(ref, 1, axis=1) + 0.5 * ref + 0.25 * np.roll(ref, -1, axis=1)
    >>> r = temporal_frequency_retention(ref, blurred, labels, (1.5, 1.5), 40.0)
    >>> round(r.high_frequency_retention, 6), round(float(np.cos(3 * np.pi / 8)) ** 4, 6)
    (0.021447, 0.021447)
    """
    where = "temporal_frequency_retention"
    ref, pred = check_images(reference, prediction, where=where)
    lab = check_labels(labels, ref.shape, where=where)
    spacing = check_pixel_spacing(spacing_mm, where=where)
    dt = check_temporal_resolution(temporal_resolution_ms, where=where)
    roi_margin_mm = check_nonnegative(roi_margin_mm, name="roi_margin_mm", where=where)
    cutoff_fraction = check_nonnegative(cutoff_fraction, name="cutoff_fraction", where=where)
    if cutoff_fraction >= 1.0:
        raise ValueError(f"{where}: `cutoff_fraction` must be in [0, 1); got {cutoff_fraction!r}")
    if isinstance(n_bands, bool) or not isinstance(n_bands, (int, np.integer)) or n_bands < 1:
        raise ValueError(f"{where}: `n_bands` must be a positive integer; got {n_bands!r}")
    n = ref.shape[1]
    roi = dilate_mm((lab > 0).any(axis=1), roi_margin_mm, spacing)       # (slice, y, x)
    gain = intensity_gain(ref, pred, roi, where=where)
    x_ref = np.moveaxis(ref, 1, 0)[:, roi]                                # (frame, pixel)
    x_pred = np.moveaxis(pred, 1, 0)[:, roi] * gain
    spec_ref = np.fft.fft(x_ref - x_ref.mean(axis=0), axis=0, norm="ortho")
    spec_pred = np.fft.fft(x_pred - x_pred.mean(axis=0), axis=0, norm="ortho")
    e_ref = _fold(np.sum(np.abs(spec_ref) ** 2, axis=1), n)
    e_pred = _fold(np.sum(np.abs(spec_pred) ** 2, axis=1), n)
    e_err = _fold(np.sum(np.abs(spec_pred - spec_ref) ** 2, axis=1), n)
    total_ref = float(e_ref.sum())
    if total_ref == 0.0:
        raise ValueError(f"{where}: `reference` does not change over frames inside the heart "
                         f"region; temporal-frequency content is undefined")
    m = np.arange(1, n // 2 + 1)
    nyquist_hz = 1000.0 / (2.0 * dt)
    freqs = m * 1000.0 / (n * dt)
    high = m > cutoff_fraction * n / 2.0
    floor = NEGLIGIBLE * total_ref       # below this a reference energy counts as none
    e_ref_high = float(e_ref[high].sum())
    retention = float(e_pred[high].sum() / e_ref_high) if e_ref_high > floor else math.nan
    if math.isnan(retention):
        err_db = math.nan
    else:
        err_db = min(abs(10.0 * math.log10(min(max(retention, 1e-10), 1e10))), MAX_RETENTION_DB)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_freq = np.where(e_ref > floor, e_pred / np.where(e_ref > floor, e_ref, 1.0), np.nan)
    edges_frac = np.linspace(0.0, 1.0, n_bands + 1)
    band_ret = np.full(n_bands, math.nan)
    for b in range(n_bands):
        sel = (m > edges_frac[b] * n / 2.0) & (m <= edges_frac[b + 1] * n / 2.0)
        if sel.any() and e_ref[sel].sum() > floor:
            band_ret[b] = e_pred[sel].sum() / e_ref[sel].sum()
    return TemporalSpectrumResult(
        high_frequency_retention=retention, retention_error_db=err_db,
        xf_error=float(math.sqrt(e_err.sum() / total_ref)),
        cutoff_hz=cutoff_fraction * nyquist_hz, cutoff_fraction=cutoff_fraction,
        intensity_gain=gain, n_roi_pixels=int(roi.sum()), roi_margin_mm=roi_margin_mm,
        frequencies_hz=readonly(freqs), reference_energy=readonly(e_ref),
        prediction_energy=readonly(e_pred), per_frequency_retention=readonly(per_freq),
        per_frequency_xf_error=readonly(np.sqrt(e_err / total_ref)),
        band_edges_hz=readonly(edges_frac * nyquist_hz), band_retention=readonly(band_ret),
    )

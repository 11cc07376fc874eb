"""Metrics of quantitative maps (T1, T2, ECV): accuracy, precision, map similarity, repeatability.

Arguments follow the scikit-learn order: reference first (the phantom's truth map, or the
conventional reference fit on real data, said in the rows' ``profile``), prediction second.
Maps are float arrays of any shape (e.g. ``(slice, y, x)``); a region of interest (ROI) is a
boolean mask of the same shape (the myocardium, a segment, a tube). Failed pixels of the
prediction are NaN (:class:`reference_impls.mapping.result.MapFit` convention) or flagged by
``failed``; they never enter a mean, they are counted by ``map_failure_fraction``.

Definitions (per ROI, over the pixels where both maps are usable, ``d = pred − ref``):

==========================  ==============================================================
``{q}_mean``                mean of the prediction; closer to the reference's ROI mean is
                            better (stored with it as ``reference_value``, so the agreement
                            analysis pairs them)
``{q}_bias``                ``mean(d)`` (accuracy; Kellman & Hansen, JCMR 2014;16:2)
``{q}_relative_bias_pct``   ``100 · mean(d) / mean(ref)``
``{q}_rmse``                ``sqrt(mean(d²))``; in the myocardium this is the CMRxRecon 2023
                            mapping ranking metric (RMSE of the T1/T2 maps in the LV
                            myocardium, challenge website, Task 2)
``{q}_error_sd``            SD of ``d`` (ddof 1): pixel-level precision against the reference
``{q}_roi_sd``              SD of the prediction in the ROI (ddof 1), descriptive
``{q}_roi_cov_pct``         ``100 · roi_sd / roi_mean`` (coefficient of variation), descriptive
``map_failure_fraction``    failed (NaN or flagged) prediction pixels / ROI pixels
``map_nmse/psnr/ssim``      the CMRxRecon 2023 map scoring (``Mapping/Main_MapEvalution.py``
                            calls ``calmetric(T1ReconMap, T1GTMap)``): per slice, each map
                            divided by its own maximum, then the fastMRI NMSE, PSNR and SSIM
                            (:mod:`suite.metrics.image`), mean over slices; failed pixels
                            count as 0 (the challenge stores 0 in failed T2 pixels)
==========================  ==============================================================

Repeatability from repeated noise draws (QIBA terminology, Raunig et al., Stat Methods Med
Res 2015;24:27, doi 10.1177/0962280214537344): values ``(n_units, n_repeats)`` (a unit is a
subject, ROI or segment), ``wSD = sqrt(mean_i s_i²)`` with ``s_i²`` the within-unit variance
(ddof 1; for two repeats ``s_i² = d_i²/2``), repeatability coefficient
``RC = 1.96·√2·wSD ≈ 2.77·wSD``, within-unit coefficient of variation ``wCV = wSD / mean``
(grand mean), in %.

``q`` is one of :data:`QUANTITIES` (``t1`` and ``t2`` in ms, ``ecv`` in %). No I/O.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from suite._validation import check_option, check_same_shape
from suite.metrics.aha import AhaSegments, segment_masks
from suite.metrics.contract import (CLOSER, HIGHER, LOWER, NONE, MetricFamily, MetricRow,
                                    MetricSpec, Plausible, metric_row, register_family,
                                    register_metric)
from suite.metrics.image import nmse, psnr, ssim_per_image

__all__ = ["QUANTITIES", "MapAccuracy", "map_accuracy", "MapScores", "map_scores",
           "Repeatability", "repeatability", "mapping_rows", "segmental_rows",
           "repeatability_rows", "ecv_pct",
           "MAPPING_METRICS", "REPEATABILITY_FACTOR"]

#: Mapped quantities and their units.
QUANTITIES = {"t1": "ms", "t2": "ms", "ecv": "%"}
#: Physiological (plausible) range of a ROI mean per quantity.
_PLAUSIBLE = {"t1": Plausible(0.0, 10000.0, low_open=True),
              "t2": Plausible(0.0, 2500.0, low_open=True), "ecv": Plausible(0.0, 100.0)}
#: ``1.96·√2`` (QIBA repeatability coefficient factor, ≈ 2.77).
REPEATABILITY_FACTOR = 1.96 * math.sqrt(2.0)
_FAMILY = "mapping"


def _declare_quantity(q: str, unit: str) -> dict[str, MetricSpec]:
    specs = [
        MetricSpec(f"{q}_mean", unit, CLOSER, f"mean {q.upper()} in the ROI", _FAMILY,
                   "mean of the predicted map over usable ROI pixels; compared with the "
                   "reference map's ROI mean (truth or reference fit, see profile)",
                   plausible=_PLAUSIBLE[q]),
        MetricSpec(f"{q}_bias", unit, CLOSER, f"{q.upper()} bias (mean of pred - ref)", _FAMILY,
                   "mean over usable ROI pixels of prediction minus reference", target=0.0,
                   optimum=0.0),
        MetricSpec(f"{q}_relative_bias_pct", "%", CLOSER, f"relative {q.upper()} bias", _FAMILY,
                   "100 * mean(pred - ref) / mean(ref) over usable ROI pixels", target=0.0,
                   optimum=0.0),
        MetricSpec(f"{q}_rmse", unit, LOWER, f"{q.upper()} RMSE in the ROI", _FAMILY,
                   "sqrt(mean((pred - ref)^2)) over usable ROI pixels (CMRxRecon 2023 ranks "
                   "maps by the myocardial RMSE)", optimum=0.0, symmetric=True),
        MetricSpec(f"{q}_error_sd", unit, LOWER, f"SD of the {q.upper()} error in the ROI",
                   _FAMILY, "standard deviation (ddof 1) of pred - ref over usable ROI pixels",
                   optimum=0.0, symmetric=True),
        MetricSpec(f"{q}_roi_sd", unit, NONE, f"within-ROI SD of the predicted {q.upper()}",
                   _FAMILY, "standard deviation (ddof 1) of the prediction over usable ROI "
                   "pixels"),
        MetricSpec(f"{q}_roi_cov_pct", "%", NONE, f"within-ROI CoV of the predicted "
                   f"{q.upper()}", _FAMILY, "100 * roi_sd / roi_mean"),
        MetricSpec(f"{q}_wsd", unit, LOWER, f"within-unit SD of repeated {q.upper()} values",
                   _FAMILY, "sqrt(mean over units of the within-unit variance, ddof 1) "
                   "(QIBA, Raunig et al. 2015)", optimum=0.0),
        MetricSpec(f"{q}_rc", unit, LOWER, f"{q.upper()} repeatability coefficient", _FAMILY,
                   "1.96 * sqrt(2) * wSD (QIBA, Raunig et al. 2015)", optimum=0.0),
        MetricSpec(f"{q}_wcv_pct", "%", LOWER, f"within-unit CV of repeated {q.upper()}",
                   _FAMILY, "100 * wSD / grand mean (QIBA, Raunig et al. 2015)", optimum=0.0),
    ]
    return {s.name: register_metric(s) for s in specs}


_SHARED = {s.name: register_metric(s) for s in (
    MetricSpec("map_failure_fraction", "1", LOWER, "fraction of ROI pixels without a fit",
               _FAMILY, "failed (NaN or flagged) prediction pixels / ROI pixels", optimum=0.0,
               plausible=Plausible(0.0, 1.0)),
    MetricSpec("map_nmse", "1", LOWER, "NMSE of the map (CMRxRecon map scoring)", _FAMILY,
               "per slice, maps divided by their own maximum, ||ref - pred||^2 / ||ref||^2, "
               "mean over slices (CmrxRecon/CMRxRecon Mapping/Main_MapEvalution.py)",
               optimum=0.0),
    MetricSpec("map_psnr", "dB", HIGHER, "PSNR of the map (CMRxRecon map scoring)", _FAMILY,
               "per slice, maps divided by their own maximum, 10 log10(1 / MSE), mean over "
               "slices", optimum=float("inf")),
    MetricSpec("map_ssim", "1", HIGHER, "SSIM of the map (CMRxRecon map scoring)", _FAMILY,
               "per slice, maps divided by their own maximum, fastMRI SSIM (7x7 uniform "
               "window), mean over slices", optimum=1.0),
)}

#: Every mapping metric declaration (name → spec).
MAPPING_METRICS = {**{n: s for q, u in QUANTITIES.items()
                      for n, s in _declare_quantity(q, u).items()}, **_SHARED}


@dataclass(frozen=True)
class MapAccuracy:
    """Accuracy and precision of a predicted map in one ROI (see the module docstring)."""

    quantity: str
    unit: str
    n_pixels: int
    n_failed: int
    mean: float
    reference_mean: float
    bias: float
    relative_bias_pct: float
    rmse: float
    error_sd: float
    roi_sd: float
    roi_cov_pct: float

    @property
    def failure_fraction(self) -> float:
        return self.n_failed / self.n_pixels if self.n_pixels else float("nan")

    def to_dict(self) -> dict:
        return {**asdict(self), "failure_fraction": self.failure_fraction}

    def summary(self) -> str:
        u = self.unit
        return (f"{self.quantity.upper()}: mean {self.mean:.4g} {u} vs reference "
                f"{self.reference_mean:.4g} {u}, bias {self.bias:+.4g} {u} "
                f"({self.relative_bias_pct:+.2f} %), RMSE {self.rmse:.4g} {u}, ROI SD "
                f"{self.roi_sd:.4g} {u} (CoV {self.roi_cov_pct:.2f} %), "
                f"{self.n_failed}/{self.n_pixels} pixels failed")


def _sd(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1)) if x.size > 1 else float("nan")


def map_accuracy(reference, prediction, roi, *, quantity: str = "t1",
                 failed=None) -> MapAccuracy:
    """Accuracy and precision of ``prediction`` against ``reference`` within ``roi``.

    Parameters
    ----------
    reference, prediction : ndarray, float, same shape
        Maps in the quantity's unit (:data:`QUANTITIES`); NaN marks failed pixels.
    roi : ndarray of bool, same shape
    quantity : {"t1", "t2", "ecv"}
    failed : ndarray of bool, optional
        Failure mask of the prediction (added to its NaN pixels).

    Returns
    -------
    MapAccuracy
        NaN statistics when no ROI pixel is usable (an empty ROI or every pixel failed).

    Examples
    --------
    >>> ref = np.array([1000.0, 1000.0, 1200.0, 1200.0])
    >>> acc = map_accuracy(ref, ref + [10.0, 30.0, -10.0, np.nan], np.ones(4, bool))
    >>> acc.bias, acc.n_failed, round(acc.rmse, 6)
    (10.0, 1, 19.148542)
    """
    where = "map_accuracy"
    check_option(quantity, QUANTITIES, name="quantity", where=where)
    ref = np.asarray(reference, dtype=float)
    pred = np.asarray(prediction, dtype=float)
    mask = np.asarray(roi, dtype=bool)
    check_same_shape(ref, pred, names=("reference", "prediction"), where=where)
    check_same_shape(ref, mask, names=("reference", "roi"), where=where)
    bad = ~np.isfinite(pred)
    if failed is not None:
        fail = np.asarray(failed, dtype=bool)
        check_same_shape(ref, fail, names=("reference", "failed"), where=where)
        bad |= fail
    usable = mask & ~bad & np.isfinite(ref)
    r, p = ref[usable], pred[usable]
    d = p - r
    nan = float("nan")
    mean_p = float(p.mean()) if p.size else nan
    mean_r = float(r.mean()) if r.size else nan
    sd_p = _sd(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = 100.0 * float(d.mean()) / mean_r if d.size and mean_r != 0 else nan
        cov = 100.0 * sd_p / mean_p if p.size and mean_p != 0 else nan
    return MapAccuracy(
        quantity=quantity, unit=QUANTITIES[quantity], n_pixels=int(mask.sum()),
        n_failed=int((mask & bad).sum()), mean=mean_p, reference_mean=mean_r,
        bias=float(d.mean()) if d.size else nan, relative_bias_pct=rel,
        rmse=float(np.sqrt(np.mean(d * d))) if d.size else nan, error_sd=_sd(d), roi_sd=sd_p,
        roi_cov_pct=cov)


@dataclass(frozen=True)
class MapScores:
    """NMSE, PSNR (dB) and SSIM of maps under the CMRxRecon 2023 map scoring."""

    nmse: float
    psnr: float
    ssim: float
    n_slices: int

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (f"map NMSE {self.nmse:.4g}  PSNR {self.psnr:.2f} dB  SSIM {self.ssim:.4f} "
                f"({self.n_slices} slices)")


def map_scores(reference, prediction) -> MapScores:
    """CMRxRecon 2023 scoring of maps ``(slice, y, x)`` (or one ``(y, x)`` map).

    Each slice of each map is divided by its own maximum; NMSE, PSNR (data range 1) and SSIM
    (:mod:`suite.metrics.image`) per slice, then the mean. NaN (failed) pixels count as 0.

    Raises
    ------
    ValueError
        Shapes differ, maps smaller than 7 × 7, or a reference slice with no positive value.
    """
    ref = np.nan_to_num(np.asarray(reference, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    pred = np.nan_to_num(np.asarray(prediction, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
    check_same_shape(ref, pred, names=("reference", "prediction"), where="map_scores")
    if ref.ndim == 2:
        ref, pred = ref[None], pred[None]
    values = []
    for a, b in zip(ref, pred):
        ma, mb = a.max(), b.max()
        if not ma > 0:
            raise ValueError("map_scores: a reference slice has no positive value, it cannot be "
                             "normalised by its maximum")
        a = a / ma
        b = b / mb if mb > 0 else b
        values.append((nmse(a, b), psnr(a, b, data_range=1.0),
                       float(ssim_per_image(a, b, data_range=1.0))))
    v = np.asarray(values)
    return MapScores(nmse=float(v[:, 0].mean()), psnr=float(v[:, 1].mean()),
                     ssim=float(v[:, 2].mean()), n_slices=len(values))


@dataclass(frozen=True)
class Repeatability:
    """QIBA repeatability of repeated measurements (see the module docstring)."""

    wsd: float
    rc: float
    wcv_pct: float
    mean: float
    n_units: int
    n_repeats: int

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (f"wSD {self.wsd:.4g}, RC {self.rc:.4g}, wCV {self.wcv_pct:.2f} % "
                f"({self.n_units} units x {self.n_repeats} repeats)")


def repeatability(values) -> Repeatability:
    """wSD, repeatability coefficient and wCV of ``values`` ``(n_units, n_repeats)``.

    Examples
    --------
    Two repeats: ``wSD² = mean(d²/2)``; d = (10, 20) gives wSD² = (50 + 200)/2 = 125.

    >>> r = repeatability([[1000.0, 1010.0], [1200.0, 1220.0]])
    >>> round(r.wsd ** 2, 9), round(r.rc / r.wsd, 4)
    (125.0, 2.7719)
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 2 or v.shape[1] < 2 or v.shape[0] < 1:
        raise ValueError("repeatability: `values` must be (n_units, n_repeats) with at least 2 "
                         f"repeats; got shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError("repeatability: `values` hold NaN or inf (drop failed repeats first)")
    wsd = float(np.sqrt(np.mean(np.var(v, axis=1, ddof=1))))
    mean = float(v.mean())
    return Repeatability(wsd=wsd, rc=REPEATABILITY_FACTOR * wsd,
                         wcv_pct=100.0 * wsd / mean if mean != 0 else float("nan"), mean=mean,
                         n_units=v.shape[0], n_repeats=v.shape[1])


def mapping_rows(reference, prediction, *, roi, quantity: str = "t1", failed=None,
                 reference_source: str = "truth", structure: str = "myocardium",
                 segment: str | None = None, convention: str | None = None,
                 scores: bool = True) -> list[MetricRow]:
    """Mapping metrics of one predicted map as stored rows (:mod:`suite.metrics.contract`).

    Parameters
    ----------
    reference, prediction, roi, quantity, failed
        As :func:`map_accuracy`.
    reference_source : str
        What the reference is (``"truth"`` on the phantom, ``"reference-fit"`` on real data);
        stored as the rows' ``profile`` so that the two are never mixed.
    structure, segment : str
        The ROI's name (``"myocardium"``, ``"blood"``) and AHA segment (``"1"``…``"17"``,
        ``"global"``) stored with the rows.
    convention : str, optional
        The AHA segment convention (``"insertion"``, ``"cmrxrecon"``) stored with the rows.
    scores : bool
        Add the whole-map ``map_nmse/psnr/ssim`` (maps ``(slice, y, x)`` of at least 7 × 7);
        rows with status ``undefined`` when the reference cannot be normalised.
    """
    acc = map_accuracy(reference, prediction, roi, quantity=quantity, failed=failed)
    q = quantity
    kw = {"profile": reference_source, "structure": structure, "segment": segment,
          "convention": convention}
    rows = [metric_row(f"{q}_mean", acc.mean, reference_value=acc.reference_mean, **kw)]
    rows += [metric_row(f"{q}_{name}", getattr(acc, name), **kw)
             for name in ("bias", "relative_bias_pct", "rmse", "error_sd", "roi_sd",
                          "roi_cov_pct")]
    rows.append(metric_row("map_failure_fraction", acc.failure_fraction, **kw))
    if scores:
        try:
            s = map_scores(reference, prediction)
            rows += [metric_row(f"map_{m}", getattr(s, m), **kw) for m in ("nmse", "psnr", "ssim")]
        except ValueError:
            rows += [metric_row(f"map_{m}", None, status="undefined", **kw)
                     for m in ("nmse", "psnr", "ssim")]
    return rows


def segmental_rows(reference, prediction, aha: AhaSegments, *, quantity: str = "t1",
                   failed=None, reference_source: str = "truth",
                   within=None) -> list[MetricRow]:
    """:func:`mapping_rows` (without the whole-map scores) per AHA segment and ``global``.

    ``reference``, ``prediction`` ``(slice, y, x)`` like the labels of ``aha``
    (:func:`suite.metrics.aha.aha_segments`); the rows carry ``segment`` (``"1"``…``"17"``,
    ``"global"``) and ``convention`` (the AHA profile). The global ROI is every assigned
    myocardial pixel, as CMRxRecon's ``EvalMyo`` reports it. ``within`` (boolean, like the
    labels) restricts every segment to those pixels (e.g. pixels free of partial volume); the
    segments themselves are assigned from the whole labels.
    """
    rows = []
    for name, mask in segment_masks(aha).items():
        if within is not None:
            mask = mask & np.asarray(within, bool)
        rows += mapping_rows(reference, prediction, roi=mask, quantity=quantity, failed=failed,
                             reference_source=reference_source, segment=name,
                             convention=aha.convention, scores=False)
    return rows


def ecv_pct(t1_native_myo_ms, t1_post_myo_ms, t1_native_blood_ms, t1_post_blood_ms,
            hematocrit: float):
    """Extracellular volume (%) from native and post-contrast T1 of myocardium and blood.

    ``ECV = 100 · (1 − Hct) · ΔR1_myo / ΔR1_blood`` with ``ΔR1 = 1/T1_post − 1/T1_native``
    (the partition coefficient λ = ΔR1_myo/ΔR1_blood of Sharma et al., JMRI 2006,
    doi 10.1002/jmri.20504; ECV as in the SCMR/EACVI consensus, doi 10.1186/s12968-017-0389-8).
    Myocardial values may be maps (pixel-wise ECV) or ROI means; blood values are the blood
    pool's (scalars or broadcastable). ``hematocrit`` is a fraction in (0, 1). NaN where
    ΔR1_blood is 0 or an input is NaN.

    Examples
    --------
    >>> round(float(ecv_pct(1000.0, 500.0, 1600.0, 300.0, 0.42)), 4)  # λ = 0.001/0.0027083
    21.4154
    """
    hct = float(hematocrit)
    if not 0.0 < hct < 1.0:
        raise ValueError(f"ecv_pct: `hematocrit` must be a fraction in (0, 1); got {hematocrit!r}")
    with np.errstate(divide="ignore", invalid="ignore"):
        d_myo = 1.0 / np.asarray(t1_post_myo_ms, float) - 1.0 / np.asarray(t1_native_myo_ms, float)
        d_blood = (1.0 / np.asarray(t1_post_blood_ms, float)
                   - 1.0 / np.asarray(t1_native_blood_ms, float))
        out = 100.0 * (1.0 - hct) * d_myo / np.where(d_blood == 0, np.nan, d_blood)
    return out


def repeatability_rows(values, *, quantity: str = "t1", structure: str = "myocardium",
                       segment: str | None = None) -> list[MetricRow]:
    """wSD, RC and wCV of repeated values ``(n_units, n_repeats)`` as stored rows."""
    check_option(quantity, QUANTITIES, name="quantity", where="repeatability_rows")
    r = repeatability(values)
    return [metric_row(f"{quantity}_{name}", getattr(r, name), structure=structure,
                       segment=segment) for name in ("wsd", "rc", "wcv_pct")]


def _family_rows(reference, prediction, *, roi, quantity):
    return mapping_rows(reference, prediction, roi=roi, quantity=quantity,
                        reference_source="truth")


def _example(rng):
    yy, xx = np.mgrid[:12, :12]
    ref = 900.0 + 400.0 * ((yy - 6) ** 2 + (xx - 6) ** 2 < 10)
    ref = np.stack([ref, ref + 50.0])
    pred = ref + 20.0 * rng.standard_normal(ref.shape) + 5.0
    roi = np.broadcast_to((yy - 6) ** 2 + (xx - 6) ** 2 >= 10, ref.shape)
    return ref, pred, {"roi": roi, "quantity": "t1"}


register_family(MetricFamily(_FAMILY, tuple(MAPPING_METRICS), _family_rows, _example))

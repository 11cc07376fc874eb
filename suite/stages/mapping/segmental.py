"""The ``mapseg`` stage: segmentation of the fitted map → global and AHA segmental values.

The mapping stage scores a map inside the **truth** regions. A clinical number (global and
segmental native T1, T2) is read inside the regions a segmentation draws on the map, so a
segmentation error changes the number: a myocardial ROI that takes blood-pool pixels raises
native T1 (blood T1 above myocardial T1, 1.58 vs 1.07 s at 1.5 T, Sharma et al., JMRI 2006,
doi 10.1002/jmri.20504) and lowers post-contrast T1 (blood below myocardium after contrast,
508 vs 645 ms at 3 T, MyoMapNet, doi 10.1186/s12968-021-00834-0); the SCMR/EACVI consensus
asks for a myocardial ROI that avoids the blood pool for that reason (Messroghli et al., JCMR
2017;19:75, doi 10.1186/s12968-017-0389-8). This stage measures that error end to end.

Consumes ``mapping``. Its methods are **segmentation methods** (``method_kind =
"segmentation"``: every reference segmentation method and every segmentation plugin can be
listed under ``methods.mapseg``), called as the segmentation stage calls them,
``method(maps, spacing_mm) -> uint8 labels``, with ``maps`` the job's fitted map as one frame,
``(slice, 1, y, x)`` float32 in ms, failed pixels 0 (the map of the series' quantity; the T1
map of a series mapping T1 and T2), ``spacing_mm = (dy, dx)``; ACDC labels (1 RV, 2
myocardium, 3 LV blood pool), ``(slice, 1, y, x)`` or ``(slice, y, x)``. The stage's output is
the labels ``(slice, y, x)`` uint8. The reference map segmenter is ``map-classical``
(:mod:`reference_impls.segmentation.maps`). The built-in ``oracle`` (:class:`OracleLabels`)
returns the truth labels with the endocardial and epicardial borders moved by whole pixels
(an experiment on the segmentation error, like a condition).

Rows (``stage = "mapseg"``), when the case has truth regions:

``dice`` (profile the empty-mask policy ``worst``), structures ``LV``, ``MYO``, ``RV``
    of the labels against the truth labels (:func:`~suite.stages.mapping.scoring.aha_labels`),
    so the value errors can be related to the segmentation quality;
``{q}_mean`` (profile ``truth``), per region (``myocardium``, ``lv_blood``) and AHA segment
    the mean of the job's map over the usable pixels of the **predicted** ROI, stored with the
    truth value as ``reference_value``: the mean of the truth map over the **truth** ROI
    (the mapping stage's truth ROI, restricted by ``metrics.mapping.roi``);
``{q}_value_error`` (profile ``truth``)
    that mean minus the truth value: the error of the clinical number (fit + segmentation);
``{q}_value_error`` (profile ``segmentation-only``)
    the mean of the **truth** map over the predicted ROI minus the truth value: the error the
    segmentation alone causes (a perfect map read in the predicted ROI).

``metrics.mapseg`` (all optional)::

    regions: [myocardium, lv_blood]   # predicted ROIs: label 2 and label 3
    segments: [insertion]             # AHA conventions, segments from the predicted labels
    roi: all                          # all: every pixel of the predicted ROI (what a
                                      #   pipeline on real data does); pure: only pixels free of
                                      #   partial volume in the truth (phantom only: separates
                                      #   the segmentation error from partial volume)

With ``oracle`` (no border moved) and ``roi: pure`` the rows equal the mapping stage's truth
rows (its ``{q}_mean``) exactly: the stage adds nothing but the segmentation.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
from scipy import ndimage as ndi

from suite.metrics.contract import CLOSER, MetricSpec, metric_row, register_metric
from suite.stages.base import Stage, StageCall, spacing_3d
from suite.stages.mapping.inputs import case_quantities
from suite.stages.mapping.scoring import (ROI_MODES, aha_labels, mapping_settings,
                                          region_masks, scoring_pixels)

__all__ = ["MapSegmentationStage", "OracleLabels", "MAPSEG_SETTINGS", "SEGMENTATION_ONLY",
           "move_borders", "value_rows"]

#: Keys of ``metrics.mapseg`` and their defaults.
MAPSEG_SETTINGS = {"regions": ("myocardium", "lv_blood"), "segments": ("insertion",),
                   "roi": "all"}
#: ``profile`` of the rows of the truth map read in the predicted ROI.
SEGMENTATION_ONLY = "segmentation-only"
#: Predicted label of each region name (ACDC convention).
_LABEL_OF = {"myocardium": 2, "lv_blood": 3, "rv_blood": 1}
RV, MYO, LV = 1, 2, 3

for _q, _unit in (("t1", "ms"), ("t2", "ms")):
    register_metric(MetricSpec(
        f"{_q}_value_error", _unit, CLOSER,
        f"error of the {_q.upper()} value read in a segmentation's ROI", "mapping",
        f"mean {_q.upper()} over the predicted ROI (the job's map, or the truth map with "
        "profile segmentation-only) minus the mean of the truth map over the truth ROI",
        target=0.0, optimum=0.0))


def move_borders(labels, *, endo: int = 0, epi: int = 0) -> np.ndarray:
    """ACDC labels ``(slice, y, x)`` with the LV myocardium's borders moved by whole pixels.

    ``endo > 0`` moves the endocardial border ``endo`` pixels into the LV blood pool (the
    myocardium takes the blood-pool pixels within that Euclidean distance of it), ``endo < 0``
    moves it into the myocardium (the blood pool takes them); ``epi > 0`` moves the
    epicardial border outwards (the myocardium takes background and RV pixels), ``epi < 0``
    inwards (the pixels go to the nearest label outside the LV). Per slice, 2-D.
    """
    lab = np.array(labels, np.uint8)
    out = lab.copy()
    for z in range(lab.shape[0]):
        sl, o = lab[z], out[z]
        myo, lv = sl == MYO, sl == LV
        wall = myo | lv
        if endo > 0 and myo.any():
            o[lv & (ndi.distance_transform_edt(~myo) <= endo)] = MYO
        elif endo < 0 and lv.any():
            o[myo & (ndi.distance_transform_edt(~lv) <= -endo)] = LV
        if epi > 0 and wall.any():
            o[~wall & (ndi.distance_transform_edt(~wall) <= epi)] = MYO
        elif epi < 0 and (~wall).any():
            dist, (iy, ix) = ndi.distance_transform_edt(wall, return_indices=True)
            take = myo & (dist <= -epi)
            o[take] = sl[iy[take], ix[take]]
    return out


class OracleLabels:
    """The built-in ``oracle`` of the ``mapseg`` stage: the case's truth labels with the
    endocardial and epicardial borders moved by ``endo`` and ``epi`` pixels
    (:func:`move_borders`). Not a method a user can run on real data: it reads the truth
    (``needs_truth``), to measure how a known segmentation error changes the values."""

    name = "oracle"
    version = "1.0"
    stage = "segmentation"
    needs_truth = True

    def __init__(self, endo: int = 0, epi: int = 0):
        for key, v in (("endo", endo), ("epi", epi)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise ValueError(f"oracle: `{key}` must be a whole number of pixels; got {v!r}")
        self.endo, self.epi = int(endo), int(epi)

    def params(self) -> dict:
        return {"endo": self.endo, "epi": self.epi}

    def from_truth(self, truth_labels) -> np.ndarray:
        """Labels ``(slice, y, x)`` from the truth labels ``(slice, y, x)``."""
        return move_borders(truth_labels, endo=self.endo, epi=self.epi)


def _mean(values, mask) -> float:
    v = values[mask]
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def _value_rows(q, out, truth_map, pred_roi, truth_roi, kw) -> list:
    ref = _mean(truth_map, truth_roi)
    value = _mean(out, pred_roi)
    seg_only = _mean(truth_map, pred_roi)
    return [metric_row(f"{q}_mean", value, reference_value=ref, profile="truth", **kw),
            metric_row(f"{q}_value_error", value - ref, profile="truth", **kw),
            metric_row(f"{q}_value_error", seg_only - ref, profile=SEGMENTATION_ONLY, **kw)]


def value_rows(maps: Mapping[str, np.ndarray], labels, truth: Mapping[str, Any],
               cfg: Mapping[str, Any], truth_roi: str = "pure") -> list:
    """Value rows (module docstring) of the maps ``{quantity: (slice, y, x) ms}`` read in
    ``labels`` ``(slice, y, x)`` against the truth maps ``truth["{q}_ms"]`` in the truth
    regions (restricted to ``scoring_pixels(truth, truth_roi)``); predicted ROIs restricted
    to ``scoring_pixels(truth, cfg["roi"])``."""
    from suite.metrics.aha import aha_segments, segment_masks

    lab = np.asarray(labels)
    within = scoring_pixels(truth, cfg["roi"])
    t_within = scoring_pixels(truth, truth_roi)
    truth_masks = region_masks(truth, cfg["regions"], t_within)
    truth_labels = aha_labels(truth)
    rows = []
    for q, out in maps.items():
        truth_map = np.asarray(truth[f"{q}_ms"], np.float64)
        for name in cfg["regions"]:
            if name in truth_masks and name in _LABEL_OF:
                rows += _value_rows(q, out, truth_map, (lab == _LABEL_OF[name]) & within,
                                    truth_masks[name], {"structure": name})
        for convention in (cfg["segments"] if truth_labels is not None else ()):
            pred = segment_masks(aha_segments(lab, convention=convention))
            ref = segment_masks(aha_segments(truth_labels, convention=convention))
            for seg, mask in pred.items():
                rows += _value_rows(q, out, truth_map, mask & within, ref[seg] & t_within,
                                    {"structure": "myocardium", "segment": seg,
                                     "convention": convention})
    return rows


def _dice_rows(labels, truth_labels, spacing) -> list:
    from suite.metrics.segmentation import STRUCTURES, score_masks

    rows = []
    for name, value in STRUCTURES.items():
        s = score_masks(truth_labels == value, np.asarray(labels) == value, spacing,
                        empty="worst")
        rows.append(metric_row("dice", s.dice, profile="worst", structure=name))
    return rows


class MapSegmentationStage(Stage):
    """See the module docstring."""

    name = "mapseg"
    consumes = ("mapping",)
    produces = "uint8 labels (slice, y, x) of the fitted map, ACDC convention"
    interface = ("segmentation method: method(maps (slice, 1, y, x) float32 ms, spacing_mm) "
                 "-> uint8 labels (slice, 1, y, x); built-in oracle: truth labels with moved "
                 "borders")
    metric_groups = ("mapseg",)
    method_kind = "segmentation"

    def builtin_methods(self):
        return {"oracle": OracleLabels}

    def validate_settings(self, validator, metrics: Mapping[str, Any]) -> None:
        from suite.metrics.aha import CONVENTIONS

        cfg = metrics.get("mapseg")
        if isinstance(cfg, dict):
            key = "metrics.mapseg"
            validator.unknown_keys(cfg, set(MAPSEG_SETTINGS), key)
            validator.list_of_strings(cfg, "regions", options=tuple(_LABEL_OF), non_empty=True,
                                      prefix=key)
            validator.list_of_strings(cfg, "segments", options=CONVENTIONS, prefix=key)
            validator.option(cfg, "roi", ROI_MODES, prefix=key)
        elif cfg is not None:
            validator.boolean(metrics, "mapseg", prefix="metrics")

    def produce(self, call: StageCall, method):
        if getattr(method, "needs_case", False):
            raise ValueError(f"mapseg method {call.label!r} is a predictions folder; the mapseg "
                             "stage runs methods on the job's fitted map (a folder would need "
                             "one file per mapping method: not supported)")
        if getattr(method, "needs_truth", False):
            truth_labels = aha_labels(call.case.truth or {})
            if truth_labels is None:
                raise ValueError(f"mapseg method {call.label!r} needs the case's truth regions "
                                 "(phantom); this case has none")
            return method.from_truth(truth_labels)
        maps = _segmented_map(call.upstream["mapping"], call.case)
        return method(np.nan_to_num(maps, nan=0.0)[:, None].astype(np.float32),
                      call.case.meta.pixel_spacing_mm)

    def check_output(self, call: StageCall, output, method_label: str) -> np.ndarray:
        lab = np.asarray(output)
        expected = (call.case.n_slices, *call.case.image_shape[2:])
        if lab.ndim == 4 and lab.shape[1] == 1:
            lab = lab[:, 0]
        if lab.shape != expected or lab.dtype != np.uint8:
            raise ValueError(f"mapseg method {method_label!r} returned {lab.dtype} {lab.shape}; "
                             f"expected uint8 (slice, 1, y, x) or (slice, y, x) with "
                             f"(slice, y, x) = {expected}")
        return lab

    def score(self, call: StageCall, output) -> list[dict]:
        if call.settings.get("mapseg", True) is False:
            return []
        truth = call.case.truth or {}
        truth_labels = aha_labels(truth) if "regions" in truth else None
        if truth_labels is None:
            return []
        rows = _dice_rows(output, truth_labels, spacing_3d(call.case))
        quantities = case_quantities(call.case)
        mapped = call.upstream["mapping"]
        maps = {q: (mapped if len(quantities) == 1 else mapped[i])
                for i, q in enumerate(quantities) if f"{q}_ms" in truth}
        cfg = mapping_settings(call.settings, "mapseg", MAPSEG_SETTINGS)
        truth_roi = mapping_settings(call.settings)["roi"]
        rows += value_rows(maps, output, truth, cfg, truth_roi)
        return [{**r.to_dict(), "stage": "mapseg"} for r in rows]


def _segmented_map(mapped, case) -> np.ndarray:
    """The map a segmentation method is given: the series' map, the first (T1) of a series
    mapping several quantities."""
    arr = np.asarray(mapped, np.float64)
    return arr if len(case_quantities(case)) == 1 else arr[0]

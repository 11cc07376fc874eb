"""Segmentation metrics of a label stack ``(slice, frame, y, x)`` at ED and ES."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Iterable, Mapping

import numpy as np

from suite._serialise import jsonable
from suite._table import SummaryTable, fmt
from suite._validation import (
    check_dtype_kind, check_ndim, check_option, check_same_shape, check_spacing,
)
from suite.metrics.contract import MetricFamily, MetricRow, metric_row, register_family
from suite.metrics.segmentation.empty import (
    EMPTY_POLICIES, HD95_DEFINITIONS, METRICS, POLICY_TEXT, metric_key,
)
from suite.metrics.segmentation.masks import (
    MaskScores, check_tolerance, mask_scores, volume_diagonal_mm,
)

__all__ = ["evaluate", "SegmentationResult", "STRUCTURES", "PHASES"]

#: Structures scored, in reporting order, with their ACDC labels (DESIGN.md, Conventions).
STRUCTURES: Mapping[str, int] = MappingProxyType({"LV": 3, "MYO": 2, "RV": 1})

#: Phases scored, in reporting order.
PHASES = ("ED", "ES")

_AXES = "(slice, frame, y, x)"


@dataclass(frozen=True)
class SegmentationResult:
    """Per-structure, per-phase segmentation metrics of one case (see :func:`evaluate`).

    Attributes
    ----------
    scores : mapping (structure, phase) → MaskScores
        ``structure`` in :data:`STRUCTURES` (``"LV"``, ``"MYO"``, ``"RV"``), ``phase`` in
        ``("ED", "ES")``, in that order. A plain dict so results pickle across processes;
        treat it as read-only.
    spacing_mm : (dz, dy, dx)
        Slice spacing, row spacing, column spacing in mm.
    ed_frame, es_frame : int
        Frames scored as ED and ES.
    shape : (slice, y, x)
        Shape of each phase volume.
    tolerance_mm, empty, hd95_definition, worst_distance_mm
        The settings used (see :func:`evaluate`).
    """

    scores: dict[tuple[str, str], MaskScores] = field(repr=False)
    spacing_mm: tuple[float, float, float]
    ed_frame: int
    es_frame: int
    shape: tuple[int, int, int]
    tolerance_mm: float
    empty: str
    hd95_definition: str
    worst_distance_mm: float

    def get(self, structure: str, phase: str) -> MaskScores:
        """The :class:`MaskScores` of one structure at one phase."""
        check_option(structure, STRUCTURES, name="structure", where="SegmentationResult.get")
        check_option(phase, PHASES, name="phase", where="SegmentationResult.get")
        return self.scores[(structure, phase)]

    def value(self, structure: str, phase: str, metric: str) -> float:
        """One value, e.g. ``result.value("LV", "ED", "hd95")`` (full precision)."""
        check_option(metric, METRICS, name="metric", where="SegmentationResult.value")
        return getattr(self.get(structure, phase), metric)

    def _frame(self, phase: str) -> int:
        return self.ed_frame if phase == "ED" else self.es_frame

    def _convention(self, metric: str) -> str:
        if metric == "nsd":
            return f"tolerance {self.tolerance_mm:g} mm; voxel-counted boundary"
        if metric == "hd95":
            return ("pooled 95th percentile (medpy)" if self.hd95_definition == "pooled"
                    else "max of directed 95th percentiles (MONAI, Metrics Reloaded)")
        if metric == "dice":
            return "3-D voxel overlap"
        return "3-D, 6-connected boundary, voxel-centre distances"

    def rows(self) -> list[dict]:
        """Long format, one dict per (structure, phase, metric), for a results store.

        Keys: ``structure``, ``phase``, ``frame``, ``metric``, ``value`` (float, or ``None``
        for NaN), ``unit``, ``direction``, ``status`` (``ok``, ``reference_empty``,
        ``prediction_empty``, ``both_empty``), ``empty`` (the policy) and ``convention``.
        The HD95 metric is named ``"hd95"`` under the pooled definition and
        ``"hd95_max_directed"`` under the other.
        """
        out = []
        for (structure, phase), s in self.scores.items():
            for metric, info in METRICS.items():
                v = float(getattr(s, metric))
                out.append({
                    "structure": structure,
                    "phase": phase,
                    "frame": self._frame(phase),
                    "metric": metric_key(metric, self.hd95_definition),
                    "value": v if math.isfinite(v) else None,
                    "unit": info.unit,
                    "direction": info.direction,
                    "status": s.status,
                    "empty": self.empty,
                    "convention": self._convention(metric),
                })
        return out

    def metric_rows(self) -> list[MetricRow]:
        """:meth:`rows` as declared rows of the metric contract (:mod:`suite.metrics.contract`).

        ``profile`` is the empty-mask policy; a sentinel of that policy (``-1`` under
        ``"mnms"``) is marked as such and never enters an average.
        """
        return [metric_row(r["metric"], r["value"], status=r["status"], profile=r["empty"],
                           convention=r["convention"], structure=r["structure"],
                           phase=r["phase"], frame=r["frame"])
                for r in self.rows()]

    def to_dict(self) -> dict:
        """JSON-safe dict: settings, definitions and per-(structure, phase) values and counts."""
        per = {}
        for (structure, phase), s in self.scores.items():
            d = {m: getattr(s, m) for m in METRICS}
            d.update(status=s.status, n_reference=s.n_reference, n_prediction=s.n_prediction,
                     n_reference_boundary=s.n_reference_boundary,
                     n_prediction_boundary=s.n_prediction_boundary)
            per[f"{structure}_{phase}"] = d
        return jsonable({
            "scores": per,
            "spacing_mm": self.spacing_mm,
            "ed_frame": self.ed_frame,
            "es_frame": self.es_frame,
            "shape": self.shape,
            "tolerance_mm": self.tolerance_mm,
            "empty": self.empty,
            "empty_policy": POLICY_TEXT[self.empty],
            "hd95_definition": self.hd95_definition,
            "worst_distance_mm": self.worst_distance_mm,
            "units": {m: i.unit for m, i in METRICS.items()},
            "directions": {m: i.direction for m, i in METRICS.items()},
            "definitions": {m: i.definition for m, i in METRICS.items()},
        })

    def _table(self) -> SummaryTable:
        hd95 = "HD95" if self.hd95_definition == "pooled" else "HD95 max-directed"
        header = ("structure", "phase", "status", "Dice", "HD (mm)", f"{hd95} (mm)",
                  "ASSD (mm)", "MASD (mm)", f"NSD@{self.tolerance_mm:g}mm")
        rows = tuple(
            (st, ph, s.status) + tuple(fmt(getattr(s, m)) for m in METRICS)
            for (st, ph), s in self.scores.items()
        )
        dz, dy, dx = self.spacing_mm
        notes = (
            f"3-D metrics on the (slice, y, x) volume of each phase (ED frame {self.ed_frame}, "
            f"ES frame {self.es_frame}), spacing dz {dz:g}, dy {dy:g}, dx {dx:g} mm; "
            "LV = label 3, MYO = 2, RV = 1.",
            "Boundary = voxels with a face neighbour outside the mask; distances between voxel "
            "centres in mm. Dice and NSD: higher is better; distances: lower is better.",
            f"HD95: {METRICS['hd95'].definition}; used here: {self.hd95_definition}.",
            "ASSD = mean of pooled distances; MASD = mean of the two directed means "
            "(the ACDC extended script's 'ASSD').",
            POLICY_TEXT[self.empty] + f" W = {self.worst_distance_mm:.6g} mm.",
        )
        return SummaryTable("Segmentation metrics", header, rows, notes)

    def summary(self, format: str = "text") -> str:
        """One table, structure × phase by metric, with the definitions as numbered notes.

        Parameters
        ----------
        format : {"text", "markdown", "html"}
        """
        return self._table().render(format)


def _check_labels(a: np.ndarray, name: str, frames: Iterable[int]) -> None:
    for f in frames:
        sub = a[:, f]
        lo, hi = int(sub.min()), int(sub.max())
        if lo < 0 or hi > 3:
            raise ValueError(
                f"evaluate: `{name}` must hold ACDC labels 0..3 (0 bg, 1 RV, 2 MYO, 3 LV) at the "
                f"scored frames; frame {f} holds values in [{lo}, {hi}] (map other conventions, "
                "e.g. M&Ms 1 LV / 3 RV, in the reader)"
            )


def _check_frame(value, name: str, n_frames: int, annotated) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"evaluate: `{name}` must be an integer frame index; got {value!r}")
    f = int(value)
    if not 0 <= f < n_frames:
        raise ValueError(f"evaluate: `{name}` must be in [0, {n_frames - 1}]; got {f}")
    if annotated is not None and f not in annotated:
        raise ValueError(
            f"evaluate: `{name}` = {f} is not an annotated frame {sorted(annotated)}; an "
            "unannotated frame would be scored as an empty reference"
        )
    return f


def evaluate(
    reference,
    prediction,
    spacing_mm,
    *,
    ed_frame: int,
    es_frame: int,
    tolerance_mm: float = 2.0,
    empty: str = "worst",
    annotated_frames: Iterable[int] | None = None,
    hd95_definition: str = "pooled",
) -> SegmentationResult:
    """Dice, HD, HD95, ASSD, MASD and NSD per structure (LV, MYO, RV) at ED and ES.

    Parameters
    ----------
    reference, prediction : ndarray, integer (uint8), ``(slice, frame, y, x)``
        Label stacks, ACDC convention: 0 background, 1 RV blood pool, 2 LV myocardium,
        3 LV blood pool. Only the ``ed_frame`` and ``es_frame`` frames are read.
    spacing_mm : (dz, dy, dx), mm
        **Slice spacing first**, then the pixel spacing along rows (y) and columns (x), i.e.
        ``(meta.slice_spacing_mm, *meta.pixel_spacing_mm)``.
    ed_frame, es_frame : int
        Frame indices of end-diastole and end-systole (keyword-only, required).
    tolerance_mm : float, default 2.0
        NSD tolerance τ in mm.
    empty : {"worst", "acdc", "mnms", "nan"}, default "worst"
        Empty-mask policy; table in Notes.
    annotated_frames : iterable of int, optional
        Frames that carry reference labels; ``ed_frame`` and ``es_frame`` must be among them
        (an unannotated, all-zero frame would otherwise be scored as an empty reference).
    hd95_definition : {"pooled", "max_directed"}, default "pooled"
        ``"pooled"``: 95th percentile of both directed distance sets concatenated (medpy
        ``hd95``). ``"max_directed"``: max of the two directed 95th percentiles (MONAI,
        Metrics Reloaded); its rows are named ``"hd95_max_directed"``.

    Returns
    -------
    SegmentationResult
        6 :class:`MaskScores` (3 structures × 2 phases), ``rows()``, ``to_dict()``,
        ``summary()``.

    Raises
    ------
    ValueError
        Shapes differ or are not 4-D, labels not integers in 0..3 at the scored frames, bad
        spacing or tolerance, frame out of range or not annotated, unknown option (with the
        nearest valid name).

    Notes
    -----
    Each metric is **3-D**: it is computed on the ``(slice, y, x)`` volume of one phase with
    anisotropic spacing ``(dz, dy, dx)``, as medpy and the ACDC extended script
    (baumgach/acdc_segmenter ``metrics_acdc.py``) do, not per 2-D slice. Boundary voxels are
    those with a face (6-connected) neighbour outside the mask (``binary_erosion`` with a cross
    structuring element, outside the array = background); distances are
    ``distance_transform_edt(~boundary, sampling=spacing_mm)`` between voxel centres.

    * Dice = 2|R∩P| / (|R| + |P|).
    * HD = max(max d(∂R→∂P), max d(∂P→∂R)).
    * HD95 (default, ``"pooled"``) = ``np.percentile(concat(d(∂R→∂P), d(∂P→∂R)), 95)`` with
      linear interpolation. MONAI and Metrics Reloaded take ``max`` of the two directed 95th
      percentiles instead (``"max_directed"``), which is ≥ the pooled value whenever one
      direction carries the outliers; the DeepMind ``surface-distance`` package takes the
      directed percentiles weighted by surfel area (its surface is made of voxel faces, not
      voxels) and is not reproduced here.
    * ASSD = mean of the pooled distances; MASD = ½(mean d(∂R→∂P) + mean d(∂P→∂R)). medpy's
      ``assd`` was MASD up to 0.4 (so the ACDC extended script's ASSD column is MASD) and
      ASSD from 0.5 (loli/medpy#108).
    * NSD = (|{d(∂R→∂P) ≤ τ}| + |{d(∂P→∂R) ≤ τ}|) / (|∂R| + |∂P|), boundary voxels counted
      (MONAI ``SurfaceDiceMetric`` default); the DeepMind package weights by surfel area.

    Empty masks ("dist." = HD, HD95, ASSD, MASD; W = diagonal of the phase volume in mm,
    ``sqrt((n_slice·dz)² + (n_y·dy)² + (n_x·dx)²)``):

    ===========  ========================  ========================  ========================
    empty        reference empty           prediction empty          both empty
    ===========  ========================  ========================  ========================
    worst        Dice 0, NSD 0, dist. W    Dice 0, NSD 0, dist. W    Dice 1, NSD 1, dist. NaN
    acdc         Dice 0, NSD 0, dist. 1    Dice 0, NSD 0, dist. 1    Dice 1, NSD 1, dist. 0
    mnms         Dice 0, NSD 0, dist. NaN  Dice 0, NSD 0, dist. −1   Dice 1, NSD 1, dist. −1
    nan          Dice 0, NSD 0, dist. NaN  Dice 0, NSD 0, dist. NaN  all NaN
    ===========  ========================  ========================  ========================

    Under ``"worst"`` a both-empty distance is NaN with status ``both_empty``: not applicable,
    excluded and counted by :func:`suite.metrics.reduce.aggregate`, never a failure. ``"acdc"``
    reproduces the ACDC extended script (its HD/ASSD values also fill HD95/ASSD/MASD);
    ``"mnms"`` the M&Ms organisers' ``-1`` sentinel (vicmancr/mnms_example; pass
    ``sentinels=(-1,)`` to the reduction); ``"nan"`` is MONAI-like (MONAI itself differs in
    two places: Dice is NaN for any empty reference and HD is ``inf`` for one empty mask).

    References
    ----------
    Dice LR. Ecology 26(3):297–302, 1945. Huttenlocher DP, Klanderman GA, Rucklidge WJ. IEEE
    TPAMI 15(9):850–863, 1993. Nikolov S et al. J Med Internet Res 23(7):e26151, 2021
    (arXiv 1809.04430). Maier-Hein L et al. Metrics Reloaded, Nat Methods 21:195–212, 2024.
    Bernard O et al. IEEE TMI 37(11):2514–2525, 2018.

    Examples
    --------
    >>> ref = np.zeros((2, 3, 16, 16), np.uint8)
    >>> ref[:, 0, 4:12, 4:12] = 3; ref[:, 2, 5:11, 5:11] = 3
    >>> pred = np.roll(ref, 1, axis=3)
    >>> r = evaluate(ref, pred, (10.0, 1.0, 1.0), ed_frame=0, es_frame=2)
    >>> r.value("LV", "ED", "dice"), r.value("LV", "ED", "hd"), r.get("RV", "ED").status
    (0.875, 1.0, 'both_empty')
    """
    where = "evaluate"
    ref = np.asarray(reference)
    pred = np.asarray(prediction)
    check_ndim(ref, 4, name="reference", where=where, axes=_AXES)
    check_same_shape(ref, pred, names=("reference", "prediction"), where=where, axes=_AXES)
    check_dtype_kind(ref, "iu", name="reference", where=where, expected="integer labels (uint8)")
    check_dtype_kind(pred, "iu", name="prediction", where=where,
                     expected="integer labels (uint8)")
    spacing = check_spacing(spacing_mm, 3, where=where)
    tol = check_tolerance(tolerance_mm, where)
    check_option(empty, EMPTY_POLICIES, name="empty", where=where)
    check_option(hd95_definition, HD95_DEFINITIONS, name="hd95_definition", where=where)
    n_frames = ref.shape[1]
    annotated = None
    if annotated_frames is not None:
        annotated = {_check_frame(f, "annotated_frames", n_frames, None)
                     for f in annotated_frames}
    ed = _check_frame(ed_frame, "ed_frame", n_frames, annotated)
    es = _check_frame(es_frame, "es_frame", n_frames, annotated)
    _check_labels(ref, "reference", {ed, es})
    _check_labels(pred, "prediction", {ed, es})

    shape = (ref.shape[0], ref.shape[2], ref.shape[3])
    worst = volume_diagonal_mm(shape, spacing)
    scores = {}
    for structure, label in STRUCTURES.items():
        for phase, frame in (("ED", ed), ("ES", es)):
            scores[(structure, phase)] = mask_scores(
                ref[:, frame] == label, pred[:, frame] == label, spacing, tol, empty,
                hd95_definition, worst)
    return SegmentationResult(
        scores=scores, spacing_mm=spacing, ed_frame=ed, es_frame=es,
        shape=shape, tolerance_mm=tol, empty=empty, hd95_definition=hd95_definition,
        worst_distance_mm=worst,
    )


def _family_rows(reference, prediction, *, spacing_mm, ed_frame, es_frame, empty="worst"):
    return evaluate(reference, prediction, spacing_mm, ed_frame=ed_frame, es_frame=es_frame,
                    empty=empty).metric_rows()


def _example(rng):
    """Concentric LV / myocardium discs and an RV disc; the prediction is shifted by a pixel."""
    n = 24
    yy, xx = np.mgrid[:n, :n]
    ref = np.zeros((2, 2, n, n), np.uint8)
    for f, radius in enumerate((6, 4)):
        r = np.hypot(yy - 12, xx - 10)
        ref[:, f][:, r <= radius + 2] = 2
        ref[:, f][:, r <= radius] = 3
        ref[:, f][:, np.hypot(yy - 12, xx - 20) <= 3] = 1
    pred = np.roll(ref, int(rng.integers(1, 3)), axis=-1)
    return ref, pred, {"spacing_mm": (8.0, 1.5, 1.5), "ed_frame": 0, "es_frame": 1}


register_family(MetricFamily("segmentation", tuple(METRICS), _family_rows, _example))

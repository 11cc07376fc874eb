"""Clinical parameters from a label stack: LV/RV volumes, SV, EF, LV mass, volume curves.

Conventions (DESIGN.md, "Conventions"; the ACDC evaluation script, Bernard et al., IEEE TMI
2018;37:2514, https://www.creatis.insa-lyon.fr/Challenge/acdc/):

* labels ``(slice, frame, y, x)``, ACDC: 1 RV blood pool, 2 LV myocardium, 3 LV blood pool;
* spacing ``(dz, dy, dx)`` mm: slice spacing, then row and column pixel spacing;
* volume (mL) = voxel count × dz·dy·dx / 1000 (the ACDC official script's rule, with the
  slice *spacing*, not the thickness);
* SV = EDV − ESV (mL); EF = (EDV − ESV) / EDV × 100 (%);
* LV mass (g) = myocardial volume at ED (mL) × 1.05 g/mL;
* ED and ES are the same frames for both ventricles. When not given they are detected from
  the LV blood-pool volume curve: ED = the frame of maximum volume, ES = the frame of minimum
  volume (first frame on ties), among the annotated frames only.

Edge cases (values, never exceptions, so a run records them):

=================  ============================  ===================================
case               EF                            flags
=================  ============================  ===================================
ESV ≤ EDV, EDV>0   formula                       ``status="ok"``
ESV > EDV          formula (negative EF, SV<0)   ``status="implausible"``, ``implausible=True``
EDV = 0            NaN (0/0 or x/0)              ``status="edv_zero"`` (``implausible`` if ESV > 0)
=================  ============================  ===================================

Frames that are not annotated are NaN in the volume curves (unannotated ≠ empty).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

from suite._validation import check_dtype_kind, check_ndim, check_spacing
from suite.metrics.contract import (CLOSER, MetricFamily, MetricRow, MetricSpec, Plausible,
                                    metric_row, register_family, register_metric)
from suite._serialise import jsonable, readonly
from suite._table import SummaryTable, fmt

__all__ = [
    "clinical_parameters", "ClinicalParameters", "VentricleParameters", "volume_curve_ml",
    "detect_ed_es", "EdEs", "MYOCARDIAL_DENSITY_G_PER_ML", "EF_STATUSES", "QUANTITIES",
    "STORED", "clinical_rows",
]

#: Myocardial density used for LV mass (g/mL).
MYOCARDIAL_DENSITY_G_PER_ML = 1.05

#: ``status`` values of :class:`VentricleParameters`.
EF_STATUSES = ("ok", "implausible", "edv_zero")

LV, MYO, RV = 3, 2, 1
_AXES = "(slice, frame, y, x)"


@dataclass(frozen=True)
class EdEs:
    """End-diastolic and end-systolic frame indices and how each was obtained."""

    ed_frame: int
    es_frame: int
    ed_source: str = "detected"
    es_source: str = "detected"


@dataclass(frozen=True)
class VentricleParameters:
    """Volumes and ejection fraction of one ventricle.

    Attributes
    ----------
    edv_ml, esv_ml : float
        Blood-pool volume at the ED and ES frames, mL.
    sv_ml : float
        EDV − ESV, mL (negative when ESV > EDV).
    ef_pct : float
        (EDV − ESV) / EDV × 100, %; NaN when EDV = 0.
    status : {"ok", "implausible", "edv_zero"}
    implausible : bool
        ESV > EDV.
    volume_curve_ml : ndarray (frame,), float64
        Volume per frame, mL; NaN at frames not annotated.
    """

    edv_ml: float
    esv_ml: float
    sv_ml: float
    ef_pct: float
    status: str
    implausible: bool
    volume_curve_ml: np.ndarray = field(repr=False, compare=False)

    def to_dict(self) -> dict:
        """JSON-safe dict (NaN → ``None``)."""
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})


def _ventricle(curve: np.ndarray, ed: int, es: int) -> VentricleParameters:
    edv, esv = float(curve[ed]), float(curve[es])
    sv = edv - esv
    implausible = esv > edv
    if edv == 0.0:
        ef, status = math.nan, "edv_zero"
    else:
        ef = sv / edv * 100.0
        status = "implausible" if implausible else "ok"
    return VentricleParameters(edv_ml=edv, esv_ml=esv, sv_ml=sv, ef_pct=ef, status=status,
                               implausible=bool(implausible), volume_curve_ml=readonly(curve))


_POSITIVE = Plausible(0.0, low_open=True)
_NON_NEGATIVE = Plausible(0.0)
_PERCENT = Plausible(0.0, 100.0)


def _declare(name, unit, description, plausible):
    return register_metric(MetricSpec(
        name, unit, CLOSER, description, "clinical",
        "compared with the case's reference value (the phantom's analytic truth, or the "
        "parameter of the reference labels); error = value - reference", plausible=plausible))


#: Scalars of :class:`ClinicalParameters`, declared in the metric contract with the
#: physiological range outside which a value is ``implausible`` (volumes and mass > 0,
#: SV >= 0, i.e. ESV <= EDV, and EF within 0-100 %).
QUANTITIES = {
    "lv_edv_ml": _declare("lv_edv_ml", "mL", "LV end-diastolic volume", _POSITIVE),
    "lv_esv_ml": _declare("lv_esv_ml", "mL", "LV end-systolic volume", _POSITIVE),
    "lv_sv_ml": _declare("lv_sv_ml", "mL", "LV stroke volume (EDV - ESV)", _NON_NEGATIVE),
    "lv_ef_pct": _declare("lv_ef_pct", "%", "LV ejection fraction", _PERCENT),
    "rv_edv_ml": _declare("rv_edv_ml", "mL", "RV end-diastolic volume", _POSITIVE),
    "rv_esv_ml": _declare("rv_esv_ml", "mL", "RV end-systolic volume", _POSITIVE),
    "rv_sv_ml": _declare("rv_sv_ml", "mL", "RV stroke volume (EDV - ESV)", _NON_NEGATIVE),
    "rv_ef_pct": _declare("rv_ef_pct", "%", "RV ejection fraction", _PERCENT),
    "myo_volume_ed_ml": _declare("myo_volume_ed_ml", "mL", "LV myocardial volume at ED",
                                 _POSITIVE),
    "lv_mass_g": _declare("lv_mass_g", "g", "LV mass at ED (myocardial volume x 1.05 g/mL)",
                          _POSITIVE),
}

#: The parameters a run stores per case (:func:`clinical_rows`), in order.
STORED = ("lv_edv_ml", "lv_esv_ml", "lv_sv_ml", "lv_ef_pct", "lv_mass_g", "rv_edv_ml",
          "rv_esv_ml", "rv_ef_pct")


@dataclass(frozen=True)
class ClinicalParameters:
    """Clinical parameters of one label stack (see :func:`clinical_parameters`).

    Attributes
    ----------
    lv, rv : VentricleParameters
        LV (label 3) and RV (label 1) volumes, SV, EF, status and volume curves.
    myo_volume_ed_ml : float
        LV myocardial (label 2) volume at ED, mL.
    lv_mass_g : float
        ``myo_volume_ed_ml × 1.05``, g.
    myo_volume_curve_ml : ndarray (frame,)
        Myocardial volume per frame, mL (NaN where not annotated).
    ed_frame, es_frame : int
    ed_source, es_source : {"given", "detected"}
    annotated_frames : tuple of int
        Frames used (all frames when none were named).
    spacing_mm : (dz, dy, dx)
    voxel_volume_ml : float
        dz·dy·dx / 1000.
    """

    lv: VentricleParameters
    rv: VentricleParameters
    myo_volume_ed_ml: float
    lv_mass_g: float
    ed_frame: int
    es_frame: int
    ed_source: str
    es_source: str
    annotated_frames: tuple[int, ...]
    spacing_mm: tuple[float, float, float]
    voxel_volume_ml: float
    myo_volume_curve_ml: np.ndarray = field(repr=False, compare=False)

    # flat accessors -------------------------------------------------------------------
    lv_edv_ml = property(lambda self: self.lv.edv_ml)
    lv_esv_ml = property(lambda self: self.lv.esv_ml)
    lv_sv_ml = property(lambda self: self.lv.sv_ml)
    lv_ef_pct = property(lambda self: self.lv.ef_pct)
    rv_edv_ml = property(lambda self: self.rv.edv_ml)
    rv_esv_ml = property(lambda self: self.rv.esv_ml)
    rv_sv_ml = property(lambda self: self.rv.sv_ml)
    rv_ef_pct = property(lambda self: self.rv.ef_pct)

    @property
    def implausible(self) -> bool:
        """True when ESV > EDV for the LV or the RV."""
        return bool(self.lv.implausible or self.rv.implausible)

    def scalars(self) -> dict[str, float]:
        """The scalars of :data:`QUANTITIES` by name, full precision."""
        return {k: float(getattr(self, k)) for k in QUANTITIES}

    def to_dict(self) -> dict:
        """JSON-safe flat dict: scalars, statuses, frames, settings, units and curves."""
        out = dict(self.scalars())
        out.update(
            lv_status=self.lv.status, rv_status=self.rv.status,
            lv_implausible=self.lv.implausible, rv_implausible=self.rv.implausible,
            ed_frame=self.ed_frame, es_frame=self.es_frame,
            ed_source=self.ed_source, es_source=self.es_source,
            annotated_frames=self.annotated_frames, spacing_mm=self.spacing_mm,
            voxel_volume_ml=self.voxel_volume_ml,
            myocardial_density_g_per_ml=MYOCARDIAL_DENSITY_G_PER_ML,
            lv_volume_curve_ml=self.lv.volume_curve_ml,
            rv_volume_curve_ml=self.rv.volume_curve_ml,
            myo_volume_curve_ml=self.myo_volume_curve_ml,
            units={k: q.unit for k, q in QUANTITIES.items()},
        )
        return jsonable(out)

    def summary(self, format: str = "text") -> str:
        """Table of the scalars with units and numbered notes on the conventions.

        Parameters
        ----------
        format : {"text", "markdown", "html"}
        """
        rows = tuple((k, fmt(v), QUANTITIES[k].unit) for k, v in self.scalars().items())
        notes = [
            f"ED frame {self.ed_frame} ({self.ed_source}), ES frame {self.es_frame} "
            f"({self.es_source}); detection: ED = max, ES = min of the LV blood-pool volume "
            "over the annotated frames.",
            "Volume = voxel count x dz*dy*dx / 1000 mL (spacing "
            + ", ".join(f"{s:g}" for s in self.spacing_mm) + " mm); EF = (EDV - ESV)/EDV x 100; "
            "LV mass = myocardial volume at ED x 1.05 g/mL.",
        ]
        for name, v in (("LV", self.lv), ("RV", self.rv)):
            if v.status == "implausible":
                notes.append(f"{name}: ESV > EDV (implausible); EF computed by the formula.")
            elif v.status == "edv_zero":
                notes.append(f"{name}: EDV = 0, EF undefined (NaN).")
        return SummaryTable("Clinical parameters", ("quantity", "value", "unit"), rows,
                            tuple(notes)).render(format)


def _check_stack(labels, where: str) -> np.ndarray:
    lab = np.asarray(labels)
    check_ndim(lab, 4, name="labels", where=where, axes=_AXES)
    check_dtype_kind(lab, "iu", name="labels", where=where, expected="integer labels (uint8)")
    return lab


def _frames(annotated_frames, n_frames: int, where: str) -> tuple[int, ...]:
    if annotated_frames is None:
        return tuple(range(n_frames))
    frames = []
    for f in annotated_frames:
        if isinstance(f, (bool, np.bool_)) or not isinstance(f, (int, np.integer)):
            raise ValueError(f"{where}: `annotated_frames` must hold frame indices; got {f!r}")
        if not 0 <= int(f) < n_frames:
            raise ValueError(
                f"{where}: `annotated_frames` must be in [0, {n_frames - 1}]; got {int(f)}")
        frames.append(int(f))
    if not frames:
        raise ValueError(f"{where}: `annotated_frames` is empty; name at least one frame")
    return tuple(sorted(set(frames)))


def volume_curve_ml(labels, spacing_mm, label: int, *, annotated_frames=None) -> np.ndarray:
    """Volume of one label per frame, mL.

    Parameters
    ----------
    labels : ndarray, integer, ``(slice, frame, y, x)``
    spacing_mm : (dz, dy, dx), mm
    label : int
        ACDC label (3 LV blood pool, 2 myocardium, 1 RV blood pool).
    annotated_frames : iterable of int, optional
        Frames holding labels; the others are NaN. Default: all frames.

    Returns
    -------
    ndarray (frame,), float64, mL
        ``count(labels[:, f] == label) × dz·dy·dx / 1000``.

    Examples
    --------
    >>> lab = np.zeros((2, 3, 4, 4), np.uint8); lab[:, 0, :2, :] = 3
    >>> volume_curve_ml(lab, (10.0, 1.0, 1.0), 3, annotated_frames=[0, 2])
    array([0.16,  nan, 0.  ])
    """
    where = "volume_curve_ml"
    lab = _check_stack(labels, where)
    spacing = check_spacing(spacing_mm, 3, where=where)
    frames = _frames(annotated_frames, lab.shape[1], where)
    return _curve(lab, label, frames, float(np.prod(spacing)) / 1000.0)


def _curve(lab: np.ndarray, label: int, frames: tuple[int, ...], voxel_ml: float) -> np.ndarray:
    out = np.full(lab.shape[1], np.nan)
    for f in frames:
        out[f] = np.count_nonzero(lab[:, f] == label) * voxel_ml
    return out


def detect_ed_es(lv_volume_ml, annotated_frames=None) -> EdEs:
    """ED = frame of maximum, ES = frame of minimum LV volume (first on ties).

    Parameters
    ----------
    lv_volume_ml : array (frame,), mL
        LV blood-pool volume curve; NaN frames are ignored.
    annotated_frames : iterable of int, optional
        Only these frames are candidates. Default: every frame with a finite volume.

    Returns
    -------
    EdEs

    Raises
    ------
    ValueError
        No candidate frame has a finite volume.

    Examples
    --------
    >>> detect_ed_es([90.0, 120.0, 80.0, 50.0, 70.0])
    EdEs(ed_frame=1, es_frame=3, ed_source='detected', es_source='detected')
    >>> detect_ed_es([90.0, 120.0, 80.0, 50.0, 70.0], annotated_frames=[0, 2]).ed_frame
    0
    """
    v = np.array(lv_volume_ml, dtype=np.float64, copy=True)
    if v.ndim != 1:
        raise ValueError(f"detect_ed_es: `lv_volume_ml` must be 1-D (frame,); got shape {v.shape}")
    cand = np.zeros(v.size, bool)
    if annotated_frames is None:
        cand[:] = True
    else:
        cand[list(_frames(annotated_frames, v.size, "detect_ed_es"))] = True
    cand &= np.isfinite(v)
    if not cand.any():
        raise ValueError("detect_ed_es: no annotated frame has a finite LV volume")
    idx = np.flatnonzero(cand)
    vals = v[idx]
    return EdEs(ed_frame=int(idx[np.argmax(vals)]), es_frame=int(idx[np.argmin(vals)]))


def _check_frame(value, name: str, frames: tuple[int, ...], n_frames: int, where: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{where}: `{name}` must be an integer frame index or None; got {value!r}")
    f = int(value)
    if not 0 <= f < n_frames:
        raise ValueError(f"{where}: `{name}` must be in [0, {n_frames - 1}]; got {f}")
    if f not in frames:
        raise ValueError(f"{where}: `{name}` = {f} is not an annotated frame {list(frames)}")
    return f


def clinical_parameters(
    labels,
    spacing_mm,
    *,
    ed_frame: int | None = None,
    es_frame: int | None = None,
    annotated_frames: Iterable[int] | None = None,
) -> ClinicalParameters:
    """LV and RV EDV, ESV, SV, EF, LV mass and volume curves of one label stack.

    Parameters
    ----------
    labels : ndarray, integer (uint8), ``(slice, frame, y, x)``
        ACDC labels: 1 RV blood pool, 2 LV myocardium, 3 LV blood pool.
    spacing_mm : (dz, dy, dx), mm
        Slice spacing, then row and column pixel spacing.
    ed_frame, es_frame : int, optional
        End-diastolic / end-systolic frame. Each one not given is detected from the LV
        blood-pool volume curve (ED = maximum, ES = minimum, first frame on ties) over the
        annotated frames.
    annotated_frames : iterable of int, optional
        Frames that carry labels (e.g. ACDC's ED and ES); only these are used for curves and
        detection. Default: all frames.

    Returns
    -------
    ClinicalParameters

    Raises
    ------
    ValueError
        Not a 4-D integer stack, labels outside 0..3 in an annotated frame, bad spacing, a
        frame out of range or not annotated.

    Notes
    -----
    Volume = voxel count × dz·dy·dx / 1000 mL; EF = (EDV − ESV)/EDV × 100 %; LV mass =
    myocardial volume at ED × 1.05 g/mL; RV parameters use the same ED/ES frames as the LV.
    ESV > EDV is reported as computed, with ``status="implausible"``; EDV = 0 gives EF NaN
    with ``status="edv_zero"`` (table in the module docstring).

    References
    ----------
    Bernard O et al. IEEE TMI 37(11):2514–2525, 2018 (ACDC; official ``metrics_acdc.py``
    volume rule).

    Examples
    --------
    >>> lab = np.zeros((1, 2, 10, 10), np.uint8)
    >>> lab[0, 0, :5, :4] = 3; lab[0, 1, :5, :2] = 3       # 20 then 10 voxels of LV
    >>> p = clinical_parameters(lab, (10.0, 1.0, 1.0))
    >>> p.ed_frame, p.es_frame, round(p.lv_edv_ml, 9), round(p.lv_ef_pct, 9)
    (0, 1, 0.2, 50.0)
    """
    where = "clinical_parameters"
    lab = _check_stack(labels, where)
    spacing = check_spacing(spacing_mm, 3, where=where)
    n_frames = lab.shape[1]
    frames = _frames(annotated_frames, n_frames, where)
    for f in frames:
        lo, hi = int(lab[:, f].min()), int(lab[:, f].max())
        if lo < 0 or hi > 3:
            raise ValueError(
                f"{where}: `labels` must hold ACDC labels 0..3 in annotated frames; frame {f} "
                f"holds values in [{lo}, {hi}]")
    voxel_ml = float(np.prod(spacing)) / 1000.0
    lv_curve = _curve(lab, LV, frames, voxel_ml)
    rv_curve = _curve(lab, RV, frames, voxel_ml)
    myo_curve = _curve(lab, MYO, frames, voxel_ml)

    detected = detect_ed_es(lv_curve, frames) if ed_frame is None or es_frame is None else None
    if ed_frame is None:
        ed, ed_source = detected.ed_frame, "detected"
    else:
        ed, ed_source = _check_frame(ed_frame, "ed_frame", frames, n_frames, where), "given"
    if es_frame is None:
        es, es_source = detected.es_frame, "detected"
    else:
        es, es_source = _check_frame(es_frame, "es_frame", frames, n_frames, where), "given"

    myo_ed = float(myo_curve[ed])
    return ClinicalParameters(
        lv=_ventricle(lv_curve, ed, es),
        rv=_ventricle(rv_curve, ed, es),
        myo_volume_ed_ml=myo_ed,
        lv_mass_g=myo_ed * MYOCARDIAL_DENSITY_G_PER_ML,
        ed_frame=ed, es_frame=es, ed_source=ed_source, es_source=es_source,
        annotated_frames=frames, spacing_mm=spacing, voxel_volume_ml=voxel_ml,
        myo_volume_curve_ml=readonly(myo_curve),
    )


def clinical_rows(labels, spacing_mm, *, reference: Mapping[str, float] | None,
                  reference_source: str, ed_frame: int | None = None,
                  es_frame: int | None = None, annotated_frames: Iterable[int] | None = None,
                  parameters: Iterable[str] = STORED) -> list[MetricRow]:
    """Clinical parameters of a predicted label stack as stored rows, with validity.

    Parameters
    ----------
    labels, spacing_mm, ed_frame, es_frame, annotated_frames
        As :func:`clinical_parameters`.
    reference : mapping name → float, optional
        The reference value of each parameter (the phantom's analytic truth, or
        :func:`clinical_parameters` of the reference labels); stored as ``reference_value``.
    reference_source : str
        What ``reference`` is (``"truth"``, ``"reference-labels"``, ``"none"``); stored as
        the rows' ``profile``.
    parameters : iterable of str
        Names of :data:`QUANTITIES` to store (default :data:`STORED`).

    Returns
    -------
    list of MetricRow
        Status ``implausible`` (and excluded from averages and agreement statistics) for a
        value outside its physiological range (:data:`QUANTITIES`), and for EDV, ESV, SV and
        EF of a ventricle whose ESV exceeds its EDV; ``undefined`` for EF when EDV = 0.
    """
    p = clinical_parameters(labels, spacing_mm, ed_frame=ed_frame, es_frame=es_frame,
                            annotated_frames=annotated_frames)
    values = p.scalars()
    inconsistent = {"lv": p.lv.implausible, "rv": p.rv.implausible}
    ref = reference or {}
    rows = []
    for name in parameters:
        ventricle = name.split("_", 1)[0]
        status = ("implausible" if inconsistent.get(ventricle)
                  and name.endswith(("_edv_ml", "_esv_ml", "_sv_ml", "_ef_pct")) else "ok")
        rows.append(metric_row(name, values[name], status=status, profile=reference_source,
                               reference_value=ref.get(name)))
    return rows


def _family_rows(reference, prediction, *, spacing_mm):
    ref = clinical_parameters(reference, spacing_mm).scalars()
    return clinical_rows(prediction, spacing_mm, reference=ref,
                         reference_source="reference-labels", parameters=tuple(QUANTITIES))


def _example(rng):
    lab = np.zeros((3, 4, 16, 16), np.uint8)
    for f, r in enumerate((6, 5, 4, 5)):
        lab[:, f, 8 - r:8 + r, 3:3 + r] = 3
        lab[:, f, 8 - r:8 + r, 3 + r:5 + r] = 2
        lab[:, f, 2:2 + r, 11:15] = 1
    pred = lab.copy()
    pred[:, :, :, 3 + int(rng.integers(0, 2))] = 0
    return lab, pred, {"spacing_mm": (8.0, 1.5, 1.5)}


register_family(MetricFamily("clinical", tuple(QUANTITIES), _family_rows, _example))

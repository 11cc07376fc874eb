"""Enhanced (multi-frame) MR files: one :class:`DicomHeader` per frame from the functional groups.

A multi-frame file (Enhanced MR Image Storage 1.2.840.10008.5.1.4.1.1.4.1, Legacy Converted
Enhanced MR 1.2.840.10008.5.1.4.1.1.4.4, or any MR object with the Multi-frame Functional
Groups Module) holds its per-frame geometry and timing in functional group macros, not in the
top-level Image Plane Module. :func:`frame_headers` turns such a file into one header per
frame, carrying the same fields a classic single-frame file gives, plus ``frame_index``
(0-based index into the file's pixel data). The series code (:mod:`suite.data.dicom_series`)
then groups, orders and checks frames exactly as it does files, so an enhanced series and
the classic export of the same images give the same Case.

Where each value is found (per frame ``k``): the macro in item ``k`` of Per-frame Functional
Groups Sequence (5200,9230), else the macro in the single item of Shared Functional Groups
Sequence (5200,9229) (PS3.3 C.7.6.16: a macro is in one or the other).

==========================  ============================================================
field                       functional group macro (PS3.3 C.7.6.16.2) → attribute
==========================  ============================================================
position                    Plane Position (Patient) (0020,9113) → ImagePositionPatient
orientation                 Plane Orientation (Patient) (0020,9116) → ImageOrientationPatient
pixel_spacing               Pixel Measures (0028,9110) → PixelSpacing (dy, dx)
slice_thickness             Pixel Measures → SliceThickness (also SpacingBetweenSlices)
trigger_time (ms)           Cardiac Synchronization (0018,9118) →
                            NominalCardiacTriggerDelayTime (0020,9153)
temporal_index              Frame Content (0020,9111) → TemporalPositionIndex (0020,9128),
                            else the DimensionIndexValues (0020,9157) entry whose Dimension
                            Index Pointer (0020,9165) is TemporalPositionIndex or
                            NominalCardiacTriggerDelayTime
rescale slope / intercept   Pixel Value Transformation (0028,9145) → RescaleSlope/Intercept,
                            else top-level, else 1 / 0
TR, flip angle              top level, else MR Timing and Related Parameters (0018,9112)
TE                          top level, else MR Echo (0018,9114) → EffectiveEchoTime
sequence                    SequenceName, else PulseSequenceName (0018,9005)
nominal interval (ms)       NominalInterval, else Cardiac Synchronization → RRIntervalTimeNominal
==========================  ============================================================

Plane Position, Plane Orientation and Pixel Measures are required for every frame; a frame
without one of them, a Per-frame Functional Groups Sequence whose item count is not Number of
Frames, or a multi-frame file without functional groups is refused with a
:class:`~suite.data.errors.LayoutError` naming the file and the frame.

References
----------
DICOM PS3.3 C.7.6.16 Multi-frame Functional Groups Module (and C.7.6.16.2 macros: Pixel
Measures C.7.6.16.2.1, Frame Content C.7.6.16.2.2, Plane Position (Patient) C.7.6.16.2.3,
Plane Orientation (Patient) C.7.6.16.2.4, Cardiac Synchronization C.7.6.16.2.7, Pixel Value
Transformation C.7.6.16.2.9); PS3.3 C.7.6.17 Multi-frame Dimension Module; PS3.3 C.8.13
Enhanced MR (C.8.13.1 Enhanced MR Image Module, C.8.13.5 MR functional group macros).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from pydicom.datadict import keyword_for_tag

from suite.data.errors import LayoutError

__all__ = ["ENHANCED_MR_SOP_CLASSES", "is_multiframe", "frame_headers"]

#: SOP classes whose frames carry geometry in functional groups (PS3.4 B.5).
ENHANCED_MR_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.4.1": "Enhanced MR Image Storage",
    "1.2.840.10008.5.1.4.1.1.4.4": "Legacy Converted Enhanced MR Image Storage",
}
_HINT = ("export the series as Enhanced MR with the Multi-frame Functional Groups (DICOM PS3.3 "
         "C.7.6.16) intact, or as classic single-frame MR Image Storage files")
_TEMPORAL_POINTERS = ("TemporalPositionIndex", "NominalCardiacTriggerDelayTime")


def is_multiframe(ds, n_frames: int) -> bool:
    """Whether a data set is read frame by frame (more than one frame, or functional groups)."""
    return n_frames > 1 or "PerFrameFunctionalGroupsSequence" in ds or \
        "SharedFunctionalGroupsSequence" in ds


def _items(ds, keyword: str) -> list:
    seq = ds.get(keyword)
    return list(seq) if seq is not None else []


def _macro(frame_item, shared_item, keyword: str):
    """The first item of macro ``keyword``: per-frame first, then shared; ``None`` if absent."""
    for group in (frame_item, shared_item):
        if group is not None and keyword in group:
            seq = group[keyword].value
            if seq is not None and len(seq) > 0:
                return seq[0]
    return None


def _temporal_dimension(ds) -> int | None:
    """Index into DimensionIndexValues of the temporal dimension (PS3.3 C.7.6.17), or None."""
    for j, item in enumerate(_items(ds, "DimensionIndexSequence")):
        ptr = item.get("DimensionIndexPointer")
        if ptr is not None and keyword_for_tag(ptr) in _TEMPORAL_POINTERS:
            return j
    return None


def frame_headers(ds, base, number: Any) -> tuple:
    """One header per frame of a multi-frame file (rules in the module docstring).

    Parameters
    ----------
    ds : pydicom.Dataset
        The file's data set (pixel data may be deferred).
    base : DicomHeader
        The file-level header (top-level tags); each frame header is a copy of it with the
        frame's geometry, timing and rescale.
    number : callable
        ``number(dataset, keyword, n, path)`` → tuple of ``n`` floats or ``None``; with
        ``n = 0`` one float or ``None`` (raises LayoutError for non-numbers).

    Returns
    -------
    tuple of DicomHeader
        In file order; ``frame_index`` 0 .. NumberOfFrames - 1.

    Raises
    ------
    LayoutError
        Naming the file (and the frame, counted from 1 as in DICOM): no functional groups,
        a Per-frame Functional Groups Sequence whose length is not Number of Frames, or a
        frame without Plane Position, Plane Orientation or Pixel Measures.
    """
    path: Path = base.path
    n = base.n_frames
    per = _items(ds, "PerFrameFunctionalGroupsSequence")
    shared_items = _items(ds, "SharedFunctionalGroupsSequence")
    shared = shared_items[0] if shared_items else None
    if not per and shared is None:
        raise LayoutError(path, f"multi-frame image (NumberOfFrames = {n}) without Multi-frame "
                          "Functional Groups (no PerFrameFunctionalGroupsSequence (5200,9230) "
                          "or SharedFunctionalGroupsSequence (5200,9229)): the position and "
                          "time of each frame are unknown", _HINT)
    if len(per) != n and not (n == 1 and not per):
        raise LayoutError(path, f"PerFrameFunctionalGroupsSequence (5200,9230) holds {len(per)} "
                          f"item(s) but NumberOfFrames (0028,0008) is {n}", _HINT)
    tdim = _temporal_dimension(ds)
    top_slope = number(ds, "RescaleSlope", 0, path)
    top_intercept = number(ds, "RescaleIntercept", 0, path)
    top = {k: number(ds, k, 0, path) for k in ("RepetitionTime", "FlipAngle", "EchoTime",
                                               "NominalInterval")}
    seq_name = base.sequence_name or (str(ds.get("PulseSequenceName", "")).strip() or None)
    out = []
    for k in range(n):
        item = per[k] if per else None
        try:
            out.append(_frame(base, k, item, shared, number, tdim, top_slope, top_intercept,
                              top, seq_name))
        except LayoutError as exc:
            raise LayoutError(path, f"frame {k + 1} of {n}: {exc.reason}",
                              exc.hint or _HINT) from None
    return tuple(out)


def _need(item, what: str, tag: str):
    if item is None:
        raise LayoutError(Path("."), f"no {what} functional group {tag} in its "
                          "PerFrameFunctionalGroupsSequence (5200,9230) item or in "
                          "SharedFunctionalGroupsSequence (5200,9229)", _HINT)
    return item


def _frame(base, k, item, shared, number, tdim, top_slope, top_intercept, top, seq_name):
    path = base.path
    pos = _need(_macro(item, shared, "PlanePositionSequence"),
                "Plane Position (Patient)", "(0020,9113)")
    ori = _need(_macro(item, shared, "PlaneOrientationSequence"),
                "Plane Orientation (Patient)", "(0020,9116)")
    pm = _need(_macro(item, shared, "PixelMeasuresSequence"), "Pixel Measures", "(0028,9110)")
    position = number(pos, "ImagePositionPatient", 3, path)
    orientation = number(ori, "ImageOrientationPatient", 6, path)
    spacing = number(pm, "PixelSpacing", 2, path)
    for value, kw, tag, macro in ((position, "ImagePositionPatient", "(0020,0032)",
                                   "Plane Position (Patient)"),
                                  (orientation, "ImageOrientationPatient", "(0020,0037)",
                                   "Plane Orientation (Patient)"),
                                  (spacing, "PixelSpacing", "(0028,0030)", "Pixel Measures")):
        if value is None:
            raise LayoutError(path, f"{kw} {tag} is missing from its {macro} functional group",
                              _HINT)
    cs = _macro(item, shared, "CardiacSynchronizationSequence")
    fc = _macro(item, shared, "FrameContentSequence")
    pvt = _macro(item, shared, "PixelValueTransformationSequence")
    timing = _macro(item, shared, "MRTimingAndRelatedParametersSequence")
    echo = _macro(item, shared, "MREchoSequence")
    trigger = None if cs is None else number(cs, "NominalCardiacTriggerDelayTime", 0, path)
    temporal = None
    if fc is not None:
        t = number(fc, "TemporalPositionIndex", 0, path)
        if t is None and tdim is not None:
            div = fc.get("DimensionIndexValues")
            vals = [] if div is None else (list(div) if not isinstance(div, int) else [div])
            if tdim < len(vals):
                t = float(vals[tdim])
        temporal = None if t is None else int(round(t))
    slope = number(pvt, "RescaleSlope", 0, path) if pvt is not None else None
    intercept = number(pvt, "RescaleIntercept", 0, path) if pvt is not None else None
    if slope is None:
        slope = top_slope
    if intercept is None:
        intercept = top_intercept
    interval = top["NominalInterval"]
    if interval is None and cs is not None:
        interval = number(cs, "RRIntervalTimeNominal", 0, path)
    tr = top["RepetitionTime"] if top["RepetitionTime"] is not None else \
        (None if timing is None else number(timing, "RepetitionTime", 0, path))
    flip = top["FlipAngle"] if top["FlipAngle"] is not None else \
        (None if timing is None else number(timing, "FlipAngle", 0, path))
    te = top["EchoTime"] if top["EchoTime"] is not None else \
        (None if echo is None else number(echo, "EffectiveEchoTime", 0, path))
    return dataclasses.replace(
        base, frame_index=k, position=position, orientation=orientation,
        pixel_spacing=spacing, slice_thickness=number(pm, "SliceThickness", 0, path),
        spacing_between_slices=number(pm, "SpacingBetweenSlices", 0, path),
        trigger_time=trigger, temporal_index=temporal, instance_number=None,
        rescale_slope=1.0 if slope is None else slope,
        rescale_intercept=0.0 if intercept is None else intercept,
        nominal_interval=interval, tr_ms=tr, te_ms=te, flip_angle_deg=flip,
        sequence_name=seq_name)

"""DICOM mapping series: inversion times of weighted images, and scanner-made parametric maps.

Weighted images (MOLLI/ShMOLLI): the inversion time of each image is read from Inversion Time
(0018,0082) when every image has it, else from Image Comments (0020,4000) when every image's
comment holds ``TI`` followed by a number (e.g. ``"TI: 180"``, ``"TI=1180.5 ms"``; vendors
write the effective TI of each image of a MOLLI series there, Inversion Time then being absent
or the same for all images). A series whose images all have a TI gets
``meta.timings_ms = {"TI": [[TI of each frame] for each slice]}`` and its frames are ordered
by TI within each slice (:func:`frame_inversion_time`).

Parametric maps made by the scanner (``T1 MAP``/``T2 MAP`` series): recognised by Image Type
(0008,0008) values ``T1 MAP``, ``T1MAP``, ``T2 MAP``, ``T2MAP`` (any case), else — for series
without inversion times — by ``T1MAP``/``T2MAP``/``T1 MAP``/``T2 MAP`` in the Series
Description. They are read as maps, not images: ``meta.extra["content"] = "map"``,
``meta.extra["map_quantity"]`` ``"T1"`` or ``"T2"`` and ``meta.extra["map_unit"] = "ms"``; the
pixel values after Rescale Slope/Intercept are the relaxation times (ms). The unit is assumed
(vendors store maps in ms; a rescale to other units is not detected) and said in
``audit_flags["map_unit_assumed"]``. Weighted series get ``content = "weighted"``.

Not read: per-frame Inversion Times (0018,9079) of Enhanced MR multi-frame objects, T2-prep
durations (no standard tag), vendor private tags.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from suite.data.dicom_io import DicomHeader

__all__ = ["comment_ti_ms", "frame_inversion_time", "ti_source", "map_quantity",
           "mapping_meta"]

_TI = re.compile(r"\bTI\s*[:=]?\s*([-+]?\d+(?:\.\d*)?)", re.IGNORECASE)
_MAP_TYPES = {"T1 MAP": "T1", "T1MAP": "T1", "T2 MAP": "T2", "T2MAP": "T2"}
_MAP_NAME = re.compile(r"(?<![A-Z0-9])(T[12])[ _]?MAP(?![A-Z0-9])", re.IGNORECASE)


def comment_ti_ms(comment: str | None) -> float | None:
    """The TI (ms) written in an Image Comments value, or ``None``.

    Examples
    --------
    >>> comment_ti_ms("TI: 180"), comment_ti_ms("MOCO TI=1180.5 ms"), comment_ti_ms("T1 map")
    (180.0, 1180.5, None)
    """
    if not comment:
        return None
    m = _TI.search(comment)
    return float(m.group(1)) if m else None


def ti_source(headers: Sequence[DicomHeader]) -> str | None:
    """Where the TIs of a series come from: ``"InversionTime"``, ``"ImageComments"`` or None.

    Inversion Time counts only when every image has it and the values differ (a constant
    Inversion Time in a MOLLI series is the nominal TI, not each image's)."""
    tis = [h.inversion_time_ms for h in headers]
    if all(t is not None for t in tis) and (len(headers) == 1 or len(set(tis)) > 1):
        return "InversionTime"
    if all(comment_ti_ms(h.image_comments) is not None for h in headers):
        return "ImageComments"
    return None


def frame_inversion_time(h: DicomHeader, source: str) -> float:
    """TI (ms) of one image from the given source (see :func:`ti_source`)."""
    if source == "InversionTime":
        return float(h.inversion_time_ms)  # type: ignore[arg-type]
    return float(comment_ti_ms(h.image_comments))  # type: ignore[arg-type]


def map_quantity(headers: Sequence[DicomHeader]) -> tuple[str | None, str | None]:
    """``("T1"|"T2", rule)`` when the series is a scanner-made map, else ``(None, None)``."""
    h = headers[0]
    for value in h.image_type:
        if value in _MAP_TYPES:
            return _MAP_TYPES[value], f"ImageType (0008,0008) holds {value!r}"
    if ti_source(headers) is None:
        m = _MAP_NAME.search(h.series_description or "")
        if m:
            return m.group(1).upper(), f"SeriesDescription {h.series_description!r}"
    return None, None


def mapping_meta(grid: Sequence[Sequence[DicomHeader]]
                 ) -> tuple[dict[str, list], dict[str, Any], dict[str, Any]]:
    """``(timings_ms, extra, audit_flags)`` of a ``(slice, frame)`` header grid (may be empty
    dicts for a series that is neither weighted mapping images nor a map)."""
    every = [h for row in grid for h in row]
    quantity, rule = map_quantity(every)
    if quantity is not None:
        return {}, {"content": "map", "map_quantity": quantity, "map_unit": "ms",
                    "map_rule": rule}, {"map_unit_assumed": "pixel values read as ms"}
    source = ti_source(every)
    if source is None:
        return {}, {}, {}
    timings = {"TI": [[frame_inversion_time(h, source) for h in row] for row in grid]}
    tag = "InversionTime (0018,0082)" if source == "InversionTime" else \
        "ImageComments (0020,4000)"
    return timings, {"content": "weighted", "ti_source": tag}, {}

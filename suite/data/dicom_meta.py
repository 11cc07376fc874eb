"""CaseMeta of a DICOM cine series: which tag fills which field (units mm, ms, T, beats/min).

=======================  ==================================================================
field                    source
=======================  ==================================================================
subject                  Patient ID (0010,0020) as stored; Patient's Name is never read
series                   ``<SeriesNumber>_<SeriesDescription|ProtocolName>``; stacks:
                         ``<ProtocolName|SeriesDescription>_<orientation index>``
vendor / site            Manufacturer (0008,0070) / Institution Name (0008,0080)
field_strength_t         Magnetic Field Strength (0018,0087); values > 20 are read as gauss
                         (``audit_flags["field_strength_unit"]``)
sequence                 Sequence Name (0018,0024), else Pulse Sequence Name (0018,9005)
                         (Enhanced MR), else Scanning Sequence (0018,0020)
pixel_spacing_mm         Pixel Spacing (0028,0030) = (row spacing dy, column spacing dx)
slice_thickness_mm       Slice Thickness (0018,0050) of the first file (varying: audit flag)
slice_spacing_mm         median difference of the slice positions along the normal
temporal_resolution_ms   median difference of trigger times within slice locations
heart_rate_bpm           Heart Rate (0018,1088), else 60000 / Nominal Interval (0018,1062)
timings_ms               ``{"TI": [[ms per frame] per slice]}`` of weighted mapping images
                         (:mod:`suite.data.dicom_mapping`)
strata                   vendor, field_strength_t, site
=======================  ==================================================================

For frames of multi-frame (Enhanced MR) files the per-frame values (Pixel Spacing, Slice
Thickness, positions, trigger times = Nominal Cardiac Trigger Delay Time, TR/TE/flip angle,
Nominal Interval) come from the functional groups (:mod:`suite.data.dicom_enhanced`); the
rest from the top level, as for classic files.

``extra`` keeps the geometry (orientation, normal, positions, IPP per slice), trigger times,
TR/TE/flip angle, UIDs and, after reading, per-file SHA-256 (``source_files_sha256``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from suite.case import CaseMeta
from suite.data.dicom_io import DicomHeader
from suite.data.dicom_mapping import mapping_meta

__all__ = ["series_meta"]


def series_meta(grid: Sequence[Sequence[DicomHeader]], *, stack: bool, key: str,
                series_uids: Sequence[str], folder: Path, positions: np.ndarray,
                normal: np.ndarray, spacing: float | None, dt: float | None,
                trigger_times: np.ndarray, flags: dict[str, Any], order: str,
                dataset: str) -> CaseMeta:
    """CaseMeta of a checked ``(slice, frame)`` grid of headers (tags in the module docstring).

    ``source_sha256`` is left ``None``; :meth:`DicomSeries.read` fills it when it reads the
    bytes. ``flags`` (audit flags found so far) is copied, not modified.
    """
    flags = dict(flags)
    pos, tt = positions, trigger_times
    h = grid[0][0]
    every = [x for row in grid for x in row]
    multi = any(x.frame_index is not None for x in every)
    fs = h.field_strength
    if fs is not None and fs > 20:  # some old exports give gauss (15000 = 1.5 T)
        flags["field_strength_unit"] = f"MagneticFieldStrength {fs} read as gauss"
        fs = fs / 1e4
    hr, hr_source = h.heart_rate, "HeartRate (0018,1088)"
    if not hr and h.nominal_interval:
        hr, hr_source = 60000.0 / h.nominal_interval, "60000 / NominalInterval (0018,1062)"
    thick = {x.slice_thickness for x in every}
    if len(thick) > 1:
        flags["slice_thickness_varies"] = sorted(t for t in thick if t is not None)
    sequence = h.sequence_name or h.scanning_sequence
    name = h.series_description or h.protocol_name or "series"
    series = f"{h.protocol_name or name}_{key.rsplit(':', 1)[-1]}" if stack else \
        f"{h.series_number if h.series_number is not None else 'x'}_{name}"
    extra: dict[str, Any] = {
        "group_by": "stack" if stack else "series",
        "group_key": key, "series_instance_uids": list(series_uids),
        "study_instance_uid": h.study_uid, "series_description": h.series_description,
        "protocol_name": h.protocol_name, "manufacturer_model": h.model,
        "image_orientation_patient": list(h.orientation), "slice_normal": list(normal),
        "slice_positions_mm": [float(v) for v in pos],
        "image_position_patient": [list(row[0].position) for row in grid],
        "frame_order": order, "trigger_times_ms": np.where(np.isnan(tt), None, tt).tolist(),
        "tr_ms": h.tr_ms, "te_ms": h.te_ms, "flip_angle_deg": h.flip_angle_deg,
        "heart_rate_source": hr_source if hr else None,
        "rescale": "stored * RescaleSlope + RescaleIntercept per file"
                   + (" (per frame for multi-frame files)" if multi else ""),
        "n_files": len({x.path for x in every}),
        "multi_frame": multi, "sop_class_uids": sorted({x.sop_class_uid or "" for x in every}),
    }
    timings, map_extra, map_flags = mapping_meta(grid)
    extra.update(map_extra)
    flags.update(map_flags)
    if spacing is not None and h.slice_thickness is not None:
        extra["interslice_gap_mm"] = float(spacing - h.slice_thickness)
    if h.spacing_between_slices is not None:
        extra["spacing_between_slices_tag_mm"] = h.spacing_between_slices
    return CaseMeta(
        subject=h.patient_id or "unknown", dataset=dataset, series=series,
        vendor=h.manufacturer, field_strength_t=fs, site=h.institution, sequence=sequence,
        pixel_spacing_mm=(float(h.pixel_spacing[0]), float(h.pixel_spacing[1])),
        slice_thickness_mm=h.slice_thickness, slice_spacing_mm=spacing,
        temporal_resolution_ms=dt, heart_rate_bpm=hr or None, timings_ms=timings,
        strata={"vendor": h.manufacturer, "field_strength_t": fs, "site": h.institution},
        source_file=str(folder), audit_flags=flags, extra=extra)

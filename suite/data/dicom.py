"""DICOM cine series → Case: public entry points.

:func:`read_dicom_series` reads one cine series (or one stack of per-slice series) from a
folder or a list of files; :func:`open_dicom_series` does the same without reading pixels
(headers are parsed and checked at open, STYLE R7/R11; pixels are read per slice by
:meth:`DicomSeries.read_slice` or all at once by :meth:`DicomSeries.read`);
:func:`find_dicom_series` splits files into the units ``suite.data.load`` yields (one Case per
series); :func:`inspect_dicom` summarises headers.

Rules (details in :mod:`suite.data.dicom_series` and docs/dicom.md):

* Files are DICOM by content (``DICM`` at byte 128; preamble-less data sets accepted when
  they parse), whatever their names. A folder is searched recursively; files that are not
  DICOM are ignored unless their name ends in ``.dcm``/``.dicom``/``.ima`` (then they are a
  :class:`~suite.data.errors.CorruptFileError`). DICOMDIR index files are skipped.
* Multi-frame files (Enhanced MR Image Storage and other MR objects with Multi-frame
  Functional Groups, PS3.3 C.7.6.16 / C.8.13) are split into frames when headers are read
  (:mod:`suite.data.dicom_enhanced`); every frame then counts as one image, so a series of
  enhanced files (one per series, one per slice location, or mixed with classic files) gives
  the same Case as the classic export of the same images.
* ``group_by="series"`` (default): one Case per Series Instance UID. ``group_by="stack"``:
  one Case per (Study Instance UID, Protocol Name or Series Description, orientation), for
  stacks exported as one series per slice location.
* Slices ascend along ``n = row × column`` of Image Orientation (Patient) by
  ``dot(ImagePositionPatient, n)``; frames by Trigger Time (Instance Number as fallback);
  ``reference`` is float32 ``(slice, frame, y, x)`` after Rescale Slope/Intercept, with
  ``y`` = row index (Rows) and ``x`` = column index (Columns), as stored.
* ``meta``: ``subject`` = Patient ID (0010,0020) as stored (never Patient's Name);
  ``vendor`` = Manufacturer (0008,0070); ``field_strength_t`` = MagneticFieldStrength
  (0018,0087); ``site`` = InstitutionName (0008,0080); ``sequence`` = SequenceName
  (0018,0024), else ScanningSequence (0018,0020); ``heart_rate_bpm`` = HeartRate (0018,1088),
  else 60000 / NominalInterval (0018,1062); ``pixel_spacing_mm`` = PixelSpacing (dy, dx);
  ``slice_thickness_mm`` = SliceThickness; ``slice_spacing_mm`` from positions;
  ``temporal_resolution_ms`` from trigger times; ``source_sha256`` = SHA-256 of the lines
  ``"<relative path> <sha256>\\n"`` sorted by path (per-file hashes in
  ``meta.extra["source_files_sha256"]``).

References
----------
DICOM PS3.3 C.7.6.2 Image Plane Module (Image Position/Orientation (Patient), Pixel Spacing,
Slice Thickness); PS3.3 C.8.3.1 MR Image Module (Trigger Time, Scanning Sequence); PS3.3
C.7.6.16 Multi-frame Functional Groups Module and C.8.13 Enhanced MR (per-frame geometry,
Nominal Cardiac Trigger Delay Time, rescale); PS3.10 §7.1 (preamble and ``DICM`` prefix).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from suite.case import Case
from suite.data.dicom_io import (
    DICOM_SUFFIXES,
    DICOMDIR_SOP_CLASS,
    DicomHeader,
    is_dicom,
    read_headers,
)
from suite.data.dicom_series import (
    GROUP_BY,
    DicomGroup,
    DicomSeries,
    assemble,
    common_folder,
    group_headers,
)
from suite.data.errors import CaseReadError, LayoutError

__all__ = ["read_dicom_series", "open_dicom_series", "find_dicom_series", "inspect_dicom",
           "is_dicom", "DicomSeries", "DicomUnit", "GROUP_BY", "DICOM_SUFFIXES"]


@dataclass(frozen=True)
class DicomUnit:
    """One thing :func:`suite.data.load` reads as one Case.

    ``key`` is the group key (a Series Instance UID, or ``stack:...``) or ``None`` for a file
    that failed while scanning; reading such a unit raises that file's error.
    """

    path: Path
    files: tuple[Path, ...]
    key: str | None


def _check_group_by(group_by: str, where: str) -> None:
    from suite._validation import check_option

    check_option(group_by, GROUP_BY, name="group_by", where=where)


def dicom_candidates(folder) -> list[Path]:
    """Files under ``folder`` (recursive, sorted) that are DICOM or are named like DICOM."""
    d = Path(folder)
    out = []
    for f in sorted(q for q in d.rglob("*") if q.is_file()):
        if any(part.startswith(".") for part in f.relative_to(d).parts):
            continue
        if f.name.lower().endswith(DICOM_SUFFIXES) or is_dicom(f):
            out.append(f)
    return out


def _files_of(folder_or_files) -> tuple[Path, list[Path]]:
    if isinstance(folder_or_files, (str, os.PathLike)):
        p = Path(folder_or_files)
        if p.is_dir():
            return p, dicom_candidates(p)
        return p, [p]
    files = [Path(f) for f in folder_or_files]
    return (common_folder(files) if files else Path(".")), files


def _scan(files: Iterable[Path], group_by: str
          ) -> tuple[list[DicomGroup], list[CaseReadError]]:
    headers: list[DicomHeader] = []
    failures: list[CaseReadError] = []
    for f in files:
        if f.name.upper() == "DICOMDIR":
            continue
        try:
            hs = read_headers(f)
        except CaseReadError as exc:
            failures.append(exc)
            continue
        if hs[0].sop_class_uid == DICOMDIR_SOP_CLASS:
            continue
        headers.extend(hs)
    groups, errors = group_headers(headers, group_by)
    return groups, failures + errors


def find_dicom_series(files: Iterable[str | os.PathLike], *, group_by: str = "series"
                      ) -> list[DicomUnit]:
    """Split DICOM files into units: one per series/stack, one per file that fails to scan.

    Reads headers only. Used by :func:`suite.data.loader.discover`; a failing file becomes its
    own unit so that ``iter_cases(..., on_error="record")`` records it and still reads the
    series (which then has to be complete without that file, or fails with a
    :class:`~suite.data.errors.LayoutError` saying which slice lacks frames).

    Returns
    -------
    list of DicomUnit
        Series/stack units (sorted by study, series number) then failed files (sorted).
    """
    _check_group_by(group_by, "find_dicom_series")
    groups, failures = _scan([Path(f) for f in files], group_by)
    units = [DicomUnit(g.folder, g.files, g.key) for g in groups]
    units += sorted((DicomUnit(e.path, (e.path,), None) for e in failures),
                    key=lambda u: str(u.path))
    return units


def _describe(groups: list[DicomGroup]) -> str:
    return "; ".join(f"{g.series_uids[0] if g.key[:6] != 'stack:' else g.key} "
                     f"({g.label.strip()}, {len(g.headers)} files)" for g in groups[:8]) + \
        (f"; ... {len(groups) - 8} more" if len(groups) > 8 else "")


def open_dicom_series(folder_or_files, *, series_uid: str | None = None,
                      group_by: str = "series", dataset: str | None = "dicom") -> DicomSeries:
    """Find, group, order and check one cine series; read no pixel data.

    Parameters and errors as in :func:`read_dicom_series`.

    Returns
    -------
    DicomSeries
        ``.shape`` (slice, frame, y, x), ``.meta``, ``.headers[slice][frame]``,
        ``.read_slice(i)`` float32 (frame, y, x), ``.read()`` → Case.
    """
    _check_group_by(group_by, "open_dicom_series")
    where, files = _files_of(folder_or_files)
    if not files:
        raise LayoutError(where, "no DICOM files found (searched recursively by content)",
                          "pass the folder of one exported cine series")
    groups, failures = _scan(files, group_by)
    if failures:
        raise failures[0]
    if not groups:
        raise LayoutError(where, "no DICOM image files found (only DICOMDIR indexes)",
                          "pass the folder of one exported cine series")
    if series_uid is not None:
        chosen = [g for g in groups if series_uid in g.series_uids]
        if not chosen:
            raise LayoutError(where, f"no series with SeriesInstanceUID {series_uid!r}; "
                              f"found {_describe(groups)}", "pass one of the UIDs listed")
        group = chosen[0]
    elif len(groups) > 1:
        raise LayoutError(where, f"{len(groups)} {'stacks' if group_by == 'stack' else 'series'}"
                          f" found: {_describe(groups)}",
                          "pass series_uid=, or use suite.data.load(folder) for one Case per "
                          "series (group_by='stack' joins one-series-per-slice exports)")
    else:
        group = groups[0]
    return assemble(group, dataset=dataset or "dicom")


def read_dicom_series(folder_or_files, *, series_uid: str | None = None,
                      group_by: str = "series", dataset: str | None = "dicom") -> Case:
    """Read one DICOM cine series (or stack) into a Case.

    Parameters
    ----------
    folder_or_files : str, path-like, or iterable of them
        A folder (searched recursively; any file names), one file, or a list of files.
    series_uid : str, optional
        Series Instance UID (0020,000E) to read when the input holds several series (with
        ``group_by="stack"``: the stack that contains this series).
    group_by : {"series", "stack"}, default "series"
        ``"stack"`` joins a stack exported as one series per slice location (Study Instance
        UID, Protocol Name or Series Description, and Image Orientation (Patient) agree).
    dataset : str, default "dicom"
        ``meta.dataset``.

    Returns
    -------
    Case
        ``reference`` float32 ``(slice, frame, y, x)``: rescaled values, slices ascending
        along ``cross(row, column)``, frames by ascending Trigger Time (Nominal Cardiac
        Trigger Delay Time for frames of enhanced files); ``meta`` as in the
        module docstring, with ``audit_flags`` for irregular spacing, gaps, frame-order
        fallback, varying slice thickness.

    Raises
    ------
    CorruptFileError
        A truncated, empty or non-DICOM file (the file is named); undecodable pixels.
    LayoutError
        No DICOM files; several series without ``series_uid``; unknown ``series_uid``;
        non-MR modality; missing ImagePositionPatient/ImageOrientationPatient/PixelSpacing
        (tag and file named); mismatched Rows/Columns; different orientations; duplicate
        instances; different numbers of frames per slice location; colour images; for
        multi-frame files (file and frame named): no functional groups, a Per-frame
        Functional Groups Sequence whose length is not NumberOfFrames, a frame without
        Plane Position, Plane Orientation or Pixel Measures, frames that cannot be ordered.
    ValueError
        ``group_by`` not one of ``"series"``, ``"stack"``.

    Notes
    -----
    Ordering and spacing follow DICOM PS3.3 C.7.6.2 (Image Plane Module): normal
    ``n = r × c`` from Image Orientation (Patient) ``[r, c]``, position ``dot(IPP, n)``;
    ``slice_spacing_mm`` = median difference of sorted positions; Pixel Spacing is
    ``(row spacing, column spacing) = (dy, dx)`` in mm.

    Examples
    --------
    >>> from pydicom.data import get_testdata_file
    >>> case = read_dicom_series(get_testdata_file("MR_small.dcm"))
    >>> case.reference.shape, case.meta.pixel_spacing_mm, case.meta.vendor
    ((1, 1, 64, 64), (0.3125, 0.3125), 'TOSHIBA_MEC')
    """
    return open_dicom_series(folder_or_files, series_uid=series_uid, group_by=group_by,
                             dataset=dataset).read()


def _summary(s: DicomSeries) -> dict[str, Any]:
    m = s.meta
    ns, nf, ny, nx = s.shape
    return {"path": str(s.folder), "format": "dicom", "key": s.key,
            "dims": [ns, nf, ny, nx], "dims_axes": ["slice", "frame", "y", "x"],
            "rows": ny, "columns": nx, "slices": ns, "frames": nf,
            "pixel_spacing_mm": list(m.pixel_spacing_mm) if m.pixel_spacing_mm else None,
            "slice_thickness_mm": m.slice_thickness_mm, "slice_spacing_mm": m.slice_spacing_mm,
            "temporal_resolution_ms": m.temporal_resolution_ms,
            "heart_rate_bpm": m.heart_rate_bpm, "vendor": m.vendor,
            "field_strength_t": m.field_strength_t, "site": m.site, "sequence": m.sequence,
            "subject": m.subject, "series": m.series,
            "series_instance_uids": m.extra["series_instance_uids"],
            "frame_order": m.extra["frame_order"], "n_files": m.extra["n_files"],
            "audit_flags": dict(m.audit_flags)}


def inspect_dicom(path, *, group_by: str = "series") -> dict[str, Any]:
    """Summarise a DICOM file or folder from headers only (no pixel data read).

    Returns
    -------
    dict
        One series: ``path``, ``format`` ("dicom"), ``dims`` (slice, frame, y, x), ``rows``,
        ``columns``, ``slices``, ``frames``, ``pixel_spacing_mm`` [dy, dx],
        ``slice_thickness_mm``, ``slice_spacing_mm``, ``temporal_resolution_ms``, ``vendor``,
        ``field_strength_t``, ``site``, ``sequence``, ``subject``, ``series``,
        ``series_instance_uids``, ``frame_order``, ``n_files``, ``audit_flags``.
        Several series or failures: ``path``, ``format``, ``n_cases`` and ``cases`` (one
        summary per series, or ``{"path", "key", "error", "reason"}`` for one that fails
        its checks, including files that fail to scan).

    Raises
    ------
    CaseReadError
        A single file that is not readable DICOM, or a folder without DICOM files.
    """
    _check_group_by(group_by, "inspect_dicom")
    p = Path(path)
    if p.is_file():
        return {**_summary(open_dicom_series(p, group_by=group_by)), "path": str(p)}
    units = find_dicom_series(dicom_candidates(p), group_by=group_by)
    if not units:
        raise LayoutError(p, "no DICOM files found (searched recursively by content)",
                          "pass a folder of exported DICOM images")
    cases = []
    for u in units:
        try:
            cases.append(_summary(open_dicom_series(u.files, group_by=group_by)))
        except CaseReadError as exc:
            cases.append({"path": str(exc.path), "key": u.key, "error": type(exc).__name__,
                          "reason": exc.reason})
    if len(cases) == 1 and "error" not in cases[0]:
        return {**cases[0], "path": str(p)}
    return {"path": str(p), "format": "dicom", "n_cases": len(cases), "cases": cases}

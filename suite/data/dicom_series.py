"""DICOM series: group file headers into cine stacks, order them, check them, read them.

Grouping (``group_by``)
    ``"series"``: one group per Series Instance UID (0020,000E).
    ``"stack"``: one group per (Study Instance UID (0020,000D), name, orientation), where name
    is Protocol Name (0018,1030), else Series Description (0008,103E), and files whose Image
    Orientation (Patient) (0020,0037) agree within :data:`ORIENTATION_TOLERANCE` share an
    orientation. This joins a short-axis stack exported as one series per slice location
    (common on Siemens) and keeps long-axis views (other orientations) apart. The frames of
    one multi-frame file are never split: they join the stack of the file's first frame (so
    a file holding several orientations is refused whole).

Ordering (PS3.3 C.7.6.2 Image Plane Module)
    Slice normal ``n = r × c`` with ``r`` = IOP[0:3] (row direction, along which the column
    index grows) and ``c`` = IOP[3:6]; the position of a file is ``dot(IPP, n)`` in mm. Files
    within :data:`POSITION_TOLERANCE_MM` share a slice location; slice 0 is the most negative
    position along ``n`` (geometric, not anatomical: base or apex first depends on the
    orientation the scanner wrote). Frames are ordered by Trigger Time (0018,1060); Instance
    Number (0020,0013) is used instead when a file lacks Trigger Time or when trigger times
    are constant at every slice location (ungated/real-time exports), and
    ``meta.audit_flags["frame_order"]`` says so.

Multi-frame files (Enhanced MR, PS3.3 C.7.6.16 and C.8.13)
    :func:`suite.data.dicom_io.read_headers` splits each multi-frame file into one header per
    frame (geometry, Nominal Cardiac Trigger Delay Time, rescale from the functional groups,
    :mod:`suite.data.dicom_enhanced`), and everything here treats a frame as it treats a
    classic file: frames are grouped by slice position whatever file they come from, so one
    file per series, one file per slice location, or a mix all give the same grid. The
    fallback frame key of a frame is its Temporal Position Index (Frame Content functional
    group, or the temporal entry of Dimension Index Values) instead of Instance Number.
    Messages name frames as ``<file> frame <k>`` (k from 1) and name the file instead of the
    folder when every image involved comes from one file.

Spacing
    ``slice_spacing_mm`` is the median difference of the sorted slice positions (not Slice
    Thickness (0018,0050), which is kept as ``slice_thickness_mm``). Differences away from the
    median by more than 0.05 mm + 1 % set ``audit_flags["slice_spacing_irregular"]``;
    differences above 1.5 × median (a missing slice) set ``audit_flags["slice_gaps"]``.
    ``pixel_spacing_mm = (PixelSpacing[0], PixelSpacing[1]) = (dy, dx)``: row spacing first
    (PS3.3 C.7.6.2.1.1). ``temporal_resolution_ms`` is the median difference of sorted trigger
    times within slice locations.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from suite.case import Case, CaseMeta
from suite.data.dicom_io import DicomHeader, read_pixel_stack
from suite.data.dicom_mapping import frame_inversion_time, ti_source
from suite.data.dicom_meta import series_meta
from suite.data.errors import CaseReadError, CorruptFileError, LayoutError
from suite.data.hashing import sha256_bytes, sha256_file

__all__ = ["GROUP_BY", "DicomGroup", "DicomSeries", "group_headers", "assemble",
           "ORIENTATION_TOLERANCE", "POSITION_TOLERANCE_MM"]

GROUP_BY = ("series", "stack")
#: Largest difference of direction cosines for "same orientation" (about 0.06 degrees).
ORIENTATION_TOLERANCE = 1e-3
#: Files whose positions along the normal differ by less than this share a slice location.
POSITION_TOLERANCE_MM = 0.05
_TRIGGER_TOLERANCE_MS = 1e-3
_HINT_EXPORT = "export the complete cine series again, or pick one series with series_uid="


@dataclass(frozen=True)
class DicomGroup:
    """The headers of one prospective Case (a series or a stack), before any checks."""

    key: str
    label: str
    headers: tuple[DicomHeader, ...]

    @property
    def files(self) -> tuple[Path, ...]:
        """Distinct files, in header order (a multi-frame file once, however many frames)."""
        return _distinct(h.path for h in self.headers)

    @property
    def folder(self) -> Path:
        return common_folder(self.files)

    @property
    def series_uids(self) -> tuple[str, ...]:
        return tuple(sorted({h.series_uid or "" for h in self.headers}))


def _distinct(paths) -> tuple[Path, ...]:
    return tuple(dict.fromkeys(paths))


def _where(hs: Sequence[DicomHeader], folder: Path) -> Path:
    """The path an error names: the file when every image comes from one file, else the folder."""
    paths = {h.path for h in hs}
    return next(iter(paths)) if len(paths) == 1 else folder


def common_folder(paths: Sequence[Path]) -> Path:
    """The deepest folder holding every path (the folder named in error messages)."""
    parents = [os.path.dirname(os.path.abspath(p)) for p in paths]
    return Path(os.path.commonpath(parents)) if parents else Path(".")


def _missing(h: DicomHeader, keyword: str, tag: str, why: str) -> LayoutError:
    return LayoutError(h.path, f"{keyword} {tag} is missing; it is needed to {why}",
                       "export with the Image Plane Module (PS3.3 C.7.6.2) intact; "
                       "anonymisers must keep geometry tags")


# ====================================================================== grouping
def group_headers(headers: Sequence[DicomHeader], group_by: str = "series"
                  ) -> tuple[list[DicomGroup], list[CaseReadError]]:
    """Group headers into series or stacks (rules in the module docstring).

    Returns
    -------
    (groups, errors)
        Groups sorted by (study, series number, key); one :class:`LayoutError` per file that
        cannot be grouped (no Series Instance UID; in stack mode no Image Orientation).
    """
    errors: list[CaseReadError] = []
    buckets: dict[str, list[DicomHeader]] = defaultdict(list)
    labels: dict[str, str] = {}
    orients: dict[tuple[str, str], list[np.ndarray]] = defaultdict(list)
    file_key: dict[Path, str] = {}  # stack mode: all frames of a file share its first frame's key
    for h in headers:
        if h.series_uid is None:
            errors.append(_missing(h, "SeriesInstanceUID", "(0020,000E)", "group files"))
            continue
        if group_by == "series":
            key = h.series_uid
            labels[key] = f"{h.series_number if h.series_number is not None else '-'} {h.name}"
        elif h.frame_index is not None and h.path in file_key:
            key = file_key[h.path]
        else:
            if h.orientation is None:
                errors.append(_missing(h, "ImageOrientationPatient", "(0020,0037)",
                                       "group files into a stack"))
                continue
            base = (h.study_uid or "", h.protocol_name or h.series_description or "")
            seen = orients[base]
            o = np.asarray(h.orientation)
            idx = next((i for i, q in enumerate(seen)
                        if np.max(np.abs(q - o)) <= ORIENTATION_TOLERANCE), None)
            if idx is None:
                seen.append(o)
                idx = len(seen) - 1
            key = f"stack:{base[0]}:{base[1]}:{idx}"
            labels[key] = f"stack {base[1] or '(no name)'} #{idx}"
            if h.frame_index is not None:
                file_key[h.path] = key
        buckets[key].append(h)
    groups = [DicomGroup(k, labels[k], tuple(sorted(v, key=lambda h: str(h.path))))
              for k, v in buckets.items()]
    groups.sort(key=lambda g: (g.headers[0].study_uid or "",
                               min(h.series_number or 0 for h in g.headers), g.key))
    return groups, errors


# ====================================================================== assembly
@dataclass(frozen=True, eq=False)
class DicomSeries:
    """A checked cine stack: headers on a ``(slice, frame)`` grid; pixels read on demand.

    Attributes
    ----------
    folder : pathlib.Path
        Deepest folder holding the files (named in messages, ``meta.source_file``).
    headers : tuple of tuple of DicomHeader
        ``headers[slice][frame]`` in the order of the Case axes.
    positions_mm : ndarray, float64, (slice,)
        Slice positions along the normal, ascending, mm.
    normal : ndarray, float64, (3,)
        ``cross(row, column)`` direction cosines (unit vector, patient coordinates).
    trigger_times_ms : ndarray, float64, (slice, frame)
        NaN where Trigger Time is absent.
    meta : CaseMeta
        Everything but ``source_sha256`` (computed by :meth:`read`, which reads every byte).
    """

    folder: Path
    key: str
    headers: tuple[tuple[DicomHeader, ...], ...]
    positions_mm: np.ndarray
    normal: np.ndarray
    trigger_times_ms: np.ndarray
    meta: CaseMeta = field(repr=False)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """``(slice, frame, y, x)`` of the Case's ``reference``."""
        h = self.headers[0][0]
        return (len(self.headers), len(self.headers[0]), int(h.rows), int(h.columns))

    @property
    def files(self) -> tuple[Path, ...]:
        """Distinct files, in (slice, frame) order of their first image."""
        return _distinct(h.path for row in self.headers for h in row)

    def read_slice(self, index: int) -> np.ndarray:
        """Rescaled images of one slice location, float32 ``(frame, y, x)``.

        A multi-frame file is decoded once per call, whatever number of its frames
        the slice holds."""
        return read_pixel_stack(self.headers[index])

    def read(self) -> Case:
        """Read every file and return the Case (``reference`` float32 (slice, frame, y, x)).

        Each file is decoded once (a multi-frame file holding the whole stack too)."""
        ns, nf, ny, nx = self.shape
        every = [h for row in self.headers for h in row]
        ref = read_pixel_stack(every).reshape(ns, nf, ny, nx)
        per = {_rel(p, self.folder): sha256_file(p) for p in self.files}
        digest = sha256_bytes("".join(f"{k} {per[k]}\n" for k in sorted(per)).encode())
        meta = self.meta.replace(source_sha256=digest,
                                 extra={**self.meta.extra, "source_files_sha256": per})
        try:
            return Case(reference=ref, meta=meta)
        except ValueError as exc:
            raise LayoutError(self.folder, f"the assembled Case is invalid ({exc})",
                              _HINT_EXPORT) from None


def _rel(p: Path, root: Path) -> str:
    try:
        return Path(os.path.abspath(p)).relative_to(root).as_posix()
    except ValueError:
        return Path(p).name


def _check_common(hs: Sequence[DicomHeader], folder: Path) -> None:
    for h in hs:
        if h.modality != "MR":
            raise LayoutError(folder, f"{h.path.name} has Modality (0008,0060) "
                              f"{h.modality or '(missing)'}, not MR",
                              "only MR image series are read; remove other objects or pick "
                              "the MR series with series_uid=")
    for h in hs:
        if not h.has_pixels:
            raise CorruptFileError(h.path, "no Pixel Data (7FE0,0010): the file was cut "
                                   "before the pixel data or is not an image",
                                   "export the image again")
        if h.n_frames != 1 and h.frame_index is None:  # read_headers splits such files
            raise LayoutError(h.path, f"multi-frame image (NumberOfFrames = {h.n_frames}) "
                              "was not split into frames",
                              "read the files with suite.data.dicom.read_dicom_series")
        if h.samples_per_pixel != 1:
            raise LayoutError(h.path, f"SamplesPerPixel is {h.samples_per_pixel}: a colour "
                              "image, not MR magnitude", "export the grey-scale series")
        if h.position is None:
            raise _missing(h, "ImagePositionPatient", "(0020,0032)", "order slices")
        if h.orientation is None:
            raise _missing(h, "ImageOrientationPatient", "(0020,0037)", "order slices")
        if h.pixel_spacing is None:
            raise _missing(h, "PixelSpacing", "(0028,0030)", "give the in-plane spacing")
        if h.rows is None or h.columns is None:
            raise _missing(h, "Rows/Columns", "(0028,0010/0011)", "size the image")
    matrices = defaultdict(list)
    for h in hs:
        matrices[(h.rows, h.columns)].append(h.path.name)
    if len(matrices) > 1:
        desc = "; ".join(f"{r}x{c} in {len(v)} file(s), e.g. {v[0]}"
                         for (r, c), v in sorted(matrices.items()))
        raise LayoutError(folder, f"mismatched Rows x Columns within one stack: {desc}",
                          _HINT_EXPORT)
    o0 = np.asarray(hs[0].orientation)
    r, c = o0[:3], o0[3:]
    if abs(np.linalg.norm(r) - 1) > 1e-2 or abs(np.linalg.norm(c) - 1) > 1e-2 or \
            abs(float(r @ c)) > 1e-2:
        raise LayoutError(hs[0].path, f"ImageOrientationPatient {[float(v) for v in o0]} is "
                          "not two "
                          "orthogonal unit vectors"
                          + ("" if hs[0].frame_index is None else f" ({hs[0].label})"),
                          "fix the export")
    for h in hs[1:]:
        if np.max(np.abs(np.asarray(h.orientation) - o0)) > ORIENTATION_TOLERANCE:
            raise LayoutError(_where((hs[0], h), folder),
                              "different orientations within one stack: "
                              f"{hs[0].label} has ImageOrientationPatient "
                              f"{[float(v) for v in o0]}, {h.label} has "
                              f"{[float(v) for v in h.orientation]}",
                              "a cine stack shares one orientation; pick one series with "
                              "series_uid= or use group_by='stack' to split by orientation"
                              if h.path != hs[0].path else
                              "a multi-frame file is read as one cine stack and must hold one "
                              "orientation: export each view (orientation) as its own series")
    ps0 = np.asarray(hs[0].pixel_spacing)
    for h in hs[1:]:
        if np.max(np.abs(np.asarray(h.pixel_spacing) - ps0)) > 1e-4:
            raise LayoutError(_where((hs[0], h), folder),
                              f"different PixelSpacing within one stack: "
                              f"{hs[0].label} {[float(v) for v in ps0]}, {h.label} "
                              f"{list(h.pixel_spacing)}", _HINT_EXPORT)


def _locations(hs: Sequence[DicomHeader], normal: np.ndarray
               ) -> list[tuple[float, list[DicomHeader]]]:
    pos = sorted(((float(np.dot(h.position, normal)), h) for h in hs), key=lambda t: t[0])
    groups: list[list[tuple[float, DicomHeader]]] = []
    for s, h in pos:
        if groups and s - groups[-1][0][0] <= POSITION_TOLERANCE_MM:
            groups[-1].append((s, h))
        else:
            groups.append([(s, h)])
    return [(float(np.mean([s for s, _ in g])), [h for _, h in g]) for g in groups]


def _index(h: DicomHeader) -> int | None:
    """Fallback frame key: Instance Number of a file, Temporal Position Index of a frame."""
    return h.instance_number if h.frame_index is None else h.temporal_index


def _order_frames(locs, folder: Path) -> tuple[list[list[DicomHeader]], str]:
    every = [h for _, hs in locs for h in hs]
    have_tt = all(h.trigger_time is not None for h in every)
    constant = have_tt and all(
        len(hs) > 1 and np.ptp([h.trigger_time for h in hs]) <= _TRIGGER_TOLERANCE_MS
        for _, hs in locs)
    use = "trigger_time" if have_tt and not constant else "instance_number"
    ti_src = ti_source(every) if any(len(hs) > 1 for _, hs in locs) else None
    if ti_src is not None:  # weighted mapping images: frames by inversion time
        use = "inversion_time"
    if use == "instance_number":
        frames = [h.frame_index is not None for h in every]
        if all(frames):
            use = "temporal_position_index"
        elif any(frames):
            use = "instance_number/temporal_position_index"
        for h in every:
            if _index(h) is None and h.frame_index is None:
                raise LayoutError(h.path, "InstanceNumber (0020,0013) is missing and Trigger "
                                  "Time (0018,1060) cannot order the frames "
                                  f"({'constant' if have_tt else 'absent in some files'})",
                                  "export with Trigger Time or Instance Number")
            if _index(h) is None and any(len(hs) > 1 for _, hs in locs):
                raise LayoutError(h.path, f"{h.label}: neither NominalCardiacTriggerDelayTime "
                                  "(0020,9153) in a Cardiac Synchronization functional group "
                                  f"({'constant' if have_tt else 'absent in some frames'}) "
                                  "nor TemporalPositionIndex (0020,9128) or a temporal "
                                  "DimensionIndexValues (0020,9157) entry in Frame Content "
                                  "can order the frames",
                                  "export the Enhanced MR object with its Cardiac "
                                  "Synchronization or Frame Content functional groups "
                                  "(DICOM PS3.3 C.7.6.16.2.7, C.7.6.16.2.2)")

    def k(h: DicomHeader) -> float:  # None only for a frame alone at its slice location
        if use == "inversion_time":
            return frame_inversion_time(h, ti_src)
        v = h.trigger_time if use == "trigger_time" else _index(h)
        return 0.0 if v is None else float(v)

    ordered = []
    tol = _TRIGGER_TOLERANCE_MS if use == "trigger_time" else 0.5
    for s, hs in locs:
        row = sorted(hs, key=lambda h: (k(h), str(h.path)))
        for a, b in zip(row, row[1:]):
            if abs(k(b) - k(a)) < tol:
                what = {"trigger_time": "Trigger Time", "inversion_time": "inversion time"}.get(
                    use, "Instance Number" if a.frame_index is None else "Temporal Position Index")
                raise LayoutError(_where((a, b), folder), f"duplicate instance: {a.label} and "
                                  f"{b.label} share slice position {s:.2f} mm and {what} {k(a):g}",
                                  "remove the duplicate file (a repeated acquisition or a "
                                  "second copy); magnitude/phase or multi-echo images must be "
                                  "separate series")
        ordered.append(row)
    counts = defaultdict(list)
    for i, row in enumerate(ordered):
        counts[len(row)].append(i)
    if len(counts) > 1:
        common = max(counts, key=lambda n: len(counts[n]))
        odd = "; ".join(f"{n} at slice(s) {v} (position(s) "
                        f"{', '.join(f'{locs[i][0]:.2f}' for i in v)} mm"
                        + _files_note([h for i in v for h in ordered[i]]) + ")"
                        for n, v in sorted(counts.items()) if n != common)
        raise LayoutError(_where(every, folder), f"slice locations hold different numbers of "
                          f"frames: {common} at {len(counts[common])} location(s), {odd}",
                          "missing or extra frames; " + _HINT_EXPORT)
    return ordered, use


def _files_note(hs: Sequence[DicomHeader]) -> str:
    """``"; in multi-frame file(s) a.dcm, b.dcm"`` when any of ``hs`` is a frame, else ``""``."""
    names = list(dict.fromkeys(h.path.name for h in hs if h.frame_index is not None))
    if not names:
        return ""
    return "; in multi-frame file(s) " + ", ".join(names[:4]) + \
        (f" and {len(names) - 4} more" if len(names) > 4 else "")


def _spacing_flags(pos: np.ndarray) -> tuple[float | None, dict[str, Any]]:
    if pos.size < 2:
        return None, {}
    d = np.diff(pos)
    med = float(np.median(d))
    flags: dict[str, Any] = {}
    if np.any(np.abs(d - med) > 0.05 + 0.01 * med):
        flags["slice_spacing_irregular"] = {"spacings_mm": [round(float(v), 4) for v in d],
                                            "median_mm": med}
    gaps = [{"between_slices": [i, i + 1], "spacing_mm": float(v)}
            for i, v in enumerate(d) if v > 1.5 * med]
    if gaps:
        flags["slice_gaps"] = gaps
    return med, flags


def assemble(group: DicomGroup, *, dataset: str = "dicom") -> DicomSeries:
    """Check a group and put its headers on the ``(slice, frame)`` grid (no pixels read).

    Raises
    ------
    LayoutError
        Naming the folder (or the file) and the problem: non-MR modality, missing
        ImagePositionPatient/ImageOrientationPatient/PixelSpacing (tag and file named),
        mismatched Rows x Columns, different orientations or pixel spacings, duplicate
        instances (same position and trigger time), different numbers of frames per slice
        location (a multi-frame file named when one file holds them all), colour images,
        multi-frame files whose frames cannot be ordered.
    CorruptFileError
        A file without Pixel Data.
    """
    hs = group.headers
    folder = group.folder
    _check_common(hs, folder)
    o = np.asarray(hs[0].orientation, float)
    normal = np.cross(o[:3], o[3:])
    normal /= np.linalg.norm(normal)
    locs = _locations(hs, normal)
    grid, order = _order_frames(locs, folder)
    pos = np.array([s for s, _ in locs])
    spacing, flags = _spacing_flags(pos)
    tt = np.array([[np.nan if h.trigger_time is None else h.trigger_time for h in row]
                   for row in grid], float)
    if order == "trigger_time" and tt.shape[1] > 1:
        dt = float(np.median(np.diff(tt, axis=1)))
    else:
        dt = None
        if order not in ("trigger_time", "inversion_time") and tt.shape[1] > 1:
            flags["frame_order"] = f"{order} (Trigger Time absent or constant)" \
                if order == "instance_number" else \
                f"{order} (Trigger Time / NominalCardiacTriggerDelayTime absent or constant)"
    meta = series_meta(grid, stack=group.key.startswith("stack:"), key=group.key,
                       series_uids=group.series_uids, folder=folder, positions=pos,
                       normal=normal, spacing=spacing, dt=dt, trigger_times=tt, flags=flags,
                       order=order, dataset=dataset)
    return DicomSeries(folder=folder, key=group.key, headers=tuple(tuple(r) for r in grid),
                       positions_mm=pos, normal=normal, trigger_times_ms=tt, meta=meta)

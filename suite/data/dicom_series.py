"""DICOM series: group file headers into cine stacks, order them, check them, read them.

Grouping (``group_by``)
    ``"series"``: one group per Series Instance UID (0020,000E).
    ``"stack"``: one group per (Study Instance UID (0020,000D), name, orientation), where name
    is Protocol Name (0018,1030), else Series Description (0008,103E), and files whose Image
    Orientation (Patient) (0020,0037) agree within :data:`ORIENTATION_TOLERANCE` share an
    orientation. This joins a short-axis stack exported as one series per slice location
    (common on Siemens) and keeps long-axis views (other orientations) apart.

Ordering (PS3.3 C.7.6.2 Image Plane Module)
    Slice normal ``n = r × c`` with ``r`` = IOP[0:3] (row direction, along which the column
    index grows) and ``c`` = IOP[3:6]; the position of a file is ``dot(IPP, n)`` in mm. Files
    within :data:`POSITION_TOLERANCE_MM` share a slice location; slice 0 is the most negative
    position along ``n`` (geometric, not anatomical: base or apex first depends on the
    orientation the scanner wrote). Frames are ordered by Trigger Time (0018,1060); Instance
    Number (0020,0013) is used instead when a file lacks Trigger Time or when trigger times
    are constant at every slice location (ungated/real-time exports), and
    ``meta.audit_flags["frame_order"]`` says so.

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

import dataclasses
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from suite.case import Case, CaseMeta
from suite.data.dicom_io import DicomHeader, read_pixels
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
        return tuple(h.path for h in self.headers)

    @property
    def folder(self) -> Path:
        return common_folder(self.files)

    @property
    def series_uids(self) -> tuple[str, ...]:
        return tuple(sorted({h.series_uid or "" for h in self.headers}))


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
    for h in headers:
        if h.series_uid is None:
            errors.append(_missing(h, "SeriesInstanceUID", "(0020,000E)", "group files"))
            continue
        if group_by == "series":
            key = h.series_uid
            labels[key] = f"{h.series_number if h.series_number is not None else '-'} {h.name}"
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
        return tuple(h.path for row in self.headers for h in row)

    def read_slice(self, index: int) -> np.ndarray:
        """Rescaled images of one slice location, float32 ``(frame, y, x)``."""
        return np.stack([read_pixels(h) for h in self.headers[index]])

    def read(self) -> Case:
        """Read every file and return the Case (``reference`` float32 (slice, frame, y, x))."""
        ref = np.stack([self.read_slice(i) for i in range(len(self.headers))])
        per = {_rel(p, self.folder): sha256_file(p) for p in self.files}
        digest = sha256_bytes("".join(f"{k} {per[k]}\n" for k in sorted(per)).encode())
        meta = dataclasses.replace(self.meta, source_sha256=digest,
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
        if h.n_frames != 1:
            raise LayoutError(h.path, f"multi-frame image (NumberOfFrames = {h.n_frames}); "
                              "enhanced/multi-frame MR is not supported",
                              "export classic single-frame MR Image Storage files")
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
        raise LayoutError(hs[0].path, f"ImageOrientationPatient {list(o0)} is not two "
                          "orthogonal unit vectors", "fix the export")
    for h in hs[1:]:
        if np.max(np.abs(np.asarray(h.orientation) - o0)) > ORIENTATION_TOLERANCE:
            raise LayoutError(folder, "different orientations within one stack: "
                              f"{hs[0].path.name} has ImageOrientationPatient {list(o0)}, "
                              f"{h.path.name} has {list(h.orientation)}",
                              "a cine stack shares one orientation; pick one series with "
                              "series_uid= or use group_by='stack' to split by orientation")
    ps0 = np.asarray(hs[0].pixel_spacing)
    for h in hs[1:]:
        if np.max(np.abs(np.asarray(h.pixel_spacing) - ps0)) > 1e-4:
            raise LayoutError(folder, f"different PixelSpacing within one stack: "
                              f"{hs[0].path.name} {list(ps0)}, {h.path.name} "
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


def _order_frames(locs, folder: Path) -> tuple[list[list[DicomHeader]], str]:
    every = [h for _, hs in locs for h in hs]
    have_tt = all(h.trigger_time is not None for h in every)
    constant = have_tt and all(
        len(hs) > 1 and np.ptp([h.trigger_time for h in hs]) <= _TRIGGER_TOLERANCE_MS
        for _, hs in locs)
    use = "trigger_time" if have_tt and not constant else "instance_number"
    if use == "instance_number":
        for h in every:
            if h.instance_number is None:
                raise LayoutError(h.path, "InstanceNumber (0020,0013) is missing and Trigger "
                                  "Time (0018,1060) cannot order the frames "
                                  f"({'constant' if have_tt else 'absent in some files'})",
                                  "export with Trigger Time or Instance Number")

    def k(h: DicomHeader) -> float:
        return float(h.trigger_time if use == "trigger_time" else h.instance_number)

    ordered = []
    tol = _TRIGGER_TOLERANCE_MS if use == "trigger_time" else 0.5
    for s, hs in locs:
        row = sorted(hs, key=lambda h: (k(h), str(h.path)))
        for a, b in zip(row, row[1:]):
            if abs(k(b) - k(a)) < tol:
                what = "Trigger Time" if use == "trigger_time" else "Instance Number"
                raise LayoutError(folder, f"duplicate instance: {a.path.name} and {b.path.name}"
                                  f" share slice position {s:.2f} mm and {what} {k(a):g}",
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
                        f"{', '.join(f'{locs[i][0]:.2f}' for i in v)} mm)"
                        for n, v in sorted(counts.items()) if n != common)
        raise LayoutError(folder, f"slice locations hold different numbers of frames: "
                          f"{common} at {len(counts[common])} location(s), {odd}",
                          "missing or extra frames; " + _HINT_EXPORT)
    return ordered, use


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
        location, multi-frame or colour images.
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
        if order != "trigger_time" and tt.shape[1] > 1:
            flags["frame_order"] = "instance_number (Trigger Time absent or constant)"
    meta = series_meta(grid, stack=group.key.startswith("stack:"), key=group.key,
                       series_uids=group.series_uids, folder=folder, positions=pos,
                       normal=normal, spacing=spacing, dt=dt, trigger_times=tt, flags=flags,
                       order=order, dataset=dataset)
    return DicomSeries(folder=folder, key=group.key, headers=tuple(tuple(r) for r in grid),
                       positions_mm=pos, normal=normal, trigger_times_ms=tt, meta=meta)

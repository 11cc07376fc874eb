"""One entry point: ``load(path)`` yields Cases from a file or folder, format by content.

Sniffing (the extension is only a hint; STYLE R11, nibabel ``loadsave.py``):

==========================  =========================================================  ===========
what                        test                                                       reader
==========================  =========================================================  ===========
ISMRMRD raw data            HDF5 signature ``\\x89HDF\\r\\n\\x1a\\n`` (then the reader     ``ismrmrd``
                            requires ``/dataset/xml`` and ``/dataset/data``)
NIfTI image                 NIfTI-1/2 magic, plain or gzip                             ``nifti``
phantom cohort folder       ``truth.csv`` with the phantom truth columns + one            ``phantom``
                            ``<subject>/cine_sax.h5`` and ``labels.nii.gz`` per row
mapping phantom cohort      ``mapping_cohort.csv`` with the cohort columns; one unit   ``phantom-mapping``
                            per series ``<subject>/<series>.h5`` (tags: sequence,
                            contrast, pathology, timing key)
ACDC patient folder(s)      ``patientXXX/Info.cfg`` + ``*_frameNN[_gt].nii.gz``         ``acdc``
M&Ms case folder(s)         ``<code>/<code>_sa.nii.gz`` (+ metadata CSV anywhere below)  ``mnms``
DICOM file                  ``DICM`` at byte 128 (or a preamble-less data set that         ``dicom``
                            parses; :func:`suite.data.dicom_io.is_dicom`)
fastMRI volume              HDF5 signature + top-level ``kspace``, no ``/dataset``        ``fastmri``
                            (:func:`suite.data.fastmri.is_fastmri_file`)
CMRxRecon k-space           MATLAB v7.3/v5 header (``MATLAB`` at byte 0); the reader     ``cmrxrecon``
                            needs a k-space variable (``kspace_full``, ``kspace_subNN``,
                            ``kus``...; :mod:`suite.data.cmrxrecon`); mask files
                            ``*_mask*.mat`` are read with their k-space, never alone
any other folder            every ISMRMRD/NIfTI file in it, recursively, sorted, and     per file
                            its DICOM files (any name) grouped: one unit per series      / series
                            (``group_by="stack"``: per stack; :mod:`suite.data.dicom`)
==========================  =========================================================  ===========

Every unit (file or case folder) is read when the iteration reaches it, so a folder yields
Cases one at a time and never holds two in memory. A bad unit raises exactly one
:class:`~suite.data.errors.CaseReadError` subclass naming the file, the problem and the fix;
:func:`iter_cases` with ``on_error="record"`` keeps going and records the failures. Any other
exception a reader lets escape (a cmrsuite bug) is wrapped as
:class:`~suite.data.errors.UnexpectedReadError` naming the unit, so ``on_error="record"`` holds
for every reader. ``limits=InputLimits(...)`` (:mod:`suite.data.limits`) is passed to every
reader; hostile files (links out of HDF5 files, decompression bombs, absurd headers) are
refused as docs/input-safety.md describes.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from suite.case import Case
from suite.data.acdc import find_acdc_patients, read_acdc_patient
from suite.data.cmrxrecon import is_companion_file, read_cmrxrecon
from suite.data.dicom import DICOM_SUFFIXES, find_dicom_series, is_dicom, read_dicom_series
from suite.data.errors import (CaseReadError, CorruptFileError, LayoutError,
                               UnexpectedReadError, UnknownFormatError)
from suite.data.fastmri import is_fastmri_file, read_fastmri
from suite.data.ismrmrd_reader import HDF5_MAGIC, read_ismrmrd
from suite.data.mnms import find_mnms_cases, find_mnms_csv, read_mnms_case, read_mnms_csv
from suite.data.nifti_io import is_nifti, read_nifti, volume_meta
from suite.data.mapping_cohort import (find_mapping_series, is_mapping_cohort,
                                       read_mapping_series)
from suite.data.phantom_cohort import (find_phantom_subjects, is_phantom_cohort,
                                       read_phantom_subject)

__all__ = ["load", "iter_cases", "sniff", "discover", "ReadFailure", "CaseIterator", "Unit",
           "FORMATS", "KSPACE_FORMATS"]

#: Formats ``load`` recognises, in the order they are tried.
FORMATS = ("ismrmrd", "nifti", "phantom", "phantom-mapping", "acdc", "mnms", "dicom", "fastmri",
           "cmrxrecon")
#: Formats whose Cases carry k-space (the others carry images).
KSPACE_FORMATS = ("ismrmrd", "phantom", "phantom-mapping", "fastmri", "cmrxrecon")


@dataclass(frozen=True)
class Unit:
    """One thing that becomes one Case: a file or a case folder, with its format."""

    path: Path
    format: str
    # DICOM only: a folder holds several series, so a unit is the set of files of one series
    # (or stack) and its group key; ``path`` is their folder (or the one file that failed).
    files: tuple[Path, ...] = ()
    key: str | None = None
    # what discovery knows about the unit without reading image data, as (name, value) pairs
    # (e.g. a mapping series' sequence and timing key); stages may choose methods by them
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ReadFailure:
    """A unit that could not be read (``on_error="record"``)."""

    path: Path
    error: str
    reason: str
    hint: str

    def to_dict(self) -> dict[str, str]:
        return {"path": str(self.path), "error": self.error, "reason": self.reason,
                "hint": self.hint}


# ====================================================================== sniffing
def sniff(path: str | os.PathLike) -> str:
    """The format of a file or folder: one of :data:`FORMATS` or ``"folder"``.

    Raises
    ------
    CorruptFileError
        Missing or empty file.
    UnknownFormatError
        No reader recognises the content (the message lists the formats tried).
    """
    p = Path(path)
    if not p.exists():
        raise CorruptFileError(p, "does not exist", "check the path")
    if p.is_dir():
        if is_phantom_cohort(p):
            return "phantom"
        if is_mapping_cohort(p):
            return "phantom-mapping"
        if find_acdc_patients(p):
            return "acdc"
        if find_mnms_cases(p):
            return "mnms"
        return "folder"
    if p.stat().st_size == 0:
        raise CorruptFileError(p, "file is empty (0 bytes)",
                               "the download or export did not finish; fetch it again")
    with open(p, "rb") as fh:
        head = fh.read(8)
    if head == HDF5_MAGIC:  # fastMRI volumes are HDF5 too: top-level `kspace`, no /dataset
        return "fastmri" if is_fastmri_file(p) else "ismrmrd"
    if head.startswith(b"MATLAB"):  # MAT-file: the CMRxRecon reader names what is wrong
        return "cmrxrecon"
    if is_nifti(p):
        return "nifti"
    if is_dicom(p):  # DICOM (suite.data.dicom): by content, any file name
        return "dicom"
    what = "a gzip stream without a NIfTI header" if head[:2] == b"\x1f\x8b" else \
        f"content starting {head!r}"
    ext = "".join(p.suffixes[-2:]) or "(none)"
    raise UnknownFormatError(
        p, f"no reader recognises this file ({what}; extension {ext}); formats tried: "
        "ISMRMRD (HDF5 signature), NIfTI-1/2 (magic 'n+1'/'ni1'/'n+2', plain or gzip), "
        "DICOM ('DICM' at byte 128 or a parseable preamble-less data set), "
        "CMRxRecon (MATLAB .mat holding kspace_full/kspace_subNN/kspace/kus)",
        "pass an ISMRMRD .h5, a .nii/.nii.gz, a DICOM file, or an ACDC/M&Ms/DICOM folder")


def discover(path: str | os.PathLike, *, group_by: str = "series") -> list[Unit]:
    """The units a path holds, sorted, without reading any image data.

    ``group_by`` ("series" or "stack") groups the DICOM files of a folder (headers are read).
    """
    p = Path(path)
    kind = sniff(p)
    if kind == "phantom":
        return [Unit(d, "phantom") for d in find_phantom_subjects(p)]
    if kind == "phantom-mapping":
        return [Unit(f, kind, tags=tuple(sorted(t.items()))) for f, t in find_mapping_series(p)]
    if kind == "acdc":
        return [Unit(d, "acdc") for d in find_acdc_patients(p)]
    if kind == "mnms":
        return [Unit(d, "mnms") for d in find_mnms_cases(p)]
    if kind != "folder":
        return [Unit(p, kind)]
    units, dicom_files = [], []
    for f in sorted(q for q in p.rglob("*") if q.is_file()):
        name = f.name.lower()
        if name.endswith((".h5", ".hdf5", ".mrd", ".nii", ".nii.gz")):
            units.append(Unit(f, _unit_format(f)))
        elif name.endswith(".mat"):  # CMRxRecon k-space; its mask files are read with it
            if not is_companion_file(f):
                units.append(Unit(f, _unit_format(f)))
        elif name.endswith(DICOM_SUFFIXES) or is_dicom(f):  # DICOM: grouped below
            dicom_files.append(f)
    if dicom_files:  # one unit per series/stack, one per file that fails (suite.data.dicom)
        units += [Unit(u.path, "dicom", u.files, u.key)
                  for u in find_dicom_series(dicom_files, group_by=group_by)]
    return units


def _unit_format(f: Path) -> str:
    try:
        return sniff(f)
    except CaseReadError:
        return "unknown"  # reported when the unit is read


# ====================================================================== reading
def read_unit(unit: Unit, **options: Any) -> Case:
    """Read one unit into a Case; every failure is a :class:`CaseReadError` subclass.

    An exception outside that family (a reader bug) becomes :class:`UnexpectedReadError`;
    ``KeyboardInterrupt`` and ``SystemExit`` pass through.
    """
    readers: dict[str, Callable[..., Case]] = {
        "ismrmrd": _read_ismrmrd, "nifti": _read_nifti_file, "acdc": _read_acdc,
        "mnms": _read_mnms, "dicom": read_dicom_series,
        "fastmri": _read_fastmri, "cmrxrecon": _read_cmrxrecon,
        "phantom": _read_phantom, "phantom-mapping": _read_mapping_series,
    }
    if unit.format not in readers:
        sniff(unit.path)  # raises the precise error
        raise UnknownFormatError(unit.path, "no reader for this file", "")
    try:
        if unit.format == "dicom":  # DICOM: the unit's files (one series), or the file itself
            return read_dicom_series(unit.files or unit.path,
                                     **_pick(options, "dataset", "group_by"))
        return readers[unit.format](unit.path, **options)
    except CaseReadError:
        raise
    except (OSError, EOFError, gzip.BadGzipFile) as exc:  # last-resort wrapping (R7)
        raise CorruptFileError(unit.path, f"cannot be read ({type(exc).__name__}: {exc})",
                               "the file is truncated or damaged; fetch it again") from None
    except Exception as exc:  # noqa: BLE001 - a reader bug must not stop a batch
        raise UnexpectedReadError(unit.path, f"the {unit.format} reader failed unexpectedly "
                                  f"({type(exc).__name__}: {exc})",
                                  "this is a cmrsuite bug: please report it with the file") \
            from exc


def _pick(options: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in options.items() if k in names}


def _read_ismrmrd(p: Path, **options: Any) -> Case:
    return read_ismrmrd(p, **_pick(options, "prewhiten", "repetitions", "set_index", "dataset",
                                   "remove_oversampling", "limits"))


def _read_phantom(p: Path, **options: Any) -> Case:
    return read_phantom_subject(p, **_pick(options, "dataset", "limits"))


def _read_mapping_series(p: Path, **options: Any) -> Case:
    return read_mapping_series(p, **_pick(options, "dataset", "limits"))


def _read_acdc(p: Path, **options: Any) -> Case:
    return read_acdc_patient(p, **_pick(options, "dataset", "limits"))


def _read_fastmri(p: Path, **options: Any) -> Case:
    return read_fastmri(p, **_pick(options, "dataset", "limits"))


def _read_cmrxrecon(p: Path, **options: Any) -> Case:
    return read_cmrxrecon(p, **_pick(options, "dataset", "year", "variable", "limits"))


def _read_mnms(p: Path, *, metadata=None, **options: Any) -> Case:
    return read_mnms_case(p, metadata=metadata, **_pick(options, "dataset", "limits"))


def _read_nifti_file(p: Path, **options: Any) -> Case:
    """A single NIfTI: ``*_gt`` files are labels (ACDC convention), others images."""
    from suite.case import CaseMeta
    from suite.data.hashing import sha256_file

    stem = p.name.split(".nii")[0]
    is_labels = stem.endswith("_gt") or options.get("kind") == "labels"
    vol = read_nifti(p, kind="labels" if is_labels else "image",
                     allowed_labels=(0, 1, 2, 3) if is_labels else None,
                     limits=options.get("limits"))
    meta = CaseMeta(subject=stem, dataset=options.get("dataset") or "nifti",
                    source_sha256=sha256_file(p), **volume_meta(vol))
    try:
        if is_labels:
            return Case(labels=vol.data, meta=meta)
        return Case(reference=vol.data, meta=meta)
    except ValueError as exc:  # Case validation
        raise LayoutError(p, f"the assembled Case is invalid ({exc})",
                          "check the file's header and values") from None


class CaseIterator:
    """Iterate the Cases of a path; with ``on_error="record"`` failures go to ``failures``.

    Attributes
    ----------
    units : list of Unit
        What will be read, discovered at construction (no image data read).
    failures : list of ReadFailure
        Filled during iteration when ``on_error="record"``.
    """

    def __init__(self, path: str | os.PathLike, *, on_error: str = "raise", **options: Any):
        if on_error not in ("raise", "record"):
            raise ValueError(f"iter_cases: on_error must be 'raise' or 'record'; got {on_error!r}")
        self.path = Path(path)
        self.on_error = on_error
        self.options = options
        self.failures: list[ReadFailure] = []
        self.units = discover(self.path, group_by=options.get("group_by", "series"))
        self._metadata = None
        if any(u.format == "mnms" for u in self.units):
            meta: dict = {}
            for csv_path in find_mnms_csv(self.path):
                try:
                    meta = {**read_mnms_csv(csv_path), **meta}
                except CaseReadError as exc:
                    self._fail(exc)
            self._metadata = meta

    def _fail(self, exc: CaseReadError) -> None:
        if self.on_error == "raise":
            raise exc
        self.failures.append(ReadFailure(exc.path, type(exc).__name__, exc.reason, exc.hint))

    def __iter__(self) -> Iterator[Case]:
        for unit in self.units:
            try:
                opts = dict(self.options)
                if unit.format == "mnms":
                    opts["metadata"] = self._metadata
                case = read_unit(unit, **opts)
            except CaseReadError as exc:
                self._fail(exc)
                continue
            yield case

    def __len__(self) -> int:
        return len(self.units)


def iter_cases(path: str | os.PathLike, *, on_error: str = "raise",
               **options: Any) -> CaseIterator:
    """Cases of a file or folder, one at a time, with failures raised or recorded.

    Parameters
    ----------
    path : str or path-like
        File or folder (see the module docstring for what is recognised).
    on_error : {"raise", "record"}, default "raise"
        ``"record"``: a unit that fails is skipped and appended to ``.failures`` as a
        :class:`ReadFailure` (path, error class, reason, hint); the good units still yield.
    **options
        Passed to the reader of each unit: ``prewhiten``, ``repetitions``, ``set_index``,
        ``remove_oversampling`` (ISMRMRD), ``dataset`` (all), ``kind`` (single NIfTI),
        ``group_by`` (DICOM: ``"series"`` or ``"stack"``), ``limits``
        (:class:`suite.data.limits.InputLimits`, all readers).

    Returns
    -------
    CaseIterator

    Examples
    --------
    >>> it = iter_cases(folder, on_error="record")          # doctest: +SKIP
    >>> cases = list(it); [f.reason for f in it.failures]   # doctest: +SKIP
    """
    return CaseIterator(path, on_error=on_error, **options)


def load(path: str | os.PathLike, **options: Any) -> Iterator[Case]:
    """Yield the Cases of a file or folder; the first bad unit raises its CaseReadError.

    Discovery (and so a missing, empty or unrecognised top-level path) fails at the call;
    each unit's errors are raised when iteration reaches it. See :func:`iter_cases`.
    """
    return iter(iter_cases(path, on_error="raise", **options))

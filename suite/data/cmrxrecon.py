"""CMRxRecon 2023/2024/2025 k-space (MATLAB v7.3) → Case.

The submission writer is :mod:`suite.data.cmrxrecon_submission`; the challenges' ranking
selection (crop, slices, frames) is :mod:`suite.metrics.cmrxrecon_profile`.

Files and variables
-------------------
Sources: CmrxRecon/CMRxRecon @ 2cb293a ``ChallengeDataFormat/Format_cine.txt`` and
``Format_mapping.txt``; CmrxRecon/CMRxRecon2024 @ a850753 ``ChallengeDataFormat/Format_Task1.txt``
and ``Format_Task2.txt``; CmrxRecon/CMRxRecon2025 @ d3d0b28 ``README.md`` and
``Format_TaskR1.txt``.

* **2023**: ``{MultiCoil|SingleCoil}/{Cine|Mapping}/{TrainingSet|ValidationSet}/``
  ``{AccFactor04|08|10|FullSample}/Pxxx/{cine_sax,cine_lax,T1map,T2map}.mat``; variables
  ``kspace_full`` or ``kspace_sub04/08/10`` (single-coil ``kspace_single_*``); mask file
  ``<name>_mask.mat`` beside it with ``mask04/08/10``, 2-D ``(kx, ky)``, 24 ACS lines.
* **2024**: ``FullSample/Pxxx/<name>.mat`` (``kspace_full``) and
  ``UnderSample_TaskN/Pxxx/<name>_kus_<Pattern><R>.mat`` (``kus``); mask
  ``Mask_TaskN/Pxxx/<name>_mask_<Pattern><R>.mat`` with ``mask`` ``(nx, ny)`` (Task 1) or
  ``(nx, ny, nt)`` (Task 2); 16 ACS lines (16 × 16 for ktRadial).
* **2025**: ``.../UnderSample_<Task>/<Centre>/<Vendor>/Pxxx/<name>_kus_<Pattern><R>.mat``
  (``kus``), fully sampled ``kspace`` (or ``kspace_full``); masks as 2024 under
  ``Mask_<Task>``; 20 ACS lines (20 × 20 for ktRadial).

Axis mapping (MATLAB order → Case ``(slice, frame, coil, ky, kx)``)
-------------------------------------------------------------------
* multi-coil ``(kx, ky, kc, kz, t)`` → ``transpose(3, 4, 2, 1, 0)``: slice = kz, frame = t (or
  the weighted images ``w`` of T1/T2 mapping), coil = kc. MATLAB drops trailing singleton axes,
  so a 4-D multi-coil variable is ``(kx, ky, kc, kz)`` with one frame (2024/2025 BlackBlood) and
  a 3-D one a single slice and frame.
* single-coil (2023, ``kspace_single_*``) ``(kx, ky, kz, t)`` → coil axis of size 1.
* masks ``(kx, ky)`` → ``(1, 1, 1, ky, kx)``; ``(kx, ky, t)`` → ``(1, t, 1, ky, kx)``; an axis
  along which the mask is constant (kx for line patterns, t for 2-D masks) is then reduced to 1.
  CMRxRecon undersamples **ky** (the second MATLAB axis, "subsampling ... along ky"); kx is the
  readout, which is also the axis ``run4Ranking`` crops to ``round(sx/3)``.

Under h5py a v7.3 variable appears with reversed axes ``(t, kz, kc, ky, kx)``; the reversal is
handled once, in :mod:`suite.data.matv73`.

Year detection (``year=None``), first rule that applies
-------------------------------------------------------
1. ``dataset="cmrxrecon2024"`` (or ``year=``) given by the caller;
2. a path component ``CMRxRecon2023``/``2024``/``2025`` (any case, ``_``/``-`` allowed);
3. variables: ``kspace_sub04/08/10`` or ``kspace_single_*`` → 2023; ``kspace`` → 2025;
4. folders: ``AccFactorNN`` or ``SingleCoil`` → 2023; ``UnderSample_Task{R,S}n`` /
   ``Mask_Task{R,S}n`` (or a ``Task{R,S}n`` component) → 2025; ``UnderSample_Task1/2``,
   ``Mask_Task1/2`` → 2024;
5. a ``FullSample`` folder whose siblings say it: ``AccFactorNN`` → 2023;
   ``Mask_Task1/2``, ``UnderSample_Task1/2`` or ``ImgSnapshot`` → 2024; ``*_Task{R,S}n`` → 2025.

Otherwise :class:`~suite.data.errors.LayoutError` asks for ``year=`` (a lone ``cine_sax.mat``
with ``kspace_full`` is the same file in 2023 and 2024; the scoring profile differs, so the
reader does not guess).

Meta: subject ``Pxxx``; series from the file name (``cine_sax``, ``cine_lax``, ``cine_lvot``,
``T1map``, ``aorta_sag``...); ``meta.dataset = "cmrxrecon<year>"``; field strength 3 T and vendor
Siemens for 2023 and 2024 (single-site 3T Vida, challenge websites; also stated in the dataset
cards); 2025 centre and vendor from the folder names, field strength unknown (1.5 T and 3 T
mixed). Mapping: ``T1map.csv``/``T2map.csv`` next to the ``.mat`` (header row, then one row per
weighted image, optionally starting with a label cell such as ``TI1``, and one column per slice,
ms; the challenge files carry the label column, read as ``data[1:, 1:]`` by CmrxRecon/CMRxRecon
``Mapping/CalEvalMap.py``) give ``meta.timings_ms = {"TI": [[ti of each frame] for each
slice]}``, one value per frame of every slice (``"TE"`` for T2map: the T2-preparation times).
A single value column is shared by all slices (the challenge's T2 fit reads only the first
column). Trailing zero TIs (padding of a slice with fewer images) are listed in
``meta.extra["ti_padded_frames"]`` (``{slice: [frames]}``, :func:`padded_frames`).
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from suite.case import Case, CaseMeta
from suite.data.errors import CaseReadError, CorruptFileError, LayoutError
from suite.data.hashing import sha256_file
from suite.data.limits import InputLimits, check_declared
from suite.data.matv73 import MatFile, MatVariable, open_mat

__all__ = [
    "read_cmrxrecon", "open_cmrxrecon", "CmrxReconSource", "is_cmrxrecon_file",
    "is_companion_file", "detect_year", "YEARS", "ACS_LINES", "padded_frames",
]

#: CMRxRecon editions the reader and the submission writer handle.
YEARS = (2023, 2024, 2025)
#: Fully sampled central ky lines (ktRadial: a square of this side), per year.
ACS_LINES = {2023: 24, 2024: 16, 2025: 20}
#: Suite sampling vocabulary (suite.mr.sampling) for the challenge pattern names.
PATTERN_NAMES = {"Uniform": "equispaced", "ktUniform": "kt-interleaved",
                 "ktGaussian": "kt-gaussian", "ktRadial": "kt-radial"}

_KSPACE_VAR = re.compile(r"^(kspace(_single)?(_full|_sub\d+)?|kus)$")
_SUB_VAR = re.compile(r"^kspace(_single)?_sub(\d+)$")
_KUS_NAME = re.compile(r"^(?P<series>.+?)_kus_(?P<pattern>[A-Za-z]+?)(?P<r>\d+)$")
_YEAR_PART = re.compile(r"^cmrxrecon[_-]?(2023|2024|2025)(?![0-9])", re.I)
_TASK_2025 = re.compile(r"^((UnderSample|Mask)_)?Task[RS]\d+$", re.I)
_TASK_2024 = re.compile(r"^(UnderSample|Mask)_Task[12]$", re.I)
_SUBJECT = re.compile(r"^P\d+$")


# ====================================================================== sniffing
def is_companion_file(path: str | os.PathLike) -> bool:
    """True for CMRxRecon mask files (``*_mask.mat``, ``*_mask_<Pattern><R>.mat``).

    They belong to a k-space file and are read with it, so folder walking skips them.
    """
    stem = Path(path).name
    return stem.endswith(".mat") and ("_mask." in stem or "_mask_" in stem)


def is_cmrxrecon_file(path: str | os.PathLike) -> bool:
    """True if ``path`` is a MATLAB v7.3/v5 file holding a CMRxRecon k-space variable.

    Cheap: reads the 128-byte header and the list of variables, never array data; any
    failure (not MATLAB, damaged) gives False so that the caller reports its own error.
    """
    try:
        return any(_KSPACE_VAR.match(n) for n in _variable_names(Path(path)))
    except (CaseReadError, OSError, ValueError):
        return False


def _variable_names(p: Path) -> list[str]:
    return list(open_mat(p).variables)


# ====================================================================== year and names
def detect_year(path: str | os.PathLike, variables: Iterable[str] = ()) -> tuple[int, str]:
    """The CMRxRecon edition of a file and the rule that decided it (module docstring).

    Raises
    ------
    LayoutError
        No rule applies (the hint says to pass ``year=``).
    """
    p = Path(path)
    parts = p.resolve().parts[:-1] if p.exists() else p.parts[:-1]
    for part in parts:
        m = _YEAR_PART.match(part)
        if m:
            return int(m.group(1)), f"path component {part!r}"
    names = set(variables)
    if any(_SUB_VAR.match(n) or n.startswith("kspace_single") for n in names):
        return 2023, "variable kspace_subNN/kspace_single_* (2023 naming)"
    if "kspace" in names:
        return 2025, "variable `kspace` (2025 naming)"
    for part in parts:
        if re.match(r"^AccFactor\d+$", part) or part == "SingleCoil":
            return 2023, f"folder {part!r} (2023 layout)"
        if _TASK_2025.match(part):
            return 2025, f"folder {part!r} (2025 task naming)"
        if _TASK_2024.match(part):
            return 2024, f"folder {part!r} (2024 task naming)"
    if "FullSample" in parts:
        i = len(parts) - 1 - parts[::-1].index("FullSample")
        siblings = _listdir(Path(*parts[:i])) if i > 0 else []
        for s in siblings:
            if re.match(r"^AccFactor\d+$", s):
                return 2023, f"FullSample beside {s!r} (2023 layout)"
            if _TASK_2025.match(s):
                return 2025, f"FullSample beside {s!r} (2025 layout)"
            if _TASK_2024.match(s) or s == "ImgSnapshot":
                return 2024, f"FullSample beside {s!r} (2024 layout)"
    raise LayoutError(
        p, "cannot tell which CMRxRecon edition (2023, 2024 or 2025) this file belongs to: "
        "neither its variables nor its folders say it",
        "pass year=2023/2024/2025 (or dataset='cmrxrecon2024'), or keep the challenge "
        "folder layout (AccFactorNN, UnderSample_TaskN, ...)")


def _listdir(d: Path) -> list[str]:
    try:
        return sorted(x.name for x in d.iterdir() if x.is_dir())
    except OSError:
        return []


@dataclass(frozen=True)
class _Names:
    subject: str
    series: str
    pattern: str | None
    acceleration: int | None
    task: str | None
    split: str | None
    coil_type: str | None
    centre: str | None
    vendor: str | None


def _parse_names(p: Path, variable: str) -> _Names:
    parts = p.parts[:-1]
    stem = p.name[:-4] if p.name.endswith(".mat") else p.stem
    subject = next((q for q in reversed(parts) if _SUBJECT.match(q)), p.parent.name)
    pattern, acc = None, None
    m = _KUS_NAME.match(stem)
    series = stem
    if m:
        series, pattern, acc = m.group("series"), m.group("pattern"), int(m.group("r"))
    sv = _SUB_VAR.match(variable)
    if sv:  # 2023: kspace_sub04 -> R 4, equispaced ("Uniform") lines + 24 ACS
        acc, pattern = int(sv.group(2)), "Uniform"
    task = next((q.split("_", 1)[1] for q in parts if re.match(r"^(UnderSample|Mask)_", q)), None)
    split = next((q for q in parts if q in ("TrainingSet", "ValidationSet", "TestSet")), None)
    coil = next((q for q in parts if q in ("MultiCoil", "SingleCoil")), None)
    centre = vendor = None
    if subject in parts:
        i = parts.index(subject)
        above = [q for q in parts[:i]]
        k = next((j for j in range(len(above) - 1, -1, -1)
                  if re.match(r"^(UnderSample|Mask)_|^FullSample$", above[j])), None)
        if k is not None and i - k - 1 == 2:  # 2025: <Task>/<Centre>/<Vendor>/Pxxx
            centre, vendor = above[k + 1], above[k + 2]
    return _Names(subject, series, pattern, acc, task, split, coil, centre, vendor)


# ====================================================================== source
@dataclass
class CmrxReconSource:
    """An open CMRxRecon k-space file: layout, mask and timings checked; k-space on demand.

    Make one with :func:`open_cmrxrecon`. ``read()`` returns the Case of all slices,
    ``read(slices=[i])`` only slice ``i`` (reads only that kz block from disk).

    Attributes
    ----------
    path : pathlib.Path
    year : int
    variable : MatVariable
        The k-space variable (MATLAB order ``(kx, ky, kc, kz, t)`` or single-coil
        ``(kx, ky, kz, t)``, trailing singletons possibly dropped).
    single_coil : bool
    shape : tuple of int
        Case k-space shape ``(slice, frame, coil, ky, kx)``.
    mask : numpy.ndarray, bool
        Case mask, ``(1, 1|frame, 1, ky, kx|1)``.
    meta : CaseMeta
        ``source_sha256`` is filled by :meth:`read`.
    """

    path: Path
    year: int
    variable: MatVariable
    single_coil: bool
    shape: tuple[int, int, int, int, int]
    mask: np.ndarray = field(repr=False)
    meta: CaseMeta = field(repr=False)
    fullsample: Path | None = None
    limits: InputLimits | None = field(default=None, repr=False)

    @property
    def n_slices(self) -> int:
        return self.shape[0]

    def read(self, slices: Iterable[int] | None = None) -> Case:
        """Read k-space of all or some slices into a Case.

        Parameters
        ----------
        slices : iterable of int, optional
            0-based slice (kz) indices; default all, in the given order.

        Returns
        -------
        Case
            ``kspace`` complex64 ``(slice, frame, coil, ky, kx)``, ``mask`` bool
            ``(1, 1|frame, 1, ky, kx|1)``, ``meta``; for undersampled data paired with its
            ``FullSample`` file (:attr:`fullsample`), ``reference`` float32
            ``(slice, frame, y, x)``: the root-sum-of-squares of the fully sampled coil images
            (the challenges' own reference), and ``meta.extra["reference_file"]``.

        Raises
        ------
        CorruptFileError
            Unreadable data (truncated file) or non-finite k-space values (the count is named).
        """
        ns = self.n_slices
        sel = list(range(ns)) if slices is None else [int(s) for s in slices]
        for s in sel:
            if not 0 <= s < ns:
                raise IndexError(f"{self.path}: slice {s} outside 0..{ns - 1}")
        out = np.empty((len(sel),) + self.shape[1:], np.complex64)
        kz_axis = 2 if self.single_coil else 3
        var = self.variable
        for i, s in enumerate(sel):
            if var.ndim > kz_axis:
                block = var.read((slice(None),) * kz_axis + (s,))
            else:
                block = var.read()
            out[i] = _block_to_case(block, self.single_coil)
        n_bad = int(np.count_nonzero(~np.isfinite(out.view(np.float32))))
        if n_bad:
            raise CorruptFileError(
                self.path, f"{n_bad} non-finite k-space values (NaN or inf) in `{var.name}`"
                f"{'' if slices is None else f' (slices {sel})'}",
                "the file is damaged; fetch it again")
        extra = dict(self.meta.extra)
        if slices is not None:
            extra["slice_indices"] = sel
        reference = None
        if self.fullsample is not None:
            reference = self._paired_reference(sel)
            extra["reference_file"] = str(self.fullsample)
        meta = self.meta.replace(
            extra=extra, source_sha256=sha256_file(self.path),
            timings_ms={k: [v[s] for s in sel] for k, v in self.meta.timings_ms.items()})
        try:
            return Case(kspace=out, mask=self.mask, reference=reference, meta=meta)
        except ValueError as exc:
            raise LayoutError(self.path, f"the assembled Case is invalid ({exc})",
                              "report this file to the cmrsuite maintainers") from None

    def _paired_reference(self, sel: list[int]) -> np.ndarray:
        """RSS magnitude ``(slice, frame, y, x)`` of the paired fully sampled file's slices."""
        from suite.mr import ifft2c, rss

        full = open_cmrxrecon(self.fullsample, year=self.year, fullsample=False,
                              limits=self.limits)
        if full.shape != self.shape:
            raise LayoutError(self.path, f"its fully sampled pair {self.fullsample} has "
                              f"(slice, frame, coil, ky, kx) = {full.shape}, this file "
                              f"{self.shape}", "pair the files of the same subject and series, "
                              "or pass fullsample=False to read the undersampled data alone")
        kspace = full.read(sel).kspace
        return np.asarray(rss(ifft2c(kspace), dim=2), np.float32)


def _fullsample_path(p: Path, year: int, names: _Names) -> Path | None:
    """The ``FullSample`` file of an undersampled file in the challenge layout, if present.

    2023: ``.../AccFactorNN/Pxxx/<series>.mat`` → ``.../FullSample/Pxxx/<series>.mat``;
    2024/2025: ``.../UnderSample_TaskN/Pxxx/<series>_kus_<Pattern><R>.mat`` →
    ``.../FullSample/Pxxx/<series>.mat``. None when the layout does not say or the file is
    absent (validation and test sets ship without it).
    """
    parts = list(p.parent.parts)
    for i in range(len(parts) - 1, -1, -1):
        if re.match(r"^AccFactor\d+$", parts[i]) or parts[i].startswith("UnderSample_"):
            parts[i] = "FullSample"
            cand = Path(*parts) / f"{names.series}.mat"
            return cand if cand.is_file() else None
    return None


def _block_to_case(block: np.ndarray, single_coil: bool) -> np.ndarray:
    """One kz block in MATLAB order → ``(frame, coil, ky, kx)``.

    multi-coil ``(kx, ky, kc[, t])`` → ``transpose(3, 2, 1, 0)``; single-coil ``(kx, ky[, t])``
    → ``transpose(2, 1, 0)`` plus a coil axis of size 1.
    """
    rank = 3 if single_coil else 4
    b = block.reshape(block.shape + (1,) * (rank - block.ndim))
    if single_coil:
        return np.transpose(b, (2, 1, 0))[:, None].astype(np.complex64, copy=False)
    return np.transpose(b, (3, 2, 1, 0)).astype(np.complex64, copy=False)


def open_cmrxrecon(path: str | os.PathLike, *, year: int | None = None,
                   dataset: str | None = None, variable: str | None = None,
                   mask: str | os.PathLike | None = None,
                   timings_csv: str | os.PathLike | None = None,
                   fullsample: str | os.PathLike | bool | None = None,
                   limits: InputLimits | None = None) -> CmrxReconSource:
    """Open a CMRxRecon k-space ``.mat`` file: check header, variable, dims, mask, timings.

    Parameters
    ----------
    path : str or path-like
        A k-space file (``cine_sax.mat``, ``T1map.mat``, ``cine_lax_kus_ktRadial8.mat``, ...).
    year : {2023, 2024, 2025}, optional
        Edition; default: detected from the layout (module docstring).
    dataset : str, optional
        ``"cmrxrecon2023"``/``"2024"``/``"2025"``: same as ``year`` (the dataset cards pass it).
    variable : str, optional
        The k-space variable when the file holds several (default: the only one, or
        ``kspace_full``/``kspace``).
    mask : path-like, optional
        Mask file to use instead of the one the layout implies.
    timings_csv : path-like, optional
        Timing CSV for mapping series instead of ``<series>.csv`` beside the file.
    fullsample : path-like or bool, optional
        For undersampled data: the fully sampled file of the same subject and series, whose
        RSS image becomes the Case's ``reference`` (so reconstructions of the challenge's own
        undersampled data can be scored). Default (None): found from the challenge layout
        (``AccFactorNN`` or ``UnderSample_TaskN`` → ``FullSample``) when it exists; False: not
        paired; a path: that file (must exist). Ignored for fully sampled files.
    limits : InputLimits, optional
        Size limits checked from the headers of the data and mask files
        (:mod:`suite.data.limits`).

    Returns
    -------
    CmrxReconSource

    Raises
    ------
    CorruptFileError
        Missing, empty, truncated, not a MATLAB v5/v7.3 file; unreadable mask.
    LayoutError
        No k-space variable, several without ``variable=``, a real (non-complex) or
        non-5/4-D variable; undersampled data whose mask file is missing; a mask whose shape
        disagrees with the k-space or with values other than 0/1; a timing CSV that is not
        numeric or does not match (frames × slices); an undecidable year.
    UnsafeFileError
        A v7.3 file whose objects leave the file (links, virtual datasets, external storage).
    TooLargeError
        Declared sizes above the limits.
    """
    p = Path(path)
    mf = open_mat(p, limits=limits)
    var = _pick_variable(mf, variable)
    year = _resolve_year(p, year, dataset, mf)
    single = var.name.startswith("kspace_single")
    if not var.is_complex:
        raise LayoutError(p, f"`{var.name}` is {var.matlab_class} real data; CMRxRecon k-space "
                          "is complex (a compound of `real` and `imag`)",
                          "pass the k-space file, not an image or mask file")
    rank = 4 if single else 5
    if not 2 <= var.ndim <= rank or 0 in var.shape:
        axes = "(kx, ky, kz, t)" if single else "(kx, ky, kc, kz, t)"
        raise LayoutError(p, f"`{var.name}` has MATLAB size {var.shape}; expected {rank} axes "
                          f"{axes} (trailing singleton axes may be dropped)",
                          "this is not CMRxRecon k-space; check the file")
    full = var.shape + (1,) * (rank - var.ndim)
    if single:
        kx, ky, kz, nt = full
        nc = 1
    else:
        kx, ky, nc, kz, nt = full
    shape = (kz, nt, nc, ky, kx)
    check_declared(p, f"k-space (slice, frame, coil, ky, kx) = {shape} complex64",
                   8 * int(np.prod(shape, dtype=object)), limits, file_bytes=p.stat().st_size)
    names = _parse_names(p, var.name)
    undersampled = var.name == "kus" or bool(_SUB_VAR.match(var.name))
    case_mask, mask_file = _load_mask(p, year, var.name, names, shape, undersampled,
                                      Path(mask) if mask is not None else None, limits)
    timings, tsource = _load_timings(p, names.series, shape,
                                     Path(timings_csv) if timings_csv is not None else None)
    meta = _meta(p, year, var, names, single, undersampled, mask_file, tsource, timings)
    pair = None
    if undersampled and fullsample is not False:
        if fullsample is None or fullsample is True:
            pair = _fullsample_path(p, year, names)
        else:
            pair = Path(fullsample)
            if not pair.is_file():
                raise LayoutError(p, f"fullsample={str(pair)!r} does not exist",
                                  "pass the FullSample file of this subject and series")
    return CmrxReconSource(p, year, var, single, shape, case_mask, meta, pair, limits)


def read_cmrxrecon(path: str | os.PathLike, **options: Any) -> Case:
    """Read a whole CMRxRecon k-space file into a Case (``open_cmrxrecon(...).read()``).

    See :func:`open_cmrxrecon` for options and errors and the module docstring for the
    layouts and the axis mapping.
    """
    return open_cmrxrecon(path, **options).read()


def _pick_variable(mf: MatFile, variable: str | None) -> MatVariable:
    if variable is not None:
        return mf[variable]
    found = sorted(n for n in mf.variables if _KSPACE_VAR.match(n))
    if not found:
        raise LayoutError(mf.path, f"has no CMRxRecon k-space variable (variables: "
                          f"{sorted(mf.variables) or 'none'}; expected kspace_full, "
                          "kspace_subNN, kspace_single_*, kspace or kus)",
                          "pass a CMRxRecon k-space file (mask files are read with it)")
    if len(found) == 1:
        return mf[found[0]]
    for pref in ("kspace_full", "kspace", "kspace_single_full"):
        if pref in found:
            return mf[pref]
    raise LayoutError(mf.path, f"holds several k-space variables {found}",
                      "choose one with variable='...'")


def _resolve_year(p: Path, year: int | None, dataset: str | None, mf: MatFile) -> int:
    if year is None and dataset is not None:
        m = re.fullmatch(r"cmrxrecon(2023|2024|2025)", str(dataset))
        if m:
            year = int(m.group(1))
    if year is not None:
        if int(year) not in YEARS:
            raise ValueError(f"open_cmrxrecon: year must be one of {list(YEARS)}; got {year!r}")
        return int(year)
    return detect_year(p, mf.variables)[0]


# ---------------------------------------------------------------------- mask
def _mask_path(p: Path, year: int, names: _Names, variable: str) -> tuple[Path, str]:
    if year == 2023:
        return p.with_name(f"{names.series}_mask.mat"), f"mask{variable.rsplit('sub', 1)[1]}"
    fname = f"{names.series}_mask_{names.pattern}{names.acceleration}.mat"
    parts = list(p.parent.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i].startswith("UnderSample_"):
            parts[i] = "Mask_" + parts[i].split("_", 1)[1]
            cand = Path(*parts) / fname
            if cand.exists():
                return cand, "mask"
            break
    return p.with_name(fname) if (p.with_name(fname)).exists() else Path(*parts) / fname, "mask"


def _load_mask(p: Path, year: int, varname: str, names: _Names, shape: tuple,
               undersampled: bool, override: Path | None,
               limits: InputLimits | None) -> tuple[np.ndarray, str | None]:
    _, nt, _, ky, kx = shape
    if not undersampled and override is None:
        return np.ones((1, 1, 1, ky, 1), bool), None
    if year != 2023 and varname == "kus" and names.pattern is None and override is None:
        raise LayoutError(p, "undersampled `kus` file whose name does not follow "
                          "<name>_kus_<Pattern><R>.mat, so its mask file cannot be found",
                          "keep the challenge file name or pass mask=<mask file>")
    mpath, mvar = _mask_path(p, year, names, varname)
    if override is not None:
        mpath = override
    if not mpath.exists():
        raise LayoutError(p, f"undersampled k-space but its mask file {mpath} does not exist",
                          "keep the challenge layout (mask beside the data, or in Mask_TaskN) "
                          "or pass mask=<mask file>")
    mf = open_mat(mpath, limits=limits)
    if mvar not in mf:
        cands = sorted(n for n in mf.variables if n.startswith("mask"))
        if override is None or len(cands) != 1:
            raise LayoutError(mpath, f"has no mask variable `{mvar}` (variables: "
                              f"{sorted(mf.variables) or 'none'})",
                              "pass the mask file that belongs to this k-space")
        mvar = cands[0]
    mshape = tuple(mf[mvar].shape)  # checked from the header, before the mask is read
    if len(mshape) not in (2, 3):
        raise LayoutError(mpath, f"mask `{mvar}` has MATLAB size {mshape}; expected (kx, ky) or "
                          "(kx, ky, t)", "pass the mask file of this data")
    if len(mshape) == 3 and mshape[2] == 1:
        mshape = mshape[:2]
    if mshape[:2] != (kx, ky) or (len(mshape) == 3 and mshape[2] != nt):
        want = f"({kx}, {ky})" + (f" or ({kx}, {ky}, {nt})" if nt > 1 else "")
        raise LayoutError(mpath, f"mask `{mvar}` has MATLAB size {mshape} but the k-space "
                          f"(kx, ky, t) is ({kx}, {ky}, {nt}); expected {want}",
                          "pass the mask file that belongs to this k-space")
    if mf[mvar].is_complex or mf[mvar].dtype.kind not in "biuf":
        raise LayoutError(mpath, f"mask `{mvar}` is {mf[mvar].matlab_class}"
                          f"{' complex' if mf[mvar].is_complex else ''}; expected 0/1 values",
                          "pass a binary sampling mask")
    m = np.asarray(mf[mvar].read()).reshape(mshape)
    if m.dtype != np.bool_:
        if not np.isin(m, (0, 1)).all():
            raise LayoutError(mpath, f"mask `{mvar}` holds values other than 0 and 1",
                              "pass a binary sampling mask")
        m = m.astype(bool)
    case_mask = (m.T[None, None, None] if m.ndim == 2
                 else np.transpose(m, (2, 1, 0))[None, :, None])
    return _reduce(case_mask), str(mpath)


def _reduce(m: np.ndarray) -> np.ndarray:
    """Collapse the frame and kx axes to 1 where the mask does not vary along them."""
    for ax in (1, 4):
        if m.shape[ax] > 1 and (m == np.take(m, [0], axis=ax)).all():
            m = np.take(m, [0], axis=ax)
    return np.ascontiguousarray(m)


# ---------------------------------------------------------------------- timings
def _load_timings(p: Path, series: str, shape: tuple,
                  override: Path | None) -> tuple[dict[str, list[list[float]]], str | None]:
    key = "TI" if series.startswith("T1map") else "TE" if series.startswith("T2map") else None
    if key is None and override is None:
        return {}, None
    csv_path = override if override is not None else p.with_name(f"{series}.csv")
    if not csv_path.exists():
        if override is not None:
            raise LayoutError(csv_path, "timing CSV does not exist", "check the path")
        return {}, None
    key = key or "TI"
    try:
        rows = [r for r in csv.reader(csv_path.read_text(encoding="utf-8-sig").splitlines())
                if any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptFileError(csv_path, f"cannot be read ({exc})", "fetch it again") from None
    ns, nt = shape[0], shape[1]
    try:
        values = np.array([_timing_cells(r) for r in rows[1:]], float)
    except ValueError:
        raise LayoutError(csv_path, "timing CSV has non-numeric values below its header row",
                          "expected a header row, then one row per weighted image (an optional "
                          "label cell such as 'TI1' first) with one column per slice (ms)"
                          ) from None
    if values.ndim == 2 and values.shape == (nt, 1) and ns > 1:
        values = np.repeat(values, ns, axis=1)  # one column shared by every slice
    if values.ndim != 2 or values.shape != (nt, ns):
        raise LayoutError(csv_path, f"timing CSV holds {values.shape if values.ndim == 2 else '?'}"
                          f" (rows, columns) values; the k-space has {nt} weighted images and "
                          f"{ns} slices, so expected ({nt}, {ns}) (or one column for all slices)",
                          "pass the CSV that belongs to this file")
    if not np.isfinite(values).all():
        raise LayoutError(csv_path, "timing CSV holds non-finite values", "fix the CSV")
    return {key: [values[:, s].tolist() for s in range(ns)]}, str(csv_path)


def _timing_cells(row: list[str]) -> list[float]:
    """Numbers of one timing row: a leading non-numeric label cell (``TI1``) and empty cells
    (trailing commas) are dropped; any other non-numeric cell raises ``ValueError``."""
    cells = [c.strip() for c in row]
    if cells and cells[0] and not _is_number(cells[0]):
        cells = cells[1:]
    return [float(c) for c in cells if c]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def padded_frames(timings: list[list[float]]) -> dict[int, list[int]]:
    """Frames whose inversion time is a trailing 0 per slice (``{slice: [frames]}``).

    CMRxRecon pads ``T1map.csv`` with zeros when a slice has fewer weighted images; the
    reference fit drops a trailing zero TI and its image (CmrxRecon/CMRxRecon
    ``Mapping/CalEvalMap.py`` ``calculate_T1map``).

    Examples
    --------
    >>> padded_frames([[100.0, 1100.0, 0.0], [110.0, 1110.0, 2110.0]])
    {0: [2]}
    """
    out = {}
    for s, column in enumerate(timings):
        frames = []
        for f in range(len(column) - 1, 0, -1):
            if column[f] != 0:
                break
            frames.insert(0, f)
        if frames:
            out[s] = frames
    return out


# ---------------------------------------------------------------------- meta
def _meta(p: Path, year: int, var: MatVariable, names: _Names, single: bool,
          undersampled: bool, mask_file: str | None, tsource: str | None,
          timings: dict) -> CaseMeta:
    vendor = "Siemens" if year in (2023, 2024) else names.vendor
    b0 = 3.0 if year in (2023, 2024) else None
    acs = ACS_LINES[year]
    extra: dict[str, Any] = {
        "cmrxrecon_year": year, "variable": var.name, "matlab_size": list(var.shape),
        "coil_type": "single" if single else "multi", "undersampled": undersampled,
        "split": names.split, "task": names.task, "mask_file": mask_file,
        "timings_source": tsource,
    }
    if "TI" in timings:
        pad = padded_frames(timings["TI"])
        if pad:
            extra["ti_padded_frames"] = {str(k): v for k, v in pad.items()}
    if undersampled:
        extra.update({
            "acceleration": names.acceleration, "pattern": names.pattern,
            "sampling_pattern": PATTERN_NAMES.get(names.pattern or "", names.pattern),
            "acs": f"{acs}x{acs} centre" if names.pattern == "ktRadial" else f"{acs} ky lines",
        })
    strata = {"vendor": vendor, "field_strength_t": b0, "site": names.centre}
    return CaseMeta(subject=names.subject, dataset=f"cmrxrecon{year}", series=names.series,
                    vendor=vendor, field_strength_t=b0, site=names.centre,
                    timings_ms=timings, strata=strata, source_file=str(p), extra=extra)

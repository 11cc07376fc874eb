"""Reader of a mapping phantom cohort (written by ``phantom: {kind: mapping}``,
:mod:`suite.phantom.mapping.cohort`): one Case per mapping series.

Layout::

    <root>/mapping_cohort.csv              subject, pathology, series, sequence, contrast, timing
    <root>/<subject>/<series>.h5           ISMRMRD raw data, one frame per weighted image, the
                                           timings in ``meta.timings_ms`` (ms, per slice)
    <root>/<subject>/truth_<map>.nii.gz    truth maps: t1/t2 native and post (ms), ecv, pd,
                                           purity (fraction of the pixel in its region)
    <root>/<subject>/regions.nii.gz        region codes; names in the subject's truth.csv
    <root>/<subject>/truth.csv             one row per region (code = row index)

The raw data travel the suite's ISMRMRD path like real data. ``case.truth`` holds the truth
maps of the series' contrast as ``(slice, y, x)`` float arrays — ``t1_ms``, ``t2_ms`` (ms) and
``ecv`` (fraction) —, ``regions`` (uint8 codes) with ``region_names`` (name per code),
``purity`` (fraction of each pixel inside its region; absent in cohorts written before it), and the
scalars ``pathology``, ``contrast``, ``sequence``. This module does not import the phantom (a
reader must not depend on the generator).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from suite.case import Case
from suite.data.errors import CorruptFileError, LayoutError
from suite.data.phantom_cohort import has_csv_header

__all__ = ["MAPPING_COHORT_FILE", "is_mapping_cohort", "find_mapping_series",
           "read_mapping_series"]

MAPPING_COHORT_FILE = "mapping_cohort.csv"
_COLUMNS = ("subject", "pathology", "series", "sequence", "contrast", "timing")
_HINT = "regenerate the cohort (protocol `phantom: {kind: mapping}`)"


def _read_csv(path: Path) -> list[dict]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CorruptFileError(path, f"cannot be read as a UTF-8 CSV ({type(exc).__name__}: "
                               f"{exc})", _HINT) from None


def is_mapping_cohort(folder: Path) -> bool:
    """True when ``folder/mapping_cohort.csv`` exists with the cohort header (never raises)."""
    return has_csv_header(Path(folder) / MAPPING_COHORT_FILE, _COLUMNS)


def _plain(path: Path, line: int, value: str, what: str) -> str:
    if not value or value in (".", "..") or any(c in value for c in "/\\\x00"):
        raise LayoutError(path, f"line {line}: {what} {value!r} is not a plain file name", _HINT)
    return value


def find_mapping_series(folder: Path) -> list[tuple[Path, dict]]:
    """``(series file, tags)`` per row of the cohort table, in its order. ``tags``: the row's
    ``sequence``, ``contrast``, ``pathology`` and ``timing`` (TI/TS/TE), known without reading
    image data (a stage may choose its methods by them)."""
    path = Path(folder) / MAPPING_COHORT_FILE
    out = []
    for line, row in enumerate(_read_csv(path), start=2):
        subject = _plain(path, line, row.get("subject") or "", "subject")
        series = _plain(path, line, row.get("series") or "", "series")
        tags = {k: row.get(k) or "" for k in ("sequence", "contrast", "pathology", "timing")}
        out.append((Path(folder) / subject / f"{series}.h5", tags))
    return out


def _truth_map(folder: Path, name: str, limits) -> np.ndarray:
    from suite.data.nifti_io import read_nifti

    p = folder / f"truth_{name}.nii.gz"
    if not p.is_file():
        raise CorruptFileError(p, "is missing from the mapping cohort", _HINT)
    return read_nifti(p, limits=limits).data[:, 0].astype(np.float64)


def read_mapping_series(path: Path, **options) -> Case:
    """One mapping series as a Case: k-space and timings from the ISMRMRD file, truth maps and
    regions from the subject folder (module docstring).

    ``options``: ``dataset`` (default ``"phantom-mapping"``) and ``limits``
    (:class:`suite.data.limits.InputLimits`).

    Raises
    ------
    CorruptFileError, LayoutError
        Missing or unreadable files, maps that do not match the raw data, a series not listed
        in the cohort table.
    """
    from suite.data.ismrmrd_reader import read_ismrmrd
    from suite.data.nifti_io import read_nifti

    path = Path(path)
    folder = path.parent
    rows = {p: t for p, t in find_mapping_series(folder.parent)}
    tags = rows.get(path)
    if tags is None:
        raise LayoutError(folder.parent / MAPPING_COHORT_FILE, f"lists no series {path.name!r} "
                          f"of subject {folder.name!r}", _HINT)
    if not path.is_file():
        raise CorruptFileError(path, "is missing from the mapping cohort", _HINT)
    limits = options.get("limits")
    case = read_ismrmrd(path, dataset=options.get("dataset", "phantom-mapping"), limits=limits)
    contrast = tags["contrast"]
    truth = {f"{q}_ms": _truth_map(folder, f"{q}_{contrast}_ms", limits) for q in ("t1", "t2")}
    truth["ecv"] = _truth_map(folder, "ecv", limits)
    reg_path = folder / "regions.nii.gz"
    if not reg_path.is_file():
        raise CorruptFileError(reg_path, "is missing from the mapping cohort", _HINT)
    truth["regions"] = read_nifti(reg_path, kind="labels", limits=limits).data[:, 0]
    truth["region_names"] = tuple(r.get("region", "") for r in _read_csv(folder / "truth.csv"))
    if (folder / "truth_purity.nii.gz").is_file():  # absent in cohorts written before it
        truth["purity"] = _truth_map(folder, "purity", limits)
    expected = (case.n_slices, *case.image_shape[2:])
    for name in ("t1_ms", "t2_ms", "ecv", "regions", "purity"):
        if name in truth and truth[name].shape != expected:
            raise LayoutError(folder, f"truth map {name!r} has shape {truth[name].shape} but the "
                              f"raw data {path.name} describe (slice, y, x) = {expected}", _HINT)
    truth.update(pathology=tags["pathology"], contrast=contrast, sequence=tags["sequence"])
    meta = case.meta.replace(strata={**case.meta.strata, "pathology": tags["pathology"],
                                     "sequence": tags["sequence"], "contrast": contrast,
                                     "vendor": case.meta.vendor,
                                     "field_strength_t": case.meta.field_strength_t})
    return case.replace(truth=truth, meta=meta)

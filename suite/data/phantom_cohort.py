"""Reader of a phantom cohort folder written by ``cmrsuite phantom`` / ``suite.phantom.write_cohort``.

Layout::

    <root>/truth.csv                 one row per subject (columns below)
    <root>/<subject>/cine_sax.h5     ISMRMRD raw data (read by suite.data.ismrmrd_reader)
    <root>/<subject>/labels.nii.gz   4-D NIfTI labels (x, y, slice, frame), ACDC convention
    <root>/<subject>/cine_<view>.h5, labels_<view>.nii.gz   optional long-axis series (not read
                                     here; read them with suite.data.load)

Each subject becomes one Case with k-space from the ISMRMRD file, labels from the NIfTI file
and ``truth`` from its truth.csv row (floats; ED/ES frames as int). The raw data travel the same
ISMRMRD path as real data; only the truth table is phantom-specific. This module does not
import the phantom (a reader must not depend on the generator).
"""

from __future__ import annotations

import csv
from pathlib import Path

from suite.case import Case
from suite.data.errors import CorruptFileError, LayoutError

__all__ = ["PHANTOM_TRUTH_COLUMNS", "PHANTOM_TRUTH_EXTRA", "has_csv_header", "is_phantom_cohort",
           "find_phantom_subjects", "read_truth_table", "read_phantom_subject"]

#: Columns of the cohort's truth.csv (written by suite.phantom.writer).
PHANTOM_TRUTH_COLUMNS = ("subject", "pathology", "preset", "field_strength_t", "coils",
                         "lv_edv_ml", "lv_esv_ml", "lv_sv_ml", "lv_ef_pct", "lv_mass_g",
                         "rv_edv_ml", "rv_esv_ml", "rv_ef_pct", "ed_frame", "es_frame")
#: Further columns of phantom version 2 (papillary muscles excluded from the cavity, mass
#: with papillary muscles, base descent, scar and MVO volumes); optional when reading, so
#: cohorts of the first version still load.
PHANTOM_TRUTH_EXTRA = ("lv_edv_excl_papillary_ml", "lv_esv_excl_papillary_ml",
                       "lv_ef_excl_papillary_pct", "lv_mass_incl_papillary_g", "avpd_mm",
                       "scar_volume_ml", "mvo_volume_ml")
_STRINGS = ("subject", "pathology", "preset")
_INTS = ("coils", "ed_frame", "es_frame")


def has_csv_header(path: Path, columns: tuple[str, ...]) -> bool:
    """True when the CSV file ``path`` exists and its header row is ``columns``.

    Never raises: a missing or unreadable file gives False."""
    try:
        if not Path(path).is_file():
            return False
        with Path(path).open(newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return False
    return tuple(h.strip() for h in header) == tuple(columns)


def is_phantom_cohort(folder: Path) -> bool:
    """True when ``folder/truth.csv`` exists and its header is the phantom truth table.

    Never raises: an unreadable truth.csv gives False."""
    truth = Path(folder) / "truth.csv"
    return (has_csv_header(truth, PHANTOM_TRUTH_COLUMNS)
            or has_csv_header(truth, PHANTOM_TRUTH_COLUMNS + PHANTOM_TRUTH_EXTRA))


def read_truth_table(folder: Path) -> dict[str, dict]:
    """truth.csv as ``{subject: {column: value}}`` with numbers parsed; errors name the line."""
    path = Path(folder) / "truth.csv"
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CorruptFileError(path, f"cannot be read as a UTF-8 CSV ({type(exc).__name__}: "
                               f"{exc})", "regenerate the cohort with `cmrsuite phantom`") from None
    out: dict[str, dict] = {}
    for line_no, row in enumerate(rows, start=2):
        parsed: dict = {}
        keys = PHANTOM_TRUTH_COLUMNS + tuple(k for k in PHANTOM_TRUTH_EXTRA if k in row)
        for key in keys:
            raw = row.get(key)
            if raw is None or raw == "":
                raise LayoutError(path, f"line {line_no}: column {key!r} is empty",
                                  "regenerate the cohort with `cmrsuite phantom`")
            try:
                parsed[key] = raw if key in _STRINGS else (
                    int(raw) if key in _INTS else float(raw))
            except ValueError:
                raise LayoutError(path, f"line {line_no}: column {key!r} holds {raw!r}, "
                                  "not a number", "regenerate the cohort") from None
        subject = parsed["subject"]
        if subject in (".", "..") or "/" in subject or "\\" in subject or "\x00" in subject:
            raise LayoutError(path, f"line {line_no}: subject {subject!r} is not a plain folder "
                              "name", "regenerate the cohort")
        out[subject] = parsed
    return out


def find_phantom_subjects(folder: Path) -> list[Path]:
    """Subject folders listed in truth.csv, in its order (missing folders included: they fail
    when read, with a message)."""
    table = read_truth_table(folder)
    return [Path(folder) / subject for subject in table]


def read_phantom_subject(subject_dir: Path, truth_row: dict | None = None, **options) -> Case:
    """One phantom subject as a Case with k-space, labels and scalar truth.

    ``options``: ``dataset`` (default ``"phantom"``) and ``limits``
    (:class:`suite.data.limits.InputLimits`, for both files).

    Raises
    ------
    CorruptFileError, LayoutError
        Missing files, unreadable files, or labels that do not match the raw data.
    """
    from suite.data.ismrmrd_reader import read_ismrmrd
    from suite.data.nifti_io import read_nifti

    subject_dir = Path(subject_dir)
    raw, lab = subject_dir / "cine_sax.h5", subject_dir / "labels.nii.gz"
    for p in (raw, lab):
        if not p.is_file():
            raise CorruptFileError(p, "is missing from the phantom cohort",
                                   "regenerate the cohort with `cmrsuite phantom`")
    if truth_row is None:
        truth_row = read_truth_table(subject_dir.parent).get(subject_dir.name)
        if truth_row is None:
            raise LayoutError(subject_dir.parent / "truth.csv",
                              f"has no row for subject {subject_dir.name!r}",
                              "regenerate the cohort")
    limits = options.get("limits")
    case = read_ismrmrd(raw, dataset=options.get("dataset", "phantom"), limits=limits)
    labels = read_nifti(lab, kind="labels", allowed_labels=(0, 1, 2, 3), limits=limits).data
    if labels.shape != case.image_shape:
        raise LayoutError(lab, f"labels have shape {labels.shape} (slice, frame, y, x) but the "
                          f"raw data {raw.name} describe {case.image_shape}",
                          "the files of this subject come from different runs; regenerate")
    meta = case.meta.replace(
        ed_frame=truth_row["ed_frame"], es_frame=truth_row["es_frame"],
        annotated_frames=tuple(range(labels.shape[1])),
        strata={**case.meta.strata, "pathology": truth_row["pathology"],
                "preset": truth_row["preset"], "vendor": case.meta.vendor,
                "field_strength_t": case.meta.field_strength_t})
    try:
        return Case(kspace=case.kspace, mask=case.mask, labels=labels,
                    truth=dict(truth_row), meta=meta)
    except ValueError as exc:  # Case validation (e.g. ED/ES frames outside the labels)
        raise LayoutError(subject_dir, f"the assembled Case is invalid ({exc})",
                          "regenerate the cohort with `cmrsuite phantom`") from None

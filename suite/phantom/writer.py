"""Write a phantom cohort as files: ISMRMRD raw data, NIfTI labels, one truth table.

Layout::

    out_dir/truth.csv
    out_dir/<subject>/cine_sax.h5      ISMRMRD (suite.data.ismrmrd_io.write_ismrmrd)
    out_dir/<subject>/labels.nii.gz    NIfTI (x, y, slice, frame) (suite.data.nifti_io)

Both writers are deterministic (no HDF5 timestamps; gzip with mtime 0), so a cohort written
twice from one seed is byte-identical. ``truth.csv`` floats are written with ``repr`` (exact
round trip). Every file is written atomically (:mod:`suite._atomic`): a full disk leaves no
partial or temporary file, and raises an ``OSError``.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from suite._atomic import atomic_write_text
from suite.phantom.cohort import cohort

__all__ = ["write_cohort", "write_subject", "write_truth_table", "truth_row"]


def truth_row(case) -> dict:
    """The truth.csv row of a simulated phantom Case (columns
    :data:`suite.data.phantom_cohort.PHANTOM_TRUTH_COLUMNS`, the reader's table)."""
    from suite.data.phantom_cohort import PHANTOM_TRUTH_COLUMNS

    t = case.truth
    row = {"subject": case.meta.subject, "pathology": t["pathology"], "preset": t["preset"],
           "field_strength_t": case.meta.field_strength_t, "coils": case.n_coils}
    for key in PHANTOM_TRUTH_COLUMNS[5:]:
        row[key] = t[key]
    return row


def write_subject(folder: str | os.PathLike, case) -> dict:
    """Write one simulated Case into ``folder`` (created): ``cine_sax.h5`` (ISMRMRD) and
    ``labels.nii.gz`` (NIfTI); returns its :func:`truth_row`."""
    from suite.data.ismrmrd_io import write_ismrmrd
    from suite.data.nifti_io import write_labels_nifti

    sub = Path(folder)
    sub.mkdir(parents=True, exist_ok=True)
    write_ismrmrd(sub / "cine_sax.h5", case)
    dy, dx = case.meta.pixel_spacing_mm
    write_labels_nifti(sub / "labels.nii.gz", case.labels, (dy, dx, case.meta.slice_spacing_mm),
                       temporal_resolution_ms=case.meta.temporal_resolution_ms)
    return truth_row(case)


def write_truth_table(path: str | os.PathLike, rows: list[dict]) -> Path:
    """Write ``truth.csv`` (UTF-8, ``\n`` line ends, floats as ``repr``) from
    :func:`truth_row` rows."""
    from suite.data.phantom_cohort import PHANTOM_TRUTH_COLUMNS

    text = io.StringIO(newline="")
    w = csv.DictWriter(text, fieldnames=list(PHANTOM_TRUTH_COLUMNS), lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    return atomic_write_text(path, text.getvalue())


def write_cohort(out_dir: str | os.PathLike, n_subjects: int, seed: int, preset=None,
                 pathology=None) -> Path:
    """Simulate ``n_subjects`` (see :func:`suite.phantom.cohort`) and write them to ``out_dir``.

    Parameters
    ----------
    out_dir : path-like
        Created if missing; existing subject files are overwritten.
    n_subjects, seed, preset, pathology
        As :func:`suite.phantom.cohort`.

    Returns
    -------
    pathlib.Path
        ``out_dir/truth.csv``, columns
        :data:`suite.data.phantom_cohort.PHANTOM_TRUTH_COLUMNS`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for spec in cohort(n_subjects, seed, preset=preset, pathology=pathology):
        case = spec.simulate()
        rows.append(write_subject(out / spec.subject, case))
        del case
    return write_truth_table(out / "truth.csv", rows)

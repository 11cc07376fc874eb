"""Write a phantom cohort as files: ISMRMRD raw data, NIfTI labels, one truth table.

Layout::

    out_dir/truth.csv
    out_dir/<subject>/cine_sax.h5      ISMRMRD (suite.data.ismrmrd_io.write_ismrmrd), with
                                       each slice's scanner position and orientation
    out_dir/<subject>/labels.nii.gz    NIfTI (x, y, slice, frame) (suite.data.nifti_io), ACDC
    out_dir/<subject>/cine_<view>.h5, labels_<view>.nii.gz   long-axis views (``views=``)

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
    from suite.data.phantom_cohort import PHANTOM_TRUTH_COLUMNS, PHANTOM_TRUTH_EXTRA

    t = case.truth
    row = {"subject": case.meta.subject, "pathology": t["pathology"], "preset": t["preset"],
           "field_strength_t": case.meta.field_strength_t, "coils": case.n_coils}
    for key in PHANTOM_TRUTH_COLUMNS[5:] + PHANTOM_TRUTH_EXTRA:
        row[key] = t[key]
    return row


def write_subject(folder: str | os.PathLike, case, views: dict | None = None) -> dict:
    """Write one simulated Case into ``folder`` (created): ``cine_sax.h5`` (ISMRMRD) and
    ``labels.nii.gz`` (NIfTI), plus ``cine_<view>.h5`` / ``labels_<view>.nii.gz`` for every
    Case of ``views`` (``{view: Case}``, long-axis); returns the truth row of ``case``."""
    from suite.data.ismrmrd_io import write_ismrmrd
    from suite.data.nifti_io import write_labels_nifti

    sub = Path(folder)
    sub.mkdir(parents=True, exist_ok=True)
    for name, c in {"sax": case, **(views or {})}.items():
        stem = "" if name == "sax" else f"_{name}"
        write_ismrmrd(sub / f"cine_{name}.h5", c)
        dy, dx = c.meta.pixel_spacing_mm
        write_labels_nifti(sub / f"labels{stem}.nii.gz", c.labels,
                           (dy, dx, c.meta.slice_spacing_mm),
                           temporal_resolution_ms=c.meta.temporal_resolution_ms)
    return truth_row(case)


def write_truth_table(path: str | os.PathLike, rows: list[dict]) -> Path:
    """Write ``truth.csv`` (UTF-8, ``\n`` line ends, floats as ``repr``) from
    :func:`truth_row` rows."""
    from suite.data.phantom_cohort import PHANTOM_TRUTH_COLUMNS, PHANTOM_TRUTH_EXTRA

    text = io.StringIO(newline="")
    w = csv.DictWriter(text, fieldnames=list(PHANTOM_TRUTH_COLUMNS + PHANTOM_TRUTH_EXTRA),
                       lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    return atomic_write_text(path, text.getvalue())


def write_cohort(out_dir: str | os.PathLike, n_subjects: int, seed: int, preset=None,
                 pathology=None, views=("sax",)) -> Path:
    """Simulate ``n_subjects`` (see :func:`suite.phantom.cohort`) and write them to ``out_dir``.

    Parameters
    ----------
    out_dir : path-like
        Created if missing; existing subject files are overwritten.
    n_subjects, seed, preset, pathology
        As :func:`suite.phantom.cohort`.
    views : sequence of str, default ("sax",)
        Series to write per subject: ``"sax"`` always, plus any of ``"2ch"``, ``"3ch"``,
        ``"4ch"``.

    Returns
    -------
    pathlib.Path
        ``out_dir/truth.csv``, columns :data:`suite.data.phantom_cohort.PHANTOM_TRUTH_COLUMNS`
        then :data:`~suite.data.phantom_cohort.PHANTOM_TRUTH_EXTRA`.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    extra = [v for v in views if v != "sax"]
    for spec in cohort(n_subjects, seed, preset=preset, pathology=pathology):
        case = spec.simulate()
        lax = {v: spec.simulate(view=v) for v in extra}
        rows.append(write_subject(out / spec.subject, case, lax))
        del case, lax
    return write_truth_table(out / "truth.csv", rows)

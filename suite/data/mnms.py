"""M&Ms: one case folder → one Case, labels mapped to the ACDC convention.

Layout (Campello et al., IEEE TMI 40(12):3543, 2021, doi 10.1109/TMI.2021.3090082; README of
MarioProjects/MnMsCardiac and vicmancr/mnms_example)::

    <root>/
        201014_M&Ms_Dataset_Information_-_opendataset.csv   External code, VendorName,
                                                            Vendor, Centre, ED, ES
        Training/Labeled/<code>/<code>_sa.nii.gz            (x, y, slice, frame) cine
        Training/Labeled/<code>/<code>_sa_gt.nii.gz         labels at ED and ES, 0 elsewhere
        ...

Conventions of the Case (documented choices):

* Labels: M&Ms uses 1 LV, 2 MYO, 3 RV; the Case holds the ACDC convention through the
  explicit table :data:`MNMS_TO_ACDC` ``{0: 0, 1: 3, 2: 2, 3: 1}``.
* ED and ES come from the CSV and are 0-based frame indices already (ED is 0 for many
  cases; vicmancr/mnms_example ``info.csv``); ``meta.annotated_frames = (ED, ES)``; labels
  is the full ``(slice, frame, y, x)`` array of the ``_sa_gt`` file (zero outside ED/ES).
* ``meta.vendor = VendorName`` (e.g. Siemens), ``meta.site = Centre``; ``meta.strata``
  ``{"vendor": VendorName, "vendor_code": Vendor (A-D), "centre": Centre}``.
* Without a metadata CSV row for the case, ED/ES are ``None``, ``annotated_frames`` lists
  the frames that hold any label, and ``meta.extra["metadata_row"] = False``.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from suite.case import Case, CaseMeta
from suite.data.errors import CorruptFileError, LayoutError
from suite.data.hashing import sha256_of_files
from suite.data.limits import InputLimits
from suite.data.nifti_io import find_nifti, read_nifti, volume_meta

__all__ = ["MNMS_TO_ACDC", "read_mnms_case", "find_mnms_cases", "read_mnms_csv",
           "is_mnms_case", "CSV_COLUMNS"]

#: M&Ms label → ACDC label (M&Ms README: 1 LV, 2 MYO, 3 RV; ACDC: 1 RV, 2 MYO, 3 LV).
MNMS_TO_ACDC: Mapping[int, int] = {0: 0, 1: 3, 2: 2, 3: 1}
#: Columns of the M&Ms metadata CSV the reader uses.
CSV_COLUMNS = ("External code", "VendorName", "Vendor", "Centre", "ED", "ES")


def is_mnms_case(folder: str | Path) -> bool:
    """True for a folder ``<code>/`` holding ``<code>_sa.nii[.gz]``."""
    d = Path(folder)
    return find_nifti(d, f"{d.name}_sa") is not None


def find_mnms_cases(root: str | Path) -> list[Path]:
    """Case folders under ``root`` (any depth), sorted by path."""
    r = Path(root)
    if is_mnms_case(r):
        return [r]
    found = {p.parent for p in r.rglob("*_sa.nii*") if p.parent.name + "_sa" in p.name}
    return sorted(p for p in found if is_mnms_case(p))


def find_mnms_csv(root: str | Path) -> list[Path]:
    """CSV files under ``root`` (and the parents of a single case folder) with M&Ms columns."""
    r = Path(root)
    candidates = sorted(r.rglob("*.csv")) if r.is_dir() else []
    for parent in list(r.parents)[:3]:
        candidates += sorted(parent.glob("*.csv"))
    out = []
    for p in candidates:
        try:
            with open(p, newline="", encoding="utf-8-sig") as fh:
                head = next(csv.reader(fh), [])
        except (OSError, UnicodeDecodeError):
            continue
        if "External code" in [h.strip() for h in head]:
            out.append(p)
    return out


def read_mnms_csv(path: str | Path) -> dict[str, dict[str, str]]:
    """``{External code: row}`` from an M&Ms metadata CSV.

    Raises
    ------
    LayoutError
        A required column (``External code``, ``ED``, ``ES``) is missing.
    CorruptFileError
        The file cannot be read as UTF-8 CSV.
    """
    p = Path(path)
    try:
        with open(p, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CorruptFileError(p, f"M&Ms metadata CSV cannot be read ({exc})",
                               "restore it from the M&Ms archive") from None
    # a row longer than the header puts its extra cells under the key None: ignored
    cols = {c.strip() for c in (rows[0].keys() if rows else []) if c is not None}
    missing = [c for c in ("External code", "ED", "ES") if c not in cols]
    if rows and missing:
        raise LayoutError(p, f"M&Ms metadata CSV lacks columns {missing}",
                          f"the CSV must have the columns {', '.join(CSV_COLUMNS)}")
    return {r["External code"].strip(): {k.strip(): (v or "").strip() for k, v in r.items()
                                         if k is not None and not isinstance(v, list)}
            for r in rows if r.get("External code")}


def read_mnms_case(folder: str | Path, *, metadata: Mapping[str, Mapping[str, str]] | None = None,
                   dataset: str = "mnms", limits: InputLimits | None = None) -> Case:
    """Read one M&Ms case folder (conventions in the module docstring).

    Parameters
    ----------
    folder : str or path-like
        ``<code>/`` holding ``<code>_sa.nii.gz`` and, when annotated, ``<code>_sa_gt.nii.gz``.
    metadata : mapping, optional
        ``{External code: row}`` from :func:`read_mnms_csv`; default: the CSV found under the
        folder's parents (up to three levels).
    dataset : str, default "mnms"
    limits : InputLimits, optional
        Size limits of every NIfTI header (:mod:`suite.data.limits`).

    Returns
    -------
    Case
        ``reference`` float32 ``(slice, frame, y, x)``; ``labels`` uint8 (ACDC convention)
        when a ``_sa_gt`` file exists.

    Raises
    ------
    LayoutError
        Image/label shapes differ, label values outside 0..3, ED/ES not integers or outside
        the frames.
    CorruptFileError
        Unreadable, truncated or non-finite NIfTI files.
    """
    d = Path(folder)
    code = d.name
    img_path = find_nifti(d, f"{code}_sa")
    if img_path is None:
        raise LayoutError(d / f"{code}_sa.nii.gz", "M&Ms image file is missing",
                          "each M&Ms case folder <code>/ holds <code>_sa.nii.gz")
    gt_path = find_nifti(d, f"{code}_sa_gt")
    if metadata is None:
        metadata = {}
        for p in find_mnms_csv(d):
            metadata = {**read_mnms_csv(p), **metadata}
    row = metadata.get(code)
    img = read_nifti(img_path, kind="image", limits=limits)
    labels = None
    if gt_path is not None:
        gt = read_nifti(gt_path, kind="labels", allowed_labels=tuple(MNMS_TO_ACDC), limits=limits)
        if gt.data.shape != img.data.shape:
            raise LayoutError(gt_path, f"label map has shape {gt.data.shape} (slice, frame, y, "
                              f"x) but the image has {img.data.shape}",
                              "image and ground truth must come from the same case")
        lut = np.zeros(256, np.uint8)
        for src, dst in MNMS_TO_ACDC.items():
            lut[src] = dst
        labels = lut[gt.data]
    n_frames = img.data.shape[1]
    extra: dict[str, Any] = {"label_convention": "mnms (1 LV, 2 MYO, 3 RV) mapped to acdc",
                             "label_mapping": {str(k): v for k, v in MNMS_TO_ACDC.items()},
                             "metadata_row": row is not None}
    kw: dict[str, Any] = volume_meta(img)
    kw["source_file"] = str(d)
    ed = es = None
    strata: dict[str, Any] = {}
    if row is not None:
        ed, es = (_frame(d, row, key, n_frames) for key in ("ED", "ES"))
        kw["vendor"] = row.get("VendorName") or None
        kw["site"] = row.get("Centre") or None
        strata = {"vendor": row.get("VendorName") or None, "vendor_code": row.get("Vendor"),
                  "centre": row.get("Centre")}
    annotated = None
    if ed is not None and es is not None:
        annotated = tuple(sorted({ed, es}))
    elif labels is not None:
        annotated = tuple(int(f) for f in np.flatnonzero(labels.any(axis=(0, 2, 3))))
    digest, per_file = sha256_of_files([p for p in (img_path, gt_path) if p is not None])
    extra["source_files_sha256"] = per_file
    meta = CaseMeta(subject=code, dataset=dataset, series="cine_sax", ed_frame=ed, es_frame=es,
                    annotated_frames=annotated if labels is not None else None, strata=strata,
                    source_sha256=digest, extra=extra, **kw)
    try:
        return Case(reference=img.data, labels=labels, meta=meta)
    except ValueError as exc:
        raise LayoutError(d, f"the assembled Case is invalid ({exc})",
                          "check the case's NIfTI files") from None


def _frame(d: Path, row: Mapping[str, str], key: str, n_frames: int) -> int:
    raw = row.get(key, "")
    try:
        value = int(float(raw))
    except ValueError:
        raise LayoutError(d, f"M&Ms metadata gives {key} = {raw!r}, not a frame index",
                          "ED and ES in the CSV are 0-based frame indices") from None
    if not 0 <= value < n_frames:
        raise LayoutError(d, f"M&Ms metadata gives {key} = {value} but the image has "
                          f"{n_frames} frames (0-based)", "check the CSV row of this case")
    return value

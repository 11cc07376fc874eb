"""ACDC: one patient folder → one Case (cine images + ED/ES ground truth).

Layout (Bernard et al., IEEE TMI 37(11):2514, 2018, doi 10.1109/TMI.2018.2837502; dataset
page creatis.insa-lyon.fr/Challenge/acdc)::

    patientXXX/
        Info.cfg                         ED: 1 / ES: 12 / Group: DCM / Height: 184.0 /
                                         NbFrame: 30 / Weight: 95.0
        patientXXX_4d.nii.gz             (x, y, slice, frame) cine (optional here)
        patientXXX_frameNN.nii.gz        (x, y, slice) image at frame NN (1-based)
        patientXXX_frameNN_gt.nii.gz     labels at that frame (ACDC convention)

Conventions of the Case (documented choices):

* Labels are already in the suite's ACDC convention (0 bg, 1 RV cavity, 2 myocardium,
  3 LV cavity; creatis ACDC evaluation page), so no mapping is applied; other values raise.
* ``Info.cfg`` frame numbers are 1-based; ``meta.ed_frame``/``es_frame`` are 0-based.
* With ``patientXXX_4d.nii.gz``: ``reference`` holds every frame ``(slice, frame, y, x)``
  and ``labels`` is a full ``(slice, frame, y, x)`` array, zero except at the ED and ES
  frames, which ``meta.annotated_frames = (ED, ES)`` lists (DESIGN.md: the other frames are
  ignored by metrics).
* Without it: ``reference`` stacks only the annotated frame files, in frame order, and the
  0-based frame indices refer to that stack; ``meta.extra["source_frames"]`` keeps the
  original 0-based frame numbers.
* ``meta.strata["group"]`` is the pathology group (NOR, MINF, DCM, HCM, RV);
  ``meta.extra`` holds ``height_cm``, ``weight_kg`` and ``nb_frames``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from suite.case import Case, CaseMeta
from suite.data.errors import CorruptFileError, LayoutError
from suite.data.hashing import sha256_of_files
from suite.data.limits import InputLimits
from suite.data.nifti_io import find_nifti, read_nifti, volume_meta

__all__ = ["read_acdc_patient", "is_acdc_patient", "find_acdc_patients", "parse_info_cfg"]

_FRAME = re.compile(r"^(?P<pid>.+)_frame(?P<num>\d+)\.nii(\.gz)?$")


def is_acdc_patient(folder: str | Path) -> bool:
    """True for a folder holding ``Info.cfg`` and at least one ``*_frameNN[_gt].nii[.gz]``."""
    d = Path(folder)
    return (d / "Info.cfg").is_file() and any(
        _FRAME.match(p.name) or p.name.endswith(("_gt.nii.gz", "_gt.nii")) for p in d.iterdir())


def find_acdc_patients(root: str | Path) -> list[Path]:
    """Patient folders under ``root`` (itself, its children, or grandchildren), sorted."""
    r = Path(root)
    if is_acdc_patient(r):
        return [r]
    found = [p.parent for p in sorted(r.glob("*/Info.cfg")) + sorted(r.glob("*/*/Info.cfg"))]
    return sorted(p for p in found if is_acdc_patient(p))


def parse_info_cfg(path: str | Path) -> dict[str, str]:
    """``Info.cfg`` as ``{key: value}`` strings (``"ED: 1"`` lines).

    Raises
    ------
    LayoutError
        Unreadable file, or a line without ``key: value``.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="strict")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptFileError(p, f"Info.cfg cannot be read ({exc})",
                               "restore Info.cfg from the ACDC archive") from None
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if ":" not in line:
            raise LayoutError(p, f"line {n} is not `key: value` ({line.strip()[:40]!r})",
                              "restore Info.cfg from the ACDC archive")
        key, value = line.split(":", 1)
        out[key.strip()] = value.strip()
    return out


def _int_field(p: Path, info: dict[str, str], key: str) -> int:
    if key not in info:
        raise LayoutError(p, f"Info.cfg lacks `{key}`",
                          "ACDC Info.cfg must give ED and ES (1-based frame numbers)")
    try:
        value = int(float(info[key]))
    except ValueError:
        raise LayoutError(p, f"Info.cfg `{key}` is {info[key]!r}, not a frame number",
                          "ED and ES are 1-based frame numbers") from None
    if value < 1:
        raise LayoutError(p, f"Info.cfg `{key}` is {value}; frame numbers start at 1",
                          "ED and ES are 1-based frame numbers")
    return value


def _float_or_none(v: str | None) -> float | None:
    try:
        return None if v is None else float(v)
    except ValueError:
        return None


def read_acdc_patient(folder: str | Path, *, dataset: str = "acdc",
                      limits: InputLimits | None = None) -> Case:
    """Read one ACDC patient folder into a Case (conventions in the module docstring).

    Parameters
    ----------
    folder : str or path-like
        ``patientXXX/`` with ``Info.cfg`` and the frame files.
    dataset : str, default "acdc"
    limits : InputLimits, optional
        Size limits of every NIfTI header (:mod:`suite.data.limits`).

    Returns
    -------
    Case
        ``reference`` float32 ``(slice, frame, y, x)``, ``labels`` uint8 same shape,
        ``meta`` with ED/ES (0-based), annotated frames, spacing (NIfTI zooms, mm),
        group, height, weight, source folder and the combined SHA-256 of the files used
        (:func:`suite.data.hashing.sha256_of_files`).

    Raises
    ------
    LayoutError
        Missing Info.cfg keys, missing ED/ES frame or ground-truth files, shapes that
        disagree between files, label values outside 0..3.
    CorruptFileError
        Unreadable, truncated or non-finite NIfTI files.
    """
    d = Path(folder)
    cfg = d / "Info.cfg"
    if not cfg.is_file():
        raise LayoutError(d, "ACDC patient folder has no Info.cfg",
                          "each patientXXX/ folder of ACDC holds Info.cfg")
    info = parse_info_cfg(cfg)
    ed1, es1 = _int_field(cfg, info, "ED"), _int_field(cfg, info, "ES")
    pid = d.name
    frames = {}
    for p in d.iterdir():
        m = _FRAME.match(p.name)
        if m:
            frames[int(m.group("num"))] = p
    gts = {}
    for num in sorted({ed1, es1}):
        img = frames.get(num)
        gt = find_nifti(d, f"{pid}_frame{num:02d}_gt") or _find_any_gt(d, num)
        if gt is None:
            raise LayoutError(d / f"{pid}_frame{num:02d}_gt.nii.gz",
                              f"ground truth of frame {num} (ED/ES in Info.cfg) is missing",
                              "restore the _gt file from the ACDC archive")
        gts[num] = (img, gt)
    four_d = find_nifti(d, f"{pid}_4d")
    labels_at = {num: read_nifti(gt, kind="labels", allowed_labels=(0, 1, 2, 3), limits=limits)
                 for num, (_, gt) in gts.items()}
    if four_d is not None:
        ref = read_nifti(four_d, kind="image", limits=limits)
        n_frames = ref.data.shape[1]
        for num in gts:
            if num > n_frames:
                raise LayoutError(cfg, f"ED/ES frame {num} exceeds the {n_frames} frames of "
                                  f"{four_d.name}", "check Info.cfg against the 4-D image")
        index = {num: num - 1 for num in gts}
        reference = ref.data
        source_frames = None
    else:
        for num, (img, _) in gts.items():
            if img is None:
                raise LayoutError(d / f"{pid}_frame{num:02d}.nii.gz",
                                  f"image of frame {num} is missing (and there is no "
                                  f"{pid}_4d.nii.gz)", "restore it from the ACDC archive")
        order = sorted(gts)
        vols = [read_nifti(gts[n][0], kind="image", limits=limits) for n in order]
        _same_shapes(d, [v.data.shape for v in vols], [gts[n][0].name for n in order])
        ref = vols[0]
        reference = np.concatenate([v.data for v in vols], axis=1)
        index = {num: i for i, num in enumerate(order)}
        source_frames = [n - 1 for n in order]
    labels = np.zeros(reference.shape, np.uint8)
    for num, vol in labels_at.items():
        want = reference.shape[:1] + reference.shape[2:]
        got = vol.data.shape[:1] + vol.data.shape[2:]
        if vol.data.shape[1] != 1 or got != want:
            raise LayoutError(vol.path, f"label map has shape {vol.data.shape} (slice, frame, "
                              f"y, x) but the image has (slice, y, x) = {want}",
                              "image and ground truth must come from the same frame")
        labels[:, index[num]] = vol.data[:, 0]
    meta_kw: dict[str, Any] = volume_meta(ref)
    meta_kw["source_file"] = str(d)
    used = [cfg] + ([four_d] if four_d is not None else [gts[n][0] for n in gts])
    digest, per_file = sha256_of_files(used + [gts[n][1] for n in gts])
    extra: dict[str, Any] = {"height_cm": _float_or_none(info.get("Height")),
                             "weight_kg": _float_or_none(info.get("Weight")),
                             "nb_frames": _float_or_none(info.get("NbFrame")),
                             "label_convention": "acdc (no mapping)",
                             "source_files_sha256": per_file}
    if source_frames is not None:
        extra["source_frames"] = source_frames
    ed, es = index[ed1], index[es1]
    meta = CaseMeta(subject=pid, dataset=dataset, series="cine_sax", ed_frame=ed, es_frame=es,
                    annotated_frames=tuple(sorted({ed, es})),
                    strata={"group": info.get("Group")}, source_sha256=digest,
                    extra=extra, **meta_kw)
    try:
        return Case(reference=np.ascontiguousarray(reference), labels=labels, meta=meta)
    except ValueError as exc:
        raise LayoutError(d, f"the assembled Case is invalid ({exc})",
                          "check the patient's NIfTI files") from None


def _find_any_gt(d: Path, num: int) -> Path | None:
    for p in sorted(d.glob(f"*_frame{num:02d}_gt.nii*")):
        return p
    return None


def _same_shapes(d: Path, shapes: list, names: list[str]) -> None:
    if len(set(shapes)) > 1:
        raise LayoutError(d, f"frame images differ in shape: "
                          f"{dict(zip(names, shapes))}", "all frames must share one grid")

"""NIfTI images and label maps: Case arrays ⇄ 4-D NIfTI files.

Orientation convention (used by the writers and the readers, so a round trip is exact)
--------------------------------------------------------------------------------------
NIfTI stores voxel data as ``(x, y, slice[, frame])`` (first index fastest on disk); the
suite stores ``(slice, frame, y, x)``. The reader transposes ``nifti[x, y, s, f] →
case[s, f, y, x]`` and the writer does the inverse; no flips, no reorientation to RAS
(ACDC and M&Ms ship short-axis stacks in scanner voxel order and their evaluation scripts
work in that voxel order: creatis ACDC ``metrics_acdc.py``, vicmancr/mnms_example
``metrics_mnms.py``). Spacing: NIfTI zooms ``(dx, dy, dz[, dt])`` ↔ suite
``spacing_mm = (dy, dx, dz)`` (``CaseMeta.pixel_spacing_mm = (dy, dx)``,
``slice_thickness_mm = dz``) and ``temporal_resolution_ms = dt`` when the time unit says ms
(s are converted). The writers set the affine to ``diag(dx, dy, dz, 1)`` and the units to
mm / ms.

A 3-D file ``(x, y, slice)`` reads as one frame; a 2-D file as one slice and one frame.

Determinism: ``.nii.gz`` is compressed here with ``gzip`` at ``mtime=0`` and no file name in
the gzip header, so the same arrays give byte-identical files.

Header checks before any voxel is read (:func:`read_nifti_header`): 2 to 4 axes (trailing
singleton axes dropped), every axis at least 1, an integer or float voxel type, the declared
size within the limits of :mod:`suite.data.limits` (for ``.nii.gz`` at most ``max_expansion``
times the file: deflate cannot do more) and, for an uncompressed ``.nii``, within the file
(``vox_offset`` + declared bytes ≤ file size; otherwise the file is truncated).
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

from suite._atomic import atomic_write_bytes
from suite.data.errors import CorruptFileError, LayoutError, check_file
from suite.data.limits import InputLimits, check_declared

__all__ = [
    "write_labels_nifti", "write_image_nifti", "read_nifti", "read_nifti_header", "NiftiVolume",
    "NiftiHeader", "to_case_axes", "from_case_axes", "is_nifti", "find_nifti",
]

_NIFTI1_MAGIC = (b"n+1\x00", b"ni1\x00")
_NIFTI2_MAGIC = (b"n+2\x00", b"ni2\x00")
_GZIP_MAGIC = b"\x1f\x8b"


# ====================================================================== axes
def to_case_axes(data: np.ndarray) -> np.ndarray:
    """NIfTI ``(x, y[, slice[, frame]])`` → suite ``(slice, frame, y, x)``."""
    if data.ndim == 2:
        data = data[:, :, None, None]
    elif data.ndim == 3:
        data = data[:, :, :, None]
    elif data.ndim != 4:
        raise ValueError(f"expected 2 to 4 axes, got shape {data.shape}")
    return np.transpose(data, (2, 3, 1, 0))


def from_case_axes(data: np.ndarray) -> np.ndarray:
    """Suite ``(slice, frame, y, x)`` → NIfTI ``(x, y, slice, frame)``."""
    if data.ndim != 4:
        raise ValueError(f"expected (slice, frame, y, x), got shape {data.shape}")
    return np.transpose(data, (3, 2, 0, 1))


# ====================================================================== writers
def write_labels_nifti(path: str | os.PathLike, labels: np.ndarray, spacing_mm,
                       *, temporal_resolution_ms: float | None = None) -> Path:
    """Write a label map ``(slice, frame, y, x)`` uint8 as a 4-D NIfTI ``(x, y, slice, frame)``.

    Parameters
    ----------
    path : str or path-like
        ``.nii`` or ``.nii.gz`` (compressed deterministically).
    labels : ndarray, uint8, shape (slice, frame, y, x)
        Values as given (the suite's ACDC convention: 0 bg, 1 RV, 2 MYO, 3 LV).
    spacing_mm : sequence of 3 floats
        ``(dy, dx, dz)`` in mm; NIfTI zooms become ``(dx, dy, dz, dt)``.
    temporal_resolution_ms : float, optional
        Frame spacing ``dt`` in ms (default 1.0 when unknown).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        Not 4-D, not integer, values outside 0..255, or a bad spacing.
    """
    lab = np.asarray(labels)
    if lab.ndim != 4:
        raise ValueError(f"write_labels_nifti: labels must be (slice, frame, y, x); "
                         f"got shape {lab.shape}")
    if lab.dtype.kind not in "ub" and not (lab.dtype.kind == "i" and lab.min(initial=0) >= 0):
        raise ValueError(f"write_labels_nifti: labels must be unsigned integers; got {lab.dtype}")
    if lab.size and int(lab.max()) > 255:
        raise ValueError("write_labels_nifti: labels must fit uint8 (0..255)")
    return _write(Path(path), lab.astype(np.uint8), spacing_mm, temporal_resolution_ms)


def write_image_nifti(path: str | os.PathLike, images: np.ndarray, spacing_mm,
                      *, temporal_resolution_ms: float | None = None) -> Path:
    """Write magnitude images ``(slice, frame, y, x)`` as 4-D float32 NIfTI.

    Complex input is written as its magnitude. Parameters as in
    :func:`write_labels_nifti`. Raises ``ValueError`` for non-finite values or a bad shape.
    """
    img = np.asarray(images)
    if img.ndim != 4:
        raise ValueError(f"write_image_nifti: images must be (slice, frame, y, x); "
                         f"got shape {img.shape}")
    if np.iscomplexobj(img):
        img = np.abs(img)
    img = img.astype(np.float32)
    if not np.isfinite(img).all():
        raise ValueError("write_image_nifti: images hold non-finite values")
    return _write(Path(path), img, spacing_mm, temporal_resolution_ms)


def _write(path: Path, data: np.ndarray, spacing_mm, dt: float | None) -> Path:
    sp = [float(v) for v in spacing_mm]
    if len(sp) != 3 or not all(np.isfinite(sp)) or min(sp) <= 0:
        raise ValueError(f"NIfTI writer: spacing_mm must be 3 positive numbers (dy, dx, dz); "
                         f"got {spacing_mm!r}")
    dy, dx, dz = sp
    vol = np.ascontiguousarray(from_case_axes(data))
    img = nib.Nifti1Image(vol, np.diag([dx, dy, dz, 1.0]))
    hdr = img.header
    hdr.set_data_dtype(vol.dtype)
    hdr.set_zooms((dx, dy, dz, float(dt) if dt else 1.0))
    hdr.set_xyzt_units("mm", "msec")
    hdr.set_qform(img.affine, code=1)
    hdr.set_sform(img.affine, code=1)
    raw = img.to_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".gz"):
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as gz:
            gz.write(raw)
        raw = buf.getvalue()
    return atomic_write_bytes(path, raw)  # no temporary file left on error


# ====================================================================== reader
@dataclass(frozen=True)
class NiftiVolume:
    """A NIfTI file read into suite axes.

    Attributes
    ----------
    data : ndarray, shape (slice, frame, y, x)
        float32 for images, uint8 for labels (``kind="labels"``).
    spacing_mm : tuple of 3 floats
        ``(dy, dx, dz)`` in mm.
    temporal_resolution_ms : float or None
        4th zoom converted to ms, or None when the file has no time unit or 3 axes.
    path : pathlib.Path
    """

    data: np.ndarray
    spacing_mm: tuple[float, float, float]
    temporal_resolution_ms: float | None
    path: Path


def find_nifti(folder: Path, stem: str) -> Path | None:
    """``folder/stem.nii.gz``, else ``folder/stem.nii``, else ``None`` (dataset layouts such as
    ACDC and M&Ms name their files by stem)."""
    for ext in (".nii.gz", ".nii"):
        p = Path(folder) / (stem + ext)
        if p.is_file():
            return p
    return None


def is_nifti(path: str | os.PathLike) -> bool:
    """True when the content is NIfTI-1/2 (plain or gzip), whatever the extension."""
    try:
        head = _head_bytes(Path(path), 548)
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error):
        return False
    return head[344:348] in _NIFTI1_MAGIC or head[4:8] in _NIFTI2_MAGIC


def _head_bytes(p: Path, n: int) -> bytes:
    with open(p, "rb") as fh:
        start = fh.read(2)
    if start == _GZIP_MAGIC:
        with gzip.open(p, "rb") as gz:
            return gz.read(n)
    with open(p, "rb") as fh:
        return fh.read(n)


@dataclass(frozen=True)
class NiftiHeader:
    """A NIfTI header checked at open (no voxel read).

    Attributes
    ----------
    path : pathlib.Path
    nifti_shape : tuple of int
        ``(x, y[, slice[, frame]])`` as stored (trailing singleton axes beyond 4 dropped).
    shape : tuple of int
        The suite's ``(slice, frame, y, x)`` shape :func:`read_nifti` returns.
    dtype : numpy.dtype
        The stored voxel type.
    zooms : tuple of float
        NIfTI zooms ``(dx, dy[, dz[, dt]])``.
    units : tuple of str
        Spatial and temporal units (``("mm", "msec")``).
    """

    path: Path
    nifti_shape: tuple[int, ...]
    shape: tuple[int, int, int, int]
    dtype: np.dtype
    zooms: tuple[float, ...]
    units: tuple[str, str]


def read_nifti_header(path: str | os.PathLike, *,
                      limits: InputLimits | None = None) -> NiftiHeader:
    """Read and check a NIfTI header (module docstring, header checks); no voxel is read.

    Parameters
    ----------
    path : str or path-like
    limits : InputLimits, optional
        Size limits (default :data:`suite.data.limits.DEFAULT_LIMITS`).

    Returns
    -------
    NiftiHeader

    Raises
    ------
    CorruptFileError
        Missing, empty, not NIfTI, unreadable header, or (``.nii``) a header declaring more
        voxel bytes than the file holds.
    LayoutError
        More than 4 axes or fewer than 2, an axis of length 0, a voxel type that is not an
        integer or a float.
    TooLargeError
        The declared voxels exceed the limits.
    """
    return _open_header(path, limits)[1]


def _open_header(path, limits: InputLimits | None):
    p = check_file(path, "a NIfTI file", "pass a .nii or .nii.gz image")
    if not is_nifti(p):
        raise CorruptFileError(p, "not a NIfTI-1/2 file (no NIfTI magic in the header)",
                               "pass a .nii or .nii.gz image")
    damaged = "the file is truncated or damaged; fetch it again"
    try:
        img = nib.load(str(p))
        hdr = img.header
        shape = tuple(int(v) for v in img.shape)
        dtype = np.dtype(hdr.get_data_dtype())
        zooms = tuple(float(z) for z in hdr.get_zooms())
        units = tuple(str(u) for u in hdr.get_xyzt_units())
        # nibabel moves a vox_offset it does not like into the array proxy
        offset = int(getattr(img.dataobj, "offset", hdr.get_data_offset()))
        data_file = getattr(img.dataobj, "file_like", None)  # the .img of a .hdr/.img pair
        data_path = Path(data_file) if isinstance(data_file, str) else p
        size = data_path.stat().st_size
    except Exception as exc:  # noqa: BLE001 - nibabel/gzip/zlib/EOF errors all mean damage
        raise CorruptFileError(p, f"NIfTI header cannot be read ({type(exc).__name__}: {exc})",
                               damaged) from None
    while len(shape) > 4 and shape[-1] == 1:
        shape = shape[:-1]
    if not 2 <= len(shape) <= 4:
        raise LayoutError(p, f"NIfTI array has shape {shape}; expected (x, y[, slice"
                          "[, frame]])", "store one short-axis series per file")
    if min(shape) < 1:
        raise LayoutError(p, f"NIfTI header declares shape {shape}, with an empty axis",
                          "the header is damaged; re-export the image")
    if dtype.kind not in "biuf":
        raise LayoutError(p, f"NIfTI voxels have type {dtype}; expected integers or floats",
                          "store magnitude images or integer labels")
    n = int(np.prod(shape, dtype=object))
    stored = n * dtype.itemsize
    check_declared(p, f"voxels (x, y, slice, frame) = {shape} {dtype}",
                   max(stored, 4 * n), limits, file_bytes=size)  # float32 copy for images
    if not _is_gzip(data_path) and offset + stored > size:
        raise CorruptFileError(data_path, f"truncated: the header declares {stored} voxel bytes "
                               f"at offset {offset} but the file holds {size} bytes", damaged)
    full = shape + (1,) * (4 - len(shape))
    case_shape = (full[2], full[3], full[1], full[0])
    return img, NiftiHeader(p, shape, case_shape, dtype, zooms, units)


def _is_gzip(p: Path) -> bool:
    with open(p, "rb") as fh:
        return fh.read(2) == _GZIP_MAGIC


def read_nifti(path: str | os.PathLike, *, kind: str = "image",
               allowed_labels: tuple[int, ...] | None = None,
               limits: InputLimits | None = None) -> NiftiVolume:
    """Read a NIfTI file into suite axes, checking it fully at open.

    Parameters
    ----------
    path : str or path-like
    kind : {"image", "labels"}
        ``image``: float32, must be finite. ``labels``: integer-valued, returned as uint8.
    allowed_labels : tuple of int, optional
        For labels: values the source convention allows (others raise LayoutError).
    limits : InputLimits, optional
        Size limits checked from the header before the voxels are read.

    Returns
    -------
    NiftiVolume

    Raises
    ------
    CorruptFileError
        Missing, empty, not NIfTI, truncated data or gzip stream, non-finite image values.
    LayoutError
        More than 4 axes or fewer than 2; labels that are not integers or hold values the
        convention does not allow.
    TooLargeError
        The header declares more voxels than the limits allow (:func:`read_nifti_header`).
    """
    if kind not in ("image", "labels"):
        raise ValueError(f"read_nifti: kind must be 'image' or 'labels'; got {kind!r}")
    img, head = _open_header(path, limits)
    p = head.path
    try:
        raw = np.asanyarray(img.dataobj)
    except Exception as exc:  # noqa: BLE001 - nibabel/gzip/zlib/EOF errors all mean damage
        raise CorruptFileError(p, f"NIfTI data cannot be read ({type(exc).__name__}: {exc})",
                               "the file is truncated or damaged; fetch it again") from None
    raw = raw.reshape(head.nifti_shape)
    zooms = list(head.zooms) + [1.0] * 4
    dx, dy = zooms[0], zooms[1]
    dz = zooms[2] if raw.ndim >= 3 else 1.0
    dt = None
    if raw.ndim == 4:
        factor = {"msec": 1.0, "sec": 1000.0, "usec": 1e-3}.get(head.units[1])
        dt = zooms[3] * factor if factor is not None and zooms[3] > 0 else None
    data = to_case_axes(raw)
    if kind == "labels":
        data = _as_labels(p, data, allowed_labels)
    else:
        data = np.ascontiguousarray(data, dtype=np.float32)
        n_bad = int(np.count_nonzero(~np.isfinite(data)))
        if n_bad:
            raise CorruptFileError(p, f"{n_bad} non-finite image values (NaN or inf)",
                                   "the image is damaged; re-export it")
    return NiftiVolume(data=data, spacing_mm=(dy, dx, dz), temporal_resolution_ms=dt, path=p)


def _as_labels(p: Path, data: np.ndarray, allowed: tuple[int, ...] | None) -> np.ndarray:
    arr = np.asarray(data)
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all() or not np.array_equal(arr, np.round(arr)):
            raise LayoutError(p, "label map holds non-integer values",
                              "labels must be integer class indices")
    values = np.unique(arr)
    ok = set(allowed) if allowed is not None else set(range(256))
    bad = [v.item() for v in values if v not in ok]
    if bad:
        raise LayoutError(p, f"label map holds values {bad[:10]} outside the convention's "
                          f"{sorted(ok) if allowed is not None else '0..255'}",
                          "check that this is a label file of the named dataset")
    return np.ascontiguousarray(arr, dtype=np.uint8)


def volume_meta(vol: NiftiVolume) -> dict[str, Any]:
    """CaseMeta keyword arguments carried by a NIfTI volume (spacing, timing, source)."""
    dy, dx, dz = vol.spacing_mm
    return {"pixel_spacing_mm": (dy, dx), "slice_thickness_mm": dz,
            "temporal_resolution_ms": vol.temporal_resolution_ms, "source_file": str(vol.path)}

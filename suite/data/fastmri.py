"""fastMRI HDF5 volumes → Case, and fastMRI-layout reconstruction files.

File fields (facebookresearch/fastMRI ``fastmri/data/README.md`` @ 91f2df4)
-------------------------------------------------------------------------
==========================  ==========================================================  ============
field                       content                                                     track
==========================  ==========================================================  ============
``kspace``                  complex64 ``(slice, coil, height, width)`` multi-coil,      both
                            ``(slice, height, width)`` emulated single-coil
``mask``                    1-D ``(width,)``, the sampled k-space columns (test files)  test
``reconstruction_rss``      float32 ``(slice, h, w)``, RSS target cropped to the        multi/single
                            centre (knee 320 × 320)
``reconstruction_esc``      float32 ``(slice, 320, 320)``, single-coil target           single
``ismrmrd_header``          ISMRMRD XML (bytes)                                          both
attributes                  ``acquisition``, ``max``, ``norm``, ``patient_id``;          both
                            test files ``acceleration``, ``num_low_frequency``
==========================  ==========================================================  ============

Which axis is phase encode
--------------------------
fastMRI k-space is ``(..., height, width)`` with the **readout along height** and the
**phase encode along width**: the sampling masks select *columns* (``MaskFunc`` in
``fastmri/data/subsample.py`` builds the mask over ``shape[-2]`` of the real-view tensor
``(..., H, W, 2)``, i.e. over W; test files hold ``mask`` with length equal to the k-space
width), and the ISMRMRD header's ``encodedSpace/matrixSize`` has ``x`` = height (readout,
e.g. 640 for knee with 2× oversampling) and ``y`` = width (phase encode, e.g. 368).
The suite's Case puts phase encode on ``ky`` (axis -2; ``suite.mr.sampling`` always samples
ky lines), so the reader **transposes the last two axes**:

    ``case.kspace[s, 0, c, ky, kx] = file["kspace"][s, c, kx, ky]``
    (ky = fastMRI width / phase encode, kx = fastMRI height / readout), frame axis of size 1.

Images follow (the centred FFT commutes with the transpose): our image ``(y, x)`` is the
transpose of fastMRI's ``(H, W)`` image. The target (``reconstruction_rss``/``_esc``) is
transposed the same way and put in ``Case.truth`` (it is cropped, so it cannot be
``Case.reference``, which must have the k-space grid; and a method must never see it), and
:func:`write_fastmri_reconstruction` transposes back, so a file it writes compares
pixel-for-pixel with the fastMRI target in fastMRI's ``evaluate.py``.

Safety: files are opened through :func:`suite.data.hdf5_safe.open_hdf5` (no external or soft
links, virtual datasets, external storage or filter plugins; declared sizes within the
limits of :mod:`suite.data.limits`), and shapes are checked before any array is read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from suite.case import Case, CaseMeta
from suite.data.errors import CaseReadError, CorruptFileError, LayoutError, check_file
from suite.data.hashing import sha256_file
from suite.data.limits import InputLimits, check_declared

__all__ = ["read_fastmri", "open_fastmri", "FastMRISource", "is_fastmri_file",
           "write_fastmri_reconstruction", "TARGET_KEYS"]

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
#: Target datasets, in order of preference per track.
TARGET_KEYS = {"multi": ("reconstruction_rss",),
               "single": ("reconstruction_esc", "reconstruction_rss")}
_ATTRS = ("acquisition", "max", "norm", "patient_id", "acceleration", "num_low_frequency")


def is_fastmri_file(path: str | os.PathLike) -> bool:
    """True for an HDF5 file with a top-level ``kspace`` dataset and no ISMRMRD ``/dataset``.

    Never raises: a damaged file gives False so the caller reports its own error. Links are
    looked at, never followed (:func:`suite.data.hdf5_safe.has_link`).
    """
    import h5py

    from suite.data.hdf5_safe import has_link

    try:
        with open(path, "rb") as fh:
            if fh.read(8) != HDF5_MAGIC:
                return False
        with h5py.File(path, "r") as f:
            return has_link(f, "kspace") and not has_link(f, "dataset")
    except Exception:  # noqa: BLE001
        return False


@dataclass
class FastMRISource:
    """An open fastMRI file: layout, mask, target and header checked; arrays on demand.

    Attributes
    ----------
    path : pathlib.Path
    single_coil : bool
    shape : tuple of int
        Case k-space shape ``(slice, 1, coil, ky, kx)`` (ky = fastMRI width).
    mask : numpy.ndarray, bool, ``(1, 1, 1, ky, 1)``
        From ``mask`` (test files) or all True (fully sampled train/val files).
    target_key : str or None
        ``reconstruction_rss``/``reconstruction_esc`` when present.
    target_shape : tuple of int or None
        Target shape in Case orientation ``(slice, 1, y, x)``.
    meta : CaseMeta
    limits : InputLimits or None
        The limits checked at open; reads re-open the file with them.
    """

    path: Path
    single_coil: bool
    shape: tuple[int, int, int, int, int]
    mask: np.ndarray = field(repr=False)
    target_key: str | None
    target_shape: tuple[int, int, int, int] | None
    meta: CaseMeta = field(repr=False)
    limits: InputLimits | None = field(default=None, repr=False)

    @property
    def n_slices(self) -> int:
        return self.shape[0]

    def _sel(self, slices: Iterable[int] | None) -> list[int]:
        ns = self.n_slices
        sel = list(range(ns)) if slices is None else [int(s) for s in slices]
        for s in sel:
            if not 0 <= s < ns:
                raise IndexError(f"{self.path}: slice {s} outside 0..{ns - 1}")
        return sel

    def _read(self, key: str, sel: list[int]) -> np.ndarray:
        from suite.data.hdf5_safe import open_hdf5

        try:
            with open_hdf5(self.path, limits=self.limits) as f:
                d = f[key]
                return np.stack([np.asarray(d[s]) for s in sel]) if sel else \
                    np.zeros((0,) + d.shape[1:], d.dtype)
        except CaseReadError:
            raise
        except Exception as exc:  # noqa: BLE001 - any h5py failure means a damaged file
            raise CorruptFileError(self.path, f"`{key}` cannot be read ({type(exc).__name__}: "
                                   f"{exc})", "the file is truncated or damaged; fetch it "
                                   "again") from None

    def read_target(self, slices: Iterable[int] | None = None) -> np.ndarray | None:
        """The target image in Case orientation, float32 ``(slice, 1, y, x)``, or None.

        ``target[s, 0, y, x] = file[target_key][s, x, y]`` (module docstring).
        """
        if self.target_key is None:
            return None
        raw = self._read(self.target_key, self._sel(slices)).astype(np.float32)
        if not np.isfinite(raw).all():
            raise CorruptFileError(self.path, f"`{self.target_key}` holds "
                                   f"{int(np.count_nonzero(~np.isfinite(raw)))} non-finite values",
                                   "the file is damaged; fetch it again")
        return np.ascontiguousarray(np.swapaxes(raw, -1, -2)[:, None])

    def read(self, slices: Iterable[int] | None = None) -> Case:
        """Read k-space (and the target, into ``truth``) of all or some slices.

        Returns
        -------
        Case
            ``kspace`` complex64 ``(slice, 1, coil, ky, kx)``, ``mask`` ``(1, 1, 1, ky, 1)``,
            ``truth = {"target": (slice, 1, y, x) float32, "target_key": name}`` when the
            file has a target, ``meta``.

        Raises
        ------
        CorruptFileError
            Unreadable (truncated) data or non-finite k-space values.
        """
        sel = self._sel(slices)
        raw = self._read("kspace", sel)
        k = _as_complex64(raw, self.path)
        if self.single_coil:
            k = k[:, None]
        n_bad = int(np.count_nonzero(~np.isfinite(k.view(np.float32))))
        if n_bad:
            raise CorruptFileError(self.path, f"{n_bad} non-finite k-space values (NaN or inf)",
                                   "the file is damaged; fetch it again")
        kspace = np.ascontiguousarray(np.swapaxes(k, -1, -2)[:, None])
        truth = None
        if self.target_key is not None:
            truth = {"target": self.read_target(sel), "target_key": self.target_key}
        extra = dict(self.meta.extra)
        if slices is not None:
            extra["slice_indices"] = sel
        meta = self.meta.replace(extra=extra, source_sha256=sha256_file(self.path))
        try:
            return Case(kspace=kspace, mask=self.mask, truth=truth, meta=meta)
        except ValueError as exc:  # Case validation
            raise LayoutError(self.path, f"the assembled Case is invalid ({exc})",
                              "the file is inconsistent; check its datasets") from None


def _as_complex64(raw: np.ndarray, p: Path) -> np.ndarray:
    if raw.dtype.kind == "c":
        return raw.astype(np.complex64, copy=False)
    names = raw.dtype.names or ()
    for re_, im in (("r", "i"), ("real", "imag")):
        if re_ in names and im in names:
            out = np.empty(raw.shape, np.complex64)
            out.real, out.imag = raw[re_], raw[im]
            return out
    raise LayoutError(p, f"`kspace` has dtype {raw.dtype}, not complex",
                      "fastMRI k-space is complex64")


def open_fastmri(path: str | os.PathLike, *, dataset: str | None = None,
                 limits: InputLimits | None = None) -> FastMRISource:
    """Open a fastMRI ``.h5`` volume and check its layout (no k-space read).

    Parameters
    ----------
    path : str or path-like
    dataset : str, optional
        ``meta.dataset`` (default ``"fastmri"``).
    limits : InputLimits, optional
        Size limits checked from the headers (:mod:`suite.data.limits`).

    Returns
    -------
    FastMRISource

    Raises
    ------
    CorruptFileError
        Missing, empty, not HDF5, truncated.
    LayoutError
        No ``kspace``; ``kspace`` not 3-D/4-D or not complex (a compound without its
        imaginary field included); ``mask`` not 1-D over the k-space width or not 0/1; a
        target whose slice count differs; an ``ismrmrd_header`` that is not XML.
    UnsafeFileError
        An object that leaves the file (links, virtual datasets, external storage).
    TooLargeError
        Declared sizes above the limits.
    """
    from suite.data.hdf5_safe import open_hdf5

    p = check_file(path, "a fastMRI file", "pass a .h5 file")
    with open(p, "rb") as fh:
        magic = fh.read(8)
    if magic != HDF5_MAGIC:
        raise CorruptFileError(p, f"not an HDF5 file (first bytes {magic!r})",
                               "fastMRI volumes are HDF5 .h5 files")
    f = open_hdf5(p, limits=limits)
    try:
        return _open(p, f, dataset, limits)
    except CaseReadError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise CorruptFileError(p, f"HDF5 content cannot be read ({type(exc).__name__}: {exc})",
                               "the file is truncated or damaged; fetch it again") from None
    finally:
        f.close()


def read_fastmri(path: str | os.PathLike, **options: Any) -> Case:
    """Read a whole fastMRI volume into a Case (``open_fastmri(path, **options).read()``)."""
    return open_fastmri(path, **options).read()


def _dataset(p: Path, f: Any, key: str) -> Any:
    import h5py

    d = f[key]
    if not isinstance(d, h5py.Dataset):
        raise LayoutError(p, f"`{key}` is an HDF5 group, not a dataset",
                          "this is not a fastMRI volume")
    return d


def _open(p: Path, f: Any, dataset: str | None, limits: InputLimits | None) -> FastMRISource:
    if "kspace" not in f:
        raise LayoutError(p, f"HDF5 file has no `kspace` dataset (keys {sorted(f.keys())}), so "
                          "it is not a fastMRI volume", "pass a fastMRI .h5 file")
    d = _dataset(p, f, "kspace")
    if d.ndim not in (3, 4) or 0 in d.shape:
        raise LayoutError(p, f"`kspace` has shape {d.shape}; expected (slice, coil, height, "
                          "width) or single-coil (slice, height, width)",
                          "this is not a fastMRI volume")
    dt = d.dtype
    if dt.kind != "c":
        names = dt.names or ()
        if not (({"r", "i"} <= set(names)) or ({"real", "imag"} <= set(names))):
            raise LayoutError(p, f"`kspace` has dtype {dt} (fields {list(names)}), not complex "
                              "(needs both real and imaginary parts)",
                              "fastMRI k-space is complex64")
    single = d.ndim == 3
    if single:
        ns, h, w = d.shape
        nc = 1
    else:
        ns, nc, h, w = d.shape
    shape = (ns, 1, nc, w, h)
    check_declared(p, f"k-space (slice, frame, coil, ky, kx) = {shape} complex64",
                   8 * int(np.prod(shape, dtype=object)), limits, file_bytes=p.stat().st_size)
    mask = np.ones((1, 1, 1, w, 1), bool)
    mask_source = "fully sampled (no `mask` dataset)"
    if "mask" in f:
        md = _dataset(p, f, "mask")
        if md.ndim != 1 or md.shape[0] != w:  # checked before the mask is read
            raise LayoutError(p, f"`mask` has shape {md.shape}; expected ({w},), one entry per "
                              "k-space column (width = phase encode)",
                              "the mask must match the k-space width")
        m = np.asarray(md[()])
        if m.dtype != np.bool_ and not np.isin(m, (0, 1)).all():
            raise LayoutError(p, "`mask` holds values other than 0 and 1",
                              "pass a binary column mask")
        mask = m.astype(bool).reshape(1, 1, 1, w, 1)
        mask_source = "`mask` dataset (columns = ky)"
    track = "single" if single else "multi"
    target_key = next((k for k in TARGET_KEYS[track] if k in f), None)
    target_shape = None
    if target_key is not None:
        t = _dataset(p, f, target_key)
        if t.ndim != 3 or t.shape[0] != ns:
            raise LayoutError(p, f"`{target_key}` has shape {t.shape}; expected ({ns}, h, w), "
                              "one image per k-space slice", "the file is inconsistent")
        target_shape = (ns, 1, int(t.shape[2]), int(t.shape[1]))
    attrs = {k: _plain(f.attrs[k]) for k in _ATTRS if k in f.attrs}
    header = _header_meta(p, f)
    extra: dict[str, Any] = {"fastmri_attrs": attrs, "track": track, "mask_source": mask_source,
                             "file_shape": list(d.shape), "axes": "ky = width, kx = height",
                             **header.pop("extra", {})}
    if "acceleration" in attrs:
        extra["acceleration"] = attrs["acceleration"]
    acq = attrs.get("acquisition")
    strata = {k: header.get(k) for k in ("vendor", "field_strength_t", "site")}
    meta = CaseMeta(subject=p.stem, dataset=dataset or "fastmri",
                    series=str(acq) if acq else "unknown", sequence=str(acq) if acq else None,
                    source_file=str(p), strata=strata, extra=extra, **header)
    return FastMRISource(p, single, shape, mask, target_key, target_shape, meta, limits)


def _plain(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def _header_meta(p: Path, f: Any) -> dict[str, Any]:
    """CaseMeta fields from ``ismrmrd_header`` (empty if the file has none)."""
    if "ismrmrd_header" not in f:
        return {"extra": {"ismrmrd_header": "absent"}}
    from suite.data import ismrmrd_xml as hx

    raw = _dataset(p, f, "ismrmrd_header")[()]
    raw = raw.tobytes() if isinstance(raw, np.ndarray) else raw
    try:
        h = hx.parse_xml(raw if isinstance(raw, (bytes, str)) else bytes(raw))
    except ValueError as exc:
        raise LayoutError(p, f"`ismrmrd_header` cannot be parsed as ISMRMRD XML ({exc})",
                          "the header must follow the ISMRMRD schema") from None
    out: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    asi = h.acquisitionSystemInformation
    if asi is not None:
        out["vendor"] = asi.systemVendor
        out["site"] = asi.institutionName
        if asi.systemFieldStrength_T is not None:
            out["field_strength_t"] = float(asi.systemFieldStrength_T)
        if asi.systemModel:
            extra["system_model"] = asi.systemModel
    if h.encoding:
        e = h.encoding[0]
        enc, rec = e.encodedSpace, e.reconSpace
        if enc is not None and enc.matrixSize is not None:
            m = enc.matrixSize
            extra["encoded_matrix"] = [int(m.x), int(m.y), int(m.z)]
            fov = enc.fieldOfView_mm
            if fov is not None and fov.x and fov.y and m.x and m.y:
                # Case grid: y = phase encode (header y), x = readout (header x)
                out["pixel_spacing_mm"] = (float(fov.y) / int(m.y), float(fov.x) / int(m.x))
                if fov.z:
                    out["slice_thickness_mm"] = float(fov.z)
        if rec is not None and rec.matrixSize is not None:
            r = rec.matrixSize
            extra["recon_matrix"] = [int(r.x), int(r.y), int(r.z)]
        lim = e.encodingLimits
        e1 = getattr(lim, "kspace_encoding_step_1", None) if lim is not None else None
        if e1 is not None and e1.center is not None and e1.maximum is not None and \
                "encoded_matrix" in extra:
            # fastmri/data/mri_data.py: zero-padded phase-encode columns outside [left, right)
            left = extra["encoded_matrix"][1] // 2 - int(e1.center)
            extra["pe_padding"] = [left, left + int(e1.maximum) + 1]
    return {**{k: v for k, v in out.items() if v is not None}, "extra": extra}


def write_fastmri_reconstruction(path: str | os.PathLike, images: np.ndarray) -> Path:
    """Write one volume's reconstruction as fastMRI's ``save_reconstructions`` does.

    Parameters
    ----------
    path : str or path-like
        Output ``.h5``; fastMRI's ``evaluate.py`` pairs it with the target of the same name.
    images : ndarray, real, ``(slice, y, x)`` or ``(slice, 1, y, x)``
        Magnitude images in **Case orientation** (y = phase encode), e.g. cropped to the
        target size of :meth:`FastMRISource.read_target`.

    Returns
    -------
    pathlib.Path

    Notes
    -----
    The file holds one dataset ``reconstruction``, float32 ``(slice, H, W)`` =
    ``images.transpose(0, 2, 1)`` (fastMRI orientation: rows = readout, columns = phase
    encode; the inverse of the reader's transpose), no attributes, written with
    ``track_times=False`` so the bytes are reproducible (``fastmri/utils.py``
    ``save_reconstructions`` writes ``hf.create_dataset("reconstruction", data=recons)``).
    """
    import h5py

    img = np.asarray(images)
    if img.ndim == 4:
        if img.shape[1] != 1:
            raise ValueError("write_fastmri_reconstruction: fastMRI volumes have one frame; "
                             f"got `images` of shape {img.shape} (slice, frame, y, x)")
        img = img[:, 0]
    if img.ndim != 3:
        raise ValueError("write_fastmri_reconstruction: `images` must have shape (slice, y, x) "
                         f"or (slice, 1, y, x); got {img.shape}")
    if img.dtype.kind == "c":
        raise ValueError("write_fastmri_reconstruction: `images` must be real magnitude images; "
                         "take np.abs first")
    if not np.isfinite(img).all():
        raise ValueError("write_fastmri_reconstruction: `images` holds non-finite values")
    p = Path(path)
    with h5py.File(p, "w") as f:
        f.create_dataset("reconstruction", data=np.ascontiguousarray(
            np.swapaxes(img, -1, -2), np.float32), track_times=False)
    return p

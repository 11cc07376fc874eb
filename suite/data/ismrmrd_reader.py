"""ISMRMRD reader (see :mod:`suite.data.ismrmrd_io` for the layout conventions).

:func:`open_ismrmrd` checks the file, the XML header and the acquisition headers at open and
returns an :class:`IsmrmrdSource` whose :meth:`~IsmrmrdSource.read` assembles k-space
(vectorised read of the ``dataset/data`` compound through h5py).

Checks at open, before any sample is read (docs/input-safety.md): the file through
:func:`suite.data.hdf5_safe.open_hdf5` (no links out of the file, virtual datasets, external
storage, filter plugins; dataset sizes within the limits); the XML header within
``max_header_bytes`` and without a document type declaration; every header number the reader
uses is an integer in range (``receiverChannels`` 1..1024, matrix sizes and encoding limits
0..65535); the acquisition compound has the ISMRMRD fields the reader uses, with integer
counters; and the k-space the header describes, ``(slice, frame, coil, ky, kx)`` complex64,
within the limits of :mod:`suite.data.limits`, including their ratio to the file size, since
the header alone sets the allocation. Any inconsistency is a
:class:`~suite.data.errors.LayoutError` naming the element.
"""


from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import h5py
import numpy as np

from suite.case import Case, CaseMeta
from suite.data import ismrmrd_xml as hx
from suite.data import rawops as ops
from suite.data.rawops import flag_bit
from suite.data.errors import (CaseReadError, CorruptFileError, LayoutError, check_file,
                               header_errors)
from suite.data.hashing import remembered_sha256
from suite.data.hdf5_safe import open_hdf5
from suite.data.limits import InputLimits, check_declared, format_bytes, resolve_limits

__all__ = ["read_ismrmrd", "open_ismrmrd", "IsmrmrdSource", "HDF5_MAGIC"]

#: First 8 bytes of every HDF5 file with the superblock at offset 0.
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


# flag numbers of ismrmrd/ismrmrd-python ``ismrmrd/constants.py`` (``rawops.flag_bit``)
_NOISE = flag_bit(19)
_CALIB, _CALIB_AND_IMAGING = flag_bit(20), flag_bit(21)
_SKIP = {"navigation": flag_bit(23), "phasecorr": flag_bit(24), "hpfeedback": flag_bit(26),
         "dummyscan": flag_bit(27), "rtfeedback": flag_bit(28),
         "surfacecoilcorrection": flag_bit(29), "phase_stabilisation_ref": flag_bit(30),
         "phase_stabilisation": flag_bit(31)}


# ====================================================================== reader
@dataclass
class _Layout:
    """Geometry derived from the header (private)."""

    n_slices: int
    n_phases: int
    n_reps: int
    n_coils: int
    ny: int
    ky_offset: int
    nx_enc: int
    nx: int
    os: int
    ky_center: int | None
    sets: int
    averages: int
    encoded_matrix: tuple[int, int, int]
    recon_matrix: tuple[int, int, int]


@dataclass
class IsmrmrdSource:
    """An open ISMRMRD file: header and acquisition headers checked; k-space on demand.

    Use :func:`open_ismrmrd` to make one. ``read()`` returns the Case of all slices,
    ``read(slices=[i])`` only slice ``i`` (reads only the acquisitions of that slice).
    """

    path: Path
    header: Any
    layout: _Layout
    heads: np.ndarray = field(repr=False)
    image_rows: np.ndarray = field(repr=False)
    noise_rows: np.ndarray = field(repr=False)
    skipped: dict[str, int] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    _meta: CaseMeta | None = field(default=None, repr=False)
    limits: InputLimits | None = field(default=None, repr=False)
    #: the sample column (object array of float32 arrays, one per acquisition) when the file's
    #: records were read whole at open for :func:`read_ismrmrd` (:func:`_read_records`)
    _samples: np.ndarray | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ properties
    @property
    def n_slices(self) -> int:
        return self.layout.n_slices

    @property
    def n_frames(self) -> int:
        lay = self.layout
        return lay.n_phases * (lay.n_reps if self.options["repetitions"] == "frames" else 1)

    @property
    def shape(self) -> tuple[int, int, int, int, int]:
        """k-space shape ``(slice, frame, coil, ky, kx)`` that :meth:`read` returns."""
        lay = self.layout
        return (lay.n_slices, self.n_frames, lay.n_coils, lay.ny, lay.nx)

    def line_mask(self) -> np.ndarray:
        """bool ``(slice, frame, ky)``: which lines any imaging acquisition fills (no I/O)."""
        idx = self.heads["idx"][self.image_rows]
        out = np.zeros(self.shape[:2] + (self.layout.ny,), bool)
        out[idx["slice"], self._frames(idx), idx["kspace_encode_step_1"].astype(np.int64)
            + self.layout.ky_offset] = True
        return out

    @property
    def meta(self) -> CaseMeta:
        """Case metadata from the header (``source_sha256`` is filled by :meth:`read`)."""
        if self._meta is None:
            self._meta = _meta_from_header(self)
        return self._meta

    # ------------------------------------------------------------------ reading
    def read(self, slices: Iterable[int] | None = None) -> Case:
        """Assemble the Case (k-space, mask, meta) of all or some slices.

        Parameters
        ----------
        slices : iterable of int, optional
            0-based slice indices; default all. The Case holds them in the given order.

        Raises
        ------
        CorruptFileError
            Unreadable acquisitions, or non-finite samples (the count is named).
        LayoutError
            Sample count of an acquisition differs from its header.
        """
        lay = self.layout
        sel = list(range(lay.n_slices)) if slices is None else [int(s) for s in slices]
        for s in sel:
            if not 0 <= s < lay.n_slices:
                raise IndexError(f"{self.path}: slice {s} outside 0..{lay.n_slices - 1}")
        with header_errors(self.path, "acquisitions are inconsistent with the header",
                           "the file was not written by a conforming ISMRMRD writer"):
            return self._read(sel, slices is not None)

    def _read(self, sel: list[int], subset: bool) -> Case:
        lay = self.layout
        pos = {s: i for i, s in enumerate(sel)}
        idx_all = self.heads["idx"]
        rows = self.image_rows[np.isin(idx_all["slice"][self.image_rows], sel)]
        nf = self.n_frames
        ksum = np.zeros((len(sel), nf, lay.n_coils, lay.ny, lay.nx_enc), np.complex64)
        count = np.zeros((len(sel), nf, lay.ny), np.int32)
        sampled = np.zeros((len(sel), nf, lay.ny, lay.nx), bool)
        if self._samples is not None:  # read whole at open (read_ismrmrd)
            raw = self._read_samples(None, rows)
            noise = self._read_samples(None, self.noise_rows) if self._whiten_wanted() else []
        else:
            with self._open() as f:
                raw = self._read_samples(f, rows)
                noise = self._read_samples(f, self.noise_rows) if self._whiten_wanted() else []
        heads = self.heads[rows]
        idx = heads["idx"]
        s_loc = np.array([pos[int(s)] for s in idx["slice"]], np.int64)
        f_loc = self._frames(idx)
        ky = idx["kspace_encode_step_1"].astype(np.int64) + lay.ky_offset
        # every (slice, frame, ky) line held by one acquisition at most: each k-space value is
        # 0.0 + one sample, so the samples are placed (no accumulation) and the division by the
        # line counts (all 0 or 1) is left out (see _place)
        once = _distinct_lines(s_loc, f_loc, ky, nf)
        n_bad = 0
        for n_samp in np.unique(heads["number_of_samples"]):
            grp = np.flatnonzero(heads["number_of_samples"] == n_samp)
            data = np.stack([raw[i] for i in grp]).view(np.complex64)
            data = data.reshape(grp.size, lay.n_coils, int(n_samp))
            n_bad += int(np.count_nonzero(~np.isfinite(data.view(np.float32))))
            offsets = self._offsets(heads[grp])
            for off in np.unique(offsets):
                here = offsets == off
                sub = grp[here]
                dsub = data if here.all() else data[here]
                index = (s_loc[sub], f_loc[sub], slice(None), ky[sub],
                         slice(int(off), int(off) + int(n_samp)))
                if once:
                    ksum[index] = dsub
                else:
                    _add_at(ksum, index, dsub)
                hit = ops.sampled_after_decimation(int(off), int(n_samp), lay.nx_enc, lay.nx)
                sampled[s_loc[sub], f_loc[sub], ky[sub]] |= hit
            if not once:
                _add_at(count, (s_loc[grp], f_loc[grp], ky[grp]), 1)
        if n_bad:
            raise CorruptFileError(
                self.path, f"{n_bad} non-finite k-space values (NaN or inf) in the acquisitions",
                "the raw data are damaged; re-export or re-download this file")
        if once:
            _place(ksum)
        else:
            ksum /= np.maximum(count, 1)[:, :, None, :, None].astype(np.float32)
        reader = dict(self.meta.extra.get("ismrmrd_reader", {}))
        ksum, whitening = self._prewhiten(ksum, noise, reader)
        if lay.os > 1:
            ksum = ops.remove_oversampling(ksum, lay.nx)
        if not sampled.all():  # (fully sampled: nothing to clear)
            full = np.broadcast_to(sampled[:, :, None], ksum.shape)
            ksum[~full] = 0
        mask = _reduce_mask(sampled[:, :, None], reader.get("mask_shape"))
        extra = {**self.meta.extra, **whitening, "ismrmrd_reader": reader}
        if subset:
            extra["slice_indices"] = sel
            geo = extra.get("slice_geometry")
            if geo is not None:
                extra["slice_geometry"] = {k: ([v[i] for i in sel] if isinstance(v, list) else v)
                                           for k, v in geo.items()}
        meta = self.meta.replace(extra=extra, source_sha256=remembered_sha256(self.path))
        try:
            return Case(kspace=np.ascontiguousarray(ksum, np.complex64), mask=mask, meta=meta)
        except ValueError as exc:  # Case validation: e.g. labels/shape problems
            raise LayoutError(self.path, f"the assembled Case is invalid ({exc})",
                              "report this file to the cmrsuite maintainers") from None

    # ------------------------------------------------------------------ helpers
    def _open(self) -> h5py.File:
        return open_hdf5(self.path, limits=self.limits)

    def _read_samples(self, f: h5py.File | None, rows: np.ndarray) -> list[np.ndarray]:
        """The float32 samples of acquisitions ``rows``: from the records read at open when
        :attr:`_samples` holds them (``f`` None), else read from ``f``."""
        if rows.size == 0:
            return []
        if self._samples is not None:
            out = [self._samples[r] for r in rows]
        else:
            lo, hi = int(rows.min()), int(rows.max()) + 1
            try:
                block = f["dataset/data"].fields("data")[lo:hi]
            except Exception as exc:  # noqa: BLE001 - h5py raises OSError/KeyError/RuntimeError
                raise CorruptFileError(self.path, f"acquisition data cannot be read ({exc})",
                                       "the file is truncated or damaged; re-download it") from None
            out = [block[r - lo] for r in rows]
        heads = self.heads[rows]
        want = 2 * heads["active_channels"].astype(np.int64) * heads["number_of_samples"]
        got = np.array([a.size for a in out], np.int64)
        bad = np.flatnonzero(got != want)
        if bad.size:
            i = int(rows[bad[0]])
            raise LayoutError(
                self.path,
                f"{bad.size} acquisitions hold a number of samples different from their header "
                f"(acquisition {i}: {got[bad[0]]} floats, header says {want[bad[0]]} = 2 x "
                "active_channels x number_of_samples)",
                "the file was not written by a conforming ISMRMRD writer")
        return out

    def _frames(self, idx: np.ndarray) -> np.ndarray:
        ph = idx["phase"].astype(np.int64)
        if self.options["repetitions"] == "frames":
            return idx["repetition"].astype(np.int64) * self.layout.n_phases + ph
        return ph

    def _offsets(self, heads: np.ndarray) -> np.ndarray:
        nxe = self.layout.nx_enc
        n = heads["number_of_samples"].astype(np.int64)
        asym = (heads["center_sample"].astype(np.int64) * 2 < nxe) & (n < nxe)
        return np.where(asym, nxe - n, 0)

    def _whiten_wanted(self) -> bool:
        return bool(self.options["prewhiten"]) and self.noise_rows.size > 0

    def _prewhiten(self, k, noise, reader: dict) -> tuple[np.ndarray, dict[str, Any]]:
        """Prewhitened k-space and the ``meta.extra`` keys that record it.

        ``reader`` is this read's own copy of ``extra["ismrmrd_reader"]``; the outcome is
        noted in it under ``"prewhitening"``.
        """
        if not self._whiten_wanted():
            reader["prewhitening"] = ("not requested" if self.noise_rows.size
                                      else "no noise scans in the file")
            return k, {"prewhitened": False}
        nh = self.heads[self.noise_rows]
        if np.any(nh["active_channels"] != self.layout.n_coils):
            raise LayoutError(self.path, "noise scans have a different number of channels "
                              "than receiverChannels", "pass prewhiten=False to skip them")
        x = np.concatenate([a.view(np.complex64).reshape(int(c), -1) for a, c in
                            zip(noise, nh["active_channels"])], axis=1)
        if not np.isfinite(x.view(np.float32)).all():
            n_bad = int(np.count_nonzero(~np.isfinite(x.view(np.float32))))
            raise CorruptFileError(self.path, f"{n_bad} non-finite values in the noise scans",
                                   "re-export the file or pass prewhiten=False")
        psi = ops.noise_covariance(x)
        t_noise = float(nh["sample_time_us"][0])
        t_img = float(self.heads["sample_time_us"][self.image_rows][0]) if self.image_rows.size else 0
        scale = t_noise / t_img if t_noise > 0 and t_img > 0 else 1.0
        try:
            w = ops.whitening_matrix(psi * scale)
        except np.linalg.LinAlgError:
            reader["prewhitening"] = "skipped: noise covariance is not positive definite"
            return k, {"prewhitened": False}
        k = np.einsum("ij,sfjyx->sfiyx", w.astype(np.complex64), k, optimize=True)
        reader["prewhitening"] = ("applied: W = inv(chol(Psi)), Psi = X X^H/(N-1)"
                                  f"{'' if scale == 1.0 else f' x dwell ratio {scale:g}'}")
        return k.astype(np.complex64), {"prewhitened": True, "noise_samples": int(x.shape[1])}


def _distinct_lines(s: np.ndarray, f: np.ndarray, ky: np.ndarray, n_frames: int) -> bool:
    """Whether no two acquisitions with (slice, frame, ky) indices ``s``, ``f``, ``ky`` (int
    arrays of one length, frames < ``n_frames``) hold the same line (False for negative
    indices, which the callers leave to ``np.add.at``)."""
    if not ky.size:
        return True
    if min(s.min(), f.min(), ky.min()) < 0:
        return False
    line = (s * n_frames + f) * (int(ky.max()) + 1) + ky
    return np.unique(line).size == line.size


def _add_at(target: np.ndarray, index: tuple, values) -> None:
    """``np.add.at(target, index, values)``, by one fancy-indexed ``+=`` when no two
    acquisitions of ``index`` hit the same (slice, frame, ky) line.

    ``index`` is ``(slice, frame, [slice(None),] ky, ...)``: its integer arrays are the first,
    second and the next integer array. With distinct lines each element receives one addition
    either way, so the result is the same to the bit; ``np.add.at`` (unbuffered, ≈ 10x slower:
    0.47 of a 0.64 CPU-s read of a 49 MB phantom case, docs/performance.md) stays for repeated
    lines (averages), where the additions must accumulate.
    """
    s, f, ky = (a for a in index if isinstance(a, np.ndarray))
    if ky.size and _distinct_lines(s, f, ky, target.shape[1]):
        target[index] += values
        return
    np.add.at(target, index, values)


def _place(ksum: np.ndarray) -> None:
    """Turn k-space whose samples were placed (each element written at most once, the others
    0.0) into the sums and means the accumulating path gives, in place and to the bit.

    That path computes ``0.0 + x`` for every sample ``x`` and divides by the line's count, 1:
    ``0.0 + x`` is ``x`` except that ``-0.0`` becomes ``+0.0`` (IEEE 754 round-to-nearest:
    the sum of zeros of opposite sign is ``+0.0``), which adding 0 here reproduces; and
    ``(re + i·im) / (1 + 0i)`` is ``re + i·im`` for finite parts without ``-0.0`` (numpy's
    complex division, Smith's algorithm: ``((re + im·0)·1, (im − re·0)·1)``), so the division
    is left out. The callers have checked that every sample is finite.
    """
    np.add(ksum, 0, out=ksum)


def _reduce_mask(full: np.ndarray, stored_shape: list[int] | None) -> np.ndarray:
    """Collapse constant axes (slice, frame, kx) to size 1, or to a stored exact shape."""
    target = list(full.shape)
    if stored_shape is not None and len(stored_shape) == 5:
        want = [int(v) for v in stored_shape]
        if all(w in (1, t) for w, t in zip(want, target)):
            target = want
    else:
        for ax in (0, 1, 4):
            ref = np.take(full, [0], axis=ax)
            if (full == ref).all():
                target[ax] = 1
    out = full
    for ax, size in enumerate(target):
        if size == 1 and out.shape[ax] != 1:
            ref = np.take(out, [0], axis=ax)
            if not (out == ref).all():
                return full.copy()  # the stored shape no longer fits: keep the full mask
            out = ref
    return np.ascontiguousarray(out)


# ---------------------------------------------------------------------- open
def open_ismrmrd(path: str | os.PathLike, *, prewhiten: bool = True,
                 repetitions: str = "frames", set_index: int | None = None,
                 dataset: str | None = None, remove_oversampling: bool = True,
                 limits: InputLimits | None = None, _keep_samples: bool = False
                 ) -> IsmrmrdSource:
    """Open an ISMRMRD file: check the file, the XML header and the acquisition headers.

    Parameters
    ----------
    path : str or path-like
    prewhiten : bool, default True
        Whiten coils with the noise scans when the file has any (module docstring).
    repetitions : {"frames", "average"}, default "frames"
        Repetitions become frames (``frame = repetition · n_phases + phase``) or are averaged.
    set_index : int, optional
        The set to read; required when the file holds more than one set.
    dataset : str, optional
        ``meta.dataset`` to record (default: from a cmrsuite header, else ``"ismrmrd"``).
    remove_oversampling : bool, default True
        Remove readout oversampling when ``encodedSpace.x = os · reconSpace.x``.
    limits : InputLimits, optional
        Size limits checked from the headers (:mod:`suite.data.limits`).

    Returns
    -------
    IsmrmrdSource

    Raises
    ------
    CorruptFileError
        Missing/empty/non-HDF5/truncated file, unreadable acquisition headers.
    LayoutError
        No ``/dataset``, ``/dataset/xml`` or ``/dataset/data``; header without
        ``encoding``, ``encodedSpace/matrixSize`` or ``receiverChannels``; non-Cartesian or
        3-D encoding; counters outside the header's limits; channel or sample counts
        that disagree with the header; several sets without ``set_index``.
    UnsafeFileError
        Objects that leave the file (links, virtual datasets, external storage, filter
        plugins).
    TooLargeError
        The header describes more k-space than the limits allow, or than the file can hold.
    """
    p = Path(path)
    if repetitions not in ("frames", "average"):
        raise ValueError(f"open_ismrmrd: repetitions must be 'frames' or 'average'; "
                         f"got {repetitions!r}")
    lim = resolve_limits(limits)
    _check_hdf5_file(p)
    f = open_hdf5(p, limits=lim)
    try:
        xml = _read_xml(p, f, lim)
        _check_required_elements(p, xml)
        try:
            header = hx.parse_xml(xml)
        except ValueError as exc:
            raise LayoutError(p, f"ISMRMRD XML header cannot be parsed ({exc})",
                              "the header must follow the ISMRMRD schema") from None
        with header_errors(p, "ISMRMRD header is inconsistent",
                           "the header must follow the ISMRMRD schema"):
            layout = _layout(p, header, os_removal=remove_oversampling)
        data = f["dataset/data"]
        _check_compound(p, data)
        heads, samples = _read_records(p, data, keep_samples=_keep_samples)
    finally:
        f.close()
    opts = {"prewhiten": prewhiten, "repetitions": repetitions, "set_index": set_index,
            "dataset": dataset}
    n_frames = layout.n_phases * (layout.n_reps if repetitions == "frames" else 1)
    dims = (layout.n_slices, n_frames, layout.n_coils, layout.ny, layout.nx_enc)
    check_declared(p, f"k-space (slice, frame, coil, ky, kx) = {dims} complex64",
                   8 * int(np.prod(dims, dtype=object)), lim, file_bytes=p.stat().st_size)
    with header_errors(p, "acquisition headers are inconsistent with the XML header",
                       "the file was not written by a conforming ISMRMRD writer"):
        src = _classify(p, header, layout, heads, opts)
    src.limits = lim
    src._samples = samples
    return src


def read_ismrmrd(path: str | os.PathLike, **options: Any) -> Case:
    """Read a whole ISMRMRD file into a Case (``open_ismrmrd(path, **options).read()``).

    See :func:`open_ismrmrd` for options and errors and the module docstring for the layout
    conventions (OCMR ``read_ocmr.py``). The acquisitions are read from the file once: the
    source keeps the samples it read with the headers (``_keep_samples``, private).
    """
    return open_ismrmrd(path, **options, _keep_samples=True).read()


def _read_records(p: Path, data: h5py.Dataset, *, keep_samples: bool
                  ) -> tuple[np.ndarray, np.ndarray | None]:
    """The acquisition headers of ``/dataset/data`` and, with ``keep_samples``, its sample
    column (object array of float32 arrays), from one read of the whole compound.

    Reading the ``head`` field alone costs as much as reading every record: HDF5 converts the
    variable-length fields of each record even when they are not asked for, and with h5py
    3.x on HDF5 2.0 the converted samples of such a read are never freed (41 MB per read of a
    demo case, docs/performance.md). The whole read frees them; :func:`read_ismrmrd` keeps the
    samples, so the file is read once. When the whole read fails (a damaged ``data`` or
    ``traj`` field) the headers are read alone, and the damage is reported as before, by
    :meth:`IsmrmrdSource.read`.
    """
    try:
        records = data[:]
    except Exception:  # noqa: BLE001 - any h5py failure: read the headers alone (below)
        records = None
    if records is not None and records.dtype.names is not None:
        heads = np.ascontiguousarray(records["head"])
        samples = np.array(records["data"]) if keep_samples else None
        return heads, samples
    try:
        return data.fields("head")[:], None
    except Exception as exc:  # noqa: BLE001 - any h5py failure means a damaged file
        raise CorruptFileError(p, f"acquisition headers cannot be read ({exc})",
                               "the file is truncated or damaged; re-download it") from None


def _check_hdf5_file(p: Path) -> None:
    check_file(p, "an ISMRMRD file", "pass a .h5 file")
    with open(p, "rb") as fh:
        magic = fh.read(8)
    if magic != HDF5_MAGIC:
        raise CorruptFileError(p, f"not an HDF5 file (first bytes {magic[:8]!r}, expected the "
                               "HDF5 signature)", "ISMRMRD raw data must be an HDF5 .h5 file")


def _read_xml(p: Path, f: h5py.File, lim: InputLimits) -> bytes:
    for key, kind in (("dataset", h5py.Group), ("dataset/xml", h5py.Dataset),
                      ("dataset/data", h5py.Dataset)):
        if key not in f:
            raise LayoutError(p, f"HDF5 file has no `/{key}`, so it is not ISMRMRD raw data",
                              "write it with ismrmrd (group `dataset` with `xml` and `data`)")
        if not isinstance(f[key], kind):
            raise LayoutError(p, f"`/{key}` is not an HDF5 {kind.__name__.lower()}, so this is "
                              "not ISMRMRD raw data",
                              "write it with ismrmrd (group `dataset` with `xml` and `data`)")
    d = f["dataset/xml"]
    if d.shape is None or d.ndim != 1 or d.shape[0] < 1:
        raise LayoutError(p, f"`/dataset/xml` has shape {d.shape}; expected one XML string",
                          "write it with ismrmrd")
    try:
        raw = d[0]
        raw = raw.encode() if isinstance(raw, str) else bytes(raw)
    except Exception as exc:  # noqa: BLE001
        raise CorruptFileError(p, f"the XML header cannot be read ({type(exc).__name__}: "
                               f"{exc})", "the file is truncated or damaged; re-download "
                               "it") from None
    if len(raw) > lim.max_header_bytes:
        raise LayoutError(p, f"the XML header is {format_bytes(len(raw))}, above the limit of "
                          f"{format_bytes(lim.max_header_bytes)}",
                          "an ISMRMRD header is a few KiB; check the file")
    return raw


#: Header elements the reader needs, checked before schema parsing so that the error names
#: the element rather than an xsdata constructor argument.
_REQUIRED_ELEMENTS = ("encoding", "encoding/encodedSpace", "encoding/encodedSpace/matrixSize",
                      "acquisitionSystemInformation",
                      "acquisitionSystemInformation/receiverChannels")


def _check_required_elements(p: Path, xml: bytes) -> None:
    import xml.etree.ElementTree as ET

    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        raise LayoutError(p, "the XML header holds a document type declaration (<!DOCTYPE> or "
                          "<!ENTITY>), which ISMRMRD headers never need; refused (entity "
                          "expansion)", "write the header without a DTD")
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise LayoutError(p, f"ISMRMRD XML header is not well-formed XML ({exc})",
                          "the header must follow the ISMRMRD schema") from None
    ns = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    for element in _REQUIRED_ELEMENTS:
        if root.find("/".join(ns + part for part in element.split("/"))) is None:
            _need(p, None, element)


def _need(p: Path, value: Any, element: str) -> Any:
    if value is None:
        raise LayoutError(p, f"ISMRMRD header lacks {element}",
                          "this is not an OCMR/cmrsuite-layout file; the header must state it "
                          "(see `layout` in datasets/ocmr.yaml)")
    return value


#: Largest value of a header size or encoding limit: the acquisition counters are uint16.
_MAX_COUNT = 65535
#: Most receiver channels: the acquisition header's channel mask has 16 x 64 bits.
_MAX_CHANNELS = 1024


def _int(p: Path, value: Any, element: str, low: int = 0, high: int = _MAX_COUNT) -> int:
    """``value`` of header ``element`` as an int in ``low..high``, else a LayoutError."""
    try:
        v = int(value)
        if isinstance(value, float) and value != v:
            raise ValueError("not an integer")
    except (TypeError, ValueError, OverflowError):
        raise LayoutError(p, f"ISMRMRD header {element} is {value!r}, not an integer",
                          "fix the header (ISMRMRD schema: an integer)") from None
    if not low <= v <= high:
        raise LayoutError(p, f"ISMRMRD header {element} is {v}; expected {low}..{high}",
                          "fix the header (the data cannot have that size)")
    return v


def _layout(p: Path, h: Any, *, os_removal: bool) -> _Layout:
    if not h.encoding:
        _need(p, None, "encoding")
    e = h.encoding[0]
    enc = _need(p, e.encodedSpace, "encoding/encodedSpace")
    em = _need(p, enc.matrixSize, "encoding/encodedSpace/matrixSize")
    rs = e.reconSpace if e.reconSpace is not None and e.reconSpace.matrixSize is not None else enc
    rm = rs.matrixSize
    asi = _need(p, h.acquisitionSystemInformation, "acquisitionSystemInformation")
    nc = _int(p, _need(p, asi.receiverChannels, "acquisitionSystemInformation/receiverChannels"),
              "acquisitionSystemInformation/receiverChannels", 1, _MAX_CHANNELS)
    traj = getattr(e.trajectory, "value", e.trajectory)
    if traj not in (None, "cartesian"):
        raise LayoutError(p, f"trajectory is {traj!r}; only Cartesian data are supported",
                          "use a reader for non-Cartesian data")
    lim = e.encodingLimits
    ex = _int(p, em.x, "encoding/encodedSpace/matrixSize/x", 1)
    ey = _int(p, em.y, "encoding/encodedSpace/matrixSize/y", 1)
    ez = _int(p, em.z, "encoding/encodedSpace/matrixSize/z")
    rx = _int(p, rm.x, "encoding/reconSpace/matrixSize/x", 1)
    ry = _int(p, rm.y, "encoding/reconSpace/matrixSize/y", 1)
    rz = _int(p, rm.z, "encoding/reconSpace/matrixSize/z")

    def n(name: str, default: int = 1) -> int:
        lt = getattr(lim, name, None) if lim is not None else None
        if lt is None or lt.maximum is None:
            return default
        return _int(p, lt.maximum, f"encoding/encodingLimits/{name}/maximum") + 1

    e1 = getattr(lim, "kspace_encoding_step_1", None) if lim is not None else None
    eny = n("kspace_encoding_step_1", ey)
    center = None if e1 is None or e1.center is None else _int(
        p, e1.center, "encoding/encodingLimits/kspace_encoding_step_1/center")
    if center is None or center == eny // 2 or not 0 < center < eny:
        ny, off = eny, 0
    else:  # partial Fourier along ky: zero-fill so that the centre line lands at ny // 2
        half = max(center, eny - center)
        ny, off = 2 * half, half - center
    if n("kspace_encoding_step_2") > 1 or ez > 1:
        raise LayoutError(p, "3-D encoding (kspace_encoding_step_2 > 0) is not supported",
                          "cmrsuite reads 2-D multi-slice Cartesian data")
    os_ = ex // rx if os_removal and ex % rx == 0 and ex > rx else 1
    return _Layout(n_slices=n("slice"), n_phases=n("phase"), n_reps=n("repetition"),
                   n_coils=nc, ny=ny, ky_offset=off, nx_enc=ex, nx=ex // os_, os=os_,
                   ky_center=center, sets=n("set"), averages=n("average"),
                   encoded_matrix=(ex, ey, ez), recon_matrix=(rx, ry, rz))


#: Fields of the acquisition header the reader uses (ISMRMRD ``AcquisitionHeader``,
#: ismrmrd/ismrmrd-python ``ismrmrd/hdf5.py``): top level, then ``idx``.
_HEAD_FIELDS = ("flags", "number_of_samples", "active_channels", "center_sample",
                "sample_time_us", "idx")
_IDX_FIELDS = ("kspace_encode_step_1", "kspace_encode_step_2", "slice", "phase", "repetition",
               "set")


def _check_compound(p: Path, data: h5py.Dataset) -> None:
    """``/dataset/data`` must be a 1-D compound with ``head`` (the fields above, integer
    counters) and ``data`` (variable-length float32), else LayoutError naming the field."""
    fix = "write the file with ismrmrd (the acquisition compound of the ISMRMRD format)"
    dt = data.dtype
    if data.ndim != 1 or dt.names is None or not {"head", "data"} <= set(dt.names):
        raise LayoutError(p, f"`/dataset/data` has dtype {dt} and shape {data.shape}; expected "
                          "a 1-D compound with fields `head` and `data`", fix)
    head = dt["head"]
    names = head.names or ()
    missing = [f for f in _HEAD_FIELDS if f not in names]
    if "idx" in names:
        missing += [f"idx.{f}" for f in _IDX_FIELDS if f not in (head["idx"].names or ())]
    if missing:
        raise LayoutError(p, f"the acquisition `head` lacks field(s) {missing} (has "
                          f"{list(head.names or [])})", fix)
    ints = [head[f] for f in _HEAD_FIELDS if f not in ("sample_time_us", "idx")]
    ints += [head["idx"][f] for f in _IDX_FIELDS]
    if any(t.kind not in "ui" or t.shape for t in ints) or head["sample_time_us"].kind not in "fiu":
        raise LayoutError(p, "the acquisition `head` counters are not integer scalars", fix)
    base = h5py.check_vlen_dtype(dt["data"])
    if base is None or base != np.float32:
        raise LayoutError(p, f"the acquisition `data` field has dtype {dt['data']} (vlen base "
                          f"{base}); expected variable-length float32", fix)


def _classify(p: Path, header: Any, lay: _Layout, heads: np.ndarray,
              opts: dict[str, Any]) -> IsmrmrdSource:
    columns = [(f, heads[f]) for f in ("flags", "number_of_samples", "active_channels",
                                       "center_sample")]
    columns += [(f"idx.{f}", heads["idx"][f]) for f in _IDX_FIELDS]
    for name, col in columns:
        if col.dtype.kind == "i" and col.size and int(col.min()) < 0:
            raise LayoutError(p, f"acquisition header field {name} holds negative values",
                              "the file was not written by a conforming ISMRMRD writer")
    flags = heads["flags"].astype(np.uint64)
    noise = (flags & np.uint64(_NOISE)) != 0
    skip = noise.copy()
    skipped: dict[str, int] = {"noise": int(noise.sum())}
    calib_only = ((flags & np.uint64(_CALIB)) != 0) & ((flags & np.uint64(_CALIB_AND_IMAGING)) == 0)
    skipped["parallel_calibration_only"] = int((calib_only & ~skip).sum())
    skip |= calib_only
    for name, bit in _SKIP.items():
        hit = ((flags & np.uint64(bit)) != 0) & ~skip
        skipped[name] = int(hit.sum())
        skip |= hit
    skipped = {k: v for k, v in skipped.items() if v}
    idx = heads["idx"]
    if lay.sets > 1 or (idx["set"][~skip].max(initial=0) > 0):
        if opts["set_index"] is None:
            raise LayoutError(p, f"the file holds {max(lay.sets, int(idx['set'].max()) + 1)} sets "
                              "(velocity encodings or contrasts)",
                              "choose one with load(path, set_index=k)")
        skip |= idx["set"] != int(opts["set_index"])
    image = np.flatnonzero(~skip)
    ih = heads[image]
    if image.size == 0:
        raise LayoutError(p, "the file holds no imaging acquisitions",
                          "check that it is raw k-space data, not only noise or calibration")
    if np.any(ih["active_channels"] != lay.n_coils):
        got = sorted(set(int(c) for c in ih["active_channels"]))
        raise LayoutError(p, f"acquisitions have {got} channels but the header says "
                          f"receiverChannels = {lay.n_coils}",
                          "the header and the data disagree; fix receiverChannels")
    if np.any(ih["number_of_samples"] > lay.nx_enc) or np.any(ih["number_of_samples"] == 0):
        raise LayoutError(p, f"acquisitions hold up to {int(ih['number_of_samples'].max())} "
                          f"readout samples but encodedSpace/matrixSize/x = {lay.nx_enc}",
                          "the header and the data disagree; fix encodedSpace/matrixSize")
    ii = idx[image]
    for name, limit in (("kspace_encode_step_1", lay.ny - lay.ky_offset),
                        ("slice", lay.n_slices), ("phase", lay.n_phases),
                        ("repetition", lay.n_reps)):
        top = int(ii[name].max())
        if top >= limit:
            raise LayoutError(p, f"acquisition counter {name} reaches {top} but the header "
                              f"allows 0..{limit - 1} (encodingLimits)",
                              "the header and the data disagree; fix encodingLimits")
    if int(ii["kspace_encode_step_2"].max()) > 0:
        raise LayoutError(p, "acquisitions use kspace_encode_step_2 (3-D encoding)",
                          "cmrsuite reads 2-D multi-slice Cartesian data")
    ups = hx.user_parameters(header)
    shape = ups.get(hx.PREFIX + "mask_shape")
    reader = {"format": "ismrmrd", "skipped_acquisitions": skipped,
              "encoded_matrix": list(lay.encoded_matrix), "recon_matrix": list(lay.recon_matrix),
              "readout_oversampling_removed": lay.os, "ky_zero_fill_offset": lay.ky_offset,
              "asymmetric_echo": bool(np.any(ih["number_of_samples"] < lay.nx_enc)),
              "averages": lay.averages, "repetitions": f"{lay.n_reps} ({opts['repetitions']})"}
    if shape is not None:
        try:
            reader["mask_shape"] = [int(v) for v in json.loads(shape)]
        except (ValueError, TypeError):
            pass
    src = IsmrmrdSource(path=p, header=header, layout=lay, heads=heads, image_rows=image,
                        noise_rows=np.flatnonzero(noise), skipped=skipped, options=opts)
    src._meta = _meta_from_header(src, reader)
    return src


def _meta_from_header(src: IsmrmrdSource, reader: dict | None = None) -> CaseMeta:
    h, lay, p = src.header, src.layout, src.path
    e = h.encoding[0]
    rs = e.reconSpace if e.reconSpace is not None and e.reconSpace.fieldOfView_mm else e.encodedSpace
    fov = rs.fieldOfView_mm
    spacing = None
    if fov is not None and fov.x and fov.y:
        spacing = (float(fov.y) / lay.recon_matrix[1], float(fov.x) / lay.recon_matrix[0])
    thick = float(fov.z) if fov is not None and fov.z else None
    asi = h.acquisitionSystemInformation
    seq = h.sequenceParameters
    extra: dict[str, Any] = {}
    if seq is not None:
        for key, vals in (("tr_ms", seq.TR), ("te_ms", seq.TE), ("flip_angle_deg", seq.flipAngle_deg),
                          ("ti_ms", seq.TI)):
            if vals:
                extra[key] = float(vals[0]) if len(vals) == 1 else [float(v) for v in vals]
    ups = hx.user_parameters(h)
    subj = h.subjectInformation.patientID if h.subjectInformation is not None else None
    mi = h.measurementInformation
    kw: dict[str, Any] = dict(
        subject=subj or p.stem, dataset=src.options.get("dataset") or "ismrmrd",
        vendor=asi.systemVendor, field_strength_t=None if asi.systemFieldStrength_T is None
        else float(asi.systemFieldStrength_T), site=asi.institutionName,
        pixel_spacing_mm=spacing, slice_thickness_mm=thick, source_file=str(p), extra=extra)
    if mi is not None and mi.protocolName:
        kw["series"] = mi.protocolName
    for name in ("slice_spacing_mm", "heart_rate_bpm", "temporal_resolution_ms"):
        if hx.PREFIX + name in ups:
            kw[name] = float(ups[hx.PREFIX + name])
    for name in ("ed_frame", "es_frame"):
        if hx.PREFIX + name in ups:
            kw[name] = int(ups[hx.PREFIX + name])
    blob = ups.get(hx.PREFIX + "meta")
    if blob:
        try:
            rest = json.loads(blob)
        except ValueError:
            rest = {}
        valid = {f.name for f in dataclasses.fields(CaseMeta)}
        for key, value in rest.items():
            if key not in valid or key == "extra":
                continue
            if key == "annotated_frames" and value is not None:
                value = tuple(value)
            if key in ("pixel_spacing_mm", "slice_thickness_mm"):
                # exact written values, used only while they agree with the header's FOV
                value = _agreeing(value, kw.get(key))
            kw[key] = value
        extra = {**rest.get("extra", {}), **extra}
        if src.options.get("dataset"):
            kw["dataset"] = src.options["dataset"]
    geometry = slice_geometry(src, spacing)
    if geometry is not None:
        extra["slice_geometry"] = geometry
    extra["ismrmrd_reader"] = reader or {}
    kw["extra"] = extra
    return CaseMeta(**kw)


def slice_geometry(src: IsmrmrdSource, spacing) -> dict | None:
    """Scanner geometry of every slice from its first imaging acquisition header.

    ISMRMRD acquisition headers carry ``position`` (the slice centre in patient coordinates,
    mm; for images written by cmrsuite the centre of pixel ``(ny//2, nx//2)``) and the unit
    vectors ``read_dir`` (increasing column / readout), ``phase_dir`` (increasing row / phase
    encode) and ``slice_dir``. Returned as lists per slice (the layout of
    ``suite.phantom.views.ViewGeometry.geometry``), with the DICOM Image Position (Patient)
    of pixel ``(0, 0)`` derived from ``spacing`` ``(dy, dx)``; None when the file has no
    imaging acquisitions.
    """
    heads = src.heads[src.image_rows]
    if heads.size == 0:
        return None
    lay = src.layout
    slices = heads["idx"]["slice"].astype(np.int64)
    out: dict[str, list] = {k: [] for k in ("position_mm", "read_dir", "phase_dir", "slice_dir",
                                            "image_position_patient_mm")}
    dy, dx = spacing if spacing is not None else (0.0, 0.0)
    for s in range(lay.n_slices):
        rows = np.flatnonzero(slices == s)
        if rows.size == 0:
            return None
        h = heads[rows[0]]
        pos = np.asarray(h["position"], float)
        read, phase = np.asarray(h["read_dir"], float), np.asarray(h["phase_dir"], float)
        out["position_mm"].append([float(v) for v in pos])
        out["read_dir"].append([float(v) for v in read])
        out["phase_dir"].append([float(v) for v in phase])
        out["slice_dir"].append([float(v) for v in np.asarray(h["slice_dir"], float)])
        ipp = pos - (lay.nx // 2) * dx * read - (lay.ny // 2) * dy * phase
        out["image_position_patient_mm"].append([float(v) for v in ipp])
    out["coordinates"] = ("patient (LPS), mm, from the acquisition headers; position = centre "
                          "of pixel (ny//2, nx//2)")
    return out


def _agreeing(exact: Any, derived: Any) -> Any:
    """``exact`` (from cmrsuite.meta) when it matches the header-derived value, else derived."""
    if exact is None or derived is None:
        return derived
    a = np.atleast_1d(np.asarray(exact, float))
    b = np.atleast_1d(np.asarray(derived, float))
    if a.shape == b.shape and np.allclose(a, b, rtol=1e-6, atol=0):
        return tuple(float(v) for v in a) if isinstance(derived, tuple) else float(a[0])
    return derived

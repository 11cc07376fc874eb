"""ISMRMRD raw data: write a Case, read Cases (ours and OCMR's layout).

Writer
    :func:`write_ismrmrd` writes one Acquisition per acquired ``(slice, frame, ky)`` line with
    a schema-valid XML header, in one bulk h5py write (no per-acquisition append; ismrmrd's
    ``Dataset.append_acquisition`` resizes the HDF5 dataset on every call, see
    ismrmrd/ismrmrd-python ``ismrmrd/hdf5.py``), with no HDF5 timestamps, so the same Case
    gives a byte-identical file. Layout: the ISMRMRD HDF5 format (``/dataset/xml`` and the
    ``/dataset/data`` compound of ``head``, ``traj``, ``data``; https://github.com/ismrmrd/ismrmrd,
    Inati et al., Magn Reson Med 2017;77:411-421, doi 10.1002/mrm.26089).

Reader
    :func:`open_ismrmrd` parses and checks the header and the acquisition headers at open
    (STYLE R7, R11) and returns an :class:`IsmrmrdSource`; its :meth:`~IsmrmrdSource.read`
    assembles k-space for all slices or a chosen subset (one slice of a 1 GB file is read
    without the others). :func:`read_ismrmrd` is open + read.

Layout conventions of the reader (MRIOSU/OCMR ``Python/read_ocmr.py`` and
``Python/example_ocmr.ipynb``, https://github.com/MRIOSU/OCMR; Chen et al., "OCMR (v1.0) --
Open-Access Multi-Coil k-Space Dataset for Cardiovascular Magnetic Resonance Imaging",
arXiv:2008.03410, 2020):

* ``encoding[0]`` only; Cartesian 2-D (``kspace_encode_step_2`` must be 0).
* ky grid size ``eNy = encodingLimits.kspace_encoding_step_1.maximum + 1`` (no zero padding
  along ky, as OCMR); if the limit's ``center`` is not ``eNy // 2`` (partial Fourier) the
  grid is zero-filled symmetrically so that the centre line lands at ``ny // 2``.
* Noise scans (``ACQ_IS_NOISE_MEASUREMENT``) are not image data; they give the noise
  covariance used for prewhitening (``prewhiten=True``, see :mod:`suite.data.rawops`).
  ``meta.extra["prewhitened"]`` records whether it was applied. Parallel-calibration-only
  lines (flag 20 without 21), navigator, phase-correction, feedback, dummy and
  phase-stabilisation acquisitions are skipped and counted.
* Asymmetric echo: a line with ``number_of_samples < eNx`` is placed at
  ``eNx − number_of_samples`` when ``center_sample · 2 < eNx`` (zero-filled at the start),
  else at 0; the readout positions never sampled are ``False`` in the mask and 0 in k-space.
* Readout oversampling: when ``encodedSpace.matrixSize.x = os · reconSpace.matrixSize.x``
  (integer ``os ≥ 2``) it is removed by centred inverse FFT, centre crop and FFT.
* Averages are averaged: each ``(slice, frame, ky)`` line is the mean of the acquisitions
  that hold it (OCMR averages over the whole average axis, zeros included; the two agree when
  every line has every average).
* Frames: ``frame = repetition · n_phases + phase`` (``repetitions="frames"``, the default:
  real-time series keep every repetition as a frame) or repetitions averaged like averages
  (``repetitions="average"``).
* Sets: a file with more than one set needs ``set_index=`` (sets are velocity encodings or
  contrasts, never frames or averages); with one set it is ignored.
* Mask ``(slice|1, frame|1, 1, ky, kx|1)``: a line is True where any acquisition filled it.
  An axis along which the mask does not vary is stored with size 1; files written by
  :func:`write_ismrmrd` restore the exact mask shape from ``cmrsuite.mask_shape``.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import h5py
import numpy as np
from ismrmrd.hdf5 import acquisition_dtype, acquisition_header_dtype

from suite._atomic import atomic_write_bytes
from suite.case import Case
from suite.data import ismrmrd_xml as hx
from suite.data import rawops as ops
from suite.data.rawops import flag_bit
from suite.data.ismrmrd_reader import (
    HDF5_MAGIC,
    IsmrmrdSource,
    open_ismrmrd,
    read_ismrmrd,
)

__all__ = ["write_ismrmrd", "read_ismrmrd", "open_ismrmrd", "IsmrmrdSource", "HDF5_MAGIC"]


# flag numbers of ismrmrd/ismrmrd-python ``ismrmrd/constants.py`` (``rawops.flag_bit``)
_FIRST_E1, _LAST_E1, _FIRST_SL, _LAST_SL = flag_bit(1), flag_bit(2), flag_bit(7), flag_bit(8)
_FIRST_PH, _LAST_PH, _LAST_MEAS = flag_bit(11), flag_bit(12), flag_bit(25)


# ====================================================================== writer
def write_ismrmrd(path: str | os.PathLike, case: Case, *, oversampling: int = 1) -> Path:
    """Write ``case.kspace`` as ISMRMRD raw data (one Acquisition per acquired line).

    Parameters
    ----------
    path : str or path-like
        Output ``.h5`` file (overwritten; built in memory, written to a temporary file and
        renamed; nothing is left behind on error, e.g. a full disk).
    case : Case
        Needs ``kspace`` complex64 ``(slice, frame, coil, ky, kx)`` and ``mask``. A line
        ``(slice, frame, ky)`` is written when the mask is True anywhere on it. The mask may
        vary along kx only as one contiguous sampled range shared by every line that touches
        the start or the end of the readout (asymmetric echo); it must not vary by coil.
    oversampling : int, default 1
        Readout oversampling factor ``os``: each line is written with ``os · kx`` samples
        (image zero-padded along x to ``os`` times the FOV; see :mod:`suite.data.rawops`),
        ``encodedSpace.matrixSize.x = os · kx``, as OCMR files are (``os = 2``). Needs a
        readout-complete mask.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    ValueError
        Case without k-space, an unsupported mask, or ``oversampling < 1``.

    Notes
    -----
    Header (``encoding[0]``): ``encodedSpace`` / ``reconSpace`` matrix ``(x=kx·os | kx, y=ky,
    z=1)``, ``fieldOfView_mm = matrix × meta.pixel_spacing_mm`` (0 when unknown) with
    ``z = slice_thickness_mm``; ``encodingLimits`` ky (centre ``ky // 2``), slice, phase
    (= frame); trajectory cartesian; ``acquisitionSystemInformation`` (field strength,
    ``receiverChannels``, ``systemVendor = meta.vendor``, ``institutionName = meta.site``);
    ``sequenceParameters`` TR/TE/flip angle from ``meta.extra["tr_ms" | "te_ms" |
    "flip_angle_deg"]``; ``subjectInformation.patientID = meta.subject``;
    ``measurementInformation.protocolName = meta.series``; the rest of the meta as
    ``cmrsuite.*`` user parameters (table in :mod:`suite.data.ismrmrd_xml`).

    Acquisitions are ordered slice, frame, ky; counters ``kspace_encode_step_1``, ``slice``,
    ``phase``; flags first/last in encode step 1, slice and phase per ``(slice, frame)`` image
    and last in measurement. The file is deterministic: no HDF5 timestamps
    (``track_times=False``), fixed acquisition order, zero-filled header padding.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> from suite.case import Case
    >>> k = np.ones((1, 2, 2, 4, 4), np.complex64)
    >>> p = write_ismrmrd(pathlib.Path(tempfile.mkdtemp()) / "x.h5",
    ...                   Case(kspace=k, mask=np.ones((1, 1, 1, 4, 1), bool)))
    >>> read_ismrmrd(p).kspace.shape
    (1, 2, 2, 4, 4)
    """
    if case.kspace is None or case.mask is None:
        raise ValueError("write_ismrmrd: `case` has no kspace/mask to write")
    os_ = int(oversampling)
    if os_ < 1:
        raise ValueError(f"write_ismrmrd: oversampling must be an integer >= 1; got {oversampling}")
    k = case.kspace
    ns, nf, nc, ny, nx = k.shape
    full = np.broadcast_to(case.mask, k.shape)
    per_line = full.any(axis=2)  # (slice, frame, ky, kx)
    if not np.array_equal(full, np.broadcast_to(per_line[:, :, None], k.shape)):
        raise ValueError("write_ismrmrd: the mask varies by coil; ISMRMRD lines hold all coils")
    lines = per_line.any(axis=-1)  # (slice, frame, ky)
    s_idx, f_idx, ky_idx = np.nonzero(lines)
    start, stop = _readout_range(per_line[lines], nx)
    if os_ > 1 and (start, stop) != (0, nx):
        raise ValueError("write_ismrmrd: oversampling needs a readout-complete mask")
    if stop < nx and start == 0 and nx % 2 == 1:
        raise ValueError("write_ismrmrd: a readout missing its end needs an even kx size")

    data = k[s_idx, f_idx, :, ky_idx, start:stop]  # (n, coil, samples)
    if os_ > 1:
        data = ops.add_oversampling(data, os_)
    data = np.ascontiguousarray(data, dtype=np.complex64)
    n_acq, n_samp = data.shape[0], data.shape[-1]
    center = (nx * os_) // 2 - start

    head = np.zeros(n_acq, acquisition_header_dtype)
    head["version"] = 1
    head["scan_counter"] = np.arange(n_acq, dtype=np.uint32)
    head["number_of_samples"] = n_samp
    head["available_channels"] = nc
    head["active_channels"] = nc
    for word in range(16):
        bits = min(max(nc - 64 * word, 0), 64)
        head["channel_mask"][:, word] = (1 << bits) - 1 if bits < 64 else np.iinfo(np.uint64).max
    head["center_sample"] = center
    head["read_dir"] = (1.0, 0.0, 0.0)
    head["phase_dir"] = (0.0, 1.0, 0.0)
    head["slice_dir"] = (0.0, 0.0, 1.0)
    dz = case.meta.slice_spacing_mm or case.meta.slice_thickness_mm or 0.0
    head["position"][:, 2] = (s_idx - (ns - 1) / 2.0) * dz
    head["idx"]["kspace_encode_step_1"] = ky_idx
    head["idx"]["slice"] = s_idx
    head["idx"]["phase"] = f_idx
    head["flags"] = _line_flags(s_idx, f_idx)

    buf = np.zeros(n_acq, acquisition_dtype)
    buf["head"] = head
    empty = np.zeros(0, np.float32)
    traj = np.empty(n_acq, object)
    samples = np.empty(n_acq, object)
    flat = data.view(np.float32).reshape(n_acq, -1)
    for i in range(n_acq):
        traj[i] = empty
        samples[i] = flat[i]
    buf["traj"] = traj
    buf["data"] = samples

    header = hx.build_header(case.meta, n_slices=ns, n_frames=nf, n_coils=nc, ny=ny, nx=nx,
                             oversampling=os_, mask_shape=tuple(case.mask.shape))
    xml = hx.to_xml(header)
    return _write_h5(Path(path), xml, buf)


def _readout_range(rows: np.ndarray, nx: int) -> tuple[int, int]:
    """The contiguous sampled kx range ``[start, stop)`` shared by all acquired lines."""
    if rows.shape[0] == 0:
        return 0, nx
    ref = rows[0]
    if not (rows == ref).all():
        raise ValueError("write_ismrmrd: acquired lines sample different kx ranges")
    where = np.flatnonzero(ref)
    start, stop = int(where[0]), int(where[-1]) + 1
    if stop - start != where.size or (start > 0 and stop < nx):
        raise ValueError("write_ismrmrd: the kx mask must be one range touching the readout "
                         "start or end (asymmetric echo)")
    return start, stop


def _line_flags(s_idx: np.ndarray, f_idx: np.ndarray) -> np.ndarray:
    n = s_idx.size
    flags = np.zeros(n, np.uint64)
    if n == 0:
        return flags
    img = s_idx.astype(np.int64) * (int(f_idx.max()) + 1) + f_idx
    first = np.r_[True, img[1:] != img[:-1]]
    last = np.r_[img[1:] != img[:-1], True]
    flags[first] |= np.uint64(_FIRST_E1 | _FIRST_SL | _FIRST_PH)
    flags[last] |= np.uint64(_LAST_E1 | _LAST_SL | _LAST_PH)
    flags[-1] |= np.uint64(_LAST_MEAS)
    return flags


def _write_h5(path: Path, xml: bytes, buf: np.ndarray) -> Path:
    """Build the HDF5 file in memory, then write its bytes atomically: HDF5 never writes to the
    disk itself, so a full disk is an ``OSError`` here (HDF5 crashed the interpreter when a
    write failed under it), and no temporary file is left behind
    (:func:`suite._atomic.atomic_write_bytes`)."""
    image = io.BytesIO()
    with h5py.File(image, "w", libver="earliest", track_order=False) as f:
        grp = f.create_group("dataset", track_order=False)
        vl = h5py.special_dtype(vlen=bytes)
        grp.create_dataset("xml", shape=(1,), dtype=vl, track_times=False)
        grp["xml"][0] = xml
        grp.create_dataset("data", data=buf, maxshape=(None,), chunks=True, track_times=False)
    return atomic_write_bytes(path, image.getbuffer())




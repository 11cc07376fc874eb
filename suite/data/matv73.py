"""MATLAB ``.mat`` files: read v7.3 (HDF5) and v5 lazily, checked from their headers; write v7.3.

Axis order
----------
MATLAB is column-major and writes a v7.3 variable of MATLAB size ``(d1, d2, ..., dn)`` as an
HDF5 dataset whose (row-major) shape is the **reverse**, ``(dn, ..., d2, d1)``; h5py therefore
sees e.g. CMRxRecon k-space ``(kx, ky, kc, kz, t)`` as ``(t, kz, kc, ky, kx)``
(CmrxRecon/CMRxRecon ``Evaluation/loadFun.py`` transposes with ``[4, 3, 2, 1, 0]``; issue
CmrxRecon/CMRxRecon#2). Every array this module returns or accepts is in **MATLAB's axis
order** (``MatVariable.shape`` is what MATLAB's ``size`` prints); the reversal happens here and
nowhere else. ``scipy.io.loadmat`` (v5 files) already returns MATLAB's order.

Storage of a v7.3 variable (as MATLAB writes it, hdf5storage documentation)
---------------------------------------------------------------------------
================  ===============================  ============================================
MATLAB class      HDF5 dataset dtype               attributes
================  ===============================  ============================================
``double``        float64                          ``MATLAB_class = b"double"``
``single``        float32                          ``MATLAB_class = b"single"``
complex           compound ``{real, imag}``        ``MATLAB_class`` of the parts
``logical``       uint8                            ``MATLAB_class = b"logical"``,
                                                   ``MATLAB_int_decode = int32(1)``
``int8..uint64``  the same integer type            ``MATLAB_class = b"int16"`` etc.
================  ===============================  ============================================

The file starts with a 512-byte HDF5 *userblock* whose first 128 bytes are MATLAB's header:
116 bytes of text (``"MATLAB 7.3 MAT-file, Platform: ..., Created on: ... HDF5 schema 1.00 ."``
padded with spaces), 8 zero bytes (no subsystem data), the version ``0x0200`` stored
little-endian (bytes ``00 02``) at offset 124 and the endian indicator ``IM`` at 126. The
HDF5 superblock follows at offset 512. ``scipy.io.matlab.matfile_version`` reads bytes 124–127
and returns ``(2, 0)`` for such a file (and ``scipy.io.loadmat`` then raises
``NotImplementedError``: scipy cannot read v7.3).

Determinism of :func:`write_mat_v73`
------------------------------------
The header's "Created on" date is fixed to :data:`CREATED_ON` (the Unix epoch) and the
platform to ``cmrsuite``; datasets are written with ``track_times=False``; data are stored
contiguous and uncompressed. The same arrays therefore give byte-identical files.

v5 files
--------
v5 (``-v6``/``-v7``) files are described from their variable headers (name, MATLAB size,
class, complex; :func:`suite.data.mat5.v5_variables`, which inflates at most 64 KiB per
variable) and their declared sizes are checked against the limits (:mod:`suite.data.limits`:
a 195 KB file can hold 200 MB of compressed zeros) before anything is decompressed; a
variable's data are read on demand with ``scipy.io.loadmat`` from that variable's element
alone (meant for small files such as masks; whether CMRxRecon ships any v5 mask file is
(unconfirmed): the challenge states v7.3 for its data, and this module accepts either).
Structs, cells, character arrays and sparse matrices are listed but cannot be read. v4 files
are refused.

Safety
------
v7.3 files are opened through :func:`suite.data.hdf5_safe.open_hdf5`: external and soft
links, virtual datasets, external storage and filter plugins are refused
(:class:`~suite.data.errors.UnsafeFileError`) before any variable is read, and every
dataset's declared size is checked against the limits (docs/input-safety.md).
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from suite.data.errors import CaseReadError, CorruptFileError, LayoutError, check_file
from suite.data.limits import InputLimits, check_declared, resolve_limits

__all__ = [
    "MatFile", "MatVariable", "open_mat", "read_mat_variable", "write_mat_v73",
    "mat_version", "matlab_header", "USERBLOCK_SIZE", "CREATED_ON", "HDF5_MAGIC",
]

#: Size of the HDF5 userblock MATLAB reserves for its header, bytes.
USERBLOCK_SIZE = 512
#: Fixed "Created on" date written into every header (determinism; the Unix epoch).
CREATED_ON = "Thu Jan 01 00:00:00 1970"
#: First 8 bytes of an HDF5 superblock.
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_V73_TAIL = b"\x00\x02IM"          # version 0x0200 little-endian + endian indicator
_V5_TAILS = (b"\x00\x01IM", b"\x01\x00MI")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_CLASS_OF = {
    np.dtype(np.float64): "double", np.dtype(np.float32): "single",
    np.dtype(np.int8): "int8", np.dtype(np.uint8): "uint8", np.dtype(np.int16): "int16",
    np.dtype(np.uint16): "uint16", np.dtype(np.int32): "int32", np.dtype(np.uint32): "uint32",
    np.dtype(np.int64): "int64", np.dtype(np.uint64): "uint64",
}


def matlab_header(platform: str = "cmrsuite", created_on: str = CREATED_ON) -> bytes:
    """The 128-byte MATLAB v7.3 header (text, subsystem offset, version, endian indicator).

    Examples
    --------
    >>> h = matlab_header()
    >>> len(h), h[:19], h[124:128]
    (128, b'MATLAB 7.3 MAT-file', b'\\x00\\x02IM')
    """
    text = (f"MATLAB 7.3 MAT-file, Platform: {platform}, Created on: {created_on} "
            "HDF5 schema 1.00 .").encode("ascii")
    if len(text) > 116:
        raise ValueError(f"matlab_header: header text is {len(text)} bytes; at most 116 fit")
    return text.ljust(116, b" ") + b"\x00" * 8 + _V73_TAIL


def mat_version(path: str | os.PathLike) -> str:
    """``"7.3"`` or ``"5"`` from the 128-byte header of a ``.mat`` file.

    Raises
    ------
    CorruptFileError
        Missing, empty or a folder; not a MAT-file (v4 and unknown headers included); a v7.3
        header without the HDF5 superblock at offset 512 (truncated file).
    """
    p = check_file(path, "a .mat file", "pass a .mat file")
    size = p.stat().st_size
    with open(p, "rb") as fh:
        head = fh.read(USERBLOCK_SIZE + 8)
    tail = head[124:128]
    if tail == _V73_TAIL:
        if head[USERBLOCK_SIZE:USERBLOCK_SIZE + 8] != HDF5_MAGIC:
            raise CorruptFileError(
                p, f"MATLAB v7.3 header but no HDF5 superblock at byte {USERBLOCK_SIZE} "
                f"(file is {size} bytes)",
                "the file is truncated or damaged; fetch it again")
        return "7.3"
    if tail in _V5_TAILS and head.startswith(b"MATLAB 5.0 MAT-file"):
        return "5"
    raise CorruptFileError(
        p, f"not a MATLAB v5/v7.3 MAT-file (bytes 124-127 are {tail!r}; expected "
        f"{_V73_TAIL!r} for v7.3 or {_V5_TAILS[0]!r} for v5)",
        "save the variables in MATLAB with save(..., '-v7.3') or pass the right file")


@dataclass(frozen=True)
class MatVariable:
    """One variable of a ``.mat`` file, described at open and read on demand.

    Attributes
    ----------
    path : pathlib.Path
    name : str
    shape : tuple of int
        MATLAB's ``size`` (the reverse of the HDF5 dataset shape for v7.3).
    matlab_class : str
        ``MATLAB_class`` attribute (``"single"``, ``"double"``, ``"logical"``, ...; ``"struct"``
        and ``"cell"`` are listed but cannot be read), or for v5 the class ``whosmat`` names
        (``"char"``, ``"sparse"``, ``"cell"``, ``"struct"`` cannot be read either).
    is_complex : bool
        Compound ``real``/``imag`` (v7.3) or a complex array (v5).
    dtype : numpy.dtype
        dtype of the arrays :meth:`read` returns: complex64 for complex single, complex128
        for complex double, bool for logical, otherwise the stored type; ``object`` for a
        variable that cannot be read.
    limits : InputLimits or None
        The limits :func:`open_mat` checked; :meth:`read` re-opens the file with them.
    """

    path: Path
    name: str
    shape: tuple[int, ...]
    matlab_class: str
    is_complex: bool
    dtype: np.dtype
    version: str = "7.3"
    _v5_data: Any = field(default=None, repr=False, compare=False)
    limits: InputLimits | None = field(default=None, repr=False, compare=False)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def read(self, index: tuple | None = None) -> np.ndarray:
        """The variable (or a block of it) in MATLAB axis order.

        Parameters
        ----------
        index : tuple of int/slice, optional
            0-based index **in MATLAB axis order**, one entry per leading axis (missing
            trailing entries mean "all"); only the indexed block is read from disk (h5py
            slicing). Integer entries drop their axis, as in numpy.

        Returns
        -------
        numpy.ndarray
            dtype :attr:`dtype`, axes in MATLAB order.

        Raises
        ------
        CorruptFileError
            The block cannot be read (truncated or damaged file).
        UnsafeFileError
            The file changed since it was opened and now leaves itself (links, ...).
        """
        idx = () if index is None else tuple(index)
        if len(idx) > self.ndim:
            raise IndexError(f"{self.path}: `{self.name}` has {self.ndim} axes; "
                             f"got an index of length {len(idx)}")
        idx = idx + (slice(None),) * (self.ndim - len(idx))
        if self.dtype == np.dtype(object):
            raise LayoutError(self.path, f"variable `{self.name}` is a MATLAB "
                              f"{self.matlab_class}, not a numeric array",
                              "store the data as a numeric or logical array")
        if self.version == "5":
            from suite.data.mat5 import read_v5_variable

            a = read_v5_variable(self.path, self._v5_data)
            return np.asarray(a[idx] != 0 if self.dtype == np.bool_ else a[idx], dtype=self.dtype)
        from suite.data.hdf5_safe import open_hdf5

        try:
            with open_hdf5(self.path, limits=self.limits) as f:
                raw = f[self.name][tuple(reversed(idx))]
        except CaseReadError:
            raise
        except Exception as exc:  # noqa: BLE001 - any h5py failure means a damaged file
            raise CorruptFileError(self.path, f"variable `{self.name}` cannot be read "
                                   f"({type(exc).__name__}: {exc})",
                                   "the file is truncated or damaged; fetch it again") from None
        return _to_numpy(raw, self).T


@dataclass(frozen=True)
class MatFile:
    """A ``.mat`` file checked at open: its version and variables (no array data read)."""

    path: Path
    version: str
    variables: Mapping[str, MatVariable]

    def __contains__(self, name: str) -> bool:
        return name in self.variables

    def __getitem__(self, name: str) -> MatVariable:
        if name not in self.variables:
            raise LayoutError(self.path, f"has no variable `{name}` (variables: "
                              f"{sorted(self.variables) or 'none'})",
                              "check that this is the right file for the variable")
        return self.variables[name]


def open_mat(path: str | os.PathLike, *, limits: InputLimits | None = None) -> MatFile:
    """Open a ``.mat`` file (v7.3 or v5) and describe its variables.

    v7.3: the HDF5 structure is read and checked (module docstring, Safety), arrays are not.
    v5: the variable headers are read and their declared sizes checked; arrays are not.

    Parameters
    ----------
    path : str or path-like
    limits : InputLimits, optional
        Size limits checked from the headers (default :data:`suite.data.limits.DEFAULT_LIMITS`).

    Raises
    ------
    CorruptFileError
        See :func:`mat_version`; HDF5 or v5 content that cannot be parsed.
    LayoutError
        A compound variable without both ``real`` and ``imag`` fields.
    UnsafeFileError
        A v7.3 file whose objects leave the file (links, virtual datasets, external storage).
    TooLargeError
        A variable declares more than the limits allow.
    """
    p = Path(path)
    version = mat_version(p)
    if version == "5":
        return _open_v5(p, limits)
    import h5py

    from suite.data.hdf5_safe import open_hdf5

    f = open_hdf5(p, limits=limits)
    try:
        out: dict[str, MatVariable] = {}
        for name in f.keys():
            if name.startswith("#"):  # "#refs#", "#subsystem#": MATLAB bookkeeping
                continue
            obj = f[name]
            cls = _attr_text(obj.attrs.get("MATLAB_class", b""))
            if not isinstance(obj, h5py.Dataset):
                out[name] = MatVariable(p, name, (), cls or "struct", False, np.dtype(object))
                continue
            out[name] = dataclasses.replace(_describe(p, name, obj, cls), limits=limits)
    except CaseReadError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise CorruptFileError(p, f"HDF5 structure cannot be read ({type(exc).__name__}: {exc})",
                               "the file is truncated or damaged; fetch it again") from None
    finally:
        f.close()
    return MatFile(p, "7.3", out)


def read_mat_variable(path: str | os.PathLike, name: str) -> np.ndarray:
    """Read one whole variable in MATLAB axis order (``open_mat(path)[name].read()``).

    Examples
    --------
    >>> write_mat_v73(tmp / "a.mat", {"x": np.arange(6.0).reshape(2, 3)})  # doctest: +SKIP
    >>> read_mat_variable(tmp / "a.mat", "x").shape                        # doctest: +SKIP
    (2, 3)
    """
    return open_mat(path)[name].read()


def _attr_text(v: Any) -> str:
    if isinstance(v, bytes):
        return v.decode("ascii", "replace")
    if isinstance(v, np.ndarray):  # some writers store it as a 1-element array
        return _attr_text(v.ravel()[0]) if v.size else ""
    return str(v) if v is not None else ""


def _describe(p: Path, name: str, d: Any, cls: str) -> MatVariable:
    dt = d.dtype
    shape = tuple(int(s) for s in reversed(d.shape))
    if int(np.asarray(d.attrs.get("MATLAB_empty", 0)).ravel()[0] if "MATLAB_empty" in d.attrs
           else 0):
        shape = (0,) * max(len(shape), 2)
    if dt.names is not None:
        names = set(dt.names)
        if not {"real", "imag"} <= names:
            missing = sorted({"real", "imag"} - names)
            raise LayoutError(
                p, f"variable `{name}` is a compound without field(s) {missing} (fields "
                f"{list(dt.names)}), so it is not a MATLAB complex array",
                "MATLAB stores complex data as a compound of `real` and `imag`; re-save it")
        part = np.result_type(dt["real"], dt["imag"])
        out = np.dtype(np.complex128) if part == np.float64 else np.dtype(np.complex64)
        return MatVariable(p, name, shape, cls or part.name, True, out)
    if cls == "logical":
        return MatVariable(p, name, shape, cls, False, np.dtype(bool))
    return MatVariable(p, name, shape, cls or dt.name, False, np.dtype(dt))


def _to_numpy(raw: np.ndarray, var: MatVariable) -> np.ndarray:
    raw = np.asarray(raw)
    if var.is_complex:
        out = np.empty(raw.shape, var.dtype)
        out.real = raw["real"]
        out.imag = raw["imag"]
        return out
    if var.dtype == np.bool_:
        return raw != 0
    return raw


#: numpy dtype of the real part of each readable v5 class.
_V5_DTYPE = {"double": np.float64, "single": np.float32, "int8": np.int8, "uint8": np.uint8,
             "int16": np.int16, "uint16": np.uint16, "int32": np.int32, "uint32": np.uint32,
             "int64": np.int64, "uint64": np.uint64}


def _open_v5(p: Path, limits: InputLimits | None) -> MatFile:
    from suite.data.mat5 import v5_variables

    size = p.stat().st_size
    out = {}
    for v in v5_variables(p):
        if v.name.startswith("__") or not v.name:
            continue
        if v.matlab_class not in _V5_DTYPE:  # cell, struct, char, sparse, ...: never loaded
            out[v.name] = MatVariable(p, v.name, v.shape, v.matlab_class, False,
                                      np.dtype(object), "5", v, limits)
            continue
        if v.is_logical:
            cls, dt = "logical", np.dtype(bool)
        else:
            cls, dt = v.matlab_class, np.dtype(_V5_DTYPE[v.matlab_class])
            if v.is_complex:
                dt = np.dtype(np.complex64 if dt == np.float32 else np.complex128)
        check_declared(p, f"variable `{v.name}` of MATLAB size {v.shape} {cls}"
                       f"{' complex' if v.is_complex else ''}",
                       int(np.prod(v.shape, dtype=object)) * dt.itemsize, limits,
                       file_bytes=size)
        out[v.name] = MatVariable(p, v.name, v.shape, cls, v.is_complex, dt, "5", v, limits)
    return MatFile(p, "5", out)


# ====================================================================== writing
def write_mat_v73(path: str | os.PathLike, variables: Mapping[str, Any], *,
                  platform: str = "cmrsuite") -> Path:
    """Write arrays to a MATLAB v7.3 ``.mat`` file that MATLAB and h5py read correctly.

    Parameters
    ----------
    path : str or path-like
        Output file (overwritten).
    variables : mapping of str to array-like
        ``{name: array}``, each array **in MATLAB axis order** (what ``size`` should print
        in MATLAB). Names must be MATLAB identifiers. Supported dtypes: bool (→ ``logical``),
        float32/float64 (→ ``single``/``double``), complex64/complex128 (→ compound
        ``real``/``imag`` of ``single``/``double``), int8..uint64. 0-D arrays are written as
        1×1, 1-D arrays as 1×n rows (scipy ``savemat``'s default); trailing singleton axes
        beyond the second are dropped, as MATLAB itself does.
    platform : str, default "cmrsuite"
        The ``Platform:`` text of the header.

    Returns
    -------
    pathlib.Path

    Notes
    -----
    The HDF5 dataset holds the transposed array (reversed axes), so h5py sees the reverse
    of MATLAB's size; see the module docstring for the header bytes and determinism.

    Examples
    --------
    >>> import h5py                                                          # doctest: +SKIP
    >>> write_mat_v73(tmp / "a.mat", {"x": np.zeros((2, 3, 4), np.float32)})  # doctest: +SKIP
    >>> h5py.File(tmp / "a.mat")["x"].shape                                  # doctest: +SKIP
    (4, 3, 2)
    """
    import h5py

    p = Path(path)
    prepared = {}
    for name, value in variables.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"write_mat_v73: variable name {name!r} is not a MATLAB "
                             "identifier (letter, then letters/digits/_; at most 63)")
        prepared[name] = _prepare(name, np.asarray(value))
    header = matlab_header(platform)
    with h5py.File(p, "w", userblock_size=USERBLOCK_SIZE, libver="earliest") as f:
        for name, (data, cls, extra) in prepared.items():
            d = f.create_dataset(name, data=data, track_times=False)
            d.attrs["MATLAB_class"] = np.bytes_(cls)
            for key, val in extra.items():
                d.attrs[key] = val
    with open(p, "r+b") as fh:
        fh.write(header + b"\x00" * (USERBLOCK_SIZE - len(header)))
    return p


def _prepare(name: str, a: np.ndarray) -> tuple[np.ndarray, str, dict]:
    if a.ndim == 0:
        a = a.reshape(1, 1)
    elif a.ndim == 1:
        a = a.reshape(1, -1)
    while a.ndim > 2 and a.shape[-1] == 1:
        a = a[..., 0]
    extra: dict[str, Any] = {}
    if a.dtype == np.bool_:
        data, cls = a.astype(np.uint8), "logical"
        extra["MATLAB_int_decode"] = np.int32(1)
    elif a.dtype.kind == "c":
        part = np.float64 if a.dtype == np.complex128 else np.float32
        if a.dtype not in (np.complex64, np.complex128):
            raise ValueError(f"write_mat_v73: `{name}` has dtype {a.dtype}; use complex64 "
                             "or complex128")
        data = np.empty(a.shape, np.dtype([("real", part), ("imag", part)]))
        data["real"], data["imag"] = a.real, a.imag
        cls = "double" if part is np.float64 else "single"
    elif np.dtype(a.dtype) in _CLASS_OF:
        data, cls = a, _CLASS_OF[np.dtype(a.dtype)]
    else:
        raise ValueError(f"write_mat_v73: `{name}` has unsupported dtype {a.dtype}; use bool, "
                         "float32/64, complex64/128 or a fixed-size integer type")
    return np.ascontiguousarray(data.T), cls, extra

"""MATLAB v5 MAT-files: variable headers without the data, and one variable on demand.

A v5 file (``save -v6``/``-v7``) is a 128-byte header followed by one data element per
variable; ``-v7`` compresses each element with zlib (type ``miCOMPRESSED``). A 195 KB file can
therefore hold 200 MB of zeros, and ``scipy.io.loadmat`` inflates it whole; even
``scipy.io.whosmat`` inflates the first 128 KiB of compressed input of every variable (up to
~135 MB each) to read its header. :func:`v5_variables` reads each header with its own bounded
inflation (at most :data:`MAX_HEADER_BYTES` of decompressed bytes per variable), so a reader
can check the declared size before any data are decompressed; :func:`read_v5_variable` then
hands ``scipy.io.loadmat`` the file header and that one element only.

Layout (MathWorks, "MAT-File Format", Level 5 MAT-files, pp. 1-6 to 1-20,
https://www.mathworks.com/help/pdf_doc/matlab/matfile_format.pdf): a data element is an
8-byte tag (uint32 type, uint32 byte count) and its data, or a *small* element (type and
count packed in 4 bytes, up to 4 data bytes). A variable is an ``miMATRIX`` (14) element, or an
``miCOMPRESSED`` (15) element whose zlib stream holds one. An ``miMATRIX`` starts with Array
Flags (``miUINT32``: class in the low byte; flag bits ``0x0800`` complex, ``0x0200`` logical),
Dimensions (``miINT32``) and the Array Name (``miINT8``), each padded to 8 bytes. The endian
indicator at bytes 126-127 is ``IM`` for little-endian files and ``MI`` for big-endian ones.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from suite.data.errors import CorruptFileError

__all__ = ["V5Variable", "v5_variables", "read_v5_variable", "V5_CLASSES", "MAX_HEADER_BYTES"]

#: MATLAB array classes by the code in Array Flags (mxCELL_CLASS = 1, ...).
V5_CLASSES = {1: "cell", 2: "struct", 3: "object", 4: "char", 5: "sparse", 6: "double",
              7: "single", 8: "int8", 9: "uint8", 10: "int16", 11: "uint16", 12: "int32",
              13: "uint32", 14: "int64", 15: "uint64", 16: "function_handle", 17: "opaque"}
#: Most decompressed bytes inflated to read one variable's header (flags, dims, name).
MAX_HEADER_BYTES = 64 * 1024
_MI_INT8, _MI_INT32, _MI_UINT32, _MI_MATRIX, _MI_COMPRESSED = 1, 5, 6, 14, 15
_HEAD = 128
_DAMAGED = "the file is truncated or damaged; fetch it again"


@dataclass(frozen=True)
class V5Variable:
    """One variable's header.

    Attributes
    ----------
    name : str
    shape : tuple of int
        MATLAB's ``size``.
    matlab_class : str
        ``"double"``, ``"single"``, ``"int16"``, ..., ``"cell"``, ``"struct"``, ``"sparse"``.
    is_complex, is_logical : bool
    offset, length : int
        Byte offset of the element's tag in the file and the element's length (tag included).
    """

    name: str
    shape: tuple[int, ...]
    matlab_class: str
    is_complex: bool
    is_logical: bool
    offset: int
    length: int


def v5_variables(path: str | os.PathLike) -> list[V5Variable]:
    """The variables of a v5 MAT-file, from their headers (module docstring); no data read.

    Raises
    ------
    CorruptFileError
        A header that cannot be parsed, an element that runs past the end of the file.
    """
    p = Path(path)
    size = p.stat().st_size
    out = []
    with open(p, "rb") as fh:
        head = fh.read(_HEAD)
        if len(head) < _HEAD:
            raise CorruptFileError(p, "MATLAB v5 header is shorter than 128 bytes", _DAMAGED)
        order = ">" if head[126:128] == b"MI" else "<"
        pos = _HEAD
        while pos + 8 <= size:
            fh.seek(pos)
            mdtype, nbytes = struct.unpack(order + "II", fh.read(8))
            end = pos + 8 + nbytes
            if nbytes == 0 or end > size:
                raise CorruptFileError(p, f"data element at byte {pos} declares {nbytes} bytes "
                                       f"but the file ends at byte {size}", _DAMAGED)
            if mdtype == _MI_COMPRESSED:
                body = _inflate_head(p, fh, nbytes, pos)
                mdtype, inner = struct.unpack(order + "II", _take(p, body, 0, 8, pos))
                body = body[8:]
            elif mdtype == _MI_MATRIX:
                body = fh.read(min(nbytes, MAX_HEADER_BYTES))
            else:
                raise CorruptFileError(p, f"data element at byte {pos} has type {mdtype}; "
                                       "expected a variable (miMATRIX or miCOMPRESSED)", _DAMAGED)
            if mdtype != _MI_MATRIX:
                raise CorruptFileError(p, f"compressed element at byte {pos} holds type "
                                       f"{mdtype}, not a variable (miMATRIX)", _DAMAGED)
            out.append(_parse_matrix(p, body, order, pos, end - pos))
            pos = end
    return out


def read_v5_variable(path: str | os.PathLike, var: V5Variable) -> np.ndarray:
    """The data of one variable, read with ``scipy.io.loadmat`` from the file header and that
    element alone (so no other variable is decompressed).

    Raises
    ------
    CorruptFileError
        scipy cannot read the element, or its size differs from the header.
    """
    import scipy.io

    p = Path(path)
    with open(p, "rb") as fh:
        head = fh.read(_HEAD)
        fh.seek(var.offset)
        element = fh.read(var.length)
    try:
        doc = scipy.io.loadmat(io.BytesIO(head + element), squeeze_me=False, mat_dtype=False)
        a = np.asarray(doc[var.name])
    except Exception as exc:  # noqa: BLE001 - scipy raises ValueError/TypeError/zlib errors
        raise CorruptFileError(p, f"variable `{var.name}` cannot be read ({type(exc).__name__}: "
                               f"{exc})", _DAMAGED) from None
    if tuple(a.shape) != var.shape:
        raise CorruptFileError(p, f"variable `{var.name}` holds data of size {tuple(a.shape)} "
                               f"but its header says {var.shape}", _DAMAGED)
    return a


def _inflate_head(p: Path, fh, nbytes: int, pos: int) -> bytes:
    """Up to MAX_HEADER_BYTES of the decompressed element, feeding 4 KiB at a time."""
    d = zlib.decompressobj()
    out, left = bytearray(), nbytes
    try:
        while len(out) < MAX_HEADER_BYTES and left > 0 and not d.eof:
            data = fh.read(min(4096, left))
            if not data:
                break
            left -= len(data)
            while data and len(out) < MAX_HEADER_BYTES and not d.eof:
                out += d.decompress(data, MAX_HEADER_BYTES - len(out))
                data = d.unconsumed_tail
    except zlib.error as exc:
        raise CorruptFileError(p, f"compressed element at byte {pos} cannot be inflated "
                               f"({exc})", _DAMAGED) from None
    return bytes(out)


def _take(p: Path, buf: bytes, start: int, n: int, pos: int) -> bytes:
    if start < 0 or start + n > len(buf):
        raise CorruptFileError(p, f"variable header at byte {pos} is cut short (or longer than "
                               f"{MAX_HEADER_BYTES} bytes)", _DAMAGED)
    return buf[start:start + n]


def _sub(p: Path, buf: bytes, at: int, order: str, pos: int) -> tuple[int, bytes, int]:
    """Sub-element at ``at``: (type, data, offset of the next sub-element)."""
    word = struct.unpack(order + "I", _take(p, buf, at, 4, pos))[0]
    if word >> 16:  # small data element: count in the high half, data in the next 4 bytes
        n, mdtype = word >> 16, word & 0xFFFF
        if n > 4:
            raise CorruptFileError(p, f"variable header at byte {pos} has a small element of "
                                   f"{n} bytes (at most 4)", _DAMAGED)
        return mdtype, _take(p, buf, at + 4, n, pos), at + 8
    n = struct.unpack(order + "I", _take(p, buf, at + 4, 4, pos))[0]
    return word, _take(p, buf, at + 8, n, pos), at + 8 + n + (-n % 8)


def _parse_matrix(p: Path, body: bytes, order: str, pos: int, length: int) -> V5Variable:
    t1, flags, at = _sub(p, body, 0, order, pos)
    t2, dims, at = _sub(p, body, at, order, pos)
    t3, name, _ = _sub(p, body, at, order, pos)
    if t1 != _MI_UINT32 or len(flags) < 4 or t2 != _MI_INT32 or len(dims) % 4 or \
            len(dims) < 8 or t3 != _MI_INT8:
        raise CorruptFileError(p, f"variable header at byte {pos} does not start with array "
                               "flags, dimensions and a name", _DAMAGED)
    word = struct.unpack(order + "I", flags[:4])[0]
    shape = tuple(int(v) for v in struct.unpack(order + f"{len(dims) // 4}i", dims))
    if min(shape) < 0:
        raise CorruptFileError(p, f"variable header at byte {pos} has negative dimensions "
                               f"{shape}", _DAMAGED)
    cls = V5_CLASSES.get(word & 0xFF, f"unknown class {word & 0xFF}")
    return V5Variable(name.decode("latin-1"), shape, cls, bool(word & 0x0800),
                      bool(word & 0x0200), pos, length)

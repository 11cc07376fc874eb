"""Mutations shared by the input fuzz targets: byte-level damage, hostile HDF5 objects,
NIfTI header edits, MATLAB v5 elements written by hand.

Every function takes a ``numpy.random.Generator`` for its choices, so a case id (its seed)
fixes the damage.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import h5py
import numpy as np

from fuzz_input_harness import ANY, Expect

UNSAFE = Expect(True, ("UnsafeFileError",))
TOO_LARGE = Expect(True, ("TooLargeError",))
LAYOUT = Expect(True, ("LayoutError",))
CORRUPT = Expect(True, ("CorruptFileError",))
REFUSED = Expect(True)
HDF5_LINK_KINDS = ("external", "soft", "virtual", "external-storage")


# ---------------------------------------------------------------------- bytes
def truncate(path: Path, rng: np.random.Generator) -> None:
    """Cut the file at a random offset (0 included)."""
    raw = path.read_bytes()
    path.write_bytes(raw[:int(rng.integers(0, max(len(raw), 1)))])


def bitflip(path: Path, rng: np.random.Generator) -> None:
    """Flip 1 to 8 random bits."""
    raw = bytearray(path.read_bytes())
    if not raw:
        return
    for _ in range(int(rng.integers(1, 9))):
        i = int(rng.integers(0, len(raw)))
        raw[i] ^= 1 << int(rng.integers(0, 8))
    path.write_bytes(bytes(raw))


def overwrite_block(path: Path, rng: np.random.Generator) -> None:
    """Overwrite 1 to 64 bytes at a random offset with 0x00, 0xFF or random bytes."""
    raw = bytearray(path.read_bytes())
    if not raw:
        return
    n = int(rng.integers(1, 65))
    i = int(rng.integers(0, len(raw)))
    fill = [b"\x00" * n, b"\xff" * n, rng.bytes(n)][int(rng.integers(0, 3))]
    raw[i:i + n] = fill[:len(raw) - i]
    path.write_bytes(bytes(raw))


def byte_mutations(files) -> dict:
    """``truncate``, ``bitflip`` and ``overwrite`` of one file ``files(unit)`` picks."""
    def make(fn):
        def mutate(unit: Path, rng: np.random.Generator) -> Expect:
            cands = files(unit)
            fn(cands[int(rng.integers(0, len(cands)))], rng)
            return ANY
        return mutate
    return {"truncate": make(truncate), "bitflip": make(bitflip),
            "overwrite": make(overwrite_block)}


# ---------------------------------------------------------------------- HDF5
def other_file(folder: Path) -> Path:
    """An HDF5 file beside the input with a float32 dataset `x` (the links' target)."""
    p = folder / "other.h5"
    if not p.exists():
        with h5py.File(p, "w") as f:
            f["x"] = np.ones((4, 6), np.float32)
        (folder / "raw.bin").write_bytes(np.ones(24, np.float32).tobytes())
    return p


def hostile_object(path: Path, name: str, kind: str) -> None:
    """Replace HDF5 object ``name`` of ``path`` by a link or mapping that leaves the file."""
    other = other_file(path.parent)
    with h5py.File(path, "r+") as f:
        if name in f or f.get(name, getlink=True) is not None:
            del f[name]
        if kind == "external":
            f[name] = h5py.ExternalLink(str(other), "x")
        elif kind == "soft":
            f[name] = h5py.SoftLink("/zzz_hop")
            f["zzz_hop"] = h5py.ExternalLink(str(other), "x")
        elif kind == "virtual":
            lay = h5py.VirtualLayout(shape=(4, 6), dtype=np.float32)
            lay[:] = h5py.VirtualSource(str(other), "x", shape=(4, 6))
            f.create_virtual_dataset(name, lay)
        else:
            f.create_dataset(name, shape=(4, 6), dtype=np.float32,
                             external=[(str(path.parent / "raw.bin"), 0, 96)])


def replace_dataset(path: Path, name: str, data=None, **kwargs) -> None:
    """Replace dataset ``name`` by ``data`` (or an empty dataset made from ``kwargs``)."""
    with h5py.File(path, "r+") as f:
        if name in f:
            del f[name]
        if data is not None:
            f.create_dataset(name, data=data)
        else:
            f.create_dataset(name, **kwargs)


def huge_unallocated(path: Path, name: str, shape, dtype) -> None:
    """Replace ``name`` by a chunked dataset declaring ``shape`` with no chunk written."""
    chunks = tuple(min(int(s), 16) for s in shape)
    replace_dataset(path, name, shape=shape, dtype=dtype, chunks=chunks, maxshape=shape)


def hdf5_link(names) -> callable:
    """Mutation: one of ``names`` becomes a random kind of hostile object."""
    def mutate(unit: Path, rng: np.random.Generator) -> Expect:
        path, name = names(unit)[int(rng.integers(0, len(names(unit))))]
        hostile_object(path, name, HDF5_LINK_KINDS[int(rng.integers(0, 4))])
        return UNSAFE
    return mutate


def with_nonfinite(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A copy of ``a`` with 1-3 entries set to NaN, +inf or -inf."""
    out = np.array(a, copy=True, order="C")
    flat = out.reshape(-1)  # a view of the C-ordered copy
    for _ in range(int(rng.integers(1, 4))):
        flat[int(rng.integers(0, flat.size))] = [np.nan, np.inf, -np.inf][int(rng.integers(0, 3))]
    return out


# ---------------------------------------------------------------------- NIfTI
def edit_nifti_header(path: Path, edit) -> None:
    """Apply ``edit(bytearray)`` to the (decompressed) header bytes of a .nii/.nii.gz."""
    gz = path.read_bytes()[:2] == b"\x1f\x8b"
    raw = bytearray(gzip.decompress(path.read_bytes()) if gz else path.read_bytes())
    edit(raw)
    path.write_bytes(gzip.compress(bytes(raw), mtime=0) if gz else bytes(raw))


def set_dims(dims) -> callable:
    def edit(raw: bytearray) -> None:
        vals = list(dims) + [1] * (8 - len(dims))
        raw[40:56] = struct.pack("<8h", *vals[:8])
    return edit


def set_field(offset: int, fmt: str, value) -> callable:
    def edit(raw: bytearray) -> None:
        raw[offset:offset + struct.calcsize(fmt)] = struct.pack(fmt, value)
    return edit


def write_nifti_unchecked(path: Path, data: np.ndarray) -> None:
    """Write suite-axes ``(slice, frame, y, x)`` data as NIfTI with nibabel, without the
    suite writer's checks (so NaN images and out-of-convention labels can be written)."""
    import nibabel as nib

    img = nib.Nifti1Image(np.ascontiguousarray(np.transpose(data, (3, 2, 0, 1))),
                          np.diag([1.5, 1.5, 8.0, 1.0]))
    img.header.set_zooms((1.5, 1.5, 8.0, 1.0))
    nib.save(img, str(path))


# ---------------------------------------------------------------------- MATLAB v5
def v5_element(name: str, dims, cls: int, complex_: bool, data: bytes = b"",
               compress: bool = True) -> bytes:
    """One v5 variable element written by hand (MathWorks MAT-File Format, Level 5)."""
    def sub(mdtype: int, payload: bytes) -> bytes:
        return struct.pack("<II", mdtype, len(payload)) + payload + b"\0" * (-len(payload) % 8)
    flags = struct.pack("<II", cls | (0x0800 if complex_ else 0), 0)
    body = sub(6, flags) + sub(5, struct.pack(f"<{len(dims)}i", *dims)) + \
        sub(1, name.encode()) + data
    element = struct.pack("<II", 14, len(body)) + body
    if not compress:
        return element
    packed = zlib.compress(element)
    return struct.pack("<II", 15, len(packed)) + packed


def v5_zero_bomb(name: str, dims, cls: int = 6, itemsize: int = 8) -> bytes:
    """A compressed v5 element whose real part is ``prod(dims)`` zeros, really present
    (compressed streaming, never held whole)."""
    n = int(np.prod(dims)) * itemsize
    head = struct.pack("<II", 6, 8) + struct.pack("<II", cls, 0)
    head += struct.pack("<II", 5, 4 * len(dims)) + struct.pack(f"<{len(dims)}i", *dims)
    head += b"\0" * (-(4 * len(dims)) % 8)
    nm = name.encode()
    head += struct.pack("<II", 1, len(nm)) + nm + b"\0" * (-len(nm) % 8)
    real = struct.pack("<II", 9 if itemsize == 8 else 7, n)
    body_len = len(head) + len(real) + n + (-n % 8)
    comp = zlib.compressobj(6)
    out = [comp.compress(struct.pack("<II", 14, body_len) + head + real)]
    zeros = b"\0" * 2**20
    left = n + (-n % 8)
    while left:
        k = min(left, len(zeros))
        out.append(comp.compress(zeros[:k]))
        left -= k
    out.append(comp.flush())
    packed = b"".join(out)
    return struct.pack("<II", 15, len(packed)) + packed


def v5_file(path: Path, elements: list[bytes]) -> None:
    """A v5 MAT-file: the 128-byte header then ``elements``."""
    text = b"MATLAB 5.0 MAT-file, Platform: fuzz, Created on: Thu Jan 01 00:00:00 1970"
    head = text.ljust(116, b" ") + b"\0" * 8 + b"\x00\x01IM"
    path.write_bytes(head + b"".join(elements))

"""Open an HDF5 file so that reading it can never leave it.

HDF5 lets a file point outside itself, and h5py follows silently on any access
(``f[name]``, ``name in f``, ``f.get(name)``): an **external link** names an object in
another file (resolved as an absolute path, then relative to the working directory and the
file's folder); a **soft link** names a path that may run through an external link; a
**virtual dataset** maps its data from source datasets in other files; **external storage**
keeps a dataset's raw bytes in other files; a **filter plugin** is a shared library loaded from
``HDF5_PLUGIN_PATH``. A submission whose ``img4ranking`` was an external link to the hidden
truth file scored SSIM 1.0 this way, and a link to a FIFO would hang the reader.

:func:`open_hdf5` opens the file read-only and, before the caller touches any object, visits
every link with ``H5Lvisit`` (which reports links without following soft or external ones and
visits each hard-linked group once) and checks every dataset:

* any link that is not a hard link (external, soft, user-defined) → refused;
* a dataset whose layout is not compact, contiguous or chunked (virtual) → refused;
* a dataset with external storage (``H5Pget_external_count > 0``) → refused;
* a filter other than HDF5's built-in ones (deflate, shuffle, Fletcher-32, SZIP, N-bit,
  scale-offset) and h5py's LZF → refused;
* a dataset or chunk whose declared size exceeds the limits (:mod:`suite.data.limits`);
* more links than ``max_hdf5_links`` → refused.

After the scan every object in the file is reached through hard links only, so ordinary h5py
access cannot leave the file. Refusals are :class:`~suite.data.errors.UnsafeFileError` or
:class:`~suite.data.errors.TooLargeError`; unreadable structure is a
:class:`~suite.data.errors.CorruptFileError`. Reference: HDF5 User Guide, "HDF5 Groups"
(link types) and "HDF5 Datasets" (layouts, external storage, filters),
https://support.hdfgroup.org/documentation/hdf5/latest/.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from suite.data.errors import CaseReadError, CorruptFileError, TooLargeError, UnsafeFileError
from suite.data.limits import InputLimits, check_declared, resolve_limits

__all__ = ["open_hdf5", "has_link", "ALLOWED_FILTERS"]

#: HDF5 filter ids the readers accept: deflate (1), shuffle (2), Fletcher-32 (3), SZIP (4),
#: N-bit (5), scale-offset (6) are built into the library; LZF (32000) is h5py's own.
ALLOWED_FILTERS = {1: "deflate", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit",
                   6: "scaleoffset", 32000: "lzf"}
_LINK_TYPES = {h5py.h5l.TYPE_SOFT: "soft link", h5py.h5l.TYPE_EXTERNAL: "external link"}
_FIX = ("save the data into the file itself (in MATLAB: save(..., '-v7.3') of the array; in "
        "h5py: write the array, not a link)")


def open_hdf5(path: str | os.PathLike, *, limits: InputLimits | None = None) -> h5py.File:
    """Open an HDF5 file read-only after checking that no access can leave it.

    Parameters
    ----------
    path : path-like
    limits : InputLimits, optional
        Declared dataset and chunk sizes, and the link count, are checked against these.

    Returns
    -------
    h5py.File
        Open read-only; the caller closes it (use it as a context manager).

    Raises
    ------
    CorruptFileError
        The file cannot be opened or its structure cannot be read.
    UnsafeFileError
        A link that is not a hard link, a virtual dataset, external storage or a filter
        plugin (the message names the object and, for links, where it points).
    TooLargeError
        A dataset or chunk declares more than the limits allow, or too many links.
    """
    p = Path(path)
    lim = resolve_limits(limits)
    try:
        f = h5py.File(p, "r")
    except Exception as exc:  # noqa: BLE001 - h5py raises OSError and others on damage
        raise CorruptFileError(p, f"HDF5 file cannot be opened ({type(exc).__name__}: {exc})",
                               "the file is truncated or damaged; fetch it again") from None
    try:
        _scan(p, f, lim)
    except BaseException:
        f.close()
        raise
    return f


def has_link(group: h5py.Group, name: str) -> bool:
    """Whether ``group`` holds a link called ``name`` (one path component), without resolving
    it (``H5Lexists``; ``name in group`` would follow an external link to open its file)."""
    try:
        return bool(group.id.links.exists(name.encode()))
    except Exception:  # noqa: BLE001 - a damaged group: no such link
        return False


def _scan(p: Path, f: h5py.File, lim: InputLimits) -> None:
    links: list[tuple[str, int]] = []

    def visit(name: bytes, info) -> int | None:
        links.append((name.decode("utf-8", "replace"), info.type))
        return 1 if len(links) > lim.max_hdf5_links else None

    try:
        f.id.links.visit(visit, info=True)
    except Exception as exc:  # noqa: BLE001 - damaged B-trees, heaps, ...
        raise CorruptFileError(p, f"HDF5 structure cannot be read ({type(exc).__name__}: "
                               f"{exc})", "the file is truncated or damaged; fetch it "
                               "again") from None
    if len(links) > lim.max_hdf5_links:
        raise TooLargeError(p, f"the file holds more than {lim.max_hdf5_links} HDF5 links",
                            "if it is genuine, raise limits=InputLimits(max_hdf5_links=...)")
    for name, kind in links:
        if kind != h5py.h5l.TYPE_HARD:
            raise UnsafeFileError(p, f"`/{name}` is an HDF5 {_describe_link(f, name, kind)}; "
                                  "cmrsuite reads only data stored in the file itself", _FIX)
    size = p.stat().st_size
    for name, _ in links:
        try:
            obj = f[name]
            if not isinstance(obj, h5py.Dataset):
                continue
            _check_dataset(p, name, obj, lim, size)
        except CaseReadError:
            raise
        except Exception as exc:  # noqa: BLE001 - damaged object headers
            raise CorruptFileError(p, f"HDF5 object `/{name}` cannot be read "
                                   f"({type(exc).__name__}: {exc})",
                                   "the file is truncated or damaged; fetch it again") from None


def _describe_link(f: h5py.File, name: str, kind: int) -> str:
    what = _LINK_TYPES.get(kind, f"user-defined link (type {kind})")
    try:
        link = f.get(name, getlink=True)
    except Exception:  # noqa: BLE001 - the description is best effort
        return what
    if isinstance(link, h5py.ExternalLink):
        return f"{what} to `{link.path}` in file {link.filename!r}"
    if isinstance(link, h5py.SoftLink):
        return f"{what} to `{link.path}`"
    return what


def _check_dataset(p: Path, name: str, d: h5py.Dataset, lim: InputLimits, size: int) -> None:
    dcpl = d.id.get_create_plist()
    layout = dcpl.get_layout()
    if layout == h5py.h5d.VIRTUAL:
        raise UnsafeFileError(p, f"`/{name}` is an HDF5 virtual dataset (its data are mapped "
                              "from other files); cmrsuite reads only data stored in the file "
                              "itself", _FIX)
    if layout not in (h5py.h5d.COMPACT, h5py.h5d.CONTIGUOUS, h5py.h5d.CHUNKED):
        raise UnsafeFileError(p, f"`/{name}` has an unknown HDF5 storage layout ({layout})",
                              _FIX)
    if dcpl.get_external_count() > 0:
        files = sorted({e[0] for e in (d.external or [])})
        raise UnsafeFileError(p, f"`/{name}` keeps its data in external files {files}; "
                              "cmrsuite reads only data stored in the file itself", _FIX)
    for i in range(dcpl.get_nfilters()):
        code = dcpl.get_filter(i)[0]
        if code not in ALLOWED_FILTERS:
            raise UnsafeFileError(p, f"`/{name}` uses HDF5 filter {code}, which is not one of "
                                  f"the built-in filters {sorted(ALLOWED_FILTERS.values())}; "
                                  "cmrsuite never loads filter plugins",
                                  "re-save the file uncompressed or with gzip")
    itemsize = int(d.dtype.itemsize)
    shape = tuple(d.shape or ())  # None: a null dataspace (no data)
    check_declared(p, f"dataset `/{name}` of shape {shape} {d.dtype}",
                   int(np.prod(shape, dtype=object)) * itemsize * (d.shape is not None), lim,
                   file_bytes=size)
    if d.chunks is not None:
        check_declared(p, f"chunks of `/{name}` of shape {tuple(d.chunks)}",
                       int(np.prod(d.chunks, dtype=object)) * itemsize, lim, file_bytes=size)

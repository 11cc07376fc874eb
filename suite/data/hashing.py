"""SHA-256 helpers for provenance (``CaseMeta.source_sha256``) and dataset manifests."""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from pathlib import Path

__all__ = ["sha256_file", "remembered_sha256", "sha256_bytes", "sha256_of_files"]

_CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks (constant memory).

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    str
        64 lowercase hex digits.

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError
        From :func:`open`, unchanged.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def remembered_sha256(path: str | Path) -> str:
    """:func:`sha256_file`, remembered per process while the file is unchanged.

    The key is the file's path, device, inode, size, modification and status-change times
    (``os.stat``, nanoseconds): writing the file, replacing it or changing its times gives
    another key, so the file is hashed again. The :data:`HASHES_KEPT` most recently used
    hashes are kept. Readers call it for ``CaseMeta.source_sha256``: a worker that reads a
    case again (a later phase of a run) hashes its file once (0.02-0.04 CPU-s for a 44 MB
    phantom case, docs/performance.md); the runner for the files of a user's method and of
    a predictions folder (``suite.runner.method_files``).

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError
        As :func:`sha256_file`.
    """
    p = Path(path)
    st = os.stat(p)
    key = (str(p), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    found = _HASHES.get(key)
    if found is None:
        found = _HASHES[key] = sha256_file(p)
        while len(_HASHES) > HASHES_KEPT:
            _HASHES.popitem(last=False)
    else:
        _HASHES.move_to_end(key)
    return found


#: Hashes :func:`remembered_sha256` keeps per process (the most recently used): a case file
#: per read, and every file of a method's weights and of a predictions folder (one per case
#: and condition: a challenge submission has hundreds), 64 characters each.
HASHES_KEPT = 4096
_HASHES: OrderedDict = OrderedDict()


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``.

    Examples
    --------
    >>> sha256_bytes(b"")[:16]
    'e3b0c44298fc1c14'
    """
    return hashlib.sha256(data).hexdigest()


def sha256_of_files(paths) -> tuple[str, dict[str, str]]:
    """Combined SHA-256 of several files and each file's own hash.

    The combined digest hashes the lines ``"<name> <sha256>\\n"`` sorted by file name, so it
    does not depend on the order of ``paths`` (used for Cases assembled from several files,
    e.g. an ACDC patient folder).

    Returns
    -------
    (str, dict)
        Combined hex digest and ``{file name: hex digest}``.
    """
    per = {Path(p).name: sha256_file(p) for p in paths}
    text = "".join(f"{name} {per[name]}\n" for name in sorted(per))
    return sha256_bytes(text.encode("utf-8")), per

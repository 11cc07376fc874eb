"""SHA-256 helpers for provenance (``CaseMeta.source_sha256``) and dataset manifests."""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["sha256_file", "sha256_bytes", "sha256_of_files"]

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

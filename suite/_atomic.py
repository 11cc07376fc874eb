"""Atomic file writes: a file is complete under its name, or absent; no temporary file is
left behind on error.

Every writer of the suite that replaces a file (run manifest and seal, protocol copy, cache
arrays, robustness examples, phantom raw data and labels) writes into a temporary file in the
target's folder, renames it over the target (:func:`os.replace`, atomic on POSIX file systems)
and removes the temporary file when anything fails, including a full disk or a file-size limit
(the error propagates; the command line maps it to exit code 4, :mod:`suite.exit_codes`).
"""

from __future__ import annotations

import io
import os
import secrets
from pathlib import Path
from typing import Callable, IO

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text"]


class _Stream:
    """A binary file seen only through ``write``, ``flush``, ``seek`` and ``tell``: writers
    that special-case real files (numpy writes them with ``tofile``, which reports a short
    write on a full disk as an ``OSError`` without ``errno``) go through ``write``, whose
    failure carries the ``errno`` (ENOSPC, EFBIG) that :mod:`suite.exit_codes` classifies."""

    def __init__(self, fh):
        self._fh = fh

    def write(self, data) -> int:
        return self._fh.write(data)

    def flush(self) -> None:
        self._fh.flush()

    def tell(self) -> int:
        return self._fh.tell()

    def seek(self, *args) -> int:
        return self._fh.seek(*args)

    def seekable(self) -> bool:
        return True

    def read(self, *args) -> bytes:
        # present so that numpy.savez treats the stream as a file (it tests for ``read``);
        # writers never read back
        raise io.UnsupportedOperation("read: the stream of an atomic write is write-only")


def atomic_write(path, write: Callable[[IO[bytes]], None]) -> Path:
    """Write ``path`` through ``write(fh)`` (``fh`` a binary stream on a temporary file next
    to ``path``: ``write``, ``flush``, ``seek``, ``tell``), then rename it into place; on any
    error the temporary file is removed and the error re-raised (an ``OSError`` names
    ``path``).

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    # os.open with mode 0o666: the umask applies, as for a file opened with open()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(_Stream(fh))
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        if exc.filename is None and exc.errno is not None:  # name the file in the message
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path, data) -> Path:
    """:func:`atomic_write` of ``data`` (bytes or a buffer)."""
    return atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path, text: str) -> Path:
    """:func:`atomic_write` of ``text`` as UTF-8."""
    return atomic_write_bytes(path, text.encode("utf-8"))

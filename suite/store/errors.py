"""Errors of a run folder's store, cache and lock, each with its command-line exit code
(:mod:`suite.exit_codes`), and :func:`store_errors`, which turns SQLite's own errors into them.

SQLite reports a corrupt file, a file that is not a database and a full disk with the same two
exception classes (``sqlite3.DatabaseError``, ``sqlite3.OperationalError``) and messages that
do not name the file; :func:`store_errors` names the file, says what to do, and keeps the
error's kind in its class.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

from suite import exit_codes

__all__ = ["StoreCorruptError", "DiskFullError", "RunLockedError", "store_errors"]


class StoreCorruptError(ValueError):
    """A ``results.sqlite`` that cannot be read: not a database, malformed, truncated."""

    exit_code = exit_codes.STORE


class DiskFullError(OSError):
    """A write of the run folder failed: disk full, quota or file-size limit, read-only."""

    exit_code = exit_codes.DISK


class RunLockedError(ValueError):
    """Another process is writing the run folder (see :class:`suite.store.RunLock`)."""

    exit_code = exit_codes.LOCKED


@contextmanager
def store_errors(path, action: str = "reading"):
    """Re-raise SQLite errors inside the block (also when raised through pandas) as :class:`DiskFullError` (a failed write),
    :class:`RunLockedError` (``database is locked``) or :class:`StoreCorruptError` (any other),
    naming ``path``; ``action`` ("reading", "writing") goes into the message."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - only SQLite's errors are translated
        cause = _sqlite_cause(exc)
        if cause is None:
            raise
        text = str(cause)
        if exit_codes.is_disk_error(exc) or "readonly" in text or "read-only" in text:
            raise DiskFullError(f"{path}: {action} the results store failed ({text}); free "
                                "disk space or write the run to another folder") from None
        if "locked" in text:
            raise RunLockedError(f"{path}: the results store is locked by another process "
                                 f"({text}); wait for the other run to finish") from None
        raise StoreCorruptError(f"{path}: not a readable results store ({text}); the file is "
                                "corrupt or not a cmrsuite results.sqlite — restore it from a "
                                "copy, or run the protocol again into a new folder") from None


def _sqlite_cause(exc: BaseException) -> sqlite3.Error | None:
    """The SQLite error behind ``exc``: itself, or the cause of the ``DatabaseError`` pandas
    raises when a query fails."""
    if isinstance(exc, sqlite3.Error):
        return exc
    if type(exc).__module__.startswith("pandas") and isinstance(exc.__cause__, sqlite3.Error):
        return exc.__cause__
    return None

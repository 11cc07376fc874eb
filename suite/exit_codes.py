"""Exit codes of the ``cmrsuite`` command line: one stable number per kind of outcome.

The command line (:mod:`suite.cli`) prints an error as one line and exits with the code of
:func:`exit_code_of`. An error class declares its code with a class attribute ``exit_code``;
errors of the standard library that reach the command line are classified here (a full disk,
an unreadable SQLite file), so a user or a CI script never sees a raw traceback for them and can
branch on the code. ``docs/security.md`` has the table; a test keeps both in step.

===  ==============  =====================================================================
code name            meaning
===  ==============  =====================================================================
0    ok              the command did what was asked and every check passed
1    failed          the command ran, but a check failed: jobs failed beyond the protocol's
                     tolerance, an acceptance or gate criterion failed, ``verify`` found a
                     difference or a broken seal, a dataset copy does not match its card
2    invalid         invalid input: arguments, protocol, criteria, a file that is not what it
                     should be, a folder that is not a run (``gate``: runs not comparable)
3    store           a run's store or cache cannot be read: ``results.sqlite`` is corrupt or
                     not a database
4    disk            a write failed: disk full, quota or file-size limit, read-only folder
5    locked          another process is writing the run folder (one writer at a time)
6    not-allowed     code execution refused: the protocol names a plugin, stage plugin or
                     plugin path that the user did not allow
130  interrupted     interrupted by the user (Ctrl-C)
===  ==============  =====================================================================
"""

from __future__ import annotations

import errno
from typing import NamedTuple

__all__ = ["ExitCode", "EXIT_CODES", "OK", "FAILED", "INVALID", "STORE", "DISK", "LOCKED",
           "NOT_ALLOWED", "INTERRUPTED", "exit_code_of", "is_disk_error"]

OK, FAILED, INVALID, STORE, DISK, LOCKED, NOT_ALLOWED, INTERRUPTED = 0, 1, 2, 3, 4, 5, 6, 130


class ExitCode(NamedTuple):
    """One row of the exit-code table."""

    code: int
    name: str
    meaning: str


#: The table (module docstring), in code order.
EXIT_CODES = (
    ExitCode(OK, "ok", "the command did what was asked and every check passed"),
    ExitCode(FAILED, "failed", "a check failed: jobs beyond the failure tolerance, an "
             "acceptance or gate criterion, a verify difference or broken seal, a dataset copy"),
    ExitCode(INVALID, "invalid", "invalid input: arguments, protocol, criteria, a file or a "
             "folder that is not what it should be (gate: runs not comparable)"),
    ExitCode(STORE, "store", "a run's store or cache cannot be read (results.sqlite corrupt "
             "or not a database)"),
    ExitCode(DISK, "disk", "a write failed: disk full, quota or file-size limit, read-only "
             "folder"),
    ExitCode(LOCKED, "locked", "another process is writing the run folder"),
    ExitCode(NOT_ALLOWED, "not-allowed", "code execution refused: a plugin, stage plugin or "
             "plugin path the user did not allow"),
    ExitCode(INTERRUPTED, "interrupted", "interrupted by the user (Ctrl-C)"),
)

#: ``errno`` values of a write that failed for lack of room or permission to write.
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


def is_disk_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a failed write: an ``OSError`` with ENOSPC, EDQUOT, EFBIG or EROFS,
    or SQLite's "database or disk is full"."""
    if isinstance(exc, OSError) and exc.errno in _DISK_ERRNOS:
        return True
    text = str(exc).lower()
    return type(exc).__module__ == "sqlite3" and ("disk is full" in text or "disk i/o" in text)


def exit_code_of(exc: BaseException) -> int | None:
    """The exit code of an error that reached the command line, or ``None`` for an error the
    command line does not expect (a bug: it keeps its traceback).

    Order: the class's own ``exit_code``; Ctrl-C; a failed write (:func:`is_disk_error`);
    any other SQLite error (an unreadable store); ``ValueError``, ``FileNotFoundError``,
    ``NotADirectoryError``, ``IsADirectoryError`` and ``PermissionError`` (invalid input).
    """
    code = getattr(exc, "exit_code", None)
    if isinstance(code, int):
        return code
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED
    if is_disk_error(exc):
        return DISK
    if type(exc).__module__ == "sqlite3":
        return STORE
    if isinstance(exc, (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
                        PermissionError)):
        return INVALID
    return None

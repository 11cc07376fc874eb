"""Reader errors (STYLE R7): one exception family that names the file, the problem and the fix."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["CaseReadError", "UnknownFormatError", "CorruptFileError", "LayoutError",
           "UnsafeFileError", "TooLargeError", "UnexpectedReadError", "check_file",
           "header_errors", "HEADER_ERRORS"]

#: What parsing a damaged or inconsistent header raises in Python and numpy code
#: (``int("abc")``, a missing field, an index past an axis, a division by a zero size).
HEADER_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
                 ZeroDivisionError)


class CaseReadError(ValueError):
    """A file could not be turned into Cases.

    Attributes
    ----------
    path : pathlib.Path
        The offending file.
    reason : str
        What is wrong, in one sentence (line breaks in a library's message are folded, so
        the message is one line).
    hint : str
        How to fix it (may be empty).
    """

    def __init__(self, path, reason: str, hint: str = ""):
        self.path = Path(path)
        self.reason = _one_line(reason)
        self.hint = _one_line(hint)
        msg = f"{self.path}: {self.reason}"
        if self.hint:
            msg += f"; {self.hint}"
        super().__init__(msg)

    def to_dict(self) -> dict:
        return {"path": str(self.path), "error": type(self).__name__,
                "reason": self.reason, "hint": self.hint}


def _one_line(text) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


class UnknownFormatError(CaseReadError):
    """No reader recognises the file's content."""


class CorruptFileError(CaseReadError):
    """The file is truncated, unreadable, or holds non-finite values."""


class LayoutError(CaseReadError):
    """The file is readable but its header or arrays are not in the expected layout."""


class UnsafeFileError(CaseReadError):
    """The file asks the reader to leave it: an HDF5 external or soft link, a virtual dataset,
    external raw storage, a filter plugin, or an XML document type declaration
    (docs/input-safety.md). Refused before any data are read."""


class TooLargeError(CaseReadError):
    """A header declares more data than the limits allow, or more than the file can hold
    (:class:`suite.data.limits.InputLimits`; docs/input-safety.md). Refused before the data
    are read or allocated."""


class UnexpectedReadError(CaseReadError):
    """A reader failed with an exception outside this family: a cmrsuite bug, recorded like
    any read failure (``on_error="record"``) so that one file never stops a batch."""


def check_file(path, kind: str, fix: str) -> Path:
    """``path`` as a :class:`~pathlib.Path` if it names a non-empty file.

    Parameters
    ----------
    path : path-like
    kind : str
        What the file should be, for the message on a folder (``"an ISMRMRD file"``).
    fix : str
        The hint on a folder (``"pass a .h5 file"``).

    Raises
    ------
    CorruptFileError
        The path does not exist, is a folder, or is an empty file (a download or export that
        did not finish).
    """
    p = Path(path)
    if not p.exists():
        raise CorruptFileError(p, "file does not exist", "check the path")
    if p.is_dir():
        raise CorruptFileError(p, f"is a folder, not {kind}", fix)
    if p.stat().st_size == 0:
        raise CorruptFileError(p, "file is empty (0 bytes)",
                               "the download or export did not finish; fetch it again")
    return p


@contextmanager
def header_errors(path, what: str, hint: str,
                  error: type[CaseReadError] = LayoutError) -> Iterator[None]:
    """Turn :data:`HEADER_ERRORS` raised in the block into ``error(path, ...)``.

    A :class:`CaseReadError` passes through unchanged; the message is ``"<what>
    (<exception type>: <exception text>)"`` so the first line names the file and the problem.

    Examples
    --------
    >>> try:
    ...     with header_errors("x.h5", "the header is inconsistent", "fix it"):
    ...         int("abc")
    ... except LayoutError as exc:
    ...     print(exc.reason)
    the header is inconsistent (ValueError: invalid literal for int() with base 10: 'abc')
    """
    try:
        yield
    except CaseReadError:
        raise
    except HEADER_ERRORS as exc:
        raise error(path, f"{what} ({type(exc).__name__}: {exc})", hint) from None

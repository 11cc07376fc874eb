"""Reader errors (STYLE R7): one exception family that names the file, the problem and the fix."""

from __future__ import annotations

from pathlib import Path

__all__ = ["CaseReadError", "UnknownFormatError", "CorruptFileError", "LayoutError",
           "check_file"]


class CaseReadError(ValueError):
    """A file could not be turned into Cases.

    Attributes
    ----------
    path : pathlib.Path
        The offending file.
    reason : str
        What is wrong, in one sentence.
    hint : str
        How to fix it (may be empty).
    """

    def __init__(self, path, reason: str, hint: str = ""):
        self.path = Path(path)
        self.reason = reason
        self.hint = hint
        msg = f"{self.path}: {reason}"
        if hint:
            msg += f"; {hint}"
        super().__init__(msg)

    def to_dict(self) -> dict:
        return {"path": str(self.path), "error": type(self).__name__,
                "reason": self.reason, "hint": self.hint}


class UnknownFormatError(CaseReadError):
    """No reader recognises the file's content."""


class CorruptFileError(CaseReadError):
    """The file is truncated, unreadable, or holds non-finite values."""


class LayoutError(CaseReadError):
    """The file is readable but its header or arrays are not in the expected layout."""


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

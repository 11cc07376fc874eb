"""Reader errors (STYLE R7): one exception family that names the file, the problem and the fix."""

from __future__ import annotations

from pathlib import Path

__all__ = ["CaseReadError", "UnknownFormatError", "CorruptFileError", "LayoutError"]


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

"""The error of a protocol that does not validate."""

from __future__ import annotations

from suite._validation import KeyPathError

__all__ = ["ProtocolError"]


class ProtocolError(KeyPathError):
    """A protocol that does not validate; names the file and the key path."""

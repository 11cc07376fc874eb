"""Generated blocks of Markdown pages: ``<!-- name:start -->`` … ``<!-- name:end -->``.

A generator writes its block with :func:`update_block`; a test calls :func:`block_is_current`
(in a fresh interpreter) so a committed page cannot go stale.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["markers", "update_block", "block_is_current"]


def markers(name: str) -> tuple[str, str]:
    """The start and end markers of block ``name``."""
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def update_block(path, name: str, body: str) -> bool:
    """Replace the text between the markers of block ``name`` in ``path`` by ``body``.

    Returns
    -------
    bool
        True when the page changed.

    Raises
    ------
    ValueError
        The page has no such block.
    """
    start, end = markers(name)
    p = Path(path)
    text = p.read_text()
    if start not in text or end not in text:
        raise ValueError(f"{p}: no {start} ... {end} block to fill")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    new = f"{head}{start}\n{body}{end}{tail}"
    if new != text:
        p.write_text(new)
        return True
    return False


def block_is_current(path, name: str, body: str) -> bool:
    """True when block ``name`` of ``path`` holds exactly ``body``."""
    start, end = markers(name)
    return f"{start}\n{body}{end}" in Path(path).read_text()

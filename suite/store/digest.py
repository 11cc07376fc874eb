"""Content hashes of a run's rows: the leaves of the run's seal (:mod:`suite.store.seal`).

A row's digest is the SHA-256 (hex) of the canonical JSON of ``[table, [[column, value],
...]]``: the columns sorted by name, NULL columns and the hash column itself left out, values
as SQLite returns them (``int``, ``float`` at full precision through ``repr``, ``str``;
``bytes`` as hex). Leaving NULL columns out keeps a row's digest when a later version adds a
column; naming the table keeps a row from being moved to another table unnoticed.

The writer (:class:`suite.store.ResultStore`) stores each ``results`` and ``outputs`` row's
digest in its ``row_sha256`` column and each job record's in ``jobs.record_sha256``, computed
from the row as stored (read back in the transaction that wrote it), so any later edit of a
value shows as a row whose content no longer matches its hash.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable, Mapping

__all__ = ["HASH_COLUMNS", "row_digest", "digest_of_leaves"]

#: The column holding each table's row digest (tables whose rows carry one).
HASH_COLUMNS = {"results": "row_sha256", "outputs": "row_sha256", "jobs": "record_sha256"}

_SKIP = {"row_sha256", "record_sha256", "rowid", "row_id"}


def _value(v: Any) -> Any:
    return v.hex() if isinstance(v, (bytes, bytearray, memoryview)) else v


def row_digest(table: str, row: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of one row of ``table`` (module docstring).

    Examples
    --------
    >>> a = row_digest("results", {"metric": "ssim", "value": 0.5, "frame": None})
    >>> a == row_digest("results", {"value": 0.5, "metric": "ssim"})
    True
    >>> a == row_digest("results", {"metric": "ssim", "value": 0.5000000000000001})
    False
    """
    items = sorted((str(k), _value(v)) for k, v in row.items()
                   if v is not None and k not in _SKIP)
    text = json.dumps([table, items], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def digest_of_leaves(name: str, leaves: Iterable[str]) -> str:
    """SHA-256 (hex) of a named multiset of digests: ``name`` and the sorted leaves, one per
    line (a duplicated leaf counts twice, so a duplicated row changes the digest)."""
    text = name + "\n" + "\n".join(sorted(leaves))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()

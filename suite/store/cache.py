"""The content-addressed cache of a run: arrays stored under the SHA-256 of what made them.

A stage output (a reconstruction, a label stack, ...) is named by the SHA-256 of the canonical
JSON of everything that determines it (source file hash, case, condition, run seed and the
identities of the methods of the chain, :func:`cache_key`), and stored as
``cache_dir/<key[:2]>/<key>.npy`` (numpy format, never pickled). Files are written atomically
(a temporary file renamed into place, removed on error), so a killed job never leaves half an
array. A cache can be shared between runs: the same job of another run finds its output.

Each entry's SHA-256 is recorded twice: in a sidecar ``<key>.sha256`` written with it, and in
the ``outputs`` table of the run that used it, so that a reader (:class:`suite.store.RunView`,
``cmrsuite verify``) can check that an array it loads is the one the job stored. A runner that
finds an entry never reuses it blindly (:func:`cached_array`): an entry whose bytes differ from
its recorded SHA-256 (edited, corrupted) or that cannot be read (truncated) is recomputed and
replaced, and the repair is reported (:class:`CacheRepair`), never silent.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from suite._atomic import atomic_write, atomic_write_text
from suite.data.hashing import sha256_file

__all__ = ["cache_key", "cache_path", "cached_array", "read_cached", "CachedArray", "CacheError",
           "CacheRepair", "recorded_sha256"]


class CacheError(ValueError):
    """A cached array that is missing or does not match its recorded SHA-256."""


@dataclass(frozen=True)
class CachedArray:
    """An array and where it lives: ``key``, ``sha256`` of the file, whether it was a hit."""

    array: np.ndarray
    key: str
    sha256: str
    hit: bool

    def record(self, name: str) -> dict:
        """The ``outputs`` row of this array under ``name``."""
        return {"name": name, "cache_key": self.key, "sha256": self.sha256,
                "dtype": str(self.array.dtype), "shape": list(self.array.shape)}


def cache_key(payload: dict) -> str:
    """SHA-256 (hex) of the canonical JSON (sorted keys) of ``payload``."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def cache_path(cache_dir, key: str) -> Path:
    """Where the array named ``key`` is stored."""
    return Path(cache_dir) / key[:2] / f"{key}.npy"


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".sha256")


def recorded_sha256(cache_dir, key: str) -> str | None:
    """The SHA-256 recorded in the sidecar when entry ``key`` was written (None: no sidecar,
    e.g. a cache written by an earlier version, or an unreadable one)."""
    try:
        text = _sidecar(cache_path(cache_dir, key)).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if re.fullmatch(r"[0-9a-f]{64}", text) else None


@dataclass(frozen=True)
class CacheRepair:
    """A cache entry the runner refused to reuse and recomputed: its ``path`` and the
    ``problem`` found (recorded in the run's result and printed in its summary)."""

    key: str
    path: str
    problem: str

    def to_dict(self) -> dict:
        return {"cache_key": self.key, "path": self.path, "problem": self.problem,
                "action": "recomputed and replaced"}


def _load_checked(path: Path, recorded: str | None) -> tuple[np.ndarray | None, str, str]:
    """``(array, sha256, problem)`` of a cache file: the array is None and ``problem`` says why
    when the bytes differ from ``recorded`` or the file cannot be read as an array."""
    sha = sha256_file(path)
    if recorded is not None and sha != recorded:
        return None, sha, (f"its SHA-256 {sha[:12]}… differs from the {recorded[:12]}… recorded "
                           "when it was written (modified or corrupted)")
    try:
        return np.load(path, allow_pickle=False), sha, ""
    except (ValueError, OSError, EOFError) as exc:
        return None, sha, f"cannot be read as an array (truncated or not a .npy file: {exc})"


def cached_array(cache_dir, key: str, compute: Callable[[], np.ndarray],
                 on_repair: Callable[[CacheRepair], None] | None = None) -> CachedArray:
    """The array named ``key``: read from the cache, or computed and stored.

    An existing entry is reused only when it reads as an array and its bytes match the SHA-256
    recorded when it was written (where one is recorded); otherwise it is recomputed and
    replaced, and ``on_repair`` is called with what was found (:class:`CacheRepair`).
    """
    path = cache_path(cache_dir, key)
    if path.exists():
        array, sha, problem = _load_checked(path, recorded_sha256(cache_dir, key))
        if array is not None:
            return CachedArray(array, key, sha, True)
        if on_repair is not None:
            on_repair(CacheRepair(key, str(path), problem))
    out = np.asarray(compute())
    atomic_write(path, lambda fh: np.save(fh, out, allow_pickle=False))
    sha = sha256_file(path)
    atomic_write_text(_sidecar(path), sha + "\n")
    return CachedArray(out, key, sha, False)


def read_cached(cache_dir, key: str, sha256: str | None = None) -> np.ndarray:
    """The array named ``key``; with ``sha256``, checked against the recorded file hash.

    Raises
    ------
    CacheError
        The file is missing (cache moved or pruned) or its bytes changed.
    """
    path = cache_path(cache_dir, key)
    if not path.is_file():
        raise CacheError(f"{path}: cached array is missing (cache moved or pruned)")
    array, _, problem = _load_checked(path, sha256)
    if array is None:
        raise CacheError(f"{path}: cached array {problem}; the run recorded SHA-256 "
                         f"{sha256 or 'none'} (modified after the run?)")
    return array

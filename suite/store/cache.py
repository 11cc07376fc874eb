"""The content-addressed cache of a run: arrays stored under the SHA-256 of what made them.

A stage output (a reconstruction, a label stack, ...) is named by the SHA-256 of the canonical
JSON of everything that determines it (source file hash, case, condition, run seed and the
identities of the methods of the chain, :func:`cache_key`), and stored as
``cache_dir/<key[:2]>/<key>.npy`` (numpy format, never pickled). Files are written atomically
(a temporary file renamed into place), so a killed job never leaves half an array. A cache can
be shared between runs: the same job of another run finds its output.

The run's ``outputs`` table records, per job, the key and the SHA-256 of the file's bytes, so a
reader (:class:`suite.store.RunView`) can check that an array it loads is the one the job
stored.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["cache_key", "cache_path", "cached_array", "read_cached", "CachedArray", "CacheError",
           "file_sha256"]


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


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cached_array(cache_dir, key: str, compute: Callable[[], np.ndarray]) -> CachedArray:
    """The array named ``key``: read from the cache, or computed and stored."""
    path = cache_path(cache_dir, key)
    if path.exists():
        return CachedArray(np.load(path, allow_pickle=False), key, file_sha256(path), True)
    out = np.asarray(compute())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.npy")
    np.save(tmp, out, allow_pickle=False)
    os.replace(tmp, path)  # atomic: a killed job never leaves half a file
    return CachedArray(out, key, file_sha256(path), False)


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
    if sha256 is not None and file_sha256(path) != sha256:
        raise CacheError(f"{path}: cached array does not match the SHA-256 the run recorded "
                         "(modified after the run)")
    return np.load(path, allow_pickle=False)

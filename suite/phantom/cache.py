"""A cache of written phantom cohorts, keyed by content, so a second run does not re-simulate.

Simulating the demo's cohort (4 subjects) takes about 30 CPU-seconds, and every run of every
protocol with a ``phantom`` dataset writes its cohort into its own run folder. The cache keeps a
copy of each written cohort under a key that hashes everything the files depend on:

* the protocol's ``phantom`` entry (kind, subjects, seed, presets, pathologies, overrides),
  as canonical JSON;
* the generator's code: the bytes of every source file of :mod:`suite.phantom`,
  :mod:`suite.mr` (coil maps, FFTs, sequence engines), :mod:`suite.data` (the ISMRMRD and
  NIfTI writers), :mod:`suite.case` and the suite's version;
* the versions of the libraries that produce the numbers and the files (numpy, scipy, torch,
  h5py, nibabel).

A cached cohort is never trusted blindly: its ``cohort.json`` lists the SHA-256 and size of
every file as written by the generator, and each file is checked against it **after** it is
copied into the run folder (so the run's copy is what was verified). Any mismatch, missing file
or unreadable record discards the entry and the cohort is simulated again. Entries are written
to a temporary folder and renamed into place (two runs filling the same entry cannot mix
files), and the least recently used entries are removed beyond a size limit.

Where: ``$CMRSUITE_PHANTOM_CACHE`` if set (``off`` disables the cache), else
``$XDG_CACHE_HOME/cmrsuite/phantom`` (default ``~/.cache/cmrsuite/phantom``); the size limit
is ``$CMRSUITE_PHANTOM_CACHE_MB`` megabytes (default 4096). A cache that cannot be written
(read-only home, full disk) is skipped: the run writes its cohort as without a cache.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from suite._atomic import atomic_write_text
from suite.data.hashing import sha256_file

__all__ = ["PhantomCache", "phantom_cache", "cohort_key", "code_digest", "CACHE_ENV",
           "CACHE_SIZE_ENV", "RECORD"]

#: Environment variable naming the cache folder (``off`` disables the cache).
CACHE_ENV = "CMRSUITE_PHANTOM_CACHE"
#: Environment variable holding the size limit in megabytes.
CACHE_SIZE_ENV = "CMRSUITE_PHANTOM_CACHE_MB"
#: The record of an entry: key, phantom entry, files with SHA-256 and size.
RECORD = "cohort.json"
#: Packages whose source is part of the key (the generator and its writers).
_CODE_PACKAGES = ("phantom", "mr", "data")
_LIBRARIES = ("numpy", "scipy", "torch", "h5py", "nibabel")
_FORMAT = 1


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """SHA-256 over the source files of the phantom generator and its writers (see module
    docstring), with the suite's version and the library versions."""
    import importlib.metadata

    import suite

    root = Path(suite.__file__).resolve().parent
    files = [root / "case.py", root / "__init__.py", root / "_atomic.py"]
    for pkg in _CODE_PACKAGES:
        files += sorted((root / pkg).rglob("*.py"))
    h = hashlib.sha256(f"cmrsuite {suite.__version__} phantom-cache {_FORMAT}\n".encode())
    for f in files:
        h.update(f"{f.relative_to(root).as_posix()} {sha256_file(f)}\n".encode())
    for lib in _LIBRARIES:
        try:
            version = importlib.metadata.version(lib)
        except importlib.metadata.PackageNotFoundError:
            version = "absent"
        h.update(f"{lib} {version}\n".encode())
    return h.hexdigest()


def cohort_key(entry: Mapping) -> str:
    """The cache key of a protocol ``phantom`` entry: SHA-256 of its canonical JSON (the kind
    made explicit) and :func:`code_digest`."""
    canonical = json.dumps({"kind": "cine", **dict(entry)}, sort_keys=True,
                           separators=(",", ":"), default=str)
    return hashlib.sha256(f"{canonical}\n{code_digest()}".encode()).hexdigest()


def _cohort_files(folder: Path) -> list[Path]:
    """Every file of a written cohort (hidden markers such as ``.complete`` left out)."""
    return sorted(p for p in folder.rglob("*") if p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


@dataclass(frozen=True)
class PhantomCache:
    """A folder of cached cohorts (module docstring).

    Attributes
    ----------
    root : Path
        The cache folder; one sub-folder per key.
    max_bytes : int
        Size limit; the least recently used entries beyond it are removed after a store.
    """

    root: Path
    max_bytes: int = 4096 << 20

    def restore(self, entry: Mapping, out: Path) -> bool:
        """Copy the cached cohort of ``entry`` into ``out`` and verify every copied file
        against the recorded SHA-256 and size. True when the cohort was restored; False when
        there is no entry or it failed verification (the entry is then removed, and the files
        copied so far are deleted from ``out``)."""
        key = cohort_key(entry)
        folder = self.root / key
        try:
            record = json.loads((folder / RECORD).read_text())
            files = record["files"]
            if record.get("key") != key or not isinstance(files, dict) or not files:
                raise ValueError("record does not match its key")
        except FileNotFoundError:
            return False
        except (OSError, ValueError, KeyError, TypeError):
            self._discard(folder)
            return False
        copied: list[Path] = []
        try:
            for rel, want in sorted(files.items()):
                src, dst = folder / rel, out / rel
                if Path(rel).is_absolute() or ".." in Path(rel).parts:
                    raise ValueError(f"{rel}: not a path inside the cohort")
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
                copied.append(dst)
                if dst.stat().st_size != want["size"] or sha256_file(dst) != want["sha256"]:
                    raise ValueError(f"{rel}: content differs from the record")
        except (OSError, ValueError, KeyError, TypeError):
            for p in copied:
                p.unlink(missing_ok=True)
            self._discard(folder)
            return False
        try:
            os.utime(folder / RECORD)  # least recently used order
        except OSError:
            pass
        return True

    def store(self, entry: Mapping, written: Path) -> bool:
        """Copy the cohort just written into ``written`` into the cache (hashes recorded from
        the written files, the copies checked against them); False when the cache cannot be
        written (nothing is left behind)."""
        key = cohort_key(entry)
        final = self.root / key
        if (final / RECORD).is_file():
            return True
        tmp = self.root / f".tmp-{key[:16]}-{secrets.token_hex(6)}"
        try:
            files = {}
            for src in _cohort_files(written):
                rel = src.relative_to(written).as_posix()
                files[rel] = {"sha256": sha256_file(src), "size": src.stat().st_size}
                dst = tmp / rel
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
                if sha256_file(dst) != files[rel]["sha256"]:
                    raise OSError(f"{dst}: copy differs from {src}")
            atomic_write_text(tmp / RECORD, json.dumps(
                {"key": key, "entry": dict(entry), "code": code_digest(), "files": files,
                 "created": time.time()}, indent=1, sort_keys=True, default=str) + "\n")
            try:
                os.rename(tmp, final)
            except OSError:  # another run stored the same entry first
                shutil.rmtree(tmp, ignore_errors=True)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)
            return False
        self._evict()
        return True

    def _discard(self, folder: Path) -> None:
        shutil.rmtree(folder, ignore_errors=True)

    def _evict(self) -> None:
        """Remove the least recently used entries while the cache is above ``max_bytes``."""
        try:
            entries = []
            for d in self.root.iterdir():
                rec = d / RECORD
                if d.name.startswith(".") or not rec.is_file():
                    continue
                size = sum(p.stat().st_size for p in d.rglob("*") if p.is_file())
                entries.append((rec.stat().st_mtime, size, d))
        except OSError:
            return
        total = sum(s for _, s, _ in entries)
        for _, size, d in sorted(entries):
            if total <= self.max_bytes:
                break
            self._discard(d)
            total -= size


def phantom_cache() -> PhantomCache | None:
    """The user's cohort cache (module docstring), or None when disabled."""
    where = os.environ.get(CACHE_ENV)
    if where is not None and where.strip().lower() in ("", "off", "0", "no", "false"):
        return None
    if where:
        root = Path(where).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        root = Path(base).expanduser() / "cmrsuite" / "phantom"
    try:
        mb = int(os.environ.get(CACHE_SIZE_ENV, "4096"))
    except ValueError:
        mb = 4096
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return PhantomCache(root=root, max_bytes=max(0, mb) << 20)

"""Harness of the input fuzz suite (issue 14): case ids, seeds, expectations and the checks.

A case id is ``"<target>/<mutation>/<k>"``; its seed is the first 8 bytes of the SHA-256 of
the id, so every case reproduces alone (``run_case(case_id, tmp)``) and does not depend on
which other cases ran. A case builds a valid input of its target (cached per process and
copied), applies the mutation (which returns an :class:`Expect`), then reads the input in a
working directory whose listing is compared before and after, and returns a JSON-able dict
whose ``problems`` list is empty when every check held:

* the reader raised a :class:`~suite.data.errors.CaseReadError` subclass (never the base
  class, never :class:`~suite.data.errors.UnexpectedReadError`) or returned a value, and no
  other exception type escaped; a mutation that must fail did fail, with an allowed class;
* the error names a file of the case (``exc.path`` lies under the case folder);
* ``suite.data.iter_cases(..., on_error="record")`` never raises during iteration;
* no file was written, changed or removed anywhere under the case root (the working
  directory and ``TMPDIR`` of the case included), except inside declared targets.

Memory is bounded by the worker process (``fuzz_input_worker.py`` sets ``RLIMIT_AS``) and by
:data:`FUZZ_LIMITS` passed to every reader.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from suite.data.errors import CaseReadError
from suite.data.limits import InputLimits

#: Limits every fuzzed reader gets: arrays up to 128 MiB, ratio checked above 1 MiB.
FUZZ_LIMITS = InputLimits(max_array_bytes=128 * 2**20, expansion_floor_bytes=2**20)


def case_seed(case_id: str) -> int:
    """The seed of a case: the first 8 bytes of SHA-256(case id), little-endian.

    >>> case_seed("nifti/truncate/0") == case_seed("nifti/truncate/0")
    True
    """
    return int.from_bytes(hashlib.sha256(case_id.encode()).digest()[:8], "little")


@dataclass(frozen=True)
class Expect:
    """What a mutation promises: whether reading must fail and which error classes may say so.

    ``classes`` empty: any CaseReadError subclass. ``rejected``: for submissions, the team's
    status must be ``rejected`` (else merely not ``valid``).
    """

    must_fail: bool = False
    classes: tuple[str, ...] = ()
    rejected: bool = False


ANY = Expect()


@dataclass
class Target:
    """A reader or submission format: how to build a valid input, read it, and mutate it.

    ``build(dir) -> unit``: writes the valid input under ``dir`` and returns the path the
    reader takes. ``files(unit)``: files the byte-level mutations may hit. ``read(unit,
    root)``: reads it and returns a list of problems (empty when every check held).
    ``mutations``: name -> ``fn(unit, rng) -> Expect``. ``cases``: how many seeds per
    mutation in ``make test`` (scaled up for the larger run).
    """

    name: str
    build: Callable[[Path], Path]
    read: Callable[[Path, Path, Expect], list[str]]
    mutations: dict[str, Callable[[Path, np.random.Generator], Expect]]
    files: Callable[[Path], list[Path]] = field(default=lambda u: sorted(
        p for p in ([u] if u.is_file() else u.rglob("*")) if p.is_file()))
    cases: int = 2


_CACHE: dict[str, tuple[Path, Path]] = {}


def fresh_input(target: Target, dest: Path) -> Path:
    """A copy of the target's valid input under ``dest`` (built once per process)."""
    if target.name not in _CACHE:
        src = Path(tempfile.mkdtemp(prefix=f"fuzz-seed-{target.name}-"))
        _CACHE[target.name] = (src, target.build(src))
    src, unit = _CACHE[target.name]
    for p in src.iterdir():
        if p.is_dir() and not p.is_symlink():
            shutil.copytree(p, dest / p.name, symlinks=True)
        else:
            shutil.copy2(p, dest / p.name, follow_symlinks=False)
    return dest / unit.relative_to(src)


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under ``root`` with its type, size and content hash (files)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir",)
            else:
                out[rel] = ("file", p.stat().st_size,
                            hashlib.sha256(p.read_bytes()).hexdigest())
    return out


def check_error(exc: BaseException, root: Path, expect: Expect) -> list[str]:
    """Problems with an exception a reader raised (empty when it is a proper refusal)."""
    name = type(exc).__name__
    if not isinstance(exc, CaseReadError):
        return [f"escaped {name}: {exc}\n{''.join(traceback.format_exception(exc))[-1500:]}"]
    problems = []
    if type(exc) is CaseReadError or name == "UnexpectedReadError":
        problems.append(f"{name} is not a specific refusal: {exc}")
    if expect.classes and name not in expect.classes:
        problems.append(f"{name} raised; expected one of {expect.classes}: {exc}")
    try:
        inside = Path(os.path.abspath(exc.path)).is_relative_to(root)
    except (TypeError, ValueError):
        inside = False
    if not inside:
        problems.append(f"the error names {exc.path!r}, not a file of the case: {exc}")
    if not exc.reason or "\n" in str(exc):
        problems.append(f"the message is empty or not one line: {exc!r}")
    return problems


def read_checked(fn: Callable[[], Any], root: Path, expect: Expect) -> tuple[str, list[str]]:
    """Call a reader; returns (outcome, problems): outcome ``ok`` or the error class."""
    try:
        fn()
    except MemoryError:
        return "MemoryError", ["MemoryError: the memory bound was hit"]
    except Exception as exc:  # noqa: BLE001 - classified by check_error
        return type(exc).__name__, check_error(exc, root, expect)
    if expect.must_fail:
        return "ok", ["the reader accepted an input it must refuse"]
    return "ok", []


def loader_checked(path: Path, root: Path, **options) -> list[str]:
    """``iter_cases(path, on_error="record")``: construction may refuse the top-level path
    with a CaseReadError; iteration must not raise; recorded failures name files of the case."""
    from suite.data import iter_cases

    try:
        it = iter_cases(path, on_error="record", **options)
    except Exception as exc:  # noqa: BLE001
        return [f"loader: {p}" for p in check_error(exc, root, ANY)]
    try:
        for _ in it:
            pass
    except Exception as exc:  # noqa: BLE001
        return [f"loader iteration raised {type(exc).__name__}: {exc}"]
    out = []
    for f in it.failures:
        if f.error in ("UnexpectedReadError", "CaseReadError"):
            out.append(f"loader recorded {f.error}: {f.reason}")
        if not Path(os.path.abspath(f.path)).is_relative_to(root):
            out.append(f"loader failure names {f.path}, outside the case")
    return out


def run_case(case_id: str, root: Path, targets: dict[str, Target]) -> dict:
    """Build, mutate and read one case under ``root`` (an empty folder); see module docstring.

    The caller runs it with ``root`` as the working directory and ``TMPDIR``.
    """
    t0 = time.perf_counter()
    target_name, mutation, _ = case_id.split("/")
    target = targets[target_name]
    rng = np.random.default_rng(case_seed(case_id))
    data = root / "data"
    data.mkdir()
    (root / "tmp").mkdir()
    unit = fresh_input(target, data)
    problems: list[str] = []
    try:
        expect = target.mutations[mutation](unit, rng)
    except Exception as exc:  # noqa: BLE001 - a generator bug, reported as such
        return {"id": case_id, "problems": [f"mutation failed: {type(exc).__name__}: {exc}\n"
                                            + traceback.format_exc()[-1500:]],
                "seconds": time.perf_counter() - t0}
    before = snapshot(root)
    old_tmp = tempfile.tempdir
    tempfile.tempdir = str(root / "tmp")
    try:
        problems += target.read(unit, root, expect)
    except Exception as exc:  # noqa: BLE001 - the harness itself must report, not crash
        problems.append(f"harness: {type(exc).__name__}: {exc}\n{traceback.format_exc()[-1500:]}")
    finally:
        tempfile.tempdir = old_tmp
    after = snapshot(root)
    if after != before:
        changed = sorted(set(before) ^ set(after) | {k for k in before if k in after and
                                                     before[k] != after[k]})
        problems.append(f"files written, changed or removed: {changed[:10]}")
    return {"id": case_id, "problems": problems, "seconds": time.perf_counter() - t0}

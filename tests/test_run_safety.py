"""Operational safety of runs (issue 14, finding 6): store, cache and disk errors end in one line
and a stable exit code (documented in docs/security.md), a full disk leaves no temporary file and
no crash, one writer per run folder, pool workers die with the runner, an empty dataset folder is
an error.

Full disks are simulated with a file-size limit (``RLIMIT_FSIZE``) in a child process: the
kernel then fails writes beyond the limit with ``EFBIG``, as a full disk fails them with
``ENOSPC``.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import suite
from suite.cli import main
from tiny_protocol import tiny_protocol
from suite.protocol import load_protocol
from suite.runner import RunError, run_protocol

# the stable exit codes (suite.exit_codes; the table in docs/security.md)
INVALID, STORE, DISK, LOCKED = 2, 3, 4, 5

ROOT = Path(__file__).resolve().parents[1]
#: Where the suite under test lives: child processes run it from there.
CODE = Path(suite.__file__).resolve().parents[1]
PROTOCOL = tiny_protocol("run-safety", seed=2, subjects=1, phantom_seed=3)


def _write(tmp_path, raw, name="p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("finished")
    path = _write(tmp, PROTOCOL)
    assert run_protocol(load_protocol(path), tmp / "run", executor="serial").exit_code == 0
    return path, tmp / "run"


def _cli(*args, limit: int | None = None, cwd=CODE) -> subprocess.CompletedProcess:
    """``cmrsuite ARGS`` in a child process, optionally under a file-size limit (bytes)."""
    def limited():  # pragma: no cover - runs in the child
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}  # only the command's own writes
    return subprocess.run([sys.executable, "-m", "suite.cli", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600, env=env,
                          preexec_fn=limited if limit else None)


def _one_clear_line(stderr: str, command: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"cmrsuite {command}: error: "), stderr
    return lines[0]


# ---------------------------------------------------------------- corrupt store
@pytest.mark.parametrize("damage", ["garbage", "truncated", "no tables"])
def test_a_corrupt_store_is_one_line_and_exit_code_3(finished, tmp_path, capsys, damage):
    path, run = finished
    bad = tmp_path / "run"
    shutil.copytree(run, bad)
    db = bad / "results.sqlite"
    if damage == "garbage":
        db.write_bytes(b"this is not a database " * 500)
    elif damage == "truncated":
        db.write_bytes(db.read_bytes()[:3000])
    else:
        db.unlink()
        sqlite3.connect(db).execute("CREATE TABLE other (x)").connection.close()
    for args in (["summary", bad], ["report", bad, "--no-figures"], ["export", bad],
                 ["verify", bad], ["run", path, "--out", bad, "--resume", "--executor",
                                   "serial", "--quiet"]):
        code = main([str(a) for a in args])
        err = capsys.readouterr().err
        assert code == STORE, (args, err)
        line = _one_clear_line(err, args[0])
        assert "results.sqlite" in line and "not a readable results store" in line


def test_a_full_store_raises_disk_full_naming_the_file(tmp_path):
    from suite import exit_codes
    from suite.store import DiskFullError, ResultStore

    store = ResultStore(tmp_path / "results.sqlite")
    store._con.execute("PRAGMA max_page_count = 12")  # the database cannot grow: SQLITE_FULL
    with pytest.raises(DiskFullError, match=r"results\.sqlite.*free disk space") as err:
        for i in range(2000):
            store.set_info(f"key{i}", "x" * 1000)
    assert exit_codes.exit_code_of(err.value) == exit_codes.DISK
    store.close()


def test_atomic_writes_serve_every_writer_the_suite_uses(tmp_path):
    """np.save (cache arrays), np.savez_compressed (robustness examples), text and bytes go
    through the atomic stream and read back equal; nothing temporary is left."""
    from suite._atomic import atomic_write, atomic_write_bytes, atomic_write_text

    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    atomic_write(tmp_path / "a.npy", lambda fh: np.save(fh, a, allow_pickle=False))
    atomic_write(tmp_path / "e.npz", lambda fh: np.savez_compressed(fh, x=a, y=a[0]))
    atomic_write_text(tmp_path / "t.json", "{}\n")
    atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
    assert np.array_equal(np.load(tmp_path / "a.npy"), a)
    with np.load(tmp_path / "e.npz") as z:
        assert np.array_equal(z["x"], a) and np.array_equal(z["y"], a[0])
    assert (tmp_path / "t.json").read_text() == "{}\n"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "b.bin", "e.npz", "t.json"]


# ---------------------------------------------------------------- full disk
def test_a_full_disk_while_writing_the_phantom_is_exit_4_without_temporary_files(tmp_path):
    out = tmp_path / "cohort"
    proc = _cli("phantom", "--subjects", 1, "--seed", 0, "--preset", "tiny", "--out", out,
                limit=300_000)
    assert proc.returncode == DISK, proc.stderr  # was: SIGSEGV inside HDF5
    line = _one_clear_line(proc.stderr, "phantom")
    assert "cine_sax.h5" in line and "free disk space" in line
    assert not [p for p in out.rglob("*") if p.is_file()], list(out.rglob("*"))


def test_a_full_disk_stops_the_run_and_resume_finishes_it(finished, tmp_path):
    """The phantom data exist; the cache writes fail: the run stops (exit 4) instead of failing
    every job, leaves no temporary file, and --resume completes it once there is room."""
    _, run = finished
    raw = {**PROTOCOL, "datasets": [{"name": "phantom", "root": str(run / "data" / "phantom")}]}
    path = _write(tmp_path, raw)
    proc = _cli("run", path, "--out", tmp_path / "run", "--executor", "serial", "--quiet",
                limit=120_000)
    assert proc.returncode == DISK, proc.stdout + proc.stderr
    assert "--resume" in _one_clear_line(proc.stderr, "run")
    assert not list((tmp_path / "run").rglob("*.tmp"))
    result = run_protocol(load_protocol(path), tmp_path / "run", executor="serial", resume=True,
                          analyse=False)
    assert result.n_failed == 0 and result.n_done == result.n_jobs == 2


# ---------------------------------------------------------------- one writer
def test_a_second_writer_is_refused_while_a_run_holds_the_folder(finished, tmp_path, capsys):
    from suite.store import RunLock, RunLockedError, check_seal

    path, run = finished
    folder = tmp_path / "run"
    shutil.copytree(run, folder)
    with RunLock(folder):
        with pytest.raises(RunLockedError, match="another run is writing this folder"):
            run_protocol(load_protocol(path), folder, executor="serial", resume=True)
        code = main(["run", str(path), "--out", str(folder), "--resume", "--executor",
                     "serial", "--quiet"])
        assert code == LOCKED
        assert f"pid {os.getpid()}" in _one_clear_line(capsys.readouterr().err, "run")
        assert any(f["kind"] == "busy" for f in check_seal(folder).findings)
    # released: the folder is usable again, and its seal was untouched by the refused runs
    assert check_seal(folder).ok
    result = run_protocol(load_protocol(path), folder, executor="serial", resume=True,
                          analyse=False)
    assert result.n_skipped == result.n_jobs


def _descendants(pid: int) -> list[int]:
    import psutil

    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _pool_process(pid: int) -> bool:
    """A job worker or the fork server of the runner's pool (suite.runner.workers)."""
    import psutil

    try:
        line = " ".join(psutil.Process(pid).cmdline())
    except psutil.NoSuchProcess:
        return False
    return "spawn_main" in line or "multiprocessing.forkserver" in line


def _parent(pid: int) -> int | None:
    import psutil

    try:
        return psutil.Process(pid).ppid()
    except psutil.NoSuchProcess:
        return None


@pytest.mark.ci  # waits for a two-worker pool to start, kills it and waits for its workers
def test_pool_workers_die_with_a_killed_runner(tmp_path):
    import psutil

    slow = {**PROTOCOL, "methods": {"recon": [{"name": "cg-sense",
                                               "params": {"max_iter": 20000, "tol": 0.0}}]}}
    path = _write(tmp_path, slow)
    proc = subprocess.Popen([sys.executable, "-m", "suite.cli", "run", str(path), "--out",
                             str(tmp_path / "run"), "--executor", "local", "--workers", "2",
                             "--quiet"], cwd=CODE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    workers: list[int] = []  # the workers, and the fork server they are forked from
    try:
        for _ in range(600):  # wait (up to 2 minutes) until both workers run a job
            workers = [p for p in _descendants(proc.pid) if _pool_process(p)]
            forked = [p for p in workers if _parent(p) != proc.pid]  # children of the server
            if len(forked) >= 2 and (tmp_path / "run" / "results.sqlite").exists():
                break
            time.sleep(0.2)
        assert len(forked) >= 2, "the pool did not start"
        time.sleep(2.0)  # inside the first (long) jobs
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    def running(w):
        try:
            return psutil.Process(w).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    for _ in range(600):  # the workers notice their parent's death within a second or two;
        if not any(running(w) for w in workers):  # a loaded machine may take longer
            break
        time.sleep(0.1)
    alive = [w for w in workers if running(w)]
    for w in alive:  # do not leave them behind if the test fails
        os.kill(w, signal.SIGKILL)
    assert not alive, "pool workers outlived the killed runner"


# ---------------------------------------------------------------- empty input
def test_an_empty_dataset_folder_is_an_error_not_zero_jobs(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    raw = {**PROTOCOL, "datasets": [{"name": "mine", "root": "empty"}]}
    path = _write(tmp_path, raw)
    with pytest.raises(RunError, match="holds no case"):
        run_protocol(load_protocol(path), tmp_path / "run", executor="serial")
    assert not (tmp_path / "run" / "results.sqlite").exists()  # retry needs no --resume
    code = main(["run", str(path), "--out", str(tmp_path / "run"), "--executor", "serial",
                 "--quiet"])
    assert code == INVALID
    assert "dataset 'mine'" in _one_clear_line(capsys.readouterr().err, "run")


# ---------------------------------------------------------------- the table
def test_the_exit_code_table_of_the_docs_is_the_code_table():
    from suite import exit_codes

    text = (ROOT / "docs" / "security.md").read_text()
    table = re.findall(r"^\| (\d+) \| `([a-z-]+)` \|", text, flags=re.M)
    assert [(int(c), n) for c, n in table] == [(e.code, e.name) for e in exit_codes.EXIT_CODES]

"""One writer per run folder: an advisory lock on ``RUN_DIR/.lock``.

``cmrsuite run`` (and ``--resume``, ``demo``) holds an exclusive :func:`fcntl.flock` on the
folder's lock file for the whole run; a second writer is refused at once with
:class:`~suite.store.errors.RunLockedError` naming the process that holds the folder. The
operating system releases the lock when its holder exits, however it exits (a killed run
leaves no stale lock). Readers never take it; :func:`writer_pid` tells a reader (``verify``)
that a run is still writing the folder.

The lock file holds the writer's process id and start time (information only; the lock is the
``flock``). It is not part of the run's seal (:mod:`suite.store.seal`).
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from suite.store.errors import RunLockedError

__all__ = ["RunLock", "LOCK_NAME", "writer_pid"]

#: Name of the lock file inside a run folder.
LOCK_NAME = ".lock"


class RunLock:
    """Exclusive lock of a run folder (context manager; the folder is created if needed).

    Raises
    ------
    RunLockedError
        Another process holds the folder.
    """

    def __init__(self, run_dir):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self._fh = None

    def acquire(self) -> "RunLock":
        self.run_dir.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown process"
            fh.close()
            raise RunLockedError(f"{self.run_dir}: another run is writing this folder "
                                 f"({holder}); wait for it to finish, or use another --out "
                                 "folder") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False


def writer_pid(run_dir) -> str | None:
    """A description of the process writing ``run_dir`` (``"pid N since ..."``), or None when
    no process holds its lock."""
    path = Path(run_dir) / LOCK_NAME
    if not path.is_file():
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return fh.read().strip() or "unknown process"
            fcntl.flock(fh, fcntl.LOCK_UN)
    except OSError:
        return None
    return None

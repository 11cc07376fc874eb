"""Process helpers shared by the process pools of the suite (the runner's job workers, the
report's figure writers)."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import threading
import time

__all__ = ["die_with_parent", "fewer_collections"]


def die_with_parent(parent: int) -> None:
    """Initializer of a pool worker: end the worker when the process ``parent`` ends.

    A worker of a killed runner (or report) would otherwise finish its work and linger. Linux
    delivers SIGKILL to the worker when its parent dies (``prctl(PR_SET_PDEATHSIG)``);
    elsewhere, and as a fallback, a daemon thread checks every second that the parent is still the parent
    (an orphan is re-parented, so ``os.getppid()`` changes).
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the watchdog thread alone
        pass
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="cmrsuite-parent-watch", daemon=True).start()


@contextlib.contextmanager
def fewer_collections(young: int = 10_000):
    """Within this block the garbage collector runs after ``young`` net new container objects
    instead of CPython's default 700 (``gc.set_threshold``; restored on leaving; a collector
    switched off with threshold 0 stays off).

    A full collection visits every tracked object and every element of every object array
    (pandas' string columns): in a run's analysis and report, which build many frames and
    objects, the default schedule spent ≈ 18 % of the CPU time in full collections (session
    8, ``docs/performance.md``). Fewer passes change no value: what is garbage is the same,
    it is only freed later (the demo's tail peaked 10-35 MB higher, of ≈ 570 MB).
    The threshold is the interpreter's: blocks in two threads at once may restore each other's
    setting (a higher threshold left behind changes no value either).
    See https://docs.python.org/3/library/gc.html#gc.set_threshold.
    """
    old = gc.get_threshold()
    if old[0]:
        gc.set_threshold(max(int(young), old[0]), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)

"""Process helpers shared by the process pools of the suite (the runner's job workers, the
report's figure writers)."""

from __future__ import annotations

import os
import signal
import threading
import time

__all__ = ["die_with_parent"]


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

"""How many intra-op threads the MR operators and the reference solvers use.

The suite's iterative solvers apply the same small operators hundreds of times (per call a few
MB: one slice, all frames and coils). At that size torch's intra-op thread pool gains little
when the machine is idle and loses badly when it is not: every parallel region ends in a
barrier, and one thread descheduled by another process stalls all of them (measured on a 2-core
machine with one other CPU-bound process: CG-SENSE, 16 coils 208×256, 30 iterations, 3.4 s with
torch's default two threads against 0.50 s with one; docs/performance.md). So the solvers run
with a deliberate number of threads rather than torch's default (the number of cores):

* :func:`default_threads` — ``CMRSUITE_THREADS`` from the environment when set (an integer ≥ 1),
  else the value given to :func:`set_default_threads`, else **1**. Parallelism comes from
  running slices, cases or jobs side by side (the runner's workers), which scales on any load.
* :func:`intra_op_threads` — a context manager that sets torch's intra-op threads for a block
  and restores the caller's setting afterwards, so a library call never changes the threads of
  the code around it.
* :func:`native_thread_limits` — the same for the native thread pools of the loaded libraries
  (BLAS, OpenMP), through threadpoolctl: small LAPACK calls (the ESPIRiT SVD) stall when their
  threads spin on a busy machine.
"""

from __future__ import annotations

import contextlib
import os

import threadpoolctl
import torch

__all__ = ["default_threads", "set_default_threads", "intra_op_threads", "native_thread_limits"]

_DEFAULT: int | None = None


def default_threads() -> int:
    """Intra-op threads of the solvers: ``CMRSUITE_THREADS``, else the value of
    :func:`set_default_threads`, else 1 (module docstring)."""
    env = os.environ.get("CMRSUITE_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"CMRSUITE_THREADS must be an integer >= 1; got {env!r}") from None
    return _DEFAULT if _DEFAULT is not None else 1


def set_default_threads(n: int | None) -> None:
    """Set the solvers' default intra-op threads for this process (``None``: back to 1)."""
    global _DEFAULT
    if n is not None and int(n) < 1:
        raise ValueError(f"set_default_threads: n must be >= 1; got {n!r}")
    _DEFAULT = None if n is None else int(n)


@contextlib.contextmanager
def intra_op_threads(n: int | None = None):
    """Run a block with ``n`` torch intra-op threads (default :func:`default_threads`).

    Examples
    --------
    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with intra_op_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    n = default_threads() if n is None else int(n)
    if n < 1:
        raise ValueError(f"intra_op_threads: n must be >= 1; got {n!r}")
    before = torch.get_num_threads()
    if n == before:
        yield n
        return
    torch.set_num_threads(n)
    try:
        yield n
    finally:
        torch.set_num_threads(before)


def native_thread_limits(limits: int, user_api: str | None = None):
    """A context manager limiting the native thread pools to ``limits`` threads for a block
    and restoring them afterwards: ``threadpoolctl.threadpool_limits(limits, user_api)``
    (``user_api`` ``"blas"``, ``"openmp"`` or None for both), on the controller threadpoolctl
    caches until another module is imported (``get_cached_controller``, threadpoolctl ≥ 3.8;
    a new controller with older versions).

    A new controller scans the loaded libraries: ≈ 3 ms per call in a process with torch and
    scipy loaded, against 0.02 ms with the cached one; a runner's job and each slice of an
    ESPIRiT estimate set a limit.

    Examples
    --------
    >>> with native_thread_limits(1, user_api="blas"):
    ...     pass
    """
    cached = getattr(threadpoolctl, "get_cached_controller", None)
    controller = cached() if cached is not None else threadpoolctl.ThreadpoolController()
    return controller.limit(limits=int(limits), user_api=user_api)

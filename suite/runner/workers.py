"""Starting the job worker processes warm: a fork server with the job's modules imported.

A spawned worker imports torch, scipy, scikit-image, the stages and the reference methods
before its first job (≈ 3 CPU-seconds per worker, docs/performance.md), and a spawned worker
tears its interpreter down again when the pool ends. Instead the runner starts one
``forkserver`` process (:mod:`multiprocessing`), which imports the modules of
:data:`WORKER_PRELOAD` once, while the main process prepares the run (protocol, cohort, case
discovery); every worker is then a ``fork`` of that server, with its imports done, and ends
with ``os._exit``. The server runs no job, so no compute thread pool exists when it forks
(torch's intra-op threads and BLAS's start in the workers; the one other thread of the server,
an allocator's background thread, has its own fork handlers): a forked worker starts with one
thread. Where the platform has no fork server (Windows) the workers are spawned as before.

A runner whose own process has those modules imported already (a notebook, a test, a
benchmark that ran jobs or imported them before) does not need the server: when
:func:`can_fork_here` holds, the local pool forks its workers straight from the runner's
process (``fork``), at once, before the runner starts any thread; each worker then starts with
the imports done and the server's ≈ 3 CPU-seconds of imports are saved
(docs/performance.md, session 7). The conditions keep that fork as safe as the server's:
Linux, every module of :data:`WORKER_PRELOAD` imported, no Python thread but the main one,
one compute thread per job (``CMRSUITE_THREADS_PER_JOB`` 1: a forked child must not run
parallel regions of an OpenMP pool its parent used) and at most :data:`FORK_RESIDENT_LIMIT`
resident (a forked worker's resident size counts the pages it shares with the runner).

The executors stop the fork server when their pool ends (:func:`stop_worker_server`): the
server then reaps its workers and is reaped by the runner, so the workers' CPU time and peak
memory count among the runner's children (``getrusage``, ``/usr/bin/time``) as those of
spawned workers did, and no process outlives the run. A forked worker inherits the server's
environment, not the runner's, so :func:`init_worker` sets the runner's current environment in
each worker (what a spawned worker would have seen); the working directory and ``sys.path``
are the runner's already (:mod:`multiprocessing` sends them with every process).

The Dask executor's LocalCluster forks its workers from the same kind of server
(:func:`dask_cluster_config`: distributed's ``multiprocessing-method: forkserver``) and runs
without the workers' statistical profiler (a stack sample every 10 ms), without work stealing
(the runner keeps one job per worker in flight) and with its monitors ticking every second
instead of every 20-500 ms: idle, the cluster's own processes then use ≈ 0.013 CPU-seconds per
second instead of ≈ 0.10, CPU that competed with the jobs for the cores.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading

from suite._process import die_with_parent

__all__ = ["WORKER_PRELOAD", "worker_context", "stop_worker_server", "init_worker",
           "dask_cluster_config", "can_fork_here", "FORK_RESIDENT_LIMIT"]

#: Modules a job imports (imported once by the fork server; missing ones are skipped).
WORKER_PRELOAD = ("numpy", "scipy.ndimage", "scipy.linalg", "torch", "skimage.measure",
                  "threadpoolctl", "h5py", "suite.runner.execute", "suite.runner.methods",
                  "suite.stages", "suite.conditions", "suite.data.loader", "suite.data.audit",
                  "suite.metrics", "reference_impls", "reference_impls.recon",
                  "reference_impls.segmentation", "reference_impls.mapping",
                  "torchattacks")  # imports scipy.stats: ≈ 0.4 CPU-s once, not per worker


#: Largest resident size (bytes) of the runner's process from which workers are forked
#: directly (:func:`can_fork_here`); a larger one starts the fork server instead.
FORK_RESIDENT_LIMIT = 1 << 29


def can_fork_here() -> bool:
    """Whether the local pool may fork its workers from this process (module docstring): Linux
    with ``fork``, every module of :data:`WORKER_PRELOAD` imported, no Python thread but this
    one, ``CMRSUITE_THREADS_PER_JOB`` 1 (the default) and at most :data:`FORK_RESIDENT_LIMIT`
    resident. The threads of numpy's BLAS and of an allocator, which the fork server has as
    well, have their own fork handlers. The caller must fork before it starts a thread."""
    if "fork" not in multiprocessing.get_all_start_methods() or not sys.platform.startswith(
            "linux"):
        return False
    if os.environ.get("CMRSUITE_THREADS_PER_JOB", "1").strip() != "1":
        return False
    if threading.active_count() != 1 or threading.current_thread() is not threading.main_thread():
        return False
    if any(name not in sys.modules for name in WORKER_PRELOAD):
        return False
    from suite.runner.execute import resident_bytes

    return 0 < resident_bytes() <= FORK_RESIDENT_LIMIT


def worker_context(extra: tuple[str, ...] = ()):
    """The :mod:`multiprocessing` context of the job workers, its fork server started.

    ``forkserver`` importing ``extra`` and :data:`WORKER_PRELOAD` where the platform has it,
    ``spawn`` otherwise. Starting the server returns at once; it imports the modules in the
    background, and the first worker forked from it waits for them (so call this early: the
    imports then overlap the main process's own preparation). A server already running is
    reused as it is.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():  # pragma: no cover
        return multiprocessing.get_context("spawn")
    from multiprocessing import forkserver

    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([*extra, *WORKER_PRELOAD])  # read when the server starts
    forkserver.ensure_running()
    return ctx


def stop_worker_server() -> None:
    """Stop this process's fork server, if one runs, and wait for it (it has reaped the
    workers it forked). Uses the standard library's own stop (``ForkServer._stop``, there
    since Python 3.8); does nothing where it is missing."""
    from multiprocessing import forkserver

    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)
    if stop is not None:
        stop()


def init_worker(environ: dict) -> None:
    """Initializer of a job worker: the runner's environment, and an end with the runner.

    ``environ`` is the runner's ``os.environ`` when the pool started (a forked worker would
    otherwise keep the fork server's). The worker ends when the runner ends: a thread waits on
    :func:`multiprocessing.parent_process`'s sentinel (the process that asked for the worker:
    the runner, also for a worker forked by the fork server, which itself ends only once no
    worker is left), and when its parent process ends (:func:`suite._process.die_with_parent`:
    the runner for a spawned worker, the fork server for a forked one).
    """
    if dict(os.environ) != environ:
        os.environ.clear()
        os.environ.update(environ)
    runner = multiprocessing.parent_process()
    if runner is not None:
        threading.Thread(target=_exit_with, args=(runner.sentinel,), daemon=True,
                         name="cmrsuite-runner-watch").start()
    die_with_parent(os.getppid())


def _exit_with(sentinel) -> None:
    from multiprocessing.connection import wait

    wait([sentinel])
    os._exit(1)


def dask_cluster_config() -> dict:
    """Dask configuration of the runner's LocalCluster (set while the cluster starts; the
    nannies hand it to their workers): workers forked from a fork server where the platform
    has one, no statistical profiler, no work stealing, monitors every second."""
    cfg = {"distributed.worker.profile.enabled": False,
           "distributed.scheduler.work-stealing": False,
           "distributed.admin.tick.interval": "1s",
           "distributed.admin.system-monitor.interval": "1s",
           "distributed.worker.memory.monitor-interval": "1s"}
    if "forkserver" in multiprocessing.get_all_start_methods():
        cfg["distributed.worker.multiprocessing-method"] = "forkserver"
    return cfg

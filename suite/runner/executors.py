"""Executors: where jobs run. Serial, a local process pool, or a Dask distributed cluster.

Every executor has ``run(fn, specs, ctx)``, yielding ``(spec, outcome)`` pairs as jobs finish,
where ``outcome`` is the job's return value or the exception it raised (so the caller records
failures and goes on), and ``map(fn, items)``, the results of ``fn`` on independent items in
their order (the first error is raised), used to prepare data (the subjects of a phantom
cohort) on the same workers. Methods and metrics never know which executor runs them.
The Dask executor needs the optional extra ``cmrsuite[dask]`` (package ``distributed``); without
it a clear error names the extra to install.

The pools start their worker processes when they are entered, before the runner prepares the
run, from a fork server that imported the job's modules (:mod:`suite.runner.workers`), and
keep as many jobs in flight as they have workers: each free worker gets the next job from a
:class:`~suite.runner.schedule.JobQueue` (the jobs of the case it holds first, longest first).
While the workers start (their fork server importing torch and the suite, ≈ 3 CPU-seconds),
the runner's process, which has those modules imported already, runs jobs itself. A runner
process that has imported them before the run (a notebook, a test, a benchmark) forks the
local pool's workers itself instead, when that is safe
(:func:`suite.runner.workers.can_fork_here`), and runs no job of its own.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Callable, Iterable, Iterator

from suite.runner.jobs import cost_rank
from suite.runner.schedule import JobQueue
from suite.runner.workers import (can_fork_here, dask_cluster_config, init_worker,
                                  stop_worker_server, worker_context)

__all__ = ["make_executor", "SerialExecutor", "LocalExecutor", "DaskExecutor", "EXECUTORS",
           "start_local_cluster", "run_here", "run_on_slots"]

EXECUTORS = ("local", "serial", "dask")


class SerialExecutor:
    """Runs jobs one after the other in this process."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def map(self, fn: Callable, items: Iterable) -> list:
        return [fn(item) for item in items]

    def run(self, fn: Callable, specs: Iterable, ctx) -> Iterator:
        yield from run_here(fn, JobQueue(specs, cost_rank), ctx)


class LocalExecutor:
    """A pool of ``workers`` processes forked from a fork server that imported the job's
    modules (:func:`suite.runner.workers.worker_context`; spawned where there is none), which
    end with the runner process (:func:`suite.runner.workers.init_worker`). One worker: the
    jobs run in this process."""

    def __init__(self, workers: int):
        self.workers = max(1, int(workers))
        self._pool: ProcessPoolExecutor | None = None
        self._starting: threading.Thread | None = None
        self._closing = threading.Event()  # set by __exit__: the start thread stops waiting
        self._forked = False  # workers forked from this process (no fork server)

    def __enter__(self):
        if self.workers > 1 and can_fork_here():
            # the modules are imported here: fork the workers from this process, now, in
            # this thread (the pool forks all of them at its first submission)
            self._pool = ProcessPoolExecutor(self.workers,
                                             mp_context=multiprocessing.get_context("fork"),
                                             initializer=init_worker,
                                             initargs=(dict(os.environ),))
            self._forked = True
            try:
                self._pool.submit(os.getpid)
            except Exception:  # noqa: BLE001 - the jobs' own submissions report it
                pass
        elif self.workers > 1:
            self._pool = ProcessPoolExecutor(self.workers, mp_context=worker_context(),
                                             initializer=init_worker,
                                             initargs=(dict(os.environ),))
            # fork the workers now (the first fork waits for the server's imports)
            self._starting = threading.Thread(target=self._start_workers, daemon=True,
                                              name="cmrsuite-workers-start")
            self._starting.start()
        return self

    def _start_workers(self) -> None:
        """Make the pool fork its workers (one small task each) and wait until they ran, or
        until the executor closes. The wait polls: ``shutdown(cancel_futures=True)`` cancels
        tasks still queued without waking a ``concurrent.futures.wait`` on them (``cancel``
        notifies no waiter), so a start thread blocked on them would never return and
        ``__exit__``'s join would hang (it did: a pool whose jobs were submitted and finished
        before these tasks)."""
        try:
            pending = [self._pool.submit(os.getpid) for _ in range(self.workers)]
            while pending and not self._closing.is_set():
                pending = list(wait(pending, timeout=0.05).not_done)
        except Exception:  # noqa: BLE001 - the jobs' own submissions report it
            pass

    def _still_starting(self) -> bool:
        return self._starting is not None and self._starting.is_alive()

    def __exit__(self, *exc):
        if self._pool is not None:
            self._closing.set()
            self._pool.shutdown(wait=True, cancel_futures=True)
            if self._starting is not None:
                self._starting.join()
            if not self._forked:
                stop_worker_server()
        return False

    def map(self, fn: Callable, items: Iterable) -> list:
        items = list(items)
        if self._pool is None or len(items) < 2:
            return [fn(item) for item in items]
        return list(self._pool.map(fn, items))

    def run(self, fn: Callable, specs: Iterable, ctx) -> Iterator:
        """The jobs on the workers; while the workers are still starting (their fork server
        importing the job's modules), this process runs jobs itself."""
        queue = JobQueue(specs, cost_rank)
        if self._pool is None:
            yield from run_here(fn, queue, ctx)
            return
        yield from run_here(fn, queue, ctx, while_=self._still_starting)
        yield from run_on_slots(lambda spec: self._pool.submit(fn, spec.to_dict(), ctx),
                                lambda futs: wait(futs, return_when=FIRST_COMPLETED).done,
                                queue, lambda: self.workers)


class DaskExecutor:
    """Jobs on a Dask distributed cluster: ``scheduler`` address, or a LocalCluster of
    ``workers`` single-threaded worker processes on loopback when no address is given.

    The LocalCluster starts in a background thread when the executor is entered (its workers
    forked from a fork server that imported distributed and the job's modules, without the
    statistical profiler: :func:`suite.runner.workers.dask_cluster_config`), so that it comes
    up while the runner prepares the run; :meth:`map` and :meth:`run` wait for it.
    """

    def __init__(self, workers: int, scheduler: str | None):
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise ValueError("executor 'dask' needs the optional extra: "
                             "pip install 'cmrsuite[dask]' (package `distributed`)") from None
        self.workers = max(1, int(workers))
        self.scheduler = scheduler
        self._client = None
        self._cluster = None
        self._starting: threading.Thread | None = None
        self._error: BaseException | None = None

    def __enter__(self):
        from distributed import Client

        if self.scheduler:
            self._client = Client(self.scheduler)
        else:
            self._starting = threading.Thread(target=self._start_local, daemon=True,
                                              name="cmrsuite-dask-start")
            self._starting.start()
        return self

    def _start_local(self) -> None:
        try:
            self._cluster, self._client = start_local_cluster(self.workers)
        except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread
            self._error = exc

    def _ready(self):
        if self._starting is not None:
            self._starting.join()
            self._starting = None
        if self._error is not None:
            raise self._error
        return self._client

    def __exit__(self, *exc):
        if self._starting is not None:
            self._starting.join()
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
            stop_worker_server()
        return False

    def map(self, fn: Callable, items: Iterable) -> list:
        client = self._ready()
        return client.gather(client.map(fn, list(items), pure=False))

    def run(self, fn: Callable, specs: Iterable, ctx) -> Iterator:
        """The jobs on the cluster; while a LocalCluster is still starting, this process runs
        jobs itself."""
        from distributed import wait as dask_wait

        queue = JobQueue(specs, cost_rank)
        yield from run_here(fn, queue, ctx, while_=lambda: self._starting is not None
                            and self._starting.is_alive())
        client = self._ready()

        def submit(spec):
            return client.submit(fn, spec.to_dict(), ctx, pure=False, key=f"job-{spec.job_id}")

        yield from run_on_slots(submit,
                                lambda futs: dask_wait(futs, return_when="FIRST_COMPLETED").done,
                                queue, self._slots)

    def _slots(self) -> int:
        """Jobs kept in flight: the cluster's worker threads (a remote cluster may grow)."""
        if self._cluster is not None:
            return self.workers
        info = self._client.scheduler_info().get("workers", {})
        return max(1, sum(int(w.get("nthreads", 1)) for w in info.values()))


def start_local_cluster(workers: int):
    """A Dask LocalCluster of ``workers`` single-threaded worker processes on loopback, as the
    runner starts one (workers forked from a fork server that imported ``distributed`` and the
    job's modules, without the statistical profiler: :func:`suite.runner.workers.
    dask_cluster_config`), and a client of it: ``(cluster, client)``. The caller closes both,
    then calls :func:`suite.runner.workers.stop_worker_server`. A cluster started this way
    and given to :func:`suite.runner.run_protocol` by its ``scheduler_address`` runs the same
    jobs as one the run starts itself (``benchmarks/bench_runner.py`` measures both)."""
    import dask
    from distributed import Client, LocalCluster
    from distributed.utils import get_mp_context

    config = dask_cluster_config()
    with dask.config.set(config):
        if config.get("distributed.worker.multiprocessing-method") == "forkserver":
            get_mp_context()  # distributed's fork-server preload, then ours on top
            worker_context(extra=("distributed",))
        cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
    return cluster, Client(cluster)


def run_here(fn: Callable, queue: JobQueue, ctx,
             while_: Callable[[], bool] = lambda: True) -> Iterator:
    """Run jobs of ``queue`` in this process, one after the other, while ``while_()`` holds
    (checked before each job), yielding ``(spec, outcome)``."""
    last = None
    while while_() and (spec := queue.next(last)) is not None:
        try:
            outcome = fn(spec.to_dict(), ctx)
        except Exception as exc:  # noqa: BLE001 - recorded as the job's failure
            outcome = exc
        queue.done(spec, _seconds(outcome))
        last = spec
        yield spec, outcome


def run_on_slots(submit: Callable, first_done: Callable, queue: JobQueue,
                 slots: Callable[[], int]) -> Iterator:
    """Run the jobs of ``queue`` with ``slots()`` in flight, yielding ``(spec, outcome)`` as
    they end.

    ``submit(spec)`` starts a job and returns its future; ``first_done(futures)`` waits until
    at least one has finished and returns the finished ones. A slot stands for a worker: with
    as many jobs in flight as workers, the job that ends frees the worker that ran it, and the
    slot's next job comes from :class:`~suite.runner.schedule.JobQueue` given that worker's
    last job. The next job starts before the outcome is handed to the caller (who stores it).
    A job that cannot be submitted (a pool whose worker died) is yielded with the error.
    """
    running: dict = {}  # future -> (spec, slot)
    last: dict[int, object] = {}
    refused: list = []

    def start(slot: int) -> None:
        while (spec := queue.next(last.get(slot), [s for s, _ in running.values()])) is not None:
            try:
                running[submit(spec)] = (spec, slot)
                return
            except Exception as exc:  # noqa: BLE001 - recorded as the job's failure
                refused.append((spec, exc))

    for slot in range(max(1, slots())):
        start(slot)
    while running or refused:
        yield from refused
        refused.clear()
        if not running:
            continue
        finished = []
        for fut in first_done(list(running)):
            spec, slot = running.pop(fut)
            try:
                outcome = fut.result()
            except Exception as exc:  # noqa: BLE001 - includes a worker that died
                outcome = exc
            queue.done(spec, _seconds(outcome))
            last[slot] = spec
            finished.append((spec, outcome))
        busy = {slot for _, slot in running.values()}
        for slot in sorted(set(range(max(1, slots()))) - busy):
            start(slot)
        yield from finished


def _seconds(outcome) -> float | None:
    """A finished job's duration (None for a failure)."""
    return outcome.get("seconds") if isinstance(outcome, dict) else None


def make_executor(kind: str, workers: int, scheduler: str | None = None):
    """The executor named ``kind`` (one of :data:`EXECUTORS`)."""
    if kind == "serial":
        return SerialExecutor()
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "dask":
        return DaskExecutor(workers, scheduler)
    raise ValueError(f"executor must be one of {list(EXECUTORS)}; got {kind!r}")

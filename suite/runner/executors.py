"""Executors: where jobs run. Serial, a local process pool, or a Dask distributed cluster.

Every executor has ``run(fn, specs, ctx)``, yielding ``(spec, outcome)`` pairs as jobs finish,
where ``outcome`` is the job's return value or the exception it raised (so the caller records
failures and goes on), and ``map(fn, items)``, the results of ``fn`` on independent items in
their order (the first error is raised), used to prepare data (the subjects of a phantom
cohort) on the same workers. Methods and metrics never know which executor runs them.
The Dask executor needs the optional extra ``cmrsuite[dask]`` (package ``distributed``); without
it a clear error names the extra to install.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Iterable, Iterator

from suite._process import die_with_parent

__all__ = ["make_executor", "SerialExecutor", "LocalExecutor", "DaskExecutor", "EXECUTORS"]

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
        for spec in specs:
            try:
                yield spec, fn(spec.to_dict(), ctx)
            except Exception as exc:  # noqa: BLE001 - recorded as the job's failure
                yield spec, exc


class LocalExecutor:
    """A pool of ``workers`` processes (``spawn`` start method: safe with torch threads) that
    end with the runner process (:func:`suite._process.die_with_parent`)."""

    def __init__(self, workers: int):
        self.workers = max(1, int(workers))
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self):
        if self.workers > 1:
            self._pool = ProcessPoolExecutor(self.workers,
                                             mp_context=multiprocessing.get_context("spawn"),
                                             initializer=die_with_parent,
                                             initargs=(os.getpid(),))
        return self

    def __exit__(self, *exc):
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        return False

    def map(self, fn: Callable, items: Iterable) -> list:
        items = list(items)
        if self._pool is None or len(items) < 2:
            return [fn(item) for item in items]
        return list(self._pool.map(fn, items))

    def run(self, fn: Callable, specs: Iterable, ctx) -> Iterator:
        specs = list(specs)
        if self._pool is None:
            yield from SerialExecutor().run(fn, specs, ctx)
            return
        futures = {self._pool.submit(fn, spec.to_dict(), ctx): spec for spec in specs}
        for fut in as_completed(futures):
            spec = futures[fut]
            try:
                yield spec, fut.result()
            except Exception as exc:  # noqa: BLE001 - includes a worker that died
                yield spec, exc


class DaskExecutor:
    """Jobs on a Dask distributed cluster: ``scheduler`` address, or a LocalCluster of
    ``workers`` single-threaded worker processes on loopback when no address is given."""

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

    def __enter__(self):
        from distributed import Client, LocalCluster

        if self.scheduler:
            self._client = Client(self.scheduler)
        else:
            self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                         processes=True, host="127.0.0.1",
                                         dashboard_address=None)
            self._client = Client(self._cluster)
        return self

    def __exit__(self, *exc):
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        return False

    def map(self, fn: Callable, items: Iterable) -> list:
        return self._client.gather(self._client.map(fn, list(items), pure=False))

    def run(self, fn: Callable, specs: Iterable, ctx) -> Iterator:
        from distributed import as_completed as dask_completed

        specs = list(specs)
        futures = {self._client.submit(fn, spec.to_dict(), ctx, pure=False, key=f"job-{spec.job_id}"):
                   spec for spec in specs}
        for fut in dask_completed(list(futures)):
            spec = futures[fut]
            try:
                yield spec, fut.result()
            except Exception as exc:  # noqa: BLE001
                yield spec, exc


def make_executor(kind: str, workers: int, scheduler: str | None = None):
    """The executor named ``kind`` (one of :data:`EXECUTORS`)."""
    if kind == "serial":
        return SerialExecutor()
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "dask":
        return DaskExecutor(workers, scheduler)
    raise ValueError(f"executor must be one of {list(EXECUTORS)}; got {kind!r}")

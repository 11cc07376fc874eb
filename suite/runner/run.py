"""``run_protocol``: prepare the data, expand the jobs, execute them, keep every number.

Order of work: datasets are prepared (a phantom cohort is written into ``RUN_DIR/data`` as
ISMRMRD + NIfTI and read back through the same readers as real data), units are discovered,
jobs are expanded (:mod:`suite.runner.jobs`), and the two phases run in order on the chosen
executor. The main process is the only writer of the store; each finished job is committed with
its results in one transaction. ``resume=True`` skips jobs already ``done`` (a killed run
resumes without recomputing or losing work) and refuses a run folder made by another protocol.

A run holds the folder's lock from start to end (a second writer is refused), imports only the
plugins the user allowed (:mod:`suite.trust`), refuses a protocol that gives no job, and seals
the folder when it finishes (:mod:`suite.store.seal`).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from suite._atomic import atomic_write_text
from suite.runner.execute import RunContext, load_case, run_job
from suite.runner.executors import make_executor
from suite.runner.jobs import CaseRef, JobSpec, expand_jobs, phases, slice_counts
from suite.runner.provenance import build_manifest, write_manifest
from suite.exit_codes import is_disk_error
from suite.store import DiskFullError, ResultStore, RunLock
from suite.store.seal import relative_cache_dir, seal_run, unseal
from suite.trust import check_protocol_code

__all__ = ["RunResult", "RunError", "run_protocol", "discover_cases"]


class RunError(ValueError):
    """The run cannot start (existing folder, protocol mismatch on resume, ...)."""


@dataclass
class RunResult:
    """Outcome of a run: counts, failures by cause, acceptance verdicts and the exit code."""

    run_dir: Path
    n_jobs: int
    n_done: int
    n_failed: int
    n_skipped: int
    failures_by_cause: dict[str, int] = field(default_factory=dict)
    input_failures: list[dict] = field(default_factory=list)
    acceptance: list[dict] = field(default_factory=list)
    failure_tolerance: float = 0.0
    cache_repairs: list[dict] = field(default_factory=list)
    seal_root: str | None = None

    @property
    def failed_fraction(self) -> float:
        return self.n_failed / self.n_jobs if self.n_jobs else 0.0

    @property
    def exit_code(self) -> int:
        """0 when failures stay within the protocol's tolerance and every acceptance criterion
        holds; 1 otherwise."""
        ok = self.failed_fraction <= self.failure_tolerance and not self.input_failures_exceed()
        ok = ok and all(a["passed"] for a in self.acceptance)
        return 0 if ok else 1

    def input_failures_exceed(self) -> bool:
        return bool(self.input_failures) and self.failure_tolerance == 0.0

    def to_dict(self) -> dict:
        return {"run_dir": str(self.run_dir), "n_jobs": self.n_jobs, "n_done": self.n_done,
                "n_failed": self.n_failed, "n_skipped": self.n_skipped,
                "failures_by_cause": self.failures_by_cause,
                "input_failures": self.input_failures, "acceptance": self.acceptance,
                "cache_repairs": self.cache_repairs, "exit_code": self.exit_code}

    def summary(self) -> str:
        lines = [f"run {self.run_dir}: {self.n_jobs} jobs, {self.n_done} done "
                 f"({self.n_skipped} reused from an earlier attempt), {self.n_failed} failed"]
        for cause, n in sorted(self.failures_by_cause.items()):
            lines.append(f"  failed: {n} x {cause}")
        for f in self.input_failures:
            lines.append(f"  input not read: {f['path']}: {f['reason']}")
        for a in self.acceptance:
            lines.append(f"  acceptance {'PASS' if a['passed'] else 'FAIL'}: {a['description']}")
        for r in self.cache_repairs:
            lines.append(f"  cache entry not reused: {r['path']}: {r['problem']}; {r['action']}")
        if self.seal_root:
            lines.append(f"sealed: root {self.seal_root} (keep it; `cmrsuite verify "
                         f"{self.run_dir} --digest {self.seal_root}` checks the folder)")
        lines.append(f"exit code {self.exit_code}")
        return "\n".join(lines)


def _prepare_phantom(ds: dict, data_dir: Path, map: Callable = map) -> Path:
    """Write the phantom cohort of a dataset entry (once; reused on resume; from the cohort
    cache when it holds it), whatever its kind (:mod:`suite.phantom.kinds`)."""
    from suite.phantom.kinds import write_phantom_cohort

    return write_phantom_cohort(ds["phantom"], data_dir / ds["name"], map=map)


def discover_cases(protocol, data_dir: Path, store: ResultStore | None = None, *,
                   map: Callable = map) -> list[CaseRef]:
    """Case references of every dataset of the protocol (input failures go to the store).

    ``map(fn, items)`` writes the subjects of a phantom cohort (the runner passes its
    executor's, so they are simulated side by side on the job workers)."""
    from suite.data.errors import CaseReadError
    from suite.data.loader import discover

    refs: list[CaseRef] = []
    for ds in protocol.datasets:
        try:
            root = _prepare_phantom(ds, data_dir, map) if "phantom" in ds \
                else protocol.resolve(ds["root"])
            units = discover(root, group_by=(ds.get("reader_options") or {}).get("group_by", "series"))
        except CaseReadError as exc:
            if store is not None:
                store.record_read_failure(ds["name"], exc.to_dict() | {"error": type(exc).__name__})
            continue
        if ds.get("max_cases"):
            units = units[: ds["max_cases"]]
        for unit in units:
            if unit.format == "unknown":
                try:
                    from suite.data.loader import sniff

                    sniff(unit.path)
                except CaseReadError as exc:
                    if store is not None:
                        store.record_read_failure(ds["name"], exc.to_dict() | {"error": type(exc).__name__})
                continue
            key = str(Path(unit.path).resolve().relative_to(Path(root).resolve())) \
                if Path(root).is_dir() else Path(unit.path).name
            refs.append(CaseRef(dataset=ds["name"], key=key, path=str(Path(unit.path).resolve()),
                                format=unit.format, reader_options=dict(ds.get("reader_options") or {}),
                                files=tuple(str(f) for f in unit.files),
                                tags=dict(unit.tags)))
    return refs


def run_protocol(protocol, run_dir, *, executor: str = "local", workers: int | None = None,
                 scheduler: str | None = None, resume: bool = False, cache_dir=None,
                 progress: Callable[[int, int, str], None] | None = None,
                 command: list[str] | None = None, analyse: bool = True,
                 allow_plugins=None) -> RunResult:
    """Run a validated :class:`~suite.protocol.Protocol` into ``run_dir``.

    Parameters
    ----------
    executor : {"local", "serial", "dask"}
        ``local``: a process pool of ``workers`` (default: CPU count); ``serial``: in this
        process; ``dask``: a Dask distributed cluster at ``scheduler`` (or a LocalCluster).
    resume : bool
        Continue a run folder made by the same protocol; done jobs are kept.
    cache_dir : path, optional
        Content-addressed cache of reconstructions (default ``run_dir/cache``); share it between
        runs to reuse outputs.
    progress : callable(done, total, label), optional
        Called after each job (the CLI draws a progress bar); the library prints nothing.
    allow_plugins : AllowList or iterable of str, optional
        Plugins and plugin folders the protocol may import, besides those it was validated
        under (``protocol.allowed``; :mod:`suite.trust`).

    Raises
    ------
    RunError
        The folder holds another run (or one without ``resume``), or the protocol gives no
        job (an empty dataset folder).
    suite.store.RunLockedError
        Another process is writing ``run_dir``.
    suite.trust.PluginNotAllowedError
        The protocol names code the user did not allow.

    Notes
    -----
    One writer at a time: the run holds the folder's lock (:class:`suite.store.RunLock`) until
    it returns. A finished run seals the folder (:func:`suite.store.seal.seal_run`: content
    hashes of every row, cache entry and file, root in ``manifest.json``); a resumed run
    removes the old seal first, so an interrupted resume is reported as unsealed.
    """
    allowed = protocol.allowed.merge(allow_plugins)
    check_protocol_code(protocol.raw, protocol.base_dir, allowed, source=protocol.source)
    protocol = dataclasses.replace(protocol, allowed=allowed)
    run_dir = Path(run_dir)
    with RunLock(run_dir):
        return _run_locked(protocol, run_dir, executor=executor, workers=workers,
                           scheduler=scheduler, resume=resume, cache_dir=cache_dir,
                           progress=progress, command=command, analyse=analyse)


def _run_locked(protocol, run_dir: Path, *, executor, workers, scheduler, resume, cache_dir,
                progress, command, analyse) -> RunResult:
    db = run_dir / "results.sqlite"
    if db.exists() and not resume:
        raise RunError(f"{run_dir}: holds a run already; pass --resume to continue it or choose "
                       "a new folder")
    created = not db.exists()
    started = time.time()
    store = ResultStore(db)
    registered = False
    try:
        info = store.info()
        if resume and info.get("protocol_sha256") not in (None, protocol.sha256):
            raise RunError(f"{run_dir}: was made by protocol {info.get('protocol_name')!r} "
                           f"(sha256 {str(info.get('protocol_sha256'))[:12]}…), not by "
                           f"{protocol.source} (sha256 {protocol.sha256[:12]}…); resume it with "
                           "the same protocol or start a new folder")
        unseal(run_dir)  # the folder changes from here on
        store.set_info("protocol_sha256", protocol.sha256)
        store.set_info("protocol_name", protocol.name)
        store.set_info("seed", protocol.seed)
        store.ensure_method_columns(protocol.method_stages())
        atomic_write_text(run_dir / "protocol.json",
                          json.dumps(protocol.to_dict(), indent=2) + "\n")
        n_workers = workers or _cpu_count()
        with make_executor(executor, n_workers, scheduler) as pool:
            # a phantom cohort's subjects are simulated on the job workers (which then start
            # the jobs with their imports done)
            refs = discover_cases(protocol, run_dir / "data", store, map=pool.map)
            jobs = expand_jobs(protocol, refs, slice_counts(protocol, refs, load_case))
            _check_not_empty(protocol, refs, jobs, store)
            store.register_jobs(jobs)
            registered = True
            done_before = store.done_jobs()
            ctx = RunContext(protocol_raw=protocol.raw,
                             protocol_base_dir=str(protocol.base_dir), seed=protocol.seed,
                             cache_dir=str((Path(cache_dir) if cache_dir else run_dir / "cache")
                                           .resolve()),
                             examples_dir=str(run_dir / "robustness"), allowed=protocol.allowed)
            total = len(jobs)
            counter = {"n": len([j for j in jobs if j.job_id in done_before])}
            repairs: list[dict] = []
            # a phase's slice jobs (split: slice) before its other jobs, which assemble them
            steps = [(phase, sliced) for phase in phases(protocol) for sliced in (True, False)]
            for phase, sliced in steps:
                pending = [j for j in jobs if j.phase == phase and j.job_id not in done_before
                           and (j.slice is not None) == sliced]
                for spec, outcome in pool.run(run_job, pending, ctx):
                    repairs += _record(store, spec, outcome)
                    counter["n"] += 1
                    if progress is not None:
                        progress(counter["n"], total, " ".join(
                            [spec.phase, spec.case_id, spec.condition_name,
                             *spec.labels().values(),
                             *([] if spec.slice is None else [f"slice {spec.slice}"])]))
        if repairs:
            store.set_info("cache_repairs", (store.info().get("cache_repairs") or []) + repairs)
        status = store.job_status()
        job_ids = {j.job_id for j in jobs}
        n_failed = sum(1 for j in job_ids if status.get(j) == "failed")
        n_done = sum(1 for j in job_ids if status.get(j) == "done")
        causes: dict[str, int] = {}
        for err, msg in store.query("SELECT error, message FROM jobs WHERE status='failed'"):
            key = f"{err}: {msg.splitlines()[0][:160] if msg else ''}"
            causes[key] = causes.get(key, 0) + 1
        input_failures = [{"path": p, "dataset": d, "error": e, "reason": r}
                          for p, d, e, r in store.query(
                              "SELECT path, dataset, error, reason FROM failures ORDER BY path")]
        result = RunResult(run_dir=run_dir, n_jobs=total, n_done=n_done, n_failed=n_failed,
                           n_skipped=len(done_before & job_ids), failures_by_cause=causes,
                           input_failures=input_failures,
                           failure_tolerance=protocol.failure_tolerance, cache_repairs=repairs)
        if analyse:
            from suite.evaluate import evaluate_run

            result.acceptance = evaluate_run(run_dir).acceptance
        manifest = build_manifest(protocol=protocol, store=store, started=started,
                                  finished=time.time(), executor=executor, workers=n_workers,
                                  command=command,
                                  cache_dir=relative_cache_dir(run_dir, ctx.cache_dir))
        manifest["result"] = result.to_dict()
        store.backfill_hashes()
        manifest["seal"] = seal_run(run_dir, manifest)
        result.seal_root = manifest["seal"]["root"]
        write_manifest(run_dir / "manifest.json", manifest)
        return result
    except BaseException:
        if created and not registered:  # nothing ran: leave no half-made run behind
            store.close()
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            (run_dir / "protocol.json").unlink(missing_ok=True)
        raise
    finally:
        store.close()


def _check_not_empty(protocol, refs: list[CaseRef], jobs: list, store: ResultStore) -> None:
    """Refuse a run without work: a dataset in which no case was found (and no file failed to
    read), or a protocol that expands to no job."""
    failed = {d for (d,) in store.query("SELECT DISTINCT dataset FROM failures")}
    found = {r.dataset for r in refs}
    for ds in protocol.datasets:
        if ds["name"] not in found and ds["name"] not in failed:
            where = (f"its folder {protocol.resolve(ds['root'])}" if "root" in ds
                     else "its phantom cohort")
            raise RunError(f"dataset {ds['name']!r}: {where} holds no case a reader recognises "
                           "(empty folder, or files of an unknown format); check `root` in "
                           f"{protocol.source}, or see `cmrsuite inspect FILE`")
    if not jobs:
        why = (f"{len(failed)} dataset(s) had only unreadable files (see the input failures)"
               if failed else "no method accepts the protocol's cases and conditions")
        raise RunError(f"{protocol.source}: the protocol expands to no job: {why}")


def _record(store: ResultStore, spec: JobSpec, outcome) -> list[dict]:
    """Store a job's outcome; returns the cache entries it had to recompute.

    A job that failed because a write failed (disk full, quota, file-size limit) stops the run
    with :class:`~suite.store.DiskFullError`: it is not the method's failure, and the job stays
    pending so that ``--resume`` runs it once there is room.
    """
    if isinstance(outcome, BaseException) and is_disk_error(outcome):
        raise DiskFullError(f"job {spec.job_id} ({spec.phase} {spec.case_id}) could not write "
                            f"its outputs: {outcome}; free disk space, then continue with "
                            "--resume") from outcome
    if isinstance(outcome, BaseException):
        message = str(outcome) or type(outcome).__name__
        store.record_failure(spec.job_id, type(outcome).__name__, message, 0.0)
        return []
    store.record_case(outcome["case"]["case_id"], outcome["case"]["meta"], outcome["case"]["truth"])
    store.record_success(spec.job_id, outcome["rows"], outcome["seconds"],
                         outcome.get("outputs") or ())
    return list(outcome.get("cache_repairs") or ())


def _cpu_count() -> int:
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover
        return max(1, os.cpu_count() or 1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use `cmrsuite run`")

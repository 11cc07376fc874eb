"""Executing one job: read the case, apply the condition, run the stage chain, score.

:func:`run_job` is a plain function of a job description and the run context, safe to call in
a worker process (local pool or Dask): it reads its inputs from files, writes only to the
content-addressed cache (and robustness examples), and returns the result rows; the single
writer of the store is the runner's main process. Any exception propagates and is recorded by
the runner as the job's failure (error class and message).

The runner knows no stage: it asks each stage of the job's chain for its output
(:meth:`suite.stages.Stage.produce`, cached under a key of the chain), scores the job's own
stage and the derived stages that consume it, and stores the rows with the job's identity.
The first stage of a pipeline also stores what the condition applied (rows of stage
``condition``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from suite._atomic import atomic_write
from suite.runner.jobs import JobSpec
from suite.trust import AllowList

__all__ = ["RunContext", "run_job", "load_case", "stage_cache_key", "tune_allocator",
           "release_free_memory", "drop_kept_cases", "resident_bytes"]


@dataclass(frozen=True)
class RunContext:
    """What every job needs besides its spec (picklable)."""

    protocol_raw: dict
    protocol_base_dir: str
    seed: int
    cache_dir: str
    examples_dir: str | None = None  # worst-case examples of robustness jobs
    allowed: AllowList = field(default_factory=AllowList)  # user code the jobs may import

    @property
    def metrics(self) -> dict:
        return self.protocol_raw.get("metrics") or {}


def load_case(ref, audit: bool = False):
    """Read the Case of a :class:`~suite.runner.jobs.CaseRef` through the generic readers.

    With ``audit`` the data-crime audit (:func:`suite.data.audit.audit_case`: zero-padded or
    Hermitian-symmetric k-space, quantised intensities) runs on load and its result goes into
    ``case.meta.audit_flags``, hence into the store's ``cases`` table and the report. The
    runner audits each case once, in its first job (``JobSpec.audit``); the store keeps the
    flags when later jobs of the case record it again. The Case is never edited in place.

    A worker keeps the last :data:`CASES_KEPT` cases it read (keyed by the unit, its reader
    options and the size and modification time of its files), so consecutive jobs of one case
    read it once. It drops them at a phase change (:func:`drop_kept_cases`): in the demo
    keeping them would have saved 1 of 25 reads, since the schedule gives a worker other
    cases in the next phase (docs/performance.md, session 8).
    """
    key = _case_key(ref)
    case = _CASES.pop(key, None)
    if case is None:
        from suite.data.loader import Unit, read_unit

        unit = Unit(Path(ref.path), ref.format, tuple(Path(f) for f in ref.files))
        case = read_unit(unit, **(ref.reader_options or {}))
        case = case.replace(meta=case.meta.replace(dataset=ref.dataset))
    _CASES[key] = case
    while len(_CASES) > CASES_KEPT:
        _CASES.pop(next(iter(_CASES)))
    if audit:
        from suite.data.audit import audit_case

        return case.replace(meta=case.meta.replace(audit_flags=audit_case(case).to_dict()))
    return case


#: Cases a worker process keeps in memory between jobs (:func:`load_case`).
CASES_KEPT = 2
_CASES: dict = {}


def _case_key(ref) -> tuple:
    """What identifies a read Case: the unit, the reader options, the files' size and mtime."""
    files = [Path(ref.path), *(Path(f) for f in ref.files)]
    stamps = []
    for f in files:
        try:
            st = f.stat()
            stamps.append((str(f), st.st_size, st.st_mtime_ns))
        except OSError:
            stamps.append((str(f), None, None))
    if Path(ref.path).is_dir():  # a case folder: its files
        for f in sorted(Path(ref.path).iterdir()):
            if f.is_file():
                st = f.stat()
                stamps.append((f.name, st.st_size, st.st_mtime_ns))
    options = tuple(sorted((k, repr(v)) for k, v in (ref.reader_options or {}).items()))
    return (ref.dataset, ref.format, tuple(stamps), options)


def stage_cache_key(case, spec: JobSpec, identities: list[dict], seed: int) -> str:
    """SHA-256 naming the output of the last stage of a method chain in the run's cache:
    source file hash, case, condition, run seed and the identities (name, version, parameters,
    weights) of the chain's methods. A one-stage chain keeps the key of earlier versions
    (``"method"``), so shared caches stay valid."""
    from suite.store import cache_key

    payload = {"source": case.meta.source_sha256 or spec.case_id, "case": spec.case_id,
               "condition": spec.condition, "seed": seed}
    if len(identities) == 1:
        payload["method"] = identities[0]
    else:
        payload["chain"] = identities
    return cache_key(payload)


class _Job:
    """The state of one job while it runs (stages, case, condition, cached outputs)."""

    def __init__(self, spec: JobSpec, ctx: RunContext):
        from suite.conditions import condition_rng, make_condition
        from suite.protocol import Protocol
        from suite.stages import load_stages

        self.spec, self.ctx = spec, ctx
        base_dir = Path(ctx.protocol_base_dir)
        self.stages = load_stages(ctx.protocol_raw, base_dir, ctx.allowed)
        proto = Protocol(raw=ctx.protocol_raw, source="", sha256="", base_dir=base_dir,
                         allowed=ctx.allowed)
        self.pipeline = proto.pipeline(spec.case.dataset)
        #: the stage whose jobs go per slice (``split: slice``), else None
        self.split_stage = (next((n for n in self.pipeline if self.stages[n].has_methods), None)
                            if proto.split(spec.case.dataset) == "slice" else None)
        self.case = load_case(spec.case, audit=spec.audit)
        self.condition = make_condition(spec.condition)
        self.rng_factory = lambda: condition_rng(ctx.seed, spec.case_id, spec.condition_name)
        self.conditioned, self.condition_info = self.condition.apply(self.case,
                                                                     self.rng_factory())
        self.outputs: dict[str, np.ndarray] = {}
        self.records: list[dict] = []
        self.repairs: list[dict] = []  # cache entries refused and recomputed
        self._methods: dict[str, object] = {}
        self._identities: list[dict] = []

    # ------------------------------------------------------------------ methods
    def resolve(self, entry: dict, stage_name: str):
        """The method object of a chain entry (the stage's own pseudo-methods first)."""
        from suite.runner.methods import resolve_method

        stage = self.stages[stage_name]
        builtin = stage.builtin_methods()
        if entry.get("name") in builtin:
            return builtin[entry["name"]](**(entry.get("params") or {}))
        return resolve_method(entry, stage.method_kind or stage_name, base_dir=Path(self.ctx.protocol_base_dir),
                              plugin_paths=self.ctx.protocol_raw.get("plugin_paths"),
                              allow=self.ctx.allowed)

    def call(self, stage_name: str):
        from suite.stages import StageCall

        return StageCall(case=self.case, conditioned=self.conditioned, condition=self.condition,
                         condition_info=self.condition_info,
                         entry=self.spec.entry(stage_name) or {},
                         entries=dict(self.spec.methods), labels=self.spec.labels(),
                         upstream=dict(self.outputs), settings=self.ctx.metrics,
                         seed=self.ctx.seed, resolve=self.resolve,
                         cached=lambda: self.outputs[stage_name], stage=stage_name)

    def identity(self, method, entry: dict) -> dict:
        """The identity of a chain's method in this job (name, version, parameters, weights),
        part of its cache key (:func:`stage_cache_key`)."""
        from suite.runner.methods import entry_identity

        return entry_identity(method, entry, Path(self.ctx.protocol_base_dir), case=self.case,
                              condition=self.spec.condition_name,
                              recon=self.spec.labels().get("recon"))

    def run_chain(self, upto: str | None = None) -> None:
        """Outputs of the chain's method stages (cached), up to and including ``upto``."""
        from suite.store import cached_array

        for stage_name, entry in self.spec.methods:
            if entry is None:
                break
            stage = self.stages[stage_name]
            method = self.resolve(entry, stage_name)
            self._identities.append(self.identity(method, entry))
            key = stage_cache_key(self.case, self.spec, list(self._identities), self.ctx.seed)
            label = self.spec.labels()[stage_name]
            call = self.call(stage_name)
            if self.split_by_slice(stage_name, method):
                def produce(stage=stage, method=method, label=label, key=key):
                    return np.concatenate([
                        self.slice_output(stage, method, label, key, s).array
                        for s in range(self.case.n_slices)])
            else:
                def produce(stage=stage, method=method, label=label, call=call):
                    return stage.check_output(call, stage.produce(call, method), label)
            cached = cached_array(self.ctx.cache_dir, key, produce, on_repair=self.repaired)
            self.outputs[stage_name] = cached.array
            if stage_name == self.spec.phase:
                self.records.append(cached.record(stage_name))
            if stage_name == upto:
                break

    # ------------------------------------------------------------------ split: slice
    def split_by_slice(self, stage_name: str, method) -> bool:
        """Whether ``stage_name``'s output is assembled from slice outputs: the dataset is
        split by slice, the stage is its first method stage and the method declares
        ``slice_separable = True`` (its output on a slice is that slice of its output on the
        case)."""
        return stage_name == self.split_stage and bool(getattr(method, "slice_separable", False))

    def slice_output(self, stage, method, label: str, key: str, index: int):
        """The cached output of ``method`` on slice ``index`` of the conditioned case (the
        condition applied to the whole case, then the slice taken, as in the case's job)."""
        from suite.store import cache_key, cached_array

        call = self.call(stage.name)
        call.case = self.case.slice_case(index)
        call.conditioned = self.conditioned.slice_case(index)
        return cached_array(self.ctx.cache_dir, cache_key({"slice_of": key, "slice": index}),
                            lambda: stage.check_output(call, stage.produce(call, method), label),
                            on_repair=self.repaired)

    def run_slice(self) -> None:
        """A slice job (:attr:`JobSpec.slice`): the output of the job's method on its slice,
        cached for the case's job to assemble; nothing when the method is not slice-separable
        (the case's job then runs it on the whole case)."""
        (stage_name, entry), = self.spec.methods
        stage = self.stages[stage_name]
        method = self.resolve(entry, stage_name)
        if not self.split_by_slice(stage_name, method):
            return
        if not 0 <= self.spec.slice < self.case.n_slices:
            raise ValueError(f"case {self.spec.case_id!r} has {self.case.n_slices} slices; the "
                             f"job asks for slice {self.spec.slice} (the case changed since the "
                             "run was planned)")
        key = stage_cache_key(self.case, self.spec, [self.identity(method, entry)],
                              self.ctx.seed)  # the case's key
        cached = self.slice_output(stage, method, self.spec.labels()[stage_name], key,
                                   self.spec.slice)
        self.records.append(cached.record(f"{stage_name} slice {self.spec.slice}"))

    def repaired(self, repair) -> None:
        """Note a cache entry that was refused and recomputed (reported by the runner)."""
        self.repairs.append({**repair.to_dict(), "job_id": self.spec.job_id})

    # ------------------------------------------------------------------ rows
    def base_row(self) -> dict:
        return {"job_id": self.spec.job_id, "case_id": self.spec.case_id,
                "subject": self.case.meta.subject, "dataset": self.spec.case.dataset,
                "condition": self.spec.condition_name, **self.spec.labels()}

    def condition_rows(self) -> list[dict]:
        from suite.metrics.contract import metric_row

        return [{**metric_row(k, v).to_dict(), "stage": "condition"}
                for k, v in self.condition_info.items()]

    def stage_rows(self) -> list[dict]:
        """Rows of the job's own stage and of the derived stages consuming it."""
        from suite.store import cache_key, cached_array

        name = self.spec.phase
        stage = self.stages[name]
        call = self.call(name)
        output = self.outputs[name]
        rows = self.condition_rows() if self.pipeline and self.pipeline[0] == name else []
        rows += stage.score(call, output)
        for art, array in stage.artifacts(call, output).items():
            payload = {"source": self.case.meta.source_sha256 or self.spec.case_id,
                       "case": self.spec.case_id, "artifact": art}
            if self.condition.reference_key() is not None:  # e.g. compressed coils
                payload["reference_of"] = self.condition.reference_key()
            key = cache_key(payload)
            self.records.append(cached_array(self.ctx.cache_dir, key, lambda a=array: a,
                                             on_repair=self.repaired).record(art))
        for derived in self.pipeline:
            d = self.stages[derived]
            if not d.has_methods and name in d.consumes and d.enabled(self.ctx.metrics):
                call = self.call(derived)
                call.companions = self.companions(name)
                rows += d.score(call, output)
        return rows

    def companions(self, stage_name: str) -> dict:
        """The job's companion cases (:attr:`JobSpec.companions`): the job's condition and
        method chain up to ``stage_name`` run on each (cached outputs when their own jobs
        already ran), as :class:`suite.stages.base.Companion` by role."""
        from suite.stages.base import Companion

        out = {}
        for role, ref in self.spec.companions:
            other = _Job(JobSpec(self.spec.phase, ref, self.spec.condition, self.spec.methods),
                         self.ctx)
            other.run_chain(upto=stage_name)
            self.repairs += other.repairs
            out[role] = Companion(call=other.call(stage_name), output=other.outputs[stage_name])
        return out

    def experiment_rows(self) -> list[dict]:
        from suite.stages import ExperimentCall

        exp = self.spec.experiment
        owner = (self.stages.get(exp["stage"]) if "stage" in exp else
                 next((self.stages[n] for n in self.pipeline
                       if exp["kind"] in self.stages[n].experiment_kinds), None))
        if owner is None:
            raise ValueError(f"no stage of the pipeline {self.pipeline} runs the robustness "
                             f"experiment {exp['kind']!r}")
        needs = set(owner.consumes) | ({owner.name} if exp.get("uses_output", True) else set())
        if exp["kind"] in owner.chain_experiments:
            needs |= {s for s, e in self.spec.methods if e is not None}
        last = next((s for s, _ in reversed(self.spec.methods) if s in needs), None)
        if last is not None:
            self.run_chain(upto=last)
        return owner.experiment(exp["kind"], ExperimentCall(
            call=self.call(owner.name), experiment=exp, rng_factory=self.rng_factory,
            save_example=self.save_example))

    def save_example(self, **arrays) -> None:
        if not self.ctx.examples_dir:
            return
        data = {k: np.asarray(v) for k, v in arrays.items() if v is not None}
        atomic_write(Path(self.ctx.examples_dir) / f"{self.spec.job_id}.npz",
                     lambda fh: np.savez_compressed(fh, **data))


# ====================================================================== entry point
def run_job(spec_dict: dict, ctx: RunContext) -> dict:
    """Run one job; returns ``{"rows": [...], "outputs": [...], "case": {...},
    "cache_repairs": [...], "seconds": s}`` (``cache_repairs``: cache entries the job refused
    to reuse and recomputed, :class:`suite.store.cache.CacheRepair`).

    Jobs run with ``CMRSUITE_THREADS_PER_JOB`` (default 1) torch and BLAS threads: parallelism
    comes from running jobs side by side, and multi-threaded OpenBLAS turns small SVDs into
    seconds-long stalls when the cores are busy (observed: 133×288 SVD 4 s vs 0.03 s).
    """
    from suite.mr import native_thread_limits

    threads = max(1, int(os.environ.get("CMRSUITE_THREADS_PER_JOB", "1")))
    tune_allocator()
    try:
        with native_thread_limits(threads):
            return _run_job(spec_dict, ctx, threads)
    finally:
        if resident_bytes() > RESIDENT_LIMIT:
            release_free_memory()


#: Resident size above which a worker hands its free heap back after a job (bytes): the
#: robustness attacks (≈ 0.4-0.8 GB each) otherwise stack on what earlier jobs left. 1.5 GiB:
#: with 1 GiB the demo's workers trimmed after most U-Net jobs and paid it in page faults
#: (50 instead of 34 s of system time, 14 s more wall time) for the same peak (1.81 GiB).
RESIDENT_LIMIT = 3 << 29


def resident_bytes() -> int:
    """This process's resident memory now (Linux ``/proc/self/statm``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return 0


_ALLOCATOR_TUNED = False


def tune_allocator() -> None:
    """Keep freed large blocks in the process for reuse (glibc ``mallopt``), once per process.

    By default glibc serves every block above a 128 kB-32 MB threshold with its own ``mmap``
    and returns it to the operating system when freed, so each large temporary (coil images,
    network activations: 4-60 MB) is faulted in again page by page: 570 000 page faults and
    19 % of the CPU time of one U-Net job, 186 of the demo's 1072 CPU-seconds
    (docs/performance.md). Raising the mmap threshold to 1 GiB and the trim threshold to
    512 MiB lets the heap reuse them. Does nothing where the C library has no ``mallopt``.
    Every job calls it; benchmarks call it to measure a method as a worker runs it.
    """
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED:
        return
    _ALLOCATOR_TUNED = True
    import ctypes

    libc = _glibc()
    if libc is not None:
        m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
        libc.mallopt(m_mmap_threshold, ctypes.c_int(1 << 30))
        libc.mallopt(m_trim_threshold, ctypes.c_int(1 << 29))


def _glibc():
    """The C library when it is glibc (``mallopt`` and ``malloc_trim``), else None (macOS,
    musl, Windows: the allocator keeps its defaults)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 - glibc's allocator calls exist
        return libc
    except (OSError, AttributeError):
        return None


def release_free_memory() -> None:
    """Hand the free memory of this process's heap back to the operating system (glibc
    ``malloc_trim(0)``; nothing elsewhere).

    With the thresholds of :func:`tune_allocator` a worker keeps what it freed; over the
    reconstruction phase of the demo that grew a worker from 0.37 to 1.3 GB, of which its two
    kept cases are ≈ 0.2 GB, and the robustness phase's attacks (≈ 0.45-0.7 GB) came on top:
    2.03 GiB, the demo's peak (docs/performance.md; part of that growth was the ISMRMRD
    reader leaking 41 MB per cine read, which no trim returns, gone since session 8: peak
    1.81 → 1.55 GiB). Called when a worker moves to another
    phase and after a job that leaves the process above :data:`RESIDENT_LIMIT`
    (:func:`run_job`), so the page faults it costs (the reason for those thresholds) are paid
    a few times per run, not after every job.
    """
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


_PHASE: list = [None]  # the phase of this process's last job


def drop_kept_cases() -> None:
    """Forget the cases this process keeps (:func:`load_case`) and hand the freed memory back
    to the system (:func:`release_free_memory`)."""
    import gc

    _CASES.clear()
    gc.collect()
    release_free_memory()


def _enter_phase(phase: str) -> None:
    """A job of another phase than this process's last one: the cases kept for the last
    phase go (the next phase reads its own) and the freed memory goes back to the system."""
    if _PHASE[0] is not None and _PHASE[0] != phase:
        drop_kept_cases()
    _PHASE[0] = phase


def _run_job(spec_dict: dict, ctx: RunContext, threads: int) -> dict:
    import torch

    from suite.mr import set_default_threads

    torch.set_num_threads(threads)
    set_default_threads(threads)
    _enter_phase(spec_dict["phase"])
    t0 = time.perf_counter()
    job = _Job(JobSpec.from_dict(spec_dict), ctx)
    base = job.base_row()
    if job.spec.slice is not None:
        job.run_slice()
        rows = []
    elif job.spec.phase == "robustness":
        rows = job.experiment_rows()
    else:
        job.run_chain()
        rows = job.stage_rows()
    rows = [{**base, **r} for r in rows]
    meta = job.case.meta.to_dict()
    truth = {k: v for k, v in (job.case.truth or {}).items()
             if isinstance(v, (int, float, str, bool)) or v is None}
    return {"rows": rows, "outputs": job.records,
            "case": {"case_id": job.spec.case_id, "meta": meta, "truth": truth},
            "cache_repairs": job.repairs, "seconds": time.perf_counter() - t0}

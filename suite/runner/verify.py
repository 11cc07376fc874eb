"""``cmrsuite verify``: check a run folder without trusting it.

Two steps, the second only when the user names the protocol:

1. **The seal** (:func:`suite.store.seal.check_seal`): every row of the store against its own
   content hash and against the seal the run wrote when it finished, every cached array against
   the SHA-256 its job recorded, the sealed files (protocol copy, robustness examples,
   provenance). Each edit, deletion, duplicate or altered cache entry is reported with its row.
   ``digest`` (the root the run printed) also catches a folder re-sealed after an edit.
2. **Re-execution from the user's own protocol file** (``--protocol P.yaml``): nothing is taken
   from the folder but the job ids to compare. The protocol must be the one the run recorded
   (same SHA-256); its datasets are prepared afresh (a phantom cohort is generated again in a
   temporary folder, real data read from the protocol's ``root``), its jobs expanded and
   matched with the run's (a job of the run the protocol does not make, or a stored job spec
   that differs from the protocol's, is reported), and a seeded sample of done jobs — at least
   one per phase — is run again in this process with an empty cache and the plugins the user
   allows. Every column of every result row and of every cached-output record is compared with
   the store (through a scratch store, so values are typed exactly as SQLite stores them), as is
   the SHA-256 of each case's input file.

A run folder never makes ``verify`` run code: job specs, plugins and paths stored in the folder
are not used (``docs/security.md``).
"""

from __future__ import annotations

import json
import math
import sqlite3
import tempfile
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from suite.runner.execute import RunContext, load_case, run_job
from suite.runner.jobs import JobSpec, expand_jobs, phases, slice_counts
from suite.store import ResultStore, resolve_run_dir
from suite.store.digest import row_digest
from suite.store.errors import store_errors
from suite.store.seal import SealReport, check_seal

__all__ = ["VerifyReport", "verify_run", "default_sample_size"]

#: Columns identifying a result row of a job (the others are compared as its values).
_ROW_KEY = ("stage", "metric", "structure", "phase", "profile", "frame", "segment", "attack",
            "budget")
_OUTPUT_KEY = ("name",)
_SKIP = {"rowid", "row_sha256", "record_sha256"}


@dataclass
class VerifyReport:
    """Outcome of :func:`verify_run`.

    Attributes
    ----------
    run_dir : Path
    seal : SealReport
    protocol : str or None
        The protocol file jobs were re-run from (None: seal check only).
    checked : list of str
        Job ids re-run.
    mismatches : list of dict
        ``job_id``, ``kind`` (``protocol``, ``job``, ``spec``, ``result``, ``output``,
        ``input``, ``error``), ``where`` and ``detail``.
    skipped : str
        Why jobs were not re-run ("" when they were).
    """

    run_dir: Path
    seal: SealReport
    protocol: str | None = None
    checked: list = field(default_factory=list)
    mismatches: list = field(default_factory=list)
    skipped: str = ""

    @property
    def identical(self) -> bool:
        """Jobs were re-run and every one reproduced the stored rows."""
        return bool(self.checked) and not self.mismatches

    @property
    def ok(self) -> bool:
        """The seal holds and, when jobs were re-run, they reproduced the store."""
        return self.seal.ok and not self.mismatches and (self.identical or self.protocol is None)

    def to_dict(self) -> dict:
        return {"run_dir": str(self.run_dir), "ok": self.ok, "seal": self.seal.to_dict(),
                "protocol": self.protocol, "checked": list(self.checked),
                "mismatches": list(self.mismatches), "skipped": self.skipped,
                "identical": self.identical}

    def summary(self, limit: int = 30) -> str:
        lines = [f"{self.run_dir}: {'VERIFIED' if self.ok else 'NOT VERIFIED'}",
                 self.seal.summary(limit)]
        if self.protocol is None:
            lines.append(f"jobs not re-run: {self.skipped}")
        else:
            head = (f"re-ran {len(self.checked)} job(s) from {self.protocol}: "
                    + ("every column of every row identical" if self.identical else
                       f"{len(self.mismatches)} difference(s)"))
            if self.skipped:
                head += f" ({self.skipped})"
            lines.append(head)
            lines += [f"  {m['kind']}: {m['where']}: {m['detail']}"
                      for m in self.mismatches[:limit]]
            if len(self.mismatches) > limit:
                lines.append(f"  ... and {len(self.mismatches) - limit} more")
        return "\n".join(lines)


def default_sample_size(n_done: int) -> int:
    """Jobs re-run by default: 10 % of the done jobs, at least 5 (all when fewer)."""
    return min(n_done, max(5, math.ceil(0.1 * n_done)))


def verify_run(run_dir, protocol=None, *, n_jobs: int | None = None, seed: int = 0,
               digest: str | None = None, allow_plugins=None) -> VerifyReport:
    """Check ``run_dir`` against its seal, then (with ``protocol``) re-run a sample of its jobs
    from that protocol and compare every column (module docstring).

    Parameters
    ----------
    protocol : path or Protocol, optional
        The user's own protocol file (never the folder's copy).
    n_jobs : int, optional
        Jobs to re-run (default :func:`default_sample_size`); ``0`` or less: every done job.
    seed : int
        Seed of the sample.
    digest : str, optional
        The root digest the run printed when it finished.
    allow_plugins : AllowList or iterable of str, optional
        Plugins the protocol may import (:mod:`suite.trust`).

    Raises
    ------
    FileNotFoundError, suite.store.StoreCorruptError
        Not a run folder, or its store cannot be read.
    suite.protocol.ProtocolError, suite.trust.PluginNotAllowedError
        The protocol does not validate or names code not allowed.
    """
    from suite.protocol import Protocol, load_protocol

    run_dir = resolve_run_dir(run_dir)
    seal = check_seal(run_dir, expected_root=digest)
    if protocol is None:
        return VerifyReport(run_dir, seal, skipped="give the protocol file the run was made "
                            "from (--protocol P.yaml) to re-run a sample of its jobs")
    proto = (protocol if isinstance(protocol, Protocol)
             else load_protocol(protocol, allow_plugins=allow_plugins))
    if isinstance(protocol, Protocol) and allow_plugins is not None:
        import dataclasses

        proto = dataclasses.replace(proto, allowed=proto.allowed.merge(allow_plugins))
    report = VerifyReport(run_dir, seal, protocol=proto.source)
    stored = _StoredRun(run_dir / "results.sqlite")
    recorded = stored.info.get("protocol_sha256")
    if recorded != proto.sha256:
        report.mismatches.append(_m("", "protocol", proto.source, f"the run was made by "
                                    f"protocol sha256 {str(recorded)[:12]}…, not by this file "
                                    f"(sha256 {proto.sha256[:12]}…); give the run's protocol"))
        report.skipped = "protocol differs"
        return report
    with tempfile.TemporaryDirectory(prefix="cmrsuite-verify-") as tmp:
        _reexecute(proto, stored, Path(tmp), report, n_jobs, seed)
    return report


def _m(job_id: str, kind: str, where: str, detail: str) -> dict:
    return {"job_id": job_id, "kind": kind, "where": where, "detail": detail}


@contextmanager
def _read_only(db: Path):
    with store_errors(db, "reading"):
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            yield con
        finally:
            con.close()


class _StoredRun:
    """Read-only access to the rows of a run's store (values as SQLite returns them)."""

    def __init__(self, db: Path):
        self.db = db
        with _read_only(db) as con:
            self.info = {k: json.loads(v) for k, v in con.execute("SELECT key, value FROM run_info")}
            self.jobs = {r[0]: {"status": r[1], "spec": r[2], "phase": r[3]} for r in con.execute(
                "SELECT job_id, status, spec, phase FROM jobs ORDER BY job_id")}

    def rows(self, table: str, job_id: str) -> list[dict]:
        with _read_only(self.db) as con:
            cur = con.execute(f"SELECT * FROM {table} WHERE job_id = ?", (job_id,))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r)) for r in cur.fetchall()]

    def case_sha256(self, case_id: str) -> str | None:
        with _read_only(self.db) as con:
            row = con.execute("SELECT source_sha256 FROM cases WHERE case_id = ?",
                              (case_id,)).fetchone()
        return row[0] if row else None


def _portable_spec(spec: dict) -> dict:
    """A job spec without what depends on where the data lie (absolute paths)."""
    case = {k: v for k, v in (spec.get("case") or {}).items() if k not in ("path", "files")}
    return {**spec, "case": case}


def _sample(ids: list[str], phase_of: dict, n: int | None, seed: int) -> list[str]:
    """A seeded sample of ``ids`` with at least one job per phase."""
    if n is not None and n <= 0 or not ids:
        return list(ids)
    n = default_sample_size(len(ids)) if n is None else min(n, len(ids))
    rng = np.random.default_rng(seed)
    order = [ids[i] for i in rng.permutation(len(ids))]
    pick = list(dict.fromkeys(next(j for j in order if phase_of[j] == p)
                              for p in dict.fromkeys(phase_of[j] for j in ids)))
    pick += [j for j in order if j not in pick][: max(0, n - len(pick))]
    return pick


def _reexecute(proto, stored: _StoredRun, tmp: Path, report: VerifyReport, n_jobs, seed) -> None:
    from suite.runner.run import discover_cases

    refs = discover_cases(proto, tmp / "data")
    expected = {j.job_id: j for j in expand_jobs(proto, refs, slice_counts(proto, refs, load_case))}
    for job_id in sorted(set(stored.jobs) - set(expected)):
        report.mismatches.append(_m(job_id, "job", f"job {job_id}", "is in the run but the "
                                    "protocol does not make it (added, or its spec edited)"))
    for job_id in sorted(set(expected) - set(stored.jobs)):
        report.mismatches.append(_m(job_id, "job", f"job {job_id}", "is a job of the protocol "
                                    "missing from the run (deleted)"))
    for job_id in sorted(set(stored.jobs) & set(expected)):
        want = _portable_spec(expected[job_id].to_dict())
        try:
            have = _portable_spec(json.loads(stored.jobs[job_id]["spec"] or "{}"))
        except ValueError:
            have = None
        if have != json.loads(json.dumps(want)):
            report.mismatches.append(_m(job_id, "spec", f"job {job_id}", "the stored job spec "
                                        "differs from the protocol's (edited); it is not used"))
    done = [j for j in expected if stored.jobs.get(j, {}).get("status") == "done"]
    order = {p: i for i, p in enumerate(phases(proto))}
    pick = sorted(_sample(sorted(done), {j: expected[j].phase for j in done}, n_jobs, seed),
                  key=lambda j: (order.get(expected[j].phase, 99), j))
    if not pick:
        report.skipped = "the run has no done job to re-run"
        return
    ctx = RunContext(protocol_raw=proto.raw, protocol_base_dir=str(proto.base_dir),
                     seed=proto.seed, cache_dir=str(tmp / "cache"), examples_dir=None,
                     allowed=proto.allowed)
    with ResultStore(tmp / "scratch.sqlite") as scratch:
        scratch.ensure_method_columns(proto.method_stages())
        recomputed = _StoredRun(tmp / "scratch.sqlite")
        for job_id in pick:
            spec = expected[job_id]
            report.checked.append(job_id)
            try:
                out = run_job(spec.to_dict(), ctx)
            except Exception as exc:  # noqa: BLE001 - a job that no longer runs is a finding
                report.mismatches.append(_m(job_id, "error", _job_where(spec), f"the job "
                                            f"failed on re-run: {type(exc).__name__}: {exc}"))
                continue
            scratch.register_jobs([spec])
            scratch.record_success(job_id, out["rows"], 0.0, out.get("outputs") or ())
            for table, key in (("results", _ROW_KEY), ("outputs", _OUTPUT_KEY)):
                report.mismatches += _compare(job_id, _job_where(spec), table, key,
                                              stored.rows(table, job_id),
                                              recomputed.rows(table, job_id))
            fresh_sha = (out["case"]["meta"] or {}).get("source_sha256")
            if fresh_sha != stored.case_sha256(spec.case_id):
                report.mismatches.append(_m(job_id, "input", spec.case_id, "the input file's "
                                            "SHA-256 differs from the one the run recorded "
                                            "(other data, or the data changed)"))


def _job_where(spec: JobSpec) -> str:
    return " ".join([f"job {spec.job_id}", spec.phase, spec.case_id, spec.condition_name,
                     *spec.labels().values()])


def _compare(job_id: str, where: str, table: str, key_cols: tuple, stored: list[dict],
             fresh: list[dict]) -> list[dict]:
    """Differences between the stored and the recomputed rows of one job, every column."""
    def clean(r):
        return {k: v for k, v in r.items() if k not in _SKIP and v is not None}

    stored, fresh = [clean(r) for r in stored], [clean(r) for r in fresh]
    if Counter(row_digest(table, r) for r in stored) == Counter(row_digest(table, r)
                                                                for r in fresh):
        return []
    out = []
    by_key: dict[tuple, list] = {}
    for side, rows in (("stored", stored), ("fresh", fresh)):
        for r in rows:
            by_key.setdefault(tuple(r.get(c) for c in key_cols), []).append((side, r))
    for key, items in by_key.items():
        a = [r for s, r in items if s == "stored"]
        b = [r for s, r in items if s == "fresh"]
        label = f"{where}: {table} " + "/".join(str(k) for k in key if k is not None)
        if len(a) != len(b):
            out.append(_m(job_id, "result" if table == "results" else "output", label,
                          f"{len(a)} stored row(s), {len(b)} recomputed (duplicated or deleted "
                          "rows)"))
            continue
        for ra, rb in zip(sorted(a, key=str), sorted(b, key=str)):
            cols = sorted(c for c in set(ra) | set(rb) if ra.get(c) != rb.get(c))
            if cols:
                out.append(_m(job_id, "result" if table == "results" else "output", label,
                              "; ".join(f"{c}: stored {ra.get(c)!r}, recomputed {rb.get(c)!r}"
                                        for c in cols)))
    return out

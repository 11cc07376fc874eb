"""``cmrsuite verify``: re-run a seeded sample of finished jobs and compare results bit for bit."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from suite.runner.execute import RunContext, run_job
from suite.store import RESULT_COLUMNS, ResultStore

__all__ = ["VerifyReport", "verify_run"]


@dataclass
class VerifyReport:
    run_dir: Path
    checked: list[str] = field(default_factory=list)
    mismatches: list[dict] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return bool(self.checked) and not self.mismatches

    def to_dict(self) -> dict:
        return {"run_dir": str(self.run_dir), "checked": self.checked,
                "mismatches": self.mismatches, "identical": self.identical}

    def summary(self) -> str:
        head = (f"{self.run_dir}: re-ran {len(self.checked)} job(s); "
                + ("all results bit-identical" if self.identical else
                   f"{len(self.mismatches)} difference(s)"))
        lines = [head] + [f"  {m['job_id']} {m['metric']}: stored {m['stored']!r}, "
                          f"recomputed {m['recomputed']!r}" for m in self.mismatches[:20]]
        return "\n".join(lines)


def _key(row) -> tuple:
    return tuple(row.get(c) for c in ("stage", "metric", "structure", "phase", "profile"))


def verify_run(run_dir, n_jobs: int = 3, seed: int = 0) -> VerifyReport:
    """Re-run ``n_jobs`` done jobs (chosen with ``seed``) with a fresh cache and compare.

    The cache is bypassed (a temporary folder), so reconstructions are recomputed.
    """
    import tempfile

    run_dir = Path(run_dir)
    db = run_dir / "results.sqlite"
    if not db.exists():
        raise ValueError(f"{run_dir}: no results.sqlite; is this a run folder?")
    protocol = json.loads((run_dir / "protocol.json").read_text())
    report = VerifyReport(run_dir)
    with ResultStore(db) as store:
        done = store.query("SELECT job_id, spec FROM jobs WHERE status='done' ORDER BY job_id")
        if not done:
            raise ValueError(f"{run_dir}: no finished job to verify")
        rng = np.random.default_rng(seed)
        pick = sorted(rng.choice(len(done), size=min(n_jobs, len(done)), replace=False))
        with tempfile.TemporaryDirectory() as cache:
            ctx = RunContext(protocol_raw=protocol["protocol"],
                             protocol_base_dir=str(Path(protocol["source"]).parent),
                             seed=int(protocol["protocol"].get("seed", 0)), cache_dir=cache)
            for i in pick:
                job_id, spec = done[i]
                stored = store.query(f"SELECT {', '.join(RESULT_COLUMNS)} FROM results WHERE job_id=?",
                                     (job_id,))
                stored = {_key(dict(zip(RESULT_COLUMNS, r))): dict(zip(RESULT_COLUMNS, r))
                          for r in stored}
                fresh = run_job(json.loads(spec), ctx)["rows"]
                report.checked.append(job_id)
                fresh_map = {_key(r): r for r in fresh}
                for k in sorted(set(stored) | set(fresh_map), key=str):
                    a = stored.get(k, {}).get("value")
                    b = fresh_map.get(k, {}).get("value")
                    b = None if isinstance(b, float) and b != b else b
                    if a != b:
                        report.mismatches.append({"job_id": job_id, "metric": "/".join(
                            str(x) for x in k if x), "stored": a, "recomputed": b})
    return report

"""Failure analysis of a run: the flow of cases, failed jobs by cause, worst cases.

* :func:`case_flow` — which inputs could not be read, which cases had every job done, a
  failed job, or jobs not run (an interrupted run).
* :func:`failure_causes` — failed jobs grouped by error type and the first line of the message.
* :func:`worst_cases` — per metric and method chain, the case with the worst stored value
  (direction read from the rows: the lowest for ``higher is better``, the highest for
  ``lower is better``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from suite.analysis.summary import method_columns
from suite.metrics.contract import HIGHER, LOWER

__all__ = ["CaseFlow", "case_flow", "failure_causes", "worst_cases"]


@dataclass(frozen=True)
class CaseFlow:
    """The flow of cases through a run.

    Attributes
    ----------
    not_read : tuple of int
        ``failures`` row ids of inputs that could not be read.
    cases : tuple of str
        Case ids with at least one job.
    included, failed, all_failed, pending : tuple of str
        Cases with every job done; with at least one failed job; whose every job failed; with
        jobs not run and none failed.
    """

    not_read: tuple
    cases: tuple
    included: tuple
    failed: tuple
    all_failed: tuple
    pending: tuple

    @property
    def n_inputs(self) -> int:
        """Inputs found: cases entering the evaluation plus inputs that could not be read."""
        return len(self.cases) + len(self.not_read)

    def to_dict(self) -> dict:
        return {k: list(getattr(self, k)) for k in ("not_read", "cases", "included", "failed",
                                                     "all_failed", "pending")}

    def summary(self) -> str:
        return (f"{self.n_inputs} inputs: {len(self.not_read)} not read, {len(self.cases)} "
                f"evaluated, {len(self.included)} included, {len(self.failed)} with a failed "
                f"job ({len(self.all_failed)} without any output), {len(self.pending)} "
                "incomplete")


def case_flow(jobs: pd.DataFrame, failures: pd.DataFrame) -> CaseFlow:
    """The :class:`CaseFlow` of a run from its ``jobs`` and ``failures`` tables."""
    by_case = ({cid: set(g["status"]) for cid, g in jobs.groupby("case_id")}
               if not jobs.empty else {})
    return CaseFlow(
        not_read=tuple(int(i) for i in failures["row_id"]) if "row_id" in failures else (),
        cases=tuple(sorted(by_case)),
        included=tuple(sorted(c for c, s in by_case.items() if s == {"done"})),
        failed=tuple(sorted(c for c, s in by_case.items() if "failed" in s)),
        all_failed=tuple(sorted(c for c, s in by_case.items() if s == {"failed"})),
        pending=tuple(sorted(c for c, s in by_case.items()
                             if "failed" not in s and s != {"done"})))


def failure_causes(jobs: pd.DataFrame, *, max_chars: int = 200) -> pd.DataFrame:
    """Failed jobs grouped by cause.

    Returns
    -------
    DataFrame
        Columns ``error``, ``message`` (first line, at most ``max_chars`` characters),
        ``n_jobs``, ``cases`` (sorted case ids) and ``job_ids`` (sorted), ordered by error and
        message.
    """
    cols = ["error", "message", "n_jobs", "cases", "job_ids"]
    failed = jobs[jobs["status"] == "failed"] if not jobs.empty else jobs
    if failed.empty:
        return pd.DataFrame(columns=cols)
    first = failed["message"].fillna("").map(lambda m: m.splitlines()[0][:max_chars] if m else "")
    rows = [{"error": err, "message": msg, "n_jobs": int(len(g)),
             "cases": tuple(sorted(set(g["case_id"]))), "job_ids": tuple(sorted(g["job_id"]))}
            for (err, msg), g in failed.assign(first=first).groupby(["error", "first"], sort=True)]
    return pd.DataFrame(rows, columns=cols)


def worst_cases(df: pd.DataFrame) -> pd.DataFrame:
    """The worst case per (metric, structure, phase, profile) and (method chain, condition).

    Only usable values count. The direction comes from the rows' ``direction`` column: the
    lowest value of a ``higher is better`` metric, the highest of a ``lower is better`` one;
    metrics with another direction (closer is better, no direction) have no worst case here.

    Returns
    -------
    DataFrame
        Columns ``stage, metric, structure, phase, profile, condition``, the method columns,
        ``case_id, subject, pathology, vendor, value, unit, direction, row_id``.
    """
    methods = method_columns(df)
    cols = ["stage", "metric", "structure", "phase", "profile", "condition", *methods,
            "case_id", "subject", "pathology", "vendor", "value", "unit", "direction", "row_id"]
    use = df[df["usable"] & df["direction"].isin([HIGHER, LOWER])]
    rows = []
    for _, g in use.groupby(["stage", "metric", "structure", "phase", "profile"], sort=True):
        lower_better = g["direction"].iloc[0] == LOWER
        for _, h in g.groupby([*methods, "condition"], sort=True):
            rows.append(h.sort_values(["value", "case_id"],
                                      ascending=[not lower_better, True]).iloc[0])
    if not rows:
        return pd.DataFrame(columns=cols)
    out = pd.DataFrame(rows)
    return out[[c for c in cols if c in out.columns]].reset_index(drop=True)

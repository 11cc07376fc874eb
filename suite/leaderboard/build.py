"""``build_leaderboard``: validate, score and rank every submission, then write the site.

Data flow: challenge definition → truth index → submissions (folders or safely extracted
archives, in a temporary folder removed afterwards; each submission extracted and scored in
a child process with a time limit, :mod:`suite.leaderboard.isolate`) → per-case scores on the
hidden truth →
rankings per task (three methods, bootstrap stability of the primary one, Kendall's τ across
methods) → consensus across tasks (mean of the primary ranks, challengeR's ``consensus(method =
"euclidean")``) → ``index.html``, ``leaderboard.csv``, ``leaderboard.json``, ``scores.csv``.

The truth never leaves this module: outputs hold scores, ranks and validation messages only;
per-case scores of clinical tasks (absolute errors, which with a team's own prediction would
give the truth back up to its sign) are not published, only their aggregates.
"""

from __future__ import annotations

import datetime as _dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from suite._serialise import jsonable
from suite.leaderboard.challenge import RANKING_METHODS, Challenge, load_challenge
from suite.leaderboard.isolate import score_isolated
from suite.leaderboard.ranking import (
    BootstrapRanks, RankingResult, bootstrap_ranks, compare_methods, rank_by, rank_min,
    team_statistic,
)
from suite.leaderboard.submission import discover_submissions, load_truth

__all__ = ["build_leaderboard", "LeaderboardResult", "TaskResult"]


@dataclass
class TaskResult:
    """Rankings of one task.

    ``values`` is ``(n_cases, n_teams)`` (NaN = missing/invalid), teams in ``teams`` order;
    ``n_excluded`` ``(n_teams,)`` counts the per-case values (structure × phase) each team's
    case values left out as not applicable or undefined
    (:func:`~suite.leaderboard.submission.segmentation_case_value`; 0 for other tasks).
    """

    task: object
    teams: list
    cases: list
    values: np.ndarray
    rankings: dict
    bootstrap: BootstrapRanks | None
    method_tau: dict
    n_excluded: np.ndarray | None = None

    @property
    def primary(self) -> RankingResult:
        return self.rankings[self._primary]

    _primary: str = "rank-then-aggregate"

    def table(self) -> pd.DataFrame:
        """One row per team: aggregate metric, score and rank per method, bootstrap ranks."""
        agg = self.rankings["aggregate-then-rank"]
        rta = self.rankings["rank-then-aggregate"]
        ttr = self.rankings["test-then-rank"]
        df = pd.DataFrame({
            "task": self.task.name, "team": self.teams, "metric": self.task.metric_label,
            "aggregate": agg.score, "rank_aggregate_then_rank": agg.rank,
            "mean_case_rank": rta.score, "rank_rank_then_aggregate": rta.rank,
            "significant_wins": ttr.score, "rank_test_then_rank": ttr.rank,
            "n_scored": np.sum(~np.isnan(self.values), axis=0),
            "n_cases": len(self.cases),
            "n_values_excluded": (np.zeros(len(self.teams), dtype=int) if self.n_excluded is None
                                  else self.n_excluded)})
        if self.bootstrap is not None:
            df["bootstrap_median_rank"] = self.bootstrap.median_rank
            df["bootstrap_rank_low"] = self.bootstrap.rank_low
            df["bootstrap_rank_high"] = self.bootstrap.rank_high
        df["rank"] = self.primary.rank
        return df.sort_values(["rank", "team"]).reset_index(drop=True)

    def summary(self) -> str:
        """The task's table as text."""
        return (f"task {self.task.name} ({self.task.metric_label}; primary {self._primary})\n"
                + self.table().to_string(index=False, float_format=lambda v: f"{v:.4g}"))

    def to_dict(self, *, include_cases: bool = True) -> dict:
        out = {"task": self.task.to_dict(), "teams": self.teams, "n_cases": len(self.cases),
               "primary": self._primary,
               "rankings": {k: v.to_dict() for k, v in self.rankings.items()},
               "bootstrap": self.bootstrap.to_dict() if self.bootstrap is not None else None,
               "kendall_tau_between_methods": self.method_tau,
               "table": self.table().to_dict(orient="records")}
        if include_cases:
            out["cases"] = self.cases
        return jsonable(out)


@dataclass
class LeaderboardResult:
    """Everything the site shows; ``summary()`` and ``to_dict()``."""

    challenge: Challenge
    reports: list
    tasks: list
    consensus: pd.DataFrame
    discovery_problems: list = field(default_factory=list)
    created: str = ""

    @property
    def ranked_teams(self) -> list:
        return [r.team for r in self.reports if r.status != "rejected"]

    def to_dict(self) -> dict:
        return jsonable({
            "challenge": self.challenge.to_dict(), "created": self.created,
            "submissions": [r.to_dict() for r in self.reports],
            "ignored_entries": [p.to_dict() for p in self.discovery_problems],
            "tasks": [t.to_dict(include_cases=t.task.kind != "clinical") for t in self.tasks],
            "consensus": self.consensus.to_dict(orient="records")})

    def summary(self) -> str:
        lines = [f"Leaderboard {self.challenge.name}: {len(self.reports)} submission(s), "
                 f"{len(self.ranked_teams)} ranked"]
        for t in self.tasks:
            lines.append(f"  task {t.task.name} ({t.task.metric_label}, primary {t._primary}):")
            for _, r in t.table().iterrows():
                lines.append(f"    {int(r['rank'])}. {r['team']}  aggregate {r['aggregate']:.4g}"
                             f"  ranks A/R/T {int(r['rank_aggregate_then_rank'])}/"
                             f"{int(r['rank_rank_then_aggregate'])}/{int(r['rank_test_then_rank'])}")
        for r in self.reports:
            if r.status != "valid":
                lines.append(f"  {r.team}: {r.status} ({len(r.problems)} problem(s))")
        return "\n".join(lines)


def build_leaderboard(submissions_dir, challenge, truth_dir, out_dir=None) -> LeaderboardResult:
    """Validate, score and rank every submission; write the site when ``out_dir`` is given.

    Parameters
    ----------
    submissions_dir : path
        One entry per team: a folder or a ``.zip``/``.tar``/``.tar.gz`` archive.
    challenge : Challenge or path
        The challenge definition (:func:`suite.leaderboard.load_challenge`).
    truth_dir : path
        Hidden truth: ``<task>/<case>.mat|.nii.gz`` or ``<task>/<file>.csv``.
    out_dir : path, optional
        Site folder (``index.html``, ``leaderboard.csv``, ``leaderboard.json``, ``scores.csv``).

    Returns
    -------
    LeaderboardResult
    """
    ch = challenge if isinstance(challenge, Challenge) else load_challenge(challenge)
    truth = load_truth(ch, truth_dir)
    subs, discovery = discover_submissions(submissions_dir)
    task_names = {t.name for t in ch.tasks}
    reports, rows = [], []
    with tempfile.TemporaryDirectory(prefix="cmrsuite-leaderboard-") as tmp:
        for team, path in subs:
            rep, team_rows = score_isolated(ch, truth, team, path, Path(tmp) / team, task_names)
            rows += team_rows
            reports.append(rep)
    ranked = [r.team for r in reports if r.status != "rejected"]
    scored = pd.DataFrame(rows, columns=["team", "task", "case", "value", "n_excluded"])
    scores = scored[["team", "task", "case", "value"]]
    tasks = []
    rk = ch.ranking
    for t in ch.tasks:
        cases = truth.cases[t.name]
        if not ranked:
            continue
        sel = scored[(scored["task"] == t.name) & scored["team"].isin(ranked)]
        mat = sel.pivot(index="case", columns="team", values="value").reindex(
            index=cases, columns=ranked).to_numpy(dtype=float)
        n_excluded = sel.groupby("team")["n_excluded"].sum().reindex(ranked).fillna(0)
        kw = dict(aggregate=rk.aggregate, alpha=rk.alpha, p_adjust=rk.p_adjust)
        rankings = {m: rank_by(m, mat, t.direction, **kw) for m in RANKING_METHODS}
        boot = (bootstrap_ranks(mat, t.direction, rk.primary, n_bootstrap=rk.n_bootstrap,
                                seed=rk.seed, **kw) if len(ranked) > 1 else None)
        tr = TaskResult(task=t, teams=list(ranked), cases=list(cases), values=mat,
                        rankings=rankings, bootstrap=boot, method_tau=compare_methods(rankings),
                        n_excluded=n_excluded.to_numpy(dtype=int))
        tr._primary = rk.primary
        tasks.append(tr)
    if tasks:
        primary_ranks = np.vstack([t.primary.rank for t in tasks])
        mean_rank = team_statistic(primary_ranks, "mean")  # over tasks
        consensus = pd.DataFrame({"team": ranked, "mean_primary_rank": mean_rank,
                                  "consensus_rank": rank_min(mean_rank, "lower")}
                                 | {f"rank_{t.task.name}": t.primary.rank for t in tasks})
        consensus = consensus.sort_values(["consensus_rank", "team"]).reset_index(drop=True)
    else:
        consensus = pd.DataFrame(columns=["team", "mean_primary_rank", "consensus_rank"])
    result = LeaderboardResult(challenge=ch, reports=reports, tasks=tasks, consensus=consensus,
                               discovery_problems=discovery,
                               created=_dt.datetime.now(_dt.timezone.utc).isoformat(
                                   timespec="seconds"))
    if out_dir is not None:
        from suite.leaderboard.site import write_site

        write_site(result, out_dir, scores)
    return result

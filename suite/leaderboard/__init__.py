"""Challenge-style leaderboards: safe intake of submissions, validation, scoring on hidden
truth, challengeR rankings with bootstrap stability, and a static self-contained site.

| module | holds |
|---|---|
| :mod:`suite.leaderboard.challenge` | the challenge definition (tasks, formats, ranking, limits) |
| :mod:`suite.leaderboard.archive` | :func:`safe_extract` for zip and tar submissions |
| :mod:`suite.leaderboard.submission` | discovery, validation and per-case scoring |
| :mod:`suite.leaderboard.ranking` | aggregate-then-rank, rank-then-aggregate, test-then-rank, bootstrap |
| :mod:`suite.leaderboard.build` | :func:`build_leaderboard` |
| :mod:`suite.leaderboard.site` | HTML (sortable table, blob plot, significance map), CSV, JSON |

``docs/leaderboard.md`` is the user guide.
"""

from suite.leaderboard.archive import ExtractReport, UnsafeArchiveError, safe_extract
from suite.leaderboard.build import LeaderboardResult, TaskResult, build_leaderboard
from suite.leaderboard.challenge import (
    Challenge, ChallengeError, Limits, RankingSpec, TaskSpec, load_challenge, parse_challenge,
)
from suite.leaderboard.ranking import (
    aggregate_then_rank, bootstrap_ranks, compare_methods, kendall_tau, rank_min,
    rank_then_aggregate, test_then_rank,
)
from suite.leaderboard.submission import Problem, SubmissionReport

__all__ = ["build_leaderboard", "LeaderboardResult", "TaskResult", "Challenge", "TaskSpec",
           "RankingSpec", "Limits", "ChallengeError", "load_challenge", "parse_challenge",
           "safe_extract", "UnsafeArchiveError", "ExtractReport", "Problem", "SubmissionReport",
           "aggregate_then_rank", "rank_then_aggregate", "test_then_rank", "bootstrap_ranks",
           "compare_methods", "kendall_tau", "rank_min"]

"""Challenge rankings as challengeR computes them (Wiesenfarth et al., Sci Rep 11:2369, 2021;
wiesenfa/challengeR v1.0.5, ``R/rankingMethods.R``, ``R/testBased.R``, ``R/Bootstrap.R``).

All functions take a value matrix ``values`` of shape ``(n_cases, n_teams)`` (float64, NaN
where a team's case is missing or invalid) and the metric ``direction`` ("higher" or "lower"
is better). Ranks are 1 = best; ties share the smallest rank (``ties.method = "min"``).

* :func:`aggregate_then_rank` — aggregate each team over cases (mean or median), then rank.
  Missing values are replaced by the worst value any team obtained on that case (a missing
  case can never help a team); a case nobody submitted is dropped.
* :func:`rank_then_aggregate` — rank the teams within each case, missing values taking the
  worst rank (``n_teams``), then aggregate the ranks (mean or median) and rank that.

Both aggregate with :func:`suite.metrics.reduce.aggregate` (:func:`team_statistic`), the one
reduction of the suite, after the missing values have been given their documented meaning
(worst value, worst rank): a missing value is never averaged as a number and never silently
dropped from a team's mean. Each case is one unit, as in challengeR.
* :func:`test_then_rank` — for every ordered pair (i, j) a one-sided paired Wilcoxon signed-rank
  test that i is better than j (normal approximation with continuity correction, zero
  differences dropped, as R's ``wilcox.test(..., paired = TRUE, exact = FALSE)``), p values
  Holm-adjusted over all n(n − 1) ordered pairs (``p_adjust="holm"``,
  :func:`suite.stats.multiplicity.holm`) or not; a team's score is
  its number of significant wins, ranked in decreasing order. Missing values as in
  aggregate-then-rank.
* :func:`bootstrap_ranks` — resample cases with replacement ``n_bootstrap`` times, re-rank with
  one method, and report each team's rank distribution (for blob plots), median rank, 2.5 and
  97.5 % rank quantiles and Kendall's τ_b between each bootstrap ranking and the full ranking.
* :func:`compare_methods` — the rankings of the three methods side by side with the pairwise
  Kendall's τ_b between them (challengeR's ``methodsplot``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from suite._serialise import jsonable
from suite.metrics.reduce import aggregate as reduce_values
from suite.stats.multiplicity import holm

__all__ = ["rank_min", "team_statistic", "aggregate_then_rank", "rank_then_aggregate",
           "test_then_rank", "pairwise_wilcoxon", "wilcoxon_greater", "bootstrap_ranks",
           "compare_methods", "RankingResult", "BootstrapRanks", "rank_by", "kendall_tau"]


def _check(values, direction):
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"ranking: `values` must be (n_cases, n_teams); got shape {v.shape}")
    if direction not in ("higher", "lower"):
        raise ValueError(f"ranking: `direction` must be 'higher' or 'lower'; got {direction!r}")
    return v


def rank_min(scores, direction: str) -> np.ndarray:
    """Ranks 1..n of ``scores`` (best = 1), ties get the minimum rank, NaN the worst (n).

    >>> rank_min([0.9, 0.8, 0.9, np.nan], "higher").tolist()
    [1.0, 3.0, 1.0, 4.0]
    """
    s = np.asarray(scores, dtype=np.float64)
    key = -s if direction == "higher" else s.copy()
    out = stats.rankdata(np.where(np.isnan(key), np.inf, key), method="min").astype(float)
    out[np.isnan(s)] = s.size
    return out


def team_statistic(values, statistic: str = "mean") -> np.ndarray:
    """Mean or median over cases of each team's column, by
    :func:`suite.metrics.reduce.aggregate`.

    Parameters
    ----------
    values : ndarray (n_cases, n_teams), float64
        Values whose missing entries already carry their meaning (worst value or worst rank):
        a NaN left here is a caller's error.
    statistic : {"mean", "median"}

    Returns
    -------
    ndarray (n_teams,)
        NaN for a team when there is no case.

    Raises
    ------
    ValueError
        A NaN in ``values`` (a missing value must be filled before it is aggregated).

    Examples
    --------
    >>> team_statistic(np.array([[1.0, 4.0], [3.0, 2.0]])).tolist()
    [2.0, 3.0]
    """
    v = np.asarray(values, dtype=np.float64)
    out = np.empty(v.shape[1])
    for t in range(v.shape[1]):
        agg = reduce_values(v[:, t], statistic=statistic)
        if agg.n_excluded:
            raise ValueError(f"team_statistic: {agg.n_excluded} missing value(s) in team column "
                             f"{t}; give missing values their meaning (worst value or rank) "
                             "before aggregating")
        out[t] = agg.value
    return out


def _fill_worst(v: np.ndarray, direction: str) -> np.ndarray:
    v = v.copy()
    keep = ~np.all(np.isnan(v), axis=1)
    v = v[keep]
    if v.size:
        worst = np.nanmin(v, axis=1) if direction == "higher" else np.nanmax(v, axis=1)
        r, c = np.nonzero(np.isnan(v))
        v[r, c] = worst[r]
    return v


@dataclass(frozen=True)
class RankingResult:
    """One ranking: per team the score it was ranked on and its rank.

    Attributes
    ----------
    method : str
    score : ndarray (n_teams,)
        Aggregated metric (aggregate-then-rank), aggregated rank (rank-then-aggregate) or number
        of significant wins (test-then-rank).
    rank : ndarray (n_teams,), float
    score_direction : str
        Whether a higher or lower ``score`` is better.
    significant : ndarray (n_teams, n_teams) bool or None
        test-then-rank: ``[i, j]`` True when i is significantly better than j.
    p_adjusted : ndarray (n_teams, n_teams) or None
    """

    method: str
    score: np.ndarray
    rank: np.ndarray
    score_direction: str
    significant: np.ndarray | None = None
    p_adjusted: np.ndarray | None = None

    def to_dict(self) -> dict:
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})

    def summary(self) -> str:
        """One line per team (in input order): score and rank."""
        return "\n".join([self.method] + [f"  team {i}: score {s:.6g}, rank {int(r)}"
                                           for i, (s, r) in enumerate(zip(self.score, self.rank))])


def aggregate_then_rank(values, direction: str, aggregate: str = "mean") -> RankingResult:
    """Aggregate over cases (missing → the case's worst value), then rank (module docstring)."""
    v = _fill_worst(_check(values, direction), direction)
    agg = team_statistic(v, aggregate)
    return RankingResult(f"aggregate-then-rank ({aggregate})", agg, rank_min(agg, direction),
                         direction)


def rank_then_aggregate(values, direction: str, aggregate: str = "mean") -> RankingResult:
    """Rank within each case (missing → worst rank), aggregate the ranks, rank again."""
    v = _check(values, direction)
    key = -v if direction == "higher" else v.copy()
    key[np.isnan(v)] = np.inf
    case_ranks = stats.rankdata(key, method="min", axis=1).astype(float) if v.shape[0] else v
    case_ranks[np.isnan(v)] = v.shape[1]
    agg = team_statistic(case_ranks, aggregate)
    return RankingResult(f"rank-then-aggregate ({aggregate})", agg, rank_min(agg, "lower"),
                         "lower")


def wilcoxon_greater(d) -> np.ndarray | float:
    """One-sided (``greater``) Wilcoxon signed-rank p values, normal approximation with
    continuity correction and tie-corrected variance, zero differences dropped — R's
    ``wilcox.test(d, alternative = "greater", exact = FALSE, correct = TRUE)`` and scipy's
    ``wilcoxon(d, alternative="greater", method="approx", correction=True)``.

    Parameters
    ----------
    d : array_like (n,) or (n_tests, n)
        Paired differences; a 2-D array gives one p value per row (vectorised).

    Notes
    -----
    W+ = Σ rank(|d_i|)·[d_i > 0] over non-zero d (average ranks over ties), μ = n(n+1)/4,
    σ² = n(n+1)(2n+1)/24 − Σ(t³ − t)/48 over tie groups, z = (W+ − μ − ½)/σ, p = 1 − Φ(z).
    Zeros rank below every non-zero |d|, so ranking all of |d| and subtracting the number of
    zeros gives the ranks among the non-zero ones; Σ(t³ − t) = Σ_i (t_i² − 1) with t_i the
    size of element i's tie group (max rank − min rank + 1). No non-zero difference: p = 1.

    >>> round(float(wilcoxon_greater([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])), 6)
    0.018016
    """
    a2 = np.atleast_2d(np.asarray(d, dtype=float))
    a = np.abs(a2)
    nonzero = a2 != 0
    n_zero = (~nonzero).sum(axis=1, keepdims=True)
    r = stats.rankdata(a, axis=1) - n_zero
    t = stats.rankdata(a, method="max", axis=1) - stats.rankdata(a, method="min", axis=1) + 1
    n = nonzero.sum(axis=1).astype(float)
    w_plus = np.where(a2 > 0, r, 0.0).sum(axis=1)
    tie = np.where(nonzero, t**2 - 1.0, 0.0).sum(axis=1)
    var = n * (n + 1) * (2 * n + 1) / 24.0 - tie / 48.0
    with np.errstate(all="ignore"):
        z = (w_plus - n * (n + 1) / 4.0 - 0.5) / np.sqrt(var)
    p = np.where((n > 0) & (var > 0), stats.norm.sf(z), 1.0)
    return float(p[0]) if np.ndim(d) == 1 else p


def pairwise_wilcoxon(values, direction: str) -> np.ndarray:
    """One-sided p values ``P[i, j]`` of "team i better than team j" (diagonal NaN), by
    :func:`wilcoxon_greater` on the paired case differences."""
    v = _fill_worst(_check(values, direction), direction)
    n = v.shape[1]
    p = np.full((n, n), np.nan)
    ii, jj = np.nonzero(~np.eye(n, dtype=bool))
    if ii.size and v.shape[0]:
        diff = (v[:, ii] - v[:, jj]) if direction == "higher" else (v[:, jj] - v[:, ii])
        p[ii, jj] = wilcoxon_greater(diff.T)
    elif ii.size:
        p[ii, jj] = 1.0
    return p


def test_then_rank(values, direction: str, alpha: float = 0.05,
                   p_adjust: str = "holm") -> RankingResult:
    """Significant one-sided Wilcoxon wins per team, ranked (module docstring)."""
    p = pairwise_wilcoxon(values, direction)
    off = ~np.eye(p.shape[0], dtype=bool)
    adj = p.copy()
    if p_adjust == "holm" and off.any():
        adj[off] = holm(p[off])
    sig = np.zeros_like(off)
    sig[off] = adj[off] < alpha
    wins = sig.sum(axis=1).astype(float)
    return RankingResult(f"test-then-rank (Wilcoxon, {p_adjust}, alpha {alpha:g})", wins,
                         rank_min(wins, "higher"), "higher", significant=sig, p_adjusted=adj)


test_then_rank.__test__ = False  # a ranking method, not a test (pytest collects test_* names)


def rank_by(method: str, values, direction: str, *, aggregate="mean", alpha=0.05,
            p_adjust="holm") -> RankingResult:
    """Dispatch on the method name (``aggregate-then-rank``, ``rank-then-aggregate``,
    ``test-then-rank``)."""
    if method == "aggregate-then-rank":
        return aggregate_then_rank(values, direction, aggregate)
    if method == "rank-then-aggregate":
        return rank_then_aggregate(values, direction, aggregate)
    if method == "test-then-rank":
        return test_then_rank(values, direction, alpha, p_adjust)
    raise ValueError(f"rank_by: unknown method {method!r}")


def kendall_tau(a, b) -> float:
    """Kendall's τ_b of two rankings (1.0 when both are constant: identical orders).

    >>> kendall_tau([1, 2, 3, 4], [1, 2, 4, 3])
    0.6666666666666666
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return 1.0
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    # tau-b = (C - D) / sqrt((n0 - n1)(n0 - n2)) over all pairs (Kendall 1945), as
    # scipy.stats.kendalltau's default; vectorised for the few teams of a leaderboard
    da = np.sign(a[:, None] - a[None, :])
    db = np.sign(b[:, None] - b[None, :])
    iu = np.triu_indices(a.size, 1)
    sa, sb = da[iu], db[iu]
    num = float(np.sum(sa * sb))
    den = math.sqrt(float(np.sum(sa != 0)) * float(np.sum(sb != 0)))
    return num / den


@dataclass(frozen=True)
class BootstrapRanks:
    """Rank stability under case resampling.

    Attributes
    ----------
    method : str
    ranks : ndarray (n_bootstrap, n_teams)
    rank_counts : ndarray (n_teams, n_teams)
        ``[t, r - 1]``: how often team t obtained rank r (blob plot).
    median_rank, rank_low, rank_high : ndarray (n_teams,)
        Median and 2.5 / 97.5 % quantiles of each team's bootstrap rank.
    kendall_tau : ndarray (n_bootstrap,)
        τ_b between each bootstrap ranking and the full-data ranking.
    n_bootstrap, seed : int
    """

    method: str
    ranks: np.ndarray = field(repr=False)
    rank_counts: np.ndarray
    median_rank: np.ndarray
    rank_low: np.ndarray
    rank_high: np.ndarray
    kendall_tau: np.ndarray = field(repr=False)
    n_bootstrap: int = 0
    seed: int = 0

    def summary(self) -> str:
        """Median rank and 95 % rank interval per team (input order), and Kendall's τ."""
        d = self.to_dict()
        lines = [f"bootstrap of {self.method}: {self.n_bootstrap} case resamples (seed "
                 f"{self.seed}); Kendall's tau to the full ranking median "
                 f"{d['kendall_tau_median']}"]
        lines += [f"  team {i}: median rank {m:g} [{lo:g}, {hi:g}]"
                  for i, (m, lo, hi) in enumerate(zip(self.median_rank, self.rank_low,
                                                      self.rank_high))]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        tau = self.kendall_tau[np.isfinite(self.kendall_tau)]
        return jsonable({"method": self.method, "rank_counts": self.rank_counts,
                         "median_rank": self.median_rank, "rank_low": self.rank_low,
                         "rank_high": self.rank_high, "n_bootstrap": self.n_bootstrap,
                         "seed": self.seed,
                         "kendall_tau_median": float(np.median(tau)) if tau.size else None,
                         "kendall_tau_q025": float(np.quantile(tau, 0.025)) if tau.size else None,
                         "kendall_tau_q975": float(np.quantile(tau, 0.975)) if tau.size else None})


def bootstrap_ranks(values, direction: str, method: str, *, n_bootstrap: int = 1000, seed=0,
                    aggregate="mean", alpha=0.05, p_adjust="holm") -> BootstrapRanks:
    """Re-rank ``n_bootstrap`` resamples of the cases (with replacement) by ``method``.

    Randomness comes only from ``numpy.random.default_rng(seed)``.
    """
    v = _check(values, direction)
    n_cases, n_teams = v.shape
    kw = dict(aggregate=aggregate, alpha=alpha, p_adjust=p_adjust)
    full = rank_by(method, v, direction, **kw).rank
    rng = np.random.default_rng(seed)
    ranks = np.empty((n_bootstrap, n_teams))
    taus = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        idx = rng.integers(0, n_cases, n_cases)
        ranks[b] = rank_by(method, v[idx], direction, **kw).rank
        taus[b] = kendall_tau(full, ranks[b])
    counts = np.zeros((n_teams, n_teams), dtype=int)
    for t in range(n_teams):
        r, c = np.unique(ranks[:, t].astype(int), return_counts=True)
        counts[t, r - 1] = c
    return BootstrapRanks(method=method, ranks=ranks, rank_counts=counts,
                          median_rank=np.median(ranks, axis=0),
                          rank_low=np.quantile(ranks, 0.025, axis=0),
                          rank_high=np.quantile(ranks, 0.975, axis=0), kendall_tau=taus,
                          n_bootstrap=n_bootstrap, seed=int(seed))


def compare_methods(rankings: dict) -> dict:
    """Pairwise Kendall's τ_b between the rank vectors of ``{method: RankingResult}``."""
    names = list(rankings)
    return {f"{a} vs {b}": kendall_tau(rankings[a].rank, rankings[b].rank)
            for i, a in enumerate(names) for b in names[i + 1:]}

"""Leaderboard ranking speed (plain script: ``python benchmarks/bench_leaderboard.py``).

Prints, for challenge sizes typical of CMRxRecon/ACDC-style leaderboards (cases × teams), the
wall time of each ranking method on the full data and of the bootstrap of the primary ranking
(``--n-bootstrap`` resamples, median of ``--repeat`` runs), and the ratio of the vectorised
rank-then-aggregate to a per-case loop over ``scipy.stats.rankdata`` (the straightforward
implementation), after checking that both give the same ranks.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from scipy import stats

from suite.leaderboard.ranking import bootstrap_ranks, rank_by, rank_min

METHODS = ("aggregate-then-rank", "rank-then-aggregate", "test-then-rank")


def _timed(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _loop_rank_then_mean(v):
    ranks = np.vstack([rank_min(row, "higher") for row in v])
    return stats.rankdata(ranks.mean(axis=0), method="min")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-bootstrap", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'cases x teams':>14} {'method':>22} {'full (ms)':>10} {'bootstrap (s)':>14}")
    for n_cases, n_teams in ((60, 8), (120, 15), (300, 25)):
        v = rng.normal(0.85, 0.05, (n_cases, n_teams)) + rng.normal(0, 0.01, n_teams)
        for m in METHODS:
            full = _timed(lambda: rank_by(m, v, "higher"), args.repeat)
            nb = args.n_bootstrap if m != "test-then-rank" else max(10, args.n_bootstrap // 20)
            boot = _timed(lambda: bootstrap_ranks(v, "higher", m, n_bootstrap=nb, seed=1), 1)
            print(f"{n_cases:>6} x {n_teams:<5} {m:>22} {1e3 * full:>10.2f} "
                  f"{boot:>11.2f} ({nb} resamples)")
        fast = rank_by("rank-then-aggregate", v, "higher").rank
        assert np.array_equal(fast, _loop_rank_then_mean(v))
        t_fast = _timed(lambda: rank_by("rank-then-aggregate", v, "higher"), args.repeat)
        t_loop = _timed(lambda: _loop_rank_then_mean(v), args.repeat)
        print(f"{'':>14} rank-then-aggregate vectorised vs per-case loop: "
              f"{t_loop / t_fast:.1f}x faster (same ranks)")


if __name__ == "__main__":
    main()

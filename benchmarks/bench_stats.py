"""Speed of suite.stats Bland-Altman and ICC against statsmodels building blocks.

Plain script: prints timings and ratios (statsmodels time / our time; > 1 means we are faster),
asserts nothing. Run: ``.venv/bin/python benchmarks/bench_stats.py``.

* Bland-Altman, n = 10,000 pairs: ``bland_altman`` (approximate and exact CIs) against
  statsmodels ``DescrStatsW`` (bias and its t CI) + ``OLS`` (proportional bias) + numpy SD.
* ICC: ``icc`` (long format, all six forms with CIs) against the mean squares from
  ``statsmodels.stats.anova.anova_lm`` on ``score ~ C(target) + C(rater)`` and
  ``score ~ C(target)``. The OLS route builds a dense dummy design (N × (n + k)), so at
  n = 10,000 targets × 3 raters it needs ~2.4 GB; it is compared at n = 500 (about 5 s there) and our function
  alone is also timed at n = 10,000.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd


def best_of(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    import statsmodels.api as sm
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm
    from statsmodels.stats.weightstats import DescrStatsW

    from suite.stats import bland_altman, icc

    rng = np.random.default_rng(0)
    n = 10_000
    ref = rng.normal(60, 10, n)
    test = ref + 1 + rng.normal(0, 3, n)

    def sm_ba():
        d = test - ref
        ds = DescrStatsW(d)
        ds.tconfint_mean()
        np.std(d, ddof=1)
        sm.OLS(d, sm.add_constant((test + ref) / 2)).fit().conf_int()

    t_sm = best_of(sm_ba)
    for method in ("approximate", "exact"):
        t_ours = best_of(lambda: bland_altman(test, ref, ci_method=method))
        print(f"bland_altman n={n} ci_method={method:<12} ours {t_ours * 1e3:8.2f} ms  "
              f"statsmodels pieces {t_sm * 1e3:8.2f} ms  ratio {t_sm / t_ours:6.2f}")

    k = 3
    for n_t in (500,):
        y = rng.normal(0, 1, (n_t, 1)) + rng.normal(0, 0.3, (1, k)) + rng.normal(0, 0.5, (n_t, k))
        df = pd.DataFrame({"target": np.repeat(np.arange(n_t), k),
                           "rater": np.tile(np.arange(k), n_t), "score": y.ravel()})

        def sm_icc():
            anova_lm(smf.ols("score ~ C(target) + C(rater)", data=df).fit())
            anova_lm(smf.ols("score ~ C(target)", data=df).fit())

        t_sm = best_of(sm_icc, repeat=1)
        t_ours = best_of(lambda: icc("target", "rater", "score", data=df))
        print(f"icc {n_t} targets x {k} raters  ours {t_ours * 1e3:8.2f} ms  "
              f"statsmodels anova_lm mean squares {t_sm * 1e3:8.2f} ms  ratio {t_sm / t_ours:6.2f}")
    n_t = 10_000
    y = rng.normal(0, 1, (n_t, 1)) + rng.normal(0, 0.5, (n_t, k))
    df = pd.DataFrame({"target": np.repeat(np.arange(n_t), k),
                       "rater": np.tile(np.arange(k), n_t), "score": y.ravel()})
    t_ours = best_of(lambda: icc("target", "rater", "score", data=df))
    print(f"icc {n_t} targets x {k} raters  ours {t_ours * 1e3:8.2f} ms  "
          "(statsmodels OLS route not run: dense design of ~2.4 GB)")


if __name__ == "__main__":
    main()

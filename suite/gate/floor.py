"""``floor`` criteria: the candidate's statistic against an absolute bound.

The candidate's statistic (mean or median over subjects of the subject means, see
:mod:`suite.gate.scores`) against an absolute ``min``/``max``; ``use: bound`` requires the
one-sided ``1 − α`` subject-bootstrap bound (lower for ``min``, upper for ``max``) to meet it
instead of the point estimate. For "closer is better" metrics the statistic is of the absolute
error ``|value − reference|``. A criterion with both ``min`` and ``max`` gives two verdicts.

The bound comes from :func:`suite.stats.bootstrap_ci` (percentile) on the subject means.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from suite.gate.criteria import Criterion, GateSettings
from suite.gate.scores import case_scores, subject_statistic
from suite.gate.verdict import Verdict, format_value, verdict_name

__all__ = ["evaluate_floor"]


def evaluate_floor(crit: Criterion, stratum: dict, c_rows: pd.DataFrame, direction: str,
                   settings: GateSettings) -> list[Verdict]:
    """Verdicts of one ``floor`` criterion in one stratum (one per bound, ``min`` first).

    Parameters
    ----------
    crit : Criterion
        ``kind == "floor"``; ``params`` holds ``min`` and/or ``max``, ``statistic``
        ("mean"/"median") and ``use`` ("estimate"/"bound").
    stratum : dict
        Column → value of the stratum (empty for all cases).
    c_rows : DataFrame
        The candidate's rows of this stratum, one per case (indexed by ``case_id``), with
        ``value``, ``reference_value``, ``subject`` and ``unit``.
    direction : {"higher", "lower", "closer"}
    settings : GateSettings
        ``alpha``, ``n_resamples`` and ``seed`` of the subject bootstrap.

    Returns
    -------
    list of Verdict
        ``estimate`` = the statistic over subjects; ``ci`` = its one-sided ``1 − alpha``
        subject-bootstrap interval (NaN with fewer than 2 subjects); a verdict with no
        defined candidate value fails.
    """
    p, a = crit.params, settings.alpha
    vals = case_scores(c_rows, direction)
    ok = vals.notna()
    n_nan = int((~ok).sum())
    vals, subj = vals[ok], c_rows.loc[ok, "subject"]
    unit = str(c_rows["unit"].iloc[0]) if len(c_rows) else ""
    quantity = (f"{p['statistic']} over subjects"
                + (" of |value − reference|" if direction == "closer" else ""))
    common = dict(criterion=crit.name, kind="floor", metric=crit.metric, quantity=quantity,
                  stratum=stratum, unit=unit, direction=direction, alpha=a, p_value=None)
    out = []
    for b in ("min", "max"):
        if b not in p:
            continue
        limit, comparison = p[b], (">=" if b == "min" else "<=")
        name = verdict_name(crit.name, stratum, b if "min" in p and "max" in p else "")
        if not len(vals):
            out.append(Verdict(**common, name=name, estimate=math.nan, ci=(math.nan, math.nan),
                               limit=limit, comparison=comparison, passed=False, method="none",
                               n_cases=0, n_subjects=0,
                               message=f"no candidate values ({n_nan} undefined)"))
            continue
        est, per = subject_statistic(vals, subj, p["statistic"])
        lo = hi = math.nan
        if per.size >= 2 and np.ptp(per) > 0:
            from suite.stats import bootstrap_ci

            fn = np.mean if p["statistic"] == "mean" else np.median
            r = bootstrap_ci(per, fn, seed=settings.seed, n_resamples=settings.n_resamples,
                             alpha=2 * a)
            lo, hi = r.ci
        elif per.size >= 2:
            lo = hi = est
        ci = (lo, math.inf) if b == "min" else (-math.inf, hi)
        value = est if p["use"] == "estimate" else (lo if b == "min" else hi)
        passed = bool(not math.isnan(value) and (value >= limit if b == "min" else value <= limit))
        what = "estimate" if p["use"] == "estimate" else "one-sided confidence bound"
        msg = (f"{what} {format_value(value)} {comparison} {format_value(limit)}" if passed else
               f"{what} {format_value(value)} does not meet {comparison} {format_value(limit)}")
        if n_nan:
            msg += f"; {n_nan} undefined candidate value(s) excluded"
        if p["use"] == "bound" and math.isnan(value):
            msg = "fewer than 2 subjects: no confidence bound"
        out.append(Verdict(**common, name=name, estimate=est, ci=ci, limit=limit,
                           comparison=comparison, passed=passed,
                           method=f"subject bootstrap ({settings.n_resamples})",
                           n_cases=int(len(vals)), n_subjects=int(per.size), message=msg))
    return out

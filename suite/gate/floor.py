"""``floor`` criteria: the candidate's statistic against an absolute bound.

The candidate's statistic (mean or median over subjects of the subject means, see
:mod:`suite.gate.scores`; rows with an exclusion are undefined, counted by reason in the
verdict's message, never averaged) against an absolute ``min``/``max``; ``use: bound`` requires the
one-sided ``1 − α`` subject-bootstrap bound (lower for ``min``, upper for ``max``) to meet it
instead of the point estimate. For "closer is better" metrics the statistic is of the absolute
error ``|value − reference|``. A criterion with both ``min`` and ``max`` gives two verdicts.

The bound comes from :func:`suite.stats.bootstrap_ci` (percentile) on the subject means.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from suite.protocol.gate_criteria import Criterion, GateSettings
from suite.gate.scores import case_exclusions, case_scores, excluded_text, subject_statistic
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
        subject-bootstrap interval (NaN with fewer than 2 subjects); ``n_cases`` counts the
        defined values; a verdict with no defined candidate value fails. The message says how
        many values were undefined for the gate and why (e.g. "2 sentinel").
    """
    p, a = crit.params, settings.alpha
    agg = subject_statistic(case_scores(c_rows, direction), c_rows["subject"], p["statistic"],
                            exclusions=case_exclusions(c_rows, direction))
    unit = str(c_rows["unit"].iloc[0]) if len(c_rows) else ""
    quantity = (f"{p['statistic']} over subjects"
                + (" of |value − reference|" if direction == "closer" else ""))
    common = dict(criterion=crit.name, kind="floor", metric=crit.metric, quantity=quantity,
                  stratum=stratum, unit=unit, direction=direction, alpha=a, p_value=None)
    excluded = (f"{agg.n_excluded} candidate value(s) undefined for the gate and excluded "
                f"({excluded_text(agg.excluded_by)})" if agg.n_excluded else "")
    out = []
    for b in ("min", "max"):
        if b not in p:
            continue
        limit, comparison = p[b], (">=" if b == "min" else "<=")
        name = verdict_name(crit.name, stratum, b if "min" in p and "max" in p else "")
        if not agg.n_subjects:
            out.append(Verdict(**common, name=name, estimate=math.nan, ci=(math.nan, math.nan),
                               limit=limit, comparison=comparison, passed=False, method="none",
                               n_cases=0, n_subjects=0,
                               message="no candidate values" + (f": {excluded}" if excluded
                                                                else "")))
            continue
        est, per = agg.value, agg.values()
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
        if excluded:
            msg += f"; {excluded}"
        if p["use"] == "bound" and math.isnan(value):
            msg = "fewer than 2 subjects: no confidence bound"
        out.append(Verdict(**common, name=name, estimate=est, ci=ci, limit=limit,
                           comparison=comparison, passed=passed,
                           method=f"subject bootstrap ({settings.n_resamples})",
                           n_cases=agg.n_values, n_subjects=agg.n_subjects, message=msg))
    return out

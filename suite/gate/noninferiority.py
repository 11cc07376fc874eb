"""``noninferiority`` criteria: paired per-case differences candidate − baseline against a margin.

Paired per-case differences candidate − baseline of the case scores (:mod:`suite.gate.scores`;
"closer is better" metrics are scored by ``|value − reference|``), oriented so that a positive
gain is better; the criterion passes when the one-sided ``1 − α`` bound of the mean (or, with
``method: wilcoxon``, the pseudo-median) gain exceeds ``−margin``. See
:mod:`suite.gate.inference` for the bounds (subject bootstrap, t on subject means, Wilcoxon).
``relative_margin`` is a fraction of |mean over subjects of the baseline| (over the paired
cases, :func:`suite.gate.scores.subject_statistic`).

A row with an ``exclusion`` (missing value, a profile's sentinel, an implausible value) is
undefined, never a number (:mod:`suite.gate.scores`): a case whose baseline value is undefined
is left out of the pairs and counted in the message; a candidate value undefined where the
baseline's is defined makes the criterion not evaluable (a failed verdict naming the cases and
the reasons), so a method cannot pass by producing no value.
"""

from __future__ import annotations

import math

import pandas as pd

from suite.protocol.gate_criteria import Criterion, GateSettings
from suite.gate.inference import bootstrap_lower_bound, t_lower_bound, wilcoxon_lower_bound
from suite.gate.runs import GateNotComparable
from suite.gate.scores import (
    case_exclusions, case_scores, excluded_text, exclusion_counts, subject_statistic,
)
from suite.gate.verdict import Verdict, format_unit, format_value, verdict_name

__all__ = ["evaluate_noninferiority"]


def evaluate_noninferiority(crit: Criterion, stratum: dict, c_rows: pd.DataFrame,
                            b_rows: pd.DataFrame, direction: str,
                            settings: GateSettings) -> list[Verdict]:
    """The verdict of one ``noninferiority`` criterion in one stratum.

    Parameters
    ----------
    crit : Criterion
        ``kind == "noninferiority"``; ``params`` holds ``margin`` or ``relative_margin`` and
        ``method`` ("bootstrap", "t" or "wilcoxon").
    stratum : dict
        Column → value of the stratum (empty for all cases).
    c_rows, b_rows : DataFrame
        Candidate and baseline rows of this stratum, one per case (indexed by ``case_id``),
        with ``value``, ``reference_value``, ``subject`` and ``unit``.
    direction : {"higher", "lower", "closer"}
    settings : GateSettings
        ``alpha``, and ``n_resamples`` and ``seed`` for the bootstrap.

    Returns
    -------
    list of one Verdict
        ``estimate`` in the metric's own orientation (candidate − baseline); ``limit`` is
        ``−margin`` (higher is better) or ``+margin``. Not evaluable (the candidate undefined
        where the baseline is defined, no paired case, or the bound's own refusal) gives a
        failed verdict with NaN estimate.

    Raises
    ------
    GateNotComparable
        A case present in one run's rows and not in the other's.
    """
    p, a = crit.params, settings.alpha
    cand, c_excl = case_scores(c_rows, direction), case_exclusions(c_rows, direction)
    base, b_excl = case_scores(b_rows, direction), case_exclusions(b_rows, direction)
    missing_c = sorted(set(base.index) - set(cand.index))
    missing_b = sorted(set(cand.index) - set(base.index))
    if missing_c or missing_b:
        reasons = []
        for who, miss in (("candidate", missing_c), ("baseline", missing_b)):
            if miss:
                reasons.append(f"criterion {crit.name!r}: the {who} has no {crit.metric} row for "
                               f"{len(miss)} case(s) the other run has ({', '.join(miss[:10])}"
                               f"{' …' if len(miss) > 10 else ''}); a job failed or the methods "
                               "differ (see --candidate-method/--baseline-method)")
        raise GateNotComparable(reasons)
    idx = sorted(base.index)
    cand, base, c_excl, b_excl = cand.loc[idx], base.loc[idx], c_excl.loc[idx], b_excl.loc[idx]
    subj = b_rows.loc[idx, "subject"]
    undefined_c = c_excl.notna() & b_excl.isna()
    both = c_excl.isna() & b_excl.isna()
    unpaired = b_excl.notna()  # no defined baseline value: not a pair
    unit = str(b_rows["unit"].iloc[0]) if len(b_rows) else ""
    better = "lower" if direction in ("lower", "closer") else "higher"
    base_mean = subject_statistic(base[both], subj[both]).value
    margin = p["margin"] if "margin" in p else p["relative_margin"] * abs(base_mean)
    d = (cand - base)[both].to_numpy(float)
    gain = d if better == "higher" else -d
    quantity = ("mean difference candidate − baseline" if p["method"] != "wilcoxon"
                else "pseudo-median difference candidate − baseline")
    if direction == "closer":
        quantity += " of |value − reference|"
    comparison, limit = (">", -margin) if better == "higher" else ("<", margin)
    common = dict(name=verdict_name(crit.name, stratum), criterion=crit.name,
                  kind="noninferiority", metric=crit.metric, quantity=quantity, stratum=stratum,
                  limit=limit, comparison=comparison, unit=unit, direction=direction, alpha=a)
    try:
        if undefined_c.any():
            why = excluded_text(exclusion_counts(c_excl[undefined_c]))
            raise ValueError(f"the candidate's {crit.metric} is undefined ({why}) for "
                             f"{int(undefined_c.sum())} case(s) where the baseline's is defined: "
                             f"{', '.join(list(undefined_c[undefined_c].index)[:10])}")
        fn = {"bootstrap": bootstrap_lower_bound, "t": t_lower_bound,
              "wilcoxon": wilcoxon_lower_bound}[p["method"]]
        kw = dict(n_resamples=settings.n_resamples, seed=settings.seed) \
            if p["method"] == "bootstrap" else {}
        if gain.size == 0:
            raise ValueError("no case has a defined value in both runs")
        r = fn(gain, subj[both].to_numpy(), null=-margin, alpha=a, **kw)
    except ValueError as exc:
        return [Verdict(**common, estimate=math.nan, ci=(math.nan, math.nan), passed=False,
                        method=p["method"], p_value=None, n_cases=int(both.sum()),
                        n_subjects=int(subj[both].nunique()), message=f"not evaluable: {exc}")]
    est = r.estimate if better == "higher" else -r.estimate
    ci = (r.lower, math.inf) if better == "higher" else (-math.inf, -r.lower)
    bound = ci[0] if better == "higher" else ci[1]
    passed = r.rejected
    msg = (f"one-sided bound {format_value(bound)} {comparison} {format_value(limit)}: "
           "non-inferior"
           if passed else
           f"one-sided bound {format_value(bound)} is not {comparison} {format_value(limit)}: "
           "non-inferiority not shown (candidate "
           f"{'worse' if (est < 0) == (better == 'higher') else 'better'}"
           f" by {format_value(abs(est))}{format_unit(unit)} on average; margin "
           f"{format_value(margin)})")
    if "relative_margin" in p:
        msg += (f" [margin = {p['relative_margin']:g} × |baseline mean "
                f"{format_value(base_mean)}|]")
    if unpaired.any():
        msg += (f"; {int(unpaired.sum())} case(s) without a defined baseline value left out of "
                f"the pairs ({excluded_text(exclusion_counts(b_excl[unpaired]))})")
    return [Verdict(**common, estimate=est, ci=ci, passed=passed, method=r.method,
                    p_value=r.p_value, n_cases=r.n_cases, n_subjects=r.n_subjects, message=msg)]

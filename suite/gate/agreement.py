"""``agreement`` criteria: Bland–Altman limits of the candidate's clinical parameter.

Bland–Altman of the candidate's clinical parameter against its reference (d = test −
reference, SD ddof = 1, half-width 1.96·SD): ``max_loa_half_width``, ``max_abs_bias`` and
``max_half_width_increase`` (candidate − baseline half-width). Bounds: the half-width's
one-sided upper bound from the χ² interval of an SD, SD·√((n − 1)/χ²_{α, n−1})
(``ci: chi2``, normal differences) or a subject-clustered bootstrap (``ci: bootstrap``);
|bias| upper bound max(|b ± t_{1−α, n−1}·SD/√n|). Each limit gives one verdict.

Rows with an ``exclusion`` (missing value, implausible clinical value, ...) or without a
reference are left out and counted by reason in the verdict's message
(:mod:`suite.gate.scores`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from suite.protocol.gate_criteria import Criterion, GateCriteriaError, GateSettings
from suite.gate.scores import case_exclusions, excluded_text, exclusion_counts
from suite.gate.verdict import Verdict, format_unit, format_value, verdict_name

__all__ = ["evaluate_agreement"]


def _half_width_bounds(d: np.ndarray, subj: np.ndarray, how: str, alpha: float, settings):
    n = d.size
    sd = float(np.std(d, ddof=1))
    if how == "chi2":
        lo = sd * math.sqrt((n - 1) / stats.chi2.ppf(1 - alpha, n - 1))
        hi = sd * math.sqrt((n - 1) / stats.chi2.ppf(alpha, n - 1))
        return 1.96 * lo, 1.96 * hi
    from suite.stats import bootstrap_ci

    df = pd.DataFrame({"subject": subj, "d": d})
    r = bootstrap_ci(df, lambda x: 1.96 * float(np.std(x["d"].to_numpy(), ddof=1)),
                     seed=settings.seed, cluster="subject", n_resamples=settings.n_resamples,
                     alpha=2 * alpha)
    return r.ci


def _bland_altman(rows: pd.DataFrame):
    """``(result, d, subjects, excluded)`` of the rows with a defined value and a reference
    (:func:`suite.gate.scores.case_exclusions`); ``excluded`` says how many rows were left out
    and why ("" when none)."""
    from suite.stats import bland_altman

    excl = case_exclusions(rows, "closer")
    ok = excl.isna()
    r = rows[ok]
    why = exclusion_counts(excl)
    excluded = (f"{int((~ok).sum())} case(s) undefined for the gate and excluded "
                f"({excluded_text(why)})" if why else "")
    if len(r) < 3:
        raise ValueError(f"{len(r)} case(s) with a value and a reference; at least 3 needed"
                         + (f" ({excluded})" if excluded else ""))
    res = bland_altman(r["value"].to_numpy(float), r["reference_value"].to_numpy(float))
    d = (r["value"] - r["reference_value"]).to_numpy(float)
    return res, d, r["subject"].to_numpy(), excluded


def evaluate_agreement(crit: Criterion, stratum: dict, c_rows: pd.DataFrame,
                       b_rows: pd.DataFrame, direction: str,
                       settings: GateSettings) -> list[Verdict]:
    """Verdicts of one ``agreement`` criterion in one stratum, one per ``max_*`` limit.

    Parameters
    ----------
    crit : Criterion
        ``kind == "agreement"``; ``params`` holds any of ``max_loa_half_width``,
        ``max_abs_bias``, ``max_half_width_increase``, and ``use`` ("estimate"/"bound") and
        ``ci`` ("chi2"/"bootstrap").
    stratum : dict
        Column → value of the stratum (empty for all cases).
    c_rows, b_rows : DataFrame
        Candidate and baseline rows of this stratum, one per case (indexed by ``case_id``),
        with ``value``, ``reference_value``, ``subject`` and ``unit``; the baseline is used
        only by ``max_half_width_increase``.
    direction : str
        The metric's direction; must be "closer" (a clinical parameter with a reference).
    settings : GateSettings
        ``alpha``, and ``n_resamples`` and ``seed`` for the bootstrap bound.

    Returns
    -------
    list of Verdict
        In the order LoA half-width, |bias|, half-width increase; with fewer than 3 candidate
        cases having a value and a reference, one failed "not evaluable" verdict per limit.

    Raises
    ------
    GateCriteriaError
        ``direction`` is not "closer".
    """
    if direction != "closer":
        raise GateCriteriaError(
            "criteria", crit.name, f"agreement needs a clinical parameter with a "
            f"reference value ('closer is better'); {crit.metric!r} is "
            f"{direction}-is-better")
    p, a = crit.params, settings.alpha
    unit = str(c_rows["unit"].iloc[0]) if len(c_rows) else ""
    common = dict(criterion=crit.name, kind="agreement", metric=crit.metric, stratum=stratum,
                  comparison="<=", p_value=None, unit=unit, direction="closer", alpha=a)
    out = []
    try:
        res, d, subj, excluded = _bland_altman(c_rows)
    except ValueError as exc:
        for lim in [k for k in p if k.startswith("max_")]:
            out.append(Verdict(**common, name=verdict_name(crit.name, stratum, lim),
                               quantity=lim, estimate=math.nan, ci=(math.nan, math.nan),
                               limit=p[lim], passed=False, method="Bland-Altman",
                               n_cases=len(c_rows), n_subjects=int(c_rows["subject"].nunique()),
                               message=f"not evaluable: {exc}"))
        return out
    common |= dict(n_cases=int(d.size), n_subjects=int(pd.Series(subj).nunique()))
    hw = 1.96 * res.sd
    extra = f"; {excluded}" if excluded else ""
    what = "estimate" if p["use"] == "estimate" else "upper bound"
    if "max_loa_half_width" in p:
        lo, hi = _half_width_bounds(d, subj, p["ci"], a, settings)
        value = hw if p["use"] == "estimate" else hi
        lim = p["max_loa_half_width"]
        ok = bool(value <= lim)
        out.append(Verdict(
            **common, name=verdict_name(crit.name, stratum, "LoA half-width"),
            quantity="LoA half-width 1.96·SD (test − reference)", estimate=hw,
            ci=(-math.inf, float(hi)), limit=lim, passed=ok,
            method=f"Bland-Altman, {p['ci']} bound",
            message=f"{what} {format_value(value)} {'<=' if ok else '>'} {format_value(lim)}"
                    f"{format_unit(unit)} (bias {format_value(res.bias)}, LoA "
                    f"[{format_value(res.loa_lower)}, {format_value(res.loa_upper)}]){extra}"))
    if "max_abs_bias" in p:
        n = int(d.size)
        half = float(stats.t.ppf(1 - a, n - 1)) * res.sd / math.sqrt(n)
        ub = max(abs(res.bias - half), abs(res.bias + half))
        value = abs(res.bias) if p["use"] == "estimate" else ub
        lim = p["max_abs_bias"]
        ok = bool(value <= lim)
        out.append(Verdict(
            **common, name=verdict_name(crit.name, stratum, "|bias|"),
            quantity="|bias| (test − reference)", estimate=abs(res.bias), ci=(-math.inf, ub),
            limit=lim, passed=ok, method="Bland-Altman, t bound",
            message=f"bias {format_value(res.bias)}{format_unit(unit)}; {what} of |bias| "
                    f"{format_value(value)} {'<=' if ok else '>'} {format_value(lim)}{extra}"))
    if "max_half_width_increase" in p:
        lim = p["max_half_width_increase"]
        try:
            bres, *_ = _bland_altman(b_rows)
            inc = hw - 1.96 * bres.sd
            ok = bool(inc <= lim)
            msg = (f"candidate half-width {format_value(hw)} − baseline "
                   f"{format_value(1.96 * bres.sd)} = {format_value(inc)} "
                   f"{'<=' if ok else '>'} {format_value(lim)}{format_unit(unit)} "
                   "(point estimates)")
        except ValueError as exc:
            inc, ok, msg = math.nan, False, f"baseline not evaluable: {exc}"
        out.append(Verdict(
            **common, name=verdict_name(crit.name, stratum, "half-width increase"),
            quantity="LoA half-width increase candidate − baseline", estimate=inc,
            ci=(math.nan, math.nan), limit=lim, passed=ok,
            method="Bland-Altman point estimates", message=msg))
    return out

"""Domain shift: a metric per stratum, its gap to the in-distribution stratum, and a test.

A *stratum* is a level of one column of the run's results: an acquisition condition (SNR,
acceleration, sampling pattern), a dataset, a vendor or field strength, a site, a pathology or
a phantom preset. :func:`stratum_analysis` reports, per stratum, the mean metric with a
subject-clustered bootstrap CI, the gap to the reference (in-distribution) stratum with a CI,
and a one-sided test of *degradation* (the stratum is worse than the reference in the metric's
direction), Holm-adjusted across the non-reference strata. :func:`strata_frame` builds its input
from a run's ``results`` and ``cases`` tables (and the dataset cards' strata fields).

Design choices (also printed as notes by :meth:`ShiftResult.summary`):

* Unit of analysis: the subject. Readings from one subject are correlated, so the mean of a
  stratum is the mean over subjects of each subject's mean reading
  (:func:`suite.metrics.reduce.reduce_subjects`; with one reading per subject, the mean of the
  readings), CIs resample subjects (:func:`suite.stats.bootstrap_ci` on the subject means) and
  tests use subject-level means or a random intercept per subject.
* Excluded rows: a row whose ``exclusion`` is set (a missing value, a sentinel of its profile
  such as the M&Ms −1, an implausible value; :mod:`suite.metrics.contract`), a non-finite
  value or a row without a stratum never enters a mean; the rows are counted by reason per
  stratum (``n_excluded``, ``excluded``) and overall (:attr:`ShiftResult.excluded_by`).
* Paired design (the strata share subjects: conditions such as SNR levels or accelerations
  applied to the same cases): per shared subject the difference of its mean in the stratum and
  in the reference; one-sided paired t-test on these differences (``paired_test="t"``, default)
  or Wilcoxon signed-rank (``"wilcoxon"``, exact for small n without ties, scipy's default);
  the other test's p value is reported beside it as a sensitivity check. Subjects present in
  only one of the two strata are left out of the paired gap and test (counted).
* Unpaired design (disjoint subjects, e.g. vendors or sites): with repeated cases per subject,
  a linear mixed model ``value ~ stratum`` with a random intercept per subject (statsmodels
  MixedLM, REML; one-sided Wald z test of the stratum coefficient); with one case per subject,
  Welch's t-test on subject means. If the mixed model fails to converge the Welch test is used
  and the note says so.
* Gap = stratum mean − reference mean (test − reference), both subject-level. Paired: the mean
  over the shared subjects of their subject-mean differences, with a bootstrap CI resampling
  the shared subjects; unpaired: the difference of the two strata's subject-level means, with
  the difference of independent per-stratum subject bootstraps as CI (a stratified bootstrap).
* A stratum with one subject has no CI and no test (reported as such, never dropped).

References
----------
Holm S. A simple sequentially rejective multiple test procedure. Scand J Stat 1979;6:65-70.
Field CA, Welsh AH. Bootstrapping clustered data. J R Stat Soc B 2007;69:369-390.
Laird NM, Ware JH. Random-effects models for longitudinal data. Biometrics 1982;38:963-974.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np

from suite._serialise import jsonable
from suite._table import SummaryTable, fmt, fmt_interval
from suite._validation import check_alpha, check_option
from suite.case import STRATA_COLUMNS
from suite.metrics.reduce import reduce_subjects
from suite.stats.multiplicity import holm

__all__ = ["stratum_analysis", "ShiftResult", "strata_frame", "shift_analyses",
           "STRATUM_COLUMNS", "PAIRED_TESTS"]

#: Columns of a run a stratum can come from (results + cases tables).
STRATUM_COLUMNS = ("condition", "dataset", *STRATA_COLUMNS)
PAIRED_TESTS = ("t", "wilcoxon")
_DIRECTIONS = ("higher", "lower")
_TABLE_COLUMNS = ("stratum", "reference", "n_cases", "n_subjects", "n_excluded", "excluded",
                  "mean", "mean_ci_low",
                  "mean_ci_high", "gap", "gap_ci_low", "gap_ci_high", "n_pairs", "design",
                  "test", "statistic", "p_value", "p_holm", "significant", "test_alt",
                  "p_value_alt", "note")


@dataclass(frozen=True)
class ShiftResult:
    """Per-stratum analysis of one metric (see the module docstring for the methods).

    Attributes
    ----------
    metric : str
        Name of the analysed metric (``metric_col``, or the ``metric`` value of the rows).
    stratum_col, reference : str
        The stratum column and its reference (in-distribution) level.
    direction : str
        ``"higher"`` (higher is better) or ``"lower"``; degradation is a move the other way.
    alpha : float
        Two-sided level of the CIs, one-sided level of the tests.
    rows : tuple of dict
        One row per stratum, reference first, with the keys of :attr:`table`.
    n_excluded : int
        Rows left out, never averaged: a row with an ``exclusion`` (missing value, a profile's
        sentinel, an implausible value; :mod:`suite.metrics.contract`), a non-finite metric
        (NaN/None, ±inf) or no stratum.
    n_resamples : int
    seed : str
    paired_test : str
    notes : tuple of str
    excluded_by : tuple of (reason, count)
        ``n_excluded`` by reason (``missing``, ``sentinel``, ``implausible``, ``non-finite``,
        ``no stratum``), sorted by reason.
    """

    metric: str
    stratum_col: str
    reference: str
    direction: str
    alpha: float
    rows: tuple[dict, ...]
    n_excluded: int
    n_resamples: int
    seed: str
    paired_test: str
    notes: tuple[str, ...] = field(default=())
    excluded_by: tuple = field(default=())

    @property
    def table(self):
        """The rows as a pandas DataFrame (columns in a fixed order)."""
        import pandas as pd

        return pd.DataFrame(list(self.rows), columns=list(_TABLE_COLUMNS))

    def row(self, stratum) -> dict:
        """The row of one stratum (by its label)."""
        for r in self.rows:
            if r["stratum"] == str(stratum):
                return r
        raise KeyError(f"ShiftResult: no stratum {stratum!r}; have "
                       f"{[r['stratum'] for r in self.rows]}")

    @property
    def significant_strata(self) -> tuple[str, ...]:
        """Strata whose degradation is significant after Holm adjustment."""
        return tuple(r["stratum"] for r in self.rows if r["significant"])

    def to_dict(self) -> dict:
        """JSON-safe dict at full precision, with the choices made."""
        return jsonable({"metric": self.metric, "stratum_col": self.stratum_col,
                         "reference": self.reference, "direction": self.direction,
                         "alpha": self.alpha, "n_excluded": self.n_excluded,
                         "excluded_by": dict(self.excluded_by),
                         "n_resamples": self.n_resamples, "seed": self.seed,
                         "paired_test": self.paired_test, "ci_method":
                         "percentile bootstrap resampling subjects", "mean":
                         "mean over subjects of each subject's mean reading", "gap":
                         "stratum − reference", "multiplicity": "Holm across strata",
                         "rows": list(self.rows), "notes": list(self.notes)})

    def summary(self, format: str = "text") -> str:
        """Per-stratum table with the methods as numbered notes."""
        pct = f"{100 * (1 - self.alpha):g} % CI"
        rows = []
        for r in self.rows:
            is_ref = r["stratum"] == self.reference
            rows.append((
                r["stratum"] + (" (reference)" if is_ref else ""), str(r["n_cases"]),
                str(r["n_subjects"]), r["excluded"] or "0", fmt(r["mean"]),
                fmt_interval((r["mean_ci_low"], r["mean_ci_high"])),
                "" if is_ref else fmt(r["gap"]),
                "" if is_ref else fmt_interval((r["gap_ci_low"], r["gap_ci_high"])),
                "" if is_ref else r["test"],
                "" if is_ref else fmt(r["p_value"]), "" if is_ref else fmt(r["p_holm"]),
                "" if is_ref else ("yes" if r["significant"] else "no"),
                r["note"]))
        header = ("stratum", "cases", "subjects", "excluded", "mean", f"mean {pct}", "gap",
                  f"gap {pct}",
                  "test", "p (one-sided)", "p Holm", "degraded", "note")
        title = (f"Domain shift of {self.metric} by {self.stratum_col} "
                 f"({self.direction} is better; reference {self.reference})")
        return SummaryTable(title, header, tuple(rows), self.notes).render(format)


# ====================================================================== analysis
def _match_level(levels: list, reference, where: str):
    for lv in levels:
        if lv == reference or str(lv) == str(reference):
            return lv
        try:
            if float(lv) == float(reference):
                return lv
        except (TypeError, ValueError):
            pass
    raise ValueError(f"{where}: reference {reference!r} is not a level of the stratum column; "
                     f"levels are {[str(v) for v in levels]}")


def _one_sided_from_t(stat: float, p_two: float, alternative: str) -> float:
    """One-sided p from a symmetric two-sided test statistic."""
    if alternative == "less":
        return p_two / 2 if stat < 0 else 1 - p_two / 2
    return p_two / 2 if stat > 0 else 1 - p_two / 2


def stratum_analysis(df, *, metric_col: str = "value", stratum_col: str, reference,
                     subject_col: str = "subject", paired: bool | None = None,
                     n_resamples: int = 1000, alpha: float = 0.05, seed=0,
                     direction: str = "higher", paired_test: str = "t",
                     metric_name: str | None = None) -> ShiftResult:
    """Metric per stratum with CI, gap to the reference stratum, Holm-adjusted degradation test.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per reading (case, or case × slice): ``metric_col``, ``stratum_col`` and
        ``subject_col``, and optionally ``exclusion`` (a run's results column: rows where it
        is set are excluded and counted). Analyse one method and one metric at a time (e.g.
        filter a run's results with :func:`strata_frame`).
    metric_col : str, default "value"
    stratum_col : str
        Column holding the strata (any hashable levels; labels are their ``str``).
    reference : scalar
        The in-distribution level of ``stratum_col`` (numbers match numerically, so 1.5 and
        "1.5" name the same field strength).
    subject_col : str, default "subject"
        Cluster of each row (resampling unit and pairing key).
    paired : bool or None
        ``None`` (default): paired for a stratum when it shares at least 2 subjects with the
        reference and the shared subjects are at least half of the smaller of the two
        strata's subjects; ``True``/``False`` force the design (``True`` needs ≥ 2 shared
        subjects for a test).
    n_resamples : int, default 1000
        Bootstrap resamples (≥ 100).
    alpha : float, default 0.05
        CIs at 1 − alpha (two-sided); tests one-sided at alpha after Holm adjustment.
    seed : int, SeedSequence or Generator
        Bootstrap randomness; each stratum gets its own stream spawned from it.
    direction : {"higher", "lower"}
        Which way is better for the metric (e.g. SSIM/Dice "higher", NMSE/HD95 "lower"). The
        test's alternative is "stratum worse than reference".
    paired_test : {"t", "wilcoxon"}
        Primary paired test; the other one is reported as ``test_alt``/``p_value_alt``.
    metric_name : str, optional
        Label for reports (default: the single value of a ``metric`` column, else
        ``metric_col``).

    Returns
    -------
    ShiftResult
        ``table`` columns: stratum, reference, n_cases (usable readings), n_subjects,
        n_excluded and excluded (the stratum's rows left out, by reason), mean (over subjects
        of the subject means), mean_ci_low/high, gap, gap_ci_low/high, n_pairs, design
        (``paired``/``unpaired``/``reference``), test, statistic, p_value (one-sided,
        unadjusted), p_holm, significant (p_holm < alpha), test_alt, p_value_alt, note.

    Raises
    ------
    ValueError
        Missing columns, unknown reference level, bad options, or no usable value.

    Notes
    -----
    Paired t: ``t = mean(d) / (sd(d) / sqrt(n))`` with ``d`` the subject-level differences
    (stratum − reference), ddof = 1, n − 1 degrees of freedom (scipy ``ttest_rel`` on subject
    means). Wilcoxon signed-rank: scipy ``wilcoxon`` (zero differences dropped, "wilcox" zero
    method). Mixed model: statsmodels ``MixedLM`` with ``groups = subject``, REML, fixed effect
    of "in stratum" (0/1), one-sided normal p of its Wald z. Welch: scipy ``ttest_ind`` with
    ``equal_var=False`` on subject means.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"subject": list("abcdabcd"),
    ...                    "snr": ["high"] * 4 + ["low"] * 4,
    ...                    "value": [0.90, 0.92, 0.88, 0.91, 0.80, 0.83, 0.79, 0.84]})
    >>> res = stratum_analysis(df, stratum_col="snr", reference="high", n_resamples=200)
    >>> r = res.row("low")
    >>> r["design"], r["test"], round(r["gap"], 4), r["significant"]
    ('paired', 'paired t on subject means', -0.0875, True)
    """
    import pandas as pd

    where = "stratum_analysis"
    check_option(direction, _DIRECTIONS, name="direction", where=where)
    check_option(paired_test, PAIRED_TESTS, name="paired_test", where=where)
    alpha = check_alpha(alpha, where=where)
    if not hasattr(df, "columns"):
        raise ValueError(f"{where}: `df` must be a pandas DataFrame; got {type(df).__name__}")
    missing = [c for c in (metric_col, stratum_col, subject_col) if c not in df.columns]
    if missing:
        raise ValueError(f"{where}: `df` lacks columns {missing}; has {list(df.columns)}")
    if int(n_resamples) != n_resamples or n_resamples < 100:
        raise ValueError(f"{where}: `n_resamples` must be an integer >= 100; got {n_resamples!r}")
    values = pd.to_numeric(df[metric_col], errors="coerce").astype(float)
    rows_all = pd.DataFrame({"value": values.to_numpy(), "stratum": df[stratum_col].to_numpy(),
                             "subject": df[subject_col].astype(str).to_numpy(),
                             "exclusion": _row_exclusions(df, values, stratum_col)})
    usable = rows_all["exclusion"].isna()
    excluded_by = tuple(sorted(rows_all.loc[~usable, "exclusion"].value_counts().items()))
    n_excluded = int((~usable).sum())
    data = rows_all[usable]
    if data.empty:
        raise ValueError(f"{where}: no usable values in `{metric_col}` (finite, not excluded); "
                         f"{n_excluded} excluded ({_excluded_text(excluded_by)})")
    if metric_name is None:
        metric_name = (str(df["metric"].iloc[0]) if "metric" in df.columns
                       and df["metric"].nunique() == 1 else metric_col)
    levels = list(pd.unique(data["stratum"]))
    ref_level = _match_level(levels, reference, where)
    others = [lv for lv in levels if not lv == ref_level]
    try:
        others.sort()
    except TypeError:
        others.sort(key=str)
    ordered = [ref_level] + others
    alternative = "less" if direction == "higher" else "greater"
    if isinstance(seed, np.random.SeedSequence):
        ss = seed
    elif isinstance(seed, np.random.Generator):
        ss = np.random.SeedSequence(int(seed.integers(2**63)))
    else:
        ss = np.random.SeedSequence(seed)
    streams = ss.spawn(2 * len(ordered))  # independent streams per stratum and per gap

    # the subject-level reduction of each stratum: each subject's mean reading, then the mean
    # over subjects; excluded rows of the stratum are counted by reason, never averaged
    aggs, groups = {}, {}
    for lv in ordered:
        g_all = rows_all[(rows_all["stratum"] == lv).to_numpy()]
        aggs[lv] = reduce_subjects(g_all["value"].tolist(), g_all["subject"].tolist(),
                                   exclusions=g_all["exclusion"].tolist())
        groups[lv] = g_all[g_all["exclusion"].isna()]
    boots = {}
    rows = []
    for i, lv in enumerate(ordered):
        agg = aggs[lv]
        row = {c: None for c in _TABLE_COLUMNS}
        row.update(stratum=str(lv), reference=str(ref_level), n_cases=agg.n_values,
                   n_subjects=agg.n_subjects, n_excluded=agg.n_excluded,
                   excluded=_excluded_text(agg.excluded_by), mean=agg.value, note="")
        if agg.n_subjects >= 2:
            b = _boot_mean(agg, streams[i], n_resamples, alpha)
            boots[lv] = b
            row.update(mean_ci_low=b.ci[0], mean_ci_high=b.ci[1])
        else:
            row.update(mean_ci_low=math.nan, mean_ci_high=math.nan,
                       note="one subject: no CI, no test")
        if i == 0:
            row.update(gap=0.0, gap_ci_low=math.nan, gap_ci_high=math.nan, n_pairs=None,
                       design="reference", test="", statistic=math.nan, p_value=math.nan,
                       test_alt="", p_value_alt=math.nan)
        rows.append(row)

    ref_subj = {s for s, _ in aggs[ref_level].subject_means}
    for i, lv in enumerate(ordered[1:], start=1):
        row = rows[i]
        subj = {s for s, _ in aggs[lv].subject_means}
        shared = sorted(subj & ref_subj)
        use_paired = paired
        if use_paired is None:
            smaller = min(len(subj), len(ref_subj))
            use_paired = len(shared) >= 2 and len(shared) >= 0.5 * smaller
        if use_paired:
            _paired(row, aggs[lv], aggs[ref_level], shared, streams[len(ordered) + i],
                    n_resamples, alpha, alternative, paired_test)
        else:
            _unpaired(row, groups[lv], groups[ref_level], aggs[lv], aggs[ref_level],
                      boots.get(lv), boots.get(ref_level), alternative)
        if row["n_subjects"] < 2 and not row["note"]:
            row["note"] = "one subject: no CI"
    adj = holm([r["p_value"] for r in rows[1:]]).tolist()
    for r, p in zip(rows[1:], adj):
        r["p_holm"] = p
        r["significant"] = bool(p < alpha) if not math.isnan(p) else False
    rows[0]["p_holm"] = math.nan
    rows[0]["significant"] = False

    notes = (
        "Mean per stratum = mean over subjects of each subject's mean reading "
        f"(suite.metrics.reduce.reduce_subjects); {100 * (1 - alpha):g} % percentile "
        f"bootstrap CI resampling subjects ({n_resamples} resamples, seed {seed!r}).",
        "Gap = stratum − reference. Paired strata (shared subjects): the mean over the shared "
        "subjects of their subject-mean differences, with a bootstrap CI resampling the shared "
        "subjects; unpaired: difference of the subject-level means, CI from independent "
        "per-stratum subject bootstraps.",
        f"Tests are one-sided for degradation ({direction} is better, alternative: stratum "
        f"{'<' if alternative == 'less' else '>'} reference). Paired: "
        f"{'paired t' if paired_test == 't' else 'Wilcoxon signed-rank'} on subject-level "
        "mean differences (the other test in test_alt). Unpaired: MixedLM with a random "
        "intercept per subject when subjects have repeated readings, else Welch t on subject "
        "means.",
        f"Holm adjustment across the {len(rows) - 1} non-reference strata; degraded = "
        f"p_holm < {alpha:g}.",
    ) + ((f"{n_excluded} rows excluded, never averaged ({_excluded_text(excluded_by)}).",)
         if n_excluded else ())
    return ShiftResult(metric=metric_name, stratum_col=stratum_col, reference=str(ref_level),
                       direction=direction, alpha=alpha, rows=tuple(rows),
                       n_excluded=n_excluded, n_resamples=int(n_resamples), seed=repr(seed),
                       paired_test=paired_test, notes=notes, excluded_by=excluded_by)


def _row_exclusions(df, values, stratum_col) -> np.ndarray:
    """Why each row is left out (object array, ``None`` where usable): its stored
    ``exclusion``, else ``missing`` (NaN/None), ``non-finite`` (±inf) or ``no stratum``."""
    out = np.full(len(df), None, dtype=object)
    if "exclusion" in df.columns:
        stored = df["exclusion"].to_numpy(dtype=object)
        has = np.array([e is not None and e == e for e in stored], dtype=bool)
        out[has] = stored[has]
    v = values.to_numpy()
    for reason, hit in (("missing", np.isnan(v)), ("non-finite", np.isinf(v)),
                        ("no stratum", df[stratum_col].isna().to_numpy())):
        todo = np.array([o is None for o in out], dtype=bool) & hit
        out[todo] = reason
    return out


def _excluded_text(excluded_by) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in excluded_by)


def _boot_mean(agg, stream, n_resamples, alpha):
    """Percentile bootstrap of the mean of the subject means (resampling subjects)."""
    from suite.stats.bootstrap import bootstrap_ci

    return bootstrap_ci(agg.values(), np.mean, seed=stream, n_resamples=n_resamples,
                        alpha=alpha)


def _paired(row, agg_s, agg_r, shared, stream, n_resamples, alpha, alternative, paired_test):
    from scipy import stats

    from suite.stats.bootstrap import bootstrap_ci

    row["design"] = "paired"
    row["n_pairs"] = len(shared)
    dropped = (agg_s.n_subjects - len(shared)) + (agg_r.n_subjects - len(shared))
    note = [f"{dropped} unshared subjects left out of the paired gap/test"] if dropped else []
    if not shared:
        row.update(gap=math.nan, gap_ci_low=math.nan, gap_ci_high=math.nan, test="none",
                   statistic=math.nan, p_value=math.nan, test_alt="", p_value_alt=math.nan)
        row["note"] = "; ".join(filter(None, [row["note"], "no shared subjects"]))
        return
    ms, mr = dict(agg_s.subject_means), dict(agg_r.subject_means)
    d = np.array([ms[s] - mr[s] for s in shared], dtype=float)
    row["gap"] = reduce_subjects(d.tolist(), shared).value
    if len(shared) >= 2:
        # the gap is the mean of the subject differences: resample the shared subjects
        b = bootstrap_ci(d, np.mean, seed=stream, n_resamples=n_resamples, alpha=alpha)
        row.update(gap_ci_low=b.ci[0], gap_ci_high=b.ci[1])
        t = stats.ttest_1samp(d, 0.0, alternative=alternative)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                w = stats.wilcoxon(d, alternative=alternative)
                w_stat, w_p = float(w.statistic), float(w.pvalue)
            except ValueError:  # all differences zero
                w_stat, w_p = math.nan, math.nan
        t_res = ("paired t on subject means", float(t.statistic), float(t.pvalue))
        w_res = ("Wilcoxon signed-rank on subject means", w_stat, w_p)
        main, alt = (t_res, w_res) if paired_test == "t" else (w_res, t_res)
        row.update(test=main[0], statistic=main[1], p_value=main[2], test_alt=alt[0],
                   p_value_alt=alt[2])
    else:
        row.update(gap_ci_low=math.nan, gap_ci_high=math.nan, test="none", statistic=math.nan,
                   p_value=math.nan, test_alt="", p_value_alt=math.nan)
        note.append("fewer than 2 shared subjects: no paired CI or test")
    row["note"] = "; ".join(filter(None, [row["note"]] + note))


def _unpaired(row, g, ref, agg_s, agg_r, boot_s, boot_r, alternative):
    from scipy import stats

    row["design"] = "unpaired"
    row["n_pairs"] = None
    row["gap"] = float(agg_s.value - agg_r.value)
    if boot_s is not None and boot_r is not None:
        diff = boot_s.distribution - boot_r.distribution
        q = np.quantile(diff, [boot_s.alpha / 2, 1 - boot_s.alpha / 2])
        row.update(gap_ci_low=float(q[0]), gap_ci_high=float(q[1]))
    else:
        row.update(gap_ci_low=math.nan, gap_ci_high=math.nan)
    ms, mr = agg_s.values(), agg_r.values()
    row.update(test_alt="", p_value_alt=math.nan)
    if len(ms) < 2 or len(mr) < 2:
        row.update(test="none", statistic=math.nan, p_value=math.nan)
        if not row["note"]:
            row["note"] = "fewer than 2 subjects in a stratum: no test"
        return
    repeated = (g.groupby("subject").size().max() > 1) or (ref.groupby("subject").size().max() > 1)
    welch = stats.ttest_ind(ms, mr, equal_var=False, alternative=alternative)
    welch_res = ("Welch t on subject means", float(welch.statistic), float(welch.pvalue))
    if repeated:
        mixed = _mixed(g, ref, alternative)
        if mixed is not None:
            row.update(test="MixedLM random intercept per subject", statistic=mixed[0],
                       p_value=mixed[1], test_alt=welch_res[0], p_value_alt=welch_res[2])
            return
        row["note"] = "; ".join(filter(None, [row["note"], "MixedLM did not converge: Welch "
                                              "t on subject means"]))
    row.update(test=welch_res[0], statistic=welch_res[1], p_value=welch_res[2])


def _mixed(g, ref, alternative):
    """One-sided Wald test of the stratum effect in value ~ in_stratum + (1 | subject)."""
    import pandas as pd
    from scipy import stats
    import statsmodels.formula.api as smf

    d = pd.concat([g.assign(in_stratum=1.0), ref.assign(in_stratum=0.0)], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = smf.mixedlm("value ~ in_stratum", d, groups=d["subject"]).fit(reml=True)
        except (ValueError, np.linalg.LinAlgError):
            return None
    if not getattr(fit, "converged", True):
        return None
    z = float(fit.tvalues["in_stratum"])
    if not math.isfinite(z):
        return None
    p = float(stats.norm.cdf(z)) if alternative == "less" else float(stats.norm.sf(z))
    return z, p


# ====================================================================== strata from a run
def strata_frame(results, cases, *, metric: str, stage: str | None = None,
                 profile: str | None = None, structure: str | None = None,
                 phase: str | None = None, cards: bool = True,
                 fields: Iterable[str] = (), **methods: str):
    """One row per result of one metric, with every stratum column of its case.

    Parameters
    ----------
    results, cases : pandas.DataFrame
        A run's ``results`` and ``cases`` tables (:meth:`ResultStore.frame`).
    metric : str
        Metric name (``results.metric``).
    stage, profile, structure, phase : str, optional
        Further filters on the results columns of the same names (None: no filter).
    **methods : str
        Filters on method columns, e.g. ``recon="cg-sense"``, ``segmentation="unet"`` or the
        column of any other method stage of the run.
    cards : bool, default True
        Also add the strata fields named by each dataset's card (``datasets/<dataset>.yaml``,
        key ``strata``; e.g. ACDC ``group``) that are not already columns, read from the case's
        meta (``meta[field]``, else ``meta["strata"][field]``). Datasets without a card are
        skipped.
    fields : iterable of str
        Further meta keys to add as columns the same way, for every dataset (e.g.
        ``"vendor_code"`` for the M&Ms vendors A-D, ``"centre"``).

    Returns
    -------
    pandas.DataFrame
        The filtered results rows joined with the cases' ``vendor, field_strength_t, site,
        pathology, preset`` (and card fields); ``condition`` and ``dataset`` come from the
        results. ``usable`` says which rows enter a mean: no ``exclusion`` (not missing, no
        sentinel of the row's profile, not implausible) and a value, whatever the empty-mask
        status, so a failure scored under the ``worst`` policy (Dice 0 for an empty
        prediction) counts and the ``mnms`` −1 does not. The other rows are kept with their
        ``exclusion`` so that :func:`stratum_analysis` counts them; never average ``value``
        without ``usable``. Analyse one method at a time: when several method labels remain,
        pass ``recon=``/``segmentation=`` or group by them.

    Raises
    ------
    ValueError
        Missing columns or no usable row left after filtering (the filters are named).
    """
    where = "strata_frame"
    for name, frame, need in (("results", results, ("case_id", "metric", "value")),
                              ("cases", cases, ("case_id",))):
        miss = [c for c in need if c not in frame.columns]
        if miss:
            raise ValueError(f"{where}: `{name}` lacks columns {miss}")
    sel = results["metric"] == metric
    filters = {"metric": metric}
    for col, val in (("stage", stage), ("profile", profile), ("structure", structure),
                     ("phase", phase), *methods.items()):
        if val is not None:
            if col not in results.columns:
                raise ValueError(f"{where}: `results` has no column {col!r} to filter on")
            sel &= results[col] == val
            filters[col] = val
    out = results[sel].copy()
    out["usable"] = out["value"].notna()
    if "exclusion" in out.columns:  # missing values, sentinels, implausible values
        out["exclusion"] = out["exclusion"].astype(object).where(out["exclusion"].notna(), None)
        out["usable"] &= out["exclusion"].isna()
    if not out["usable"].any():
        raise ValueError(f"{where}: no results with {filters} (usable value); "
                         f"metrics present: {sorted(results['metric'].dropna().unique())}")
    case_cols = [c for c in STRATA_COLUMNS if c in cases.columns]
    extra = cases[["case_id"] + case_cols + (["meta"] if "meta" in cases.columns else [])]
    out = out.drop(columns=[c for c in case_cols if c in out.columns]).merge(
        extra, on="case_id", how="left")
    if "subject" not in out.columns and "subject" in cases.columns:
        out = out.merge(cases[["case_id", "subject"]], on="case_id", how="left")
    if "meta" in out.columns:
        metas = [json.loads(m) if isinstance(m, str) else (m or {}) for m in out["meta"]]
        if cards and "dataset" in out.columns:
            for ds in out["dataset"].dropna().unique():
                card_fields = _card_strata(str(ds))
                rows = (out["dataset"] == ds).to_numpy()
                for fld in card_fields:
                    _meta_column(out, metas, rows, fld)
        for fld in fields:
            _meta_column(out, metas, np.ones(len(out), bool), fld)
    return out.drop(columns=["meta"], errors="ignore").reset_index(drop=True)


def _card_strata(dataset: str) -> tuple[str, ...]:
    """The strata fields of a dataset's card; () when there is no (valid) card."""
    from suite.data.cards import load_card

    try:
        return tuple(load_card(dataset).strata)
    except (FileNotFoundError, ValueError):
        return ()


def _meta_column(out, metas, rows, fld) -> None:
    """Fill column ``fld`` on ``rows`` from ``meta[fld]`` or ``meta["strata"][fld]`` (in place)."""
    if fld in out.columns and out.loc[rows, fld].notna().all():
        return
    vals = []
    for m, r in zip(metas, rows):
        if r:
            v = m.get(fld)
            vals.append((m.get("strata") or {}).get(fld) if v is None else v)
    if fld not in out.columns:
        out[fld] = None
    current = out.loc[rows, fld]
    out.loc[rows, fld] = current.where(current.notna(), np.asarray(vals, dtype=object))


def shift_analyses(results, cases, *, strata: Iterable[str], reference: Mapping[str, Any],
                   metrics: Iterable[Mapping[str, Any]], group_by=None,
                   **options) -> list[ShiftResult]:
    """Run :func:`stratum_analysis` for every (metric selector, stratum column, method group).

    Parameters
    ----------
    results, cases : pandas.DataFrame
        A run's tables (e.g. ``RunView.results`` and ``RunView.cases``).
    strata : iterable of str
        Stratum columns: :data:`STRATUM_COLUMNS`, card fields, or any meta key (read from
        ``meta`` / ``meta["strata"]``, e.g. ``vendor_code`` for the M&Ms vendors A-D).
    reference : mapping
        ``{column: reference level}``; a column without an entry uses its most frequent level
        (ties: the first in sort order).
    metrics : iterable of mapping
        Selectors for :func:`strata_frame` (``metric`` plus optional ``stage``, ``profile``,
        ``structure``, ``phase``) and optionally ``direction`` (``"higher"``/``"lower"``);
        without it the results' ``direction`` column decides ("higher is better" / "lower
        is better", :func:`suite.metrics.contract.direction_word`); anything else (e.g.
        "closer is better") raises ValueError asking for it.
    group_by : tuple of str, optional
        Result columns analysed separately (one method at a time); default: the run's method
        columns (``results.attrs["method_stages"]`` as set by
        :func:`suite.analysis.summary.load_results`, else ``recon`` and ``segmentation``).
    **options
        Passed to :func:`stratum_analysis` (``n_resamples``, ``alpha``, ``seed``, ...).

    Returns
    -------
    list of ShiftResult
        ``metric_name`` = ``"<metric> [<group values>]"``; strata with a single level are
        skipped (nothing to compare). Rows that are not usable (:func:`strata_frame`) are
        excluded and counted by reason in each result (``n_excluded``, ``excluded_by`` and
        per stratum).
    """
    from suite.metrics.contract import DIRECTIONS, direction_word

    if group_by is None:  # the store's fixed method columns and the run's other stages
        group_by = tuple(dict.fromkeys(["recon", "segmentation",
                                        *(results.attrs.get("method_stages") or ())]))
    strata = list(strata)
    out = []
    for sel in metrics:
        sel = dict(sel)
        direction = sel.pop("direction", None)
        frame = strata_frame(results, cases, fields=tuple(strata), **sel)
        if direction is None:
            dirs = (set(frame["direction"].dropna().unique()) if "direction" in frame.columns
                    else set())
            found = {direction_word(d) for d in dirs if d in DIRECTIONS} & set(_DIRECTIONS)
            if len(found) != 1 or len(dirs) != 1:
                raise ValueError(f"shift_analyses: cannot tell which way is better for {sel} "
                                 f"(results say {sorted(dirs)}); add `direction: higher` or "
                                 "`direction: lower` to the metric selector")
            direction = found.pop()
        keys = [c for c in group_by if c in frame.columns]
        groups = frame.groupby(keys, dropna=False) if keys else [((), frame)]
        for gkey, gdf in groups:
            gkey = gkey if isinstance(gkey, tuple) else (gkey,)
            label = " ".join(str(k) for k in gkey if k is not None and k == k)
            for col in strata:
                if col not in gdf.columns or gdf[col].nunique(dropna=True) < 2:
                    continue
                gd = gdf[gdf[col].notna()]
                ref = reference.get(col)
                if ref is None:
                    counts = gd[col].value_counts()
                    ref = sorted(counts[counts == counts.max()].index, key=str)[0]
                out.append(stratum_analysis(
                    gd, stratum_col=col, reference=ref, direction=direction,
                    metric_name=f"{sel['metric']}" + (f" [{label}]" if label else ""),
                    **options))
    return out

"""Domain shift: a metric per stratum, its gap to the in-distribution stratum, and a test.

A *stratum* is a level of one column of the run's results: an acquisition condition (SNR,
acceleration, sampling pattern), a dataset, a vendor or field strength, a site, a pathology or
a phantom preset. :func:`stratum_analysis` reports, per stratum, the mean metric with a
subject-clustered bootstrap CI, the gap to the reference (in-distribution) stratum with a CI,
and a one-sided test of *degradation* (the stratum is worse than the reference in the metric's
direction), Holm-adjusted across the non-reference strata. :func:`strata_frame` builds its input
from a run's ``results`` and ``cases`` tables (and the dataset cards' strata fields).

Design choices (also printed as notes by :meth:`ShiftResult.summary`):

* Unit of analysis: the subject. Readings from one subject are correlated, so CIs resample
  subjects (:func:`suite.stats.bootstrap_ci`) and tests use subject-level means or a random
  intercept per subject.
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
* Gap = stratum mean − reference mean (test − reference). Its CI is a subject-cluster bootstrap
  on the shared subjects (paired) or the difference of independent per-stratum subject
  bootstraps (unpaired, i.e. a stratified bootstrap).
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
from suite._validation import check_option

__all__ = ["stratum_analysis", "ShiftResult", "strata_frame", "shift_analyses",
           "STRATUM_COLUMNS", "PAIRED_TESTS"]

#: Columns of a run a stratum can come from (results + cases tables).
STRATUM_COLUMNS = ("condition", "dataset", "vendor", "field_strength_t", "site", "pathology",
                   "preset")
PAIRED_TESTS = ("t", "wilcoxon")
_DIRECTIONS = ("higher", "lower")
_TABLE_COLUMNS = ("stratum", "reference", "n_cases", "n_subjects", "mean", "mean_ci_low",
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
        Rows dropped because the metric was not finite (NaN/inf/None) or the stratum missing.
    n_resamples : int
    seed : str
    paired_test : str
    notes : tuple of str
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
                         "n_resamples": self.n_resamples, "seed": self.seed,
                         "paired_test": self.paired_test, "ci_method":
                         "percentile bootstrap resampling subjects", "gap":
                         "stratum − reference", "multiplicity": "Holm across strata",
                         "rows": list(self.rows), "notes": list(self.notes)})

    def summary(self, format: str = "text") -> str:
        """Per-stratum table with the methods as numbered notes."""
        from suite.stats._common import fmt, fmt_interval
        from suite.stats._summary import SummaryTable

        pct = f"{100 * (1 - self.alpha):g} % CI"
        rows = []
        for r in self.rows:
            is_ref = r["stratum"] == self.reference
            rows.append((
                r["stratum"] + (" (reference)" if is_ref else ""), str(r["n_cases"]),
                str(r["n_subjects"]), fmt(r["mean"]),
                fmt_interval((r["mean_ci_low"], r["mean_ci_high"])),
                "" if is_ref else fmt(r["gap"]),
                "" if is_ref else fmt_interval((r["gap_ci_low"], r["gap_ci_high"])),
                "" if is_ref else r["test"],
                "" if is_ref else fmt(r["p_value"]), "" if is_ref else fmt(r["p_holm"]),
                "" if is_ref else ("yes" if r["significant"] else "no"),
                r["note"]))
        header = ("stratum", "cases", "subjects", "mean", f"mean {pct}", "gap", f"gap {pct}",
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


def _holm(pvalues: list[float]) -> list[float]:
    """Holm step-down adjusted p values (NaN entries stay NaN and are not counted)."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(pvalues, float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return out.tolist()


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
        ``subject_col``. Analyse one method and one metric at a time (e.g. filter a run's
        results with :func:`strata_frame`).
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
        ``table`` columns: stratum, reference, n_cases, n_subjects, mean, mean_ci_low/high,
        gap, gap_ci_low/high, n_pairs, design (``paired``/``unpaired``/``reference``), test,
        statistic, p_value (one-sided, unadjusted), p_holm, significant (p_holm < alpha),
        test_alt, p_value_alt, note.

    Raises
    ------
    ValueError
        Missing columns, unknown reference level, bad options, or no finite values.

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
    from suite.stats._common import check_alpha

    alpha = check_alpha(alpha, where=where)
    if not hasattr(df, "columns"):
        raise ValueError(f"{where}: `df` must be a pandas DataFrame; got {type(df).__name__}")
    missing = [c for c in (metric_col, stratum_col, subject_col) if c not in df.columns]
    if missing:
        raise ValueError(f"{where}: `df` lacks columns {missing}; has {list(df.columns)}")
    if int(n_resamples) != n_resamples or n_resamples < 100:
        raise ValueError(f"{where}: `n_resamples` must be an integer >= 100; got {n_resamples!r}")
    values = pd.to_numeric(df[metric_col], errors="coerce").astype(float)
    keep = np.isfinite(values.to_numpy()) & df[stratum_col].notna().to_numpy()
    n_excluded = int((~keep).sum())
    data = pd.DataFrame({"value": values[keep].to_numpy(),
                         "stratum": df[stratum_col][keep].to_numpy(),
                         "subject": df[subject_col][keep].astype(str).to_numpy()})
    if data.empty:
        raise ValueError(f"{where}: no finite values in `{metric_col}`")
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

    groups = {lv: data[data["stratum"] == lv] for lv in ordered}
    boots = {}
    rows = []
    for i, lv in enumerate(ordered):
        g = groups[lv]
        n_subj = int(g["subject"].nunique())
        row = {c: None for c in _TABLE_COLUMNS}
        row.update(stratum=str(lv), reference=str(ref_level), n_cases=int(len(g)),
                   n_subjects=n_subj, mean=float(g["value"].mean()), note="")
        if n_subj >= 2:
            b = _boot_mean(g, streams[i], n_resamples, alpha)
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

    ref = groups[ref_level]
    ref_subj = set(ref["subject"])
    for i, lv in enumerate(ordered[1:], start=1):
        row = rows[i]
        g = groups[lv]
        subj = set(g["subject"])
        shared = sorted(subj & ref_subj)
        use_paired = paired
        if use_paired is None:
            smaller = min(len(subj), len(ref_subj))
            use_paired = len(shared) >= 2 and len(shared) >= 0.5 * smaller
        if use_paired:
            _paired(row, g, ref, shared, streams[len(ordered) + i], n_resamples, alpha,
                    alternative, paired_test)
        else:
            _unpaired(row, g, ref, boots.get(lv), boots.get(ref_level), alternative)
        if row["n_subjects"] < 2 and not row["note"]:
            row["note"] = "one subject: no CI"
    adj = _holm([r["p_value"] for r in rows[1:]])
    for r, p in zip(rows[1:], adj):
        r["p_holm"] = p
        r["significant"] = bool(p < alpha) if not math.isnan(p) else False
    rows[0]["p_holm"] = math.nan
    rows[0]["significant"] = False

    notes = (
        f"Mean over readings per stratum; {100 * (1 - alpha):g} % percentile bootstrap CI "
        f"resampling subjects ({n_resamples} resamples, seed {seed!r}).",
        "Gap = stratum − reference. Paired strata (shared subjects): gap and its cluster-"
        "bootstrap CI on the shared subjects only; unpaired: difference of independent "
        "per-stratum subject bootstraps.",
        f"Tests are one-sided for degradation ({direction} is better, alternative: stratum "
        f"{'<' if alternative == 'less' else '>'} reference). Paired: "
        f"{'paired t' if paired_test == 't' else 'Wilcoxon signed-rank'} on subject-level "
        "mean differences (the other test in test_alt). Unpaired: MixedLM with a random "
        "intercept per subject when subjects have repeated readings, else Welch t on subject "
        "means.",
        f"Holm adjustment across the {len(rows) - 1} non-reference strata; degraded = "
        f"p_holm < {alpha:g}.",
    ) + ((f"{n_excluded} rows with a non-finite metric or no stratum were excluded.",)
         if n_excluded else ())
    return ShiftResult(metric=metric_name, stratum_col=stratum_col, reference=str(ref_level),
                       direction=direction, alpha=alpha, rows=tuple(rows),
                       n_excluded=n_excluded, n_resamples=int(n_resamples), seed=repr(seed),
                       paired_test=paired_test, notes=notes)


def _boot_mean(g, stream, n_resamples, alpha):
    from suite.stats.bootstrap import bootstrap_ci

    return bootstrap_ci(g["value"].to_numpy(), np.mean, seed=stream,
                        cluster=g["subject"].to_numpy(), n_resamples=n_resamples, alpha=alpha)


def _paired(row, g, ref, shared, stream, n_resamples, alpha, alternative, paired_test):
    from scipy import stats

    from suite.stats.bootstrap import bootstrap_ci

    row["design"] = "paired"
    row["n_pairs"] = len(shared)
    dropped = (len(set(g["subject"]) - set(shared)) + len(set(ref["subject"]) - set(shared)))
    note = [f"{dropped} unshared subjects left out of the paired gap/test"] if dropped else []
    gs, rs = g[g["subject"].isin(shared)], ref[ref["subject"].isin(shared)]
    if not shared:
        row.update(gap=math.nan, gap_ci_low=math.nan, gap_ci_high=math.nan, test="none",
                   statistic=math.nan, p_value=math.nan, test_alt="", p_value_alt=math.nan)
        row["note"] = "; ".join(filter(None, [row["note"], "no shared subjects"]))
        return
    row["gap"] = float(gs["value"].mean() - rs["value"].mean())
    d = (gs.groupby("subject")["value"].mean() - rs.groupby("subject")["value"].mean())
    d = d.loc[shared].to_numpy(float)
    if len(shared) >= 2:
        both = np.concatenate([np.column_stack([gs["value"].to_numpy(), np.ones(len(gs))]),
                               np.column_stack([rs["value"].to_numpy(), np.zeros(len(rs))])])
        cl = np.concatenate([gs["subject"].to_numpy(), rs["subject"].to_numpy()])

        def gap(x):
            return x[x[:, 1] == 1, 0].mean() - x[x[:, 1] == 0, 0].mean()

        b = bootstrap_ci(both, gap, seed=stream, cluster=cl, n_resamples=n_resamples,
                         alpha=alpha)
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


def _unpaired(row, g, ref, boot_s, boot_r, alternative):
    from scipy import stats

    row["design"] = "unpaired"
    row["n_pairs"] = None
    row["gap"] = float(g["value"].mean() - ref["value"].mean())
    if boot_s is not None and boot_r is not None:
        diff = boot_s.distribution - boot_r.distribution
        q = np.quantile(diff, [boot_s.alpha / 2, 1 - boot_s.alpha / 2])
        row.update(gap_ci_low=float(q[0]), gap_ci_high=float(q[1]))
    else:
        row.update(gap_ci_low=math.nan, gap_ci_high=math.nan)
    ms = g.groupby("subject")["value"].mean().to_numpy(float)
    mr = ref.groupby("subject")["value"].mean().to_numpy(float)
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
                 phase: str | None = None, recon: str | None = None,
                 segmentation: str | None = None, cards: bool = True,
                 fields: Iterable[str] = ()):
    """One row per result of one metric, with every stratum column of its case.

    Parameters
    ----------
    results, cases : pandas.DataFrame
        A run's ``results`` and ``cases`` tables (:meth:`ResultStore.frame`).
    metric : str
        Metric name (``results.metric``).
    stage, profile, structure, phase, recon, segmentation : str, optional
        Further filters on the results columns of the same names (None: no filter).
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
        The filtered results rows (usable values: not missing, no sentinel, not implausible,
        whatever the empty-mask status, so a failure scored under the ``worst`` policy counts)
        joined with the cases'
        ``vendor, field_strength_t, site, pathology, preset`` (and card fields). ``condition``
        and ``dataset`` come from the results. Analyse one method at a time: when several
        recon/segmentation labels remain, pass ``recon=``/``segmentation=`` or group by them.

    Raises
    ------
    ValueError
        Missing columns or no rows left after filtering (the filters are named).
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
                     ("phase", phase), ("recon", recon), ("segmentation", segmentation)):
        if val is not None:
            if col not in results.columns:
                raise ValueError(f"{where}: `results` has no column {col!r} to filter on")
            sel &= results[col] == val
            filters[col] = val
    if "exclusion" in results.columns:  # missing values, sentinels, implausible values
        sel &= results["exclusion"].isna()
    out = results[sel & results["value"].notna()].copy()
    if out.empty:
        raise ValueError(f"{where}: no results with {filters} (usable value); "
                         f"metrics present: {sorted(results['metric'].dropna().unique())}")
    case_cols = [c for c in ("vendor", "field_strength_t", "site", "pathology", "preset")
                 if c in cases.columns]
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
                   metrics: Iterable[Mapping[str, Any]], group_by=("recon", "segmentation"),
                   **options) -> list[ShiftResult]:
    """Run :func:`stratum_analysis` for every (metric selector, stratum column, method group).

    Parameters
    ----------
    results, cases : pandas.DataFrame
        A run's tables.
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
        is better"); anything else (e.g. "closer is better") raises ValueError asking for it.
    group_by : tuple of str
        Result columns analysed separately (one method at a time).
    **options
        Passed to :func:`stratum_analysis` (``n_resamples``, ``alpha``, ``seed``, ...).

    Returns
    -------
    list of ShiftResult
        ``metric_name`` = ``"<metric> [<group values>]"``; strata with a single level are
        skipped (nothing to compare).
    """
    strata = list(strata)
    out = []
    for sel in metrics:
        sel = dict(sel)
        direction = sel.pop("direction", None)
        frame = strata_frame(results, cases, fields=tuple(strata), **sel)
        if direction is None:
            dirs = (set(frame["direction"].dropna().unique()) if "direction" in frame.columns
                    else set())
            found = {d.split()[0] for d in dirs if d in ("higher is better", "lower is better")}
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

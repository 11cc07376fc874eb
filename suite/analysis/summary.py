"""Analysis of a run's results: summaries with subject-level CIs, strata, acceptance.

Everything here reads the rows a :class:`~suite.store.RunView` serves and computes from them;
nothing reaches back upstream, and every number a report prints is recomputable from the store
(the tables carry the grouping keys and counts). Every average goes through the one
subject-level reduction :func:`suite.metrics.reduce.reduce_subjects`: each subject's usable
values are averaged first, rows with an ``exclusion`` (missing, a convention's sentinel, an
implausible value) are counted by reason and never averaged.

* :func:`metric_summary` — per group (stage, metric, structure, phase, segment, profile,
  condition, method of each stage, attack, budget): mean over subjects, n subjects, excluded
  values by reason, bootstrap percentile CI over subjects (seeded).
* :func:`stratum_summary` — the same per stratum (vendor, field strength, pathology, ...).
* :func:`check_acceptance` — the protocol's pre-specified acceptance criteria.
* :mod:`suite.analysis.agreement` — clinical agreement, implausible values, error propagation.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from suite.metrics.reduce import SubjectAggregate, reduce_subjects
from suite.store.results import FIXED_METHOD_COLUMNS
from suite.store.view import RunView, group_columns

__all__ = ["load_results", "metric_summary", "stratum_summary", "check_acceptance",
           "write_summary", "summary_keys", "method_columns", "subject_reduction",
           "bootstrap_mean_ci"]


def load_results(run) -> pd.DataFrame:
    """Results rows (with strata, ``row_id`` and ``usable``) of a run folder or a RunView."""
    view = run if isinstance(run, RunView) else RunView(run)
    return _tagged(view.results, view.method_stages)


def _tagged(df: pd.DataFrame, method_stages) -> pd.DataFrame:
    df = df.copy()
    df.attrs["method_stages"] = list(method_stages)
    return df


def method_columns(df: pd.DataFrame) -> list[str]:
    """The method columns of a results frame (``recon``, ``segmentation`` and any other stage
    the run recorded, from ``df.attrs["method_stages"]``)."""
    stages = df.attrs.get("method_stages") or list(FIXED_METHOD_COLUMNS)
    return [c for c in dict.fromkeys([*FIXED_METHOD_COLUMNS, *stages]) if c in df.columns]


def summary_keys(df: pd.DataFrame, by=None) -> list[str]:
    """Grouping columns of :func:`metric_summary`: :func:`suite.store.group_columns`, then
    ``budget``, then ``by``."""
    keys = [k for k in group_columns(method_columns(df)) if k in df.columns] + ["budget"]
    return keys + ([by] if isinstance(by, str) else list(by or []))


def subject_reduction(g: pd.DataFrame, col: str = "value", *,
                      statistic: str = "mean") -> SubjectAggregate:
    """:func:`~suite.metrics.reduce.reduce_subjects` of the rows ``g`` (subjects from
    ``subject``, exclusions from ``exclusion``)."""
    excl = g["exclusion"] if "exclusion" in g else pd.Series([None] * len(g), index=g.index)
    return reduce_subjects(g[col].tolist(), g["subject"].tolist(),
                           exclusions=[None if (e is None or e != e) else e for e in excl],
                           statistic=statistic)


def bootstrap_mean_ci(values: np.ndarray, seed: int, n_resamples: int, alpha: float):
    """Percentile bootstrap CI of the mean of subject values (NaN with fewer than 2 values;
    the value itself when all values are equal)."""
    from suite.stats import bootstrap_ci

    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return (float("nan"), float("nan"))
    if np.allclose(values, values[0]):
        return (float(values[0]),) * 2
    r = bootstrap_ci(values, np.mean, seed=seed, n_resamples=n_resamples, alpha=alpha)
    return tuple(float(v) for v in r.ci)


def _excluded_text(agg: SubjectAggregate) -> str:
    return ", ".join(f"{n} {r}" for r, n in agg.excluded_by)


def metric_summary(df: pd.DataFrame, *, by: list[str] | None = None, seed: int = 0,
                   n_resamples: int = 1000, alpha: float = 0.05) -> pd.DataFrame:
    """Mean over subjects with a subject-bootstrap CI, per group (see module docstring).

    Columns: the grouping keys (:func:`summary_keys`), ``mean``, ``ci_low``, ``ci_high``,
    ``n_subjects``, ``n_excluded`` (values left out), ``excluded`` (by reason, e.g.
    ``"2 implausible"``), ``unit``, ``direction``.
    """
    keys = summary_keys(df, by)
    rows = []
    for key, g in df.groupby(keys, sort=True, dropna=False):
        agg = subject_reduction(g)
        vals = agg.values()
        lo, hi = bootstrap_mean_ci(vals, seed, n_resamples, alpha)
        rows.append(dict(zip(keys, key)) | {
            "mean": agg.value, "ci_low": lo, "ci_high": hi, "n_subjects": agg.n_subjects,
            "n_excluded": agg.n_excluded, "excluded": _excluded_text(agg),
            "unit": g["unit"].iloc[0], "direction": g["direction"].iloc[0]})
    return pd.DataFrame(rows)


def stratum_summary(df: pd.DataFrame, stratum: str, **kw) -> pd.DataFrame:
    """:func:`metric_summary` split by one stratum column (e.g. ``vendor``)."""
    from suite.store import STRATA_COLUMNS

    if stratum not in df.columns:
        raise ValueError(f"stratum_summary: unknown stratum {stratum!r}; available "
                         f"{list(STRATA_COLUMNS)}")
    out = df.assign(**{stratum: df[stratum].astype(str)})
    out.attrs = dict(df.attrs)
    return metric_summary(out, by=[stratum], **kw)


def check_acceptance(df: pd.DataFrame, acceptance: list[dict]) -> list[dict]:
    """Evaluate acceptance criteria on the subject statistic of each selected metric.

    Each criterion ``{metric, min|max, statistic, <column>: value, ...}`` selects rows by
    ``metric`` and its other column keys, reduces them with :func:`subject_reduction` and
    compares the statistic with the bound. Each result holds the statistic (``value``),
    ``n_subjects``, the values left out (``n_excluded``, ``excluded`` by reason, also in the
    description), ``passed``, the criterion and the ``row_ids`` it read.
    """
    out = []
    for crit in acceptance or []:
        sel = df[df["metric"] == crit["metric"]]
        filters = [k for k in crit if k not in ("metric", "statistic", "min", "max")]
        for col in filters:
            sel = sel[sel[col].astype(str) == str(crit[col])] if col in sel else sel.iloc[:0]
        stat = crit.get("statistic", "mean")
        agg = subject_reduction(sel, statistic=stat)
        value = float(agg.value)
        passed = bool(agg.n_subjects) and ("min" not in crit or value >= crit["min"]) and \
            ("max" not in crit or value <= crit["max"])
        where = ", ".join(f"{k}={crit[k]}" for k in filters)
        bound = " and ".join(f"{'>=' if b == 'min' else '<='} {crit[b]}" for b in ("min", "max")
                             if b in crit)
        excluded = (f"; {agg.n_excluded} values excluded ({_excluded_text(agg)})"
                    if agg.n_excluded else "")
        out.append({"description": f"{stat} {crit['metric']} ({where}) {bound}: "
                    f"{value:.4g} over {agg.n_subjects} subjects{excluded}", "value": value,
                    "n_subjects": agg.n_subjects, "n_excluded": agg.n_excluded,
                    "excluded": _excluded_text(agg), "passed": passed, "criterion": crit,
                    "row_ids": sorted(int(i) for i in sel["row_id"]) if "row_id" in sel else []})
    return out


def _fmt_table(df: pd.DataFrame, cols: list[str], digits: int = 4) -> str:
    if df.empty:
        return "_no rows_\n"
    cols = [c for c in cols if c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df[cols].iterrows():
        cells = []
        for c in cols:
            v = r[c]
            cells.append(f"{v:.{digits}g}" if isinstance(v, (float, np.floating)) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_summary(run, protocol, out_dir) -> dict:
    """Write CSV tables, figures and ``summary.md`` into ``out_dir``; return their paths."""
    from suite.analysis.agreement import clinical_agreement, error_propagation

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    view = run if isinstance(run, RunView) else RunView(run)
    store = view
    df = load_results(view)
    boot = (protocol.analyses.get("bootstrap") or {}) if protocol is not None else {}
    kw = {"seed": protocol.seed if protocol is not None else 0,
          "n_resamples": int(boot.get("n_resamples", 1000)), "alpha": float(boot.get("alpha", 0.05))}
    files = {}
    summ = metric_summary(df, **kw) if not df.empty else pd.DataFrame()
    summ.to_csv(out / "metrics_summary.csv", index=False)
    files["metrics_summary"] = str(out / "metrics_summary.csv")
    strata = (protocol.analyses.get("strata") if protocol is not None else None) or ["vendor"]
    strata_tables = {}
    for s in strata:
        if not df.empty:
            t = stratum_summary(df, s, **kw)
            t.to_csv(out / f"strata_{s}.csv", index=False)
            files[f"strata_{s}"] = str(out / f"strata_{s}.csv")
            strata_tables[s] = t
    params = (protocol.analyses.get("agreement") if protocol is not None else None) or None
    agree = clinical_agreement(df, parameters=params) if not df.empty else pd.DataFrame()
    agree.to_csv(out / "clinical_agreement.csv", index=False)
    files["clinical_agreement"] = str(out / "clinical_agreement.csv")
    prop = error_propagation(df) if not df.empty else pd.DataFrame()
    prop.to_csv(out / "error_propagation.csv", index=False)
    files["error_propagation"] = str(out / "error_propagation.csv")
    files.update(_figures(df, summ, out))
    jobs = view.jobs
    failures = view.failures
    md = [f"# Summary of run `{protocol.name if protocol else ''}`\n",
          f"Protocol SHA-256 `{protocol.sha256 if protocol else ''}`. Jobs: {len(jobs)}, done "
          f"{int((jobs['status'] == 'done').sum())}, failed {int((jobs['status'] == 'failed').sum())}. "
          f"Inputs not read: {len(failures)}.\n",
          "All values are means over subjects (each subject's values averaged first) with "
          f"{kw['n_resamples']}-resample subject-bootstrap {100 * (1 - kw['alpha']):.0f}% "
          "percentile CIs; n counts subjects; excluded values (undefined, empty masks) are "
          "counted, never averaged in.\n"]
    if not summ.empty:
        img = summ[summ["stage"] == "recon"]
        md += ["\n## Image quality\n", _fmt_table(img, ["metric", "profile", "condition", "recon",
                                                        "mean", "ci_low", "ci_high", "n_subjects"])]
        tem = summ[summ["stage"] == "temporal"]
        if not tem.empty:
            md += ["\n## Temporal fidelity\n", _fmt_table(tem, ["metric", "condition", "recon", "mean",
                                                                "ci_low", "ci_high", "n_subjects"])]
        seg = summ[(summ["stage"] == "segmentation") & (summ["metric"].isin(["dice", "hd95"]))]
        if not seg.empty:
            md += ["\n## Segmentation (Dice, HD95)\n",
                   _fmt_table(seg, ["metric", "structure", "phase", "condition", "recon",
                                    "segmentation", "mean", "ci_low", "ci_high", "n_subjects",
                                    "n_excluded"])]
    if not agree.empty:
        md += ["\n## Clinical agreement with the reference (test − reference)\n",
               "Primary analysis: implausible values (outside the physiological range, e.g. "
               "EF outside 0-100 %, ESV > EDV) are excluded and counted; where any was, a "
               "sensitivity analysis with them included follows the primary row.\n\n",
               _fmt_table(agree, ["metric", "condition", "recon", "segmentation", "reference",
                                  "analysis", "n", "n_excluded", "bias", "loa_lower",
                                  "loa_upper", "ccc", "icc_2_1"])]
    if not prop.empty:
        md += ["\n## Error propagation: LV EF against acceleration\n",
               _fmt_table(prop, list(prop.columns))]
    for s, t in strata_tables.items():
        sub = t[(t["stage"] == "recon") & (t["metric"] == "ssim")]
        if not sub.empty:
            md += [f"\n## SSIM by {s}\n", _fmt_table(sub, [s, "profile", "condition", "recon",
                                                          "mean", "ci_low", "ci_high", "n_subjects"])]
    failed = jobs[jobs["status"] == "failed"]
    if not failed.empty or not failures.empty:
        md += ["\n## Failures\n"]
        for _, r in failures.iterrows():
            md.append(f"- input `{r['path']}`: {r['error']}: {r['reason']}\n")
        for (err, msg), g in failed.groupby(["error", "message"]):
            md.append(f"- {len(g)} job(s) failed with {err}: {str(msg).splitlines()[0]}\n")
    from suite.analysis.robustness import write_robustness_summary

    rob_md, rob_files = write_robustness_summary(df, store, protocol, out, kw, _fmt_table)
    md += rob_md
    files.update(rob_files)
    figs = [k for k in files if k.startswith("figure")]
    if figs:
        md += ["\n## Figures\n"] + [f"![{k}]({Path(files[k]).name})\n" for k in figs]
    (out / "summary.md").write_text("".join(md))
    files["summary"] = str(out / "summary.md")
    (out / "files.json").write_text(json.dumps(files, indent=2) + "\n")
    return files


def _figures(df: pd.DataFrame, summ: pd.DataFrame, out: Path) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = {}
    if summ.empty:
        return files
    ssim = summ[(summ["stage"] == "recon") & (summ["metric"] == "ssim")]
    accel = df[(df["stage"] == "condition") & (df["metric"] == "nominal_acceleration")]
    r_of = accel.groupby("condition")["value"].first().to_dict()
    if not ssim.empty and r_of:
        fig, ax = plt.subplots(figsize=(6, 4))
        for (rec, prof), g in ssim.groupby(["recon", "profile"]):
            g = g.assign(R=g["condition"].map(r_of)).dropna(subset=["R"]).sort_values("R")
            ax.errorbar(g["R"], g["mean"], yerr=[g["mean"] - g["ci_low"], g["ci_high"] - g["mean"]],
                        marker="o", capsize=3, label=f"{rec} ({prof})")
        ax.set_xlabel("nominal acceleration R")
        ax.set_ylabel("SSIM (mean over subjects, 95% CI)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        for ext in ("png", "svg"):
            fig.savefig(out / f"ssim_vs_acceleration.{ext}")
        plt.close(fig)
        files["figure_ssim_vs_acceleration"] = str(out / "ssim_vs_acceleration.png")
    from suite.stats import bland_altman
    from suite.stats.plots import bland_altman_plot

    clin = df[(df["stage"] == "clinical") & (df["metric"] == "lv_ef_pct") & df["usable"]
              & df["reference_value"].notna()]
    for (cond, rec, seg), g in clin.groupby(["condition", "recon", "segmentation"]):
        if len(g) < 3:
            continue
        g = g.sort_values("subject")
        ba = bland_altman(g["value"].to_numpy(float), g["reference_value"].to_numpy(float), unit="%")
        fig = bland_altman_plot(ba, title=f"LV EF: {rec} + {seg} ({cond})")
        name = f"ba_lv_ef_{cond}_{rec}_{seg}".replace("/", "_").replace(":", "_")
        for ext in ("png", "svg"):
            fig.savefig(out / f"{name}.{ext}")
        plt.close(fig)
        files[f"figure_{name}"] = str(out / f"{name}.png")
    return files

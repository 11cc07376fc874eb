"""Layout helpers shared by the performance, stage and robustness evidence keys: summary
tables (numbers from :func:`suite.analysis.summary.metric_summary`) with the store rows of
each group, the run's method columns, the headline metrics and the computation texts."""

from __future__ import annotations

import pandas as pd

from suite.analysis.summary import metric_summary, stratum_summary, summary_keys
from suite.report.evidence import RunData, Table, frame_rows, lookup, sources_by_group

__all__ = ["SUMMARY_COLS", "HEADLINE", "summary_table", "computation", "headline_frame",
           "method_cols", "ci_label"]

#: Statistic columns of a summary table (column, label).
SUMMARY_COLS = (("mean", "mean"), ("ci_low", "CI low"), ("ci_high", "CI high"),
                ("n_subjects", "subjects"), ("n_excluded", "excluded"), ("unit", "unit"))
#: Headline metrics for subgroup tables, forest plots, sample size and worst cases.
HEADLINE = (("recon", "ssim", "", ""), ("recon", "psnr", "", ""),
            ("segmentation", "dice", "LV", "ED"), ("segmentation", "dice", "MYO", "ED"),
            ("segmentation", "dice", "RV", "ED"), ("segmentation", "hd95", "LV", "ED"))


def method_cols(run: RunData) -> tuple:
    """(column, label) of the run's method columns (``recon`` labelled "reconstruction")."""
    return tuple((m, "reconstruction" if m == "recon" else m) for m in run.method_stages)


def summary_table(run: RunData, df: pd.DataFrame, name: str, title: str, lead_cols, by=None):
    """A :class:`Table` of the metric summary of ``df`` (per stratum ``by`` if given), each row
    citing the ``results`` rows of its group; returns ``(table, summary frame)``."""
    if by:
        summ = stratum_summary(df, by, **run.bootstrap)
        df = df.assign(**{by: df[by].astype(str)})
    else:
        summ = metric_summary(df, **run.bootstrap)
    keys = summary_keys(df, by)
    src = sources_by_group(df, keys)
    rows = frame_rows(summ, [c for c, _ in lead_cols] + [c for c, _ in SUMMARY_COLS],
                      lambda rec: {"results": lookup(src, rec, keys)})
    return Table(name, title, tuple(lead_cols) + SUMMARY_COLS, rows), summ


def ci_label(run: RunData) -> str:
    """``"95% CI"`` for the run's bootstrap level."""
    return f"{100 * (1 - run.bootstrap['alpha']):g}% CI"


def computation(run: RunData, fn: str = "metric_summary") -> str:
    b = run.bootstrap
    return (f"suite.analysis.summary.{fn}: mean over subjects of each subject's mean; "
            f"{b['n_resamples']}-resample subject percentile bootstrap CI at level "
            f"{1 - b['alpha']:.4g}, seed {b['seed']}; excluded values (missing, sentinel, "
            "implausible) counted by reason, never averaged")


def headline_frame(run: RunData) -> pd.DataFrame:
    """Rows of the headline metrics (see :data:`HEADLINE`); the first image profile only."""
    r = run.results
    parts = []
    prof = run.image_profiles[0]
    for stage, metric, structure, phase in HEADLINE:
        sel = r[(r["stage"] == stage) & (r["metric"] == metric)]
        if stage == "recon":
            sel = sel[sel["profile"] == prof]
        if structure:
            sel = sel[(sel["structure"] == structure) & (sel["phase"] == phase)]
        parts.append(sel)
    return pd.concat(parts) if parts else r.iloc[:0]

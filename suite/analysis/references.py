"""Scores against the truth next to scores against other references, side by side.

A stage may score one output against several references and say which in ``profile``: the
mapping stage scores a map against the phantom's truth (``truth``), against the same method's
fit of the fully sampled images (``reference-fit``) and against a challenge's reference
procedure (``challenge-reference``). :func:`reference_comparison` turns the metric summary
into one row per quantity and method with one column per reference, so that a reader sees how
far a score against a fitted reference is from the score against the truth — a score against a
biased reference measures agreement with its errors. Nothing here knows a stage or a metric.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["reference_comparison", "TRUTH_PROFILE"]

#: The ``profile`` of rows scored against known truth.
TRUTH_PROFILE = "truth"

_STATS = ("mean", "ci_low", "ci_high", "n_subjects", "n_excluded", "excluded", "unit",
          "direction")


def reference_comparison(summary: pd.DataFrame, *, truth: str = TRUTH_PROFILE) -> pd.DataFrame:
    """The subject means of :func:`~suite.analysis.summary.metric_summary` with ``profile``
    spread into columns, for the metrics a stage scored against ``truth`` and against at least
    one other reference (a method without rows of some reference, e.g. the reference
    procedure itself, has NaN there).

    Parameters
    ----------
    summary : DataFrame
        A metric summary (its grouping columns, ``profile``, ``mean``, ``unit``, ...).
    truth : str
        The profile of the rows scored against truth (first column of the result).

    Returns
    -------
    DataFrame
        The grouping columns except ``profile`` (``stage``, ``metric``, ``structure``,
        ``segment``, ``condition``, the method columns, ...), ``unit``, then one column per
        profile (``truth`` first, the others sorted) holding the subject mean; empty when no
        quantity has both.
    """
    if summary.empty or "profile" not in summary.columns or "mean" not in summary.columns:
        return pd.DataFrame()
    keys = [c for c in summary.columns if c not in _STATS and c != "profile"]
    frame = summary.assign(**{k: summary[k].astype(object).where(summary[k].notna(), "")
                              .astype(str) for k in keys})
    # the metrics of a stage scored against the truth and against another reference somewhere
    what = [c for c in ("stage", "metric") if c in keys]
    scored = frame.groupby(what)["profile"].agg(frozenset)
    scored = scored[scored.map(lambda p: truth in p and len(p) > 1)]
    frame = frame[frame.set_index(what).index.isin(scored.index)]
    with_truth = frame.groupby(keys)["profile"].agg(lambda p: truth in set(p))
    with_truth = with_truth[with_truth]
    if with_truth.empty:
        return pd.DataFrame()
    frame = frame.set_index(keys).loc[with_truth.index].reset_index()
    wide = frame.pivot_table(index=keys, columns="profile", values="mean", aggfunc="first")
    units = frame.groupby(keys)["unit"].first()
    others = sorted(c for c in wide.columns if c != truth)
    out = wide[[truth] + others].join(units).reset_index()
    out.columns.name = None
    blank = [k for k in keys if (out[k] == "").all()]
    return out.drop(columns=blank)[[k for k in keys if k not in blank] + ["unit", truth, *others]]

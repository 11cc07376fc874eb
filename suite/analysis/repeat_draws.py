"""Repeatability from repeated draws of a condition (``repeats: N``), for every scalar metric.

A condition with ``repeats: N`` runs as N conditions ``<name>#1`` … ``<name>#N`` that differ
only in their random draws (:mod:`suite.conditions.repeats`). Each case, method chain and
measured quantity (metric, structure, phase, segment, convention, profile, ...: every grouping
column of :func:`suite.store.group_columns` but ``condition``) then has N repeated values, and
their QIBA repeatability (:func:`suite.metrics.repeatability.repeatability`: wSD, RC =
2.77·wSD, wCV; Raunig et al. 2015) measures the precision the noise leaves — per region and per
AHA segment for a map, per structure for a segmentation, for any stage.

The unit of repetition is the case. Only usable values count (a value with an ``exclusion`` is
left out); a case without a usable value in every repeat is left out of its group and counted
(``n_incomplete``), so that every unit has the same N and the estimator is the closed form.
Rows of stages ``condition`` and ``robustness`` are not analysed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from suite.analysis.summary import summary_keys
from suite.metrics.repeatability import repeatability

__all__ = ["RepeatDraws", "repeat_draw_repeatability", "REPEAT_COLUMNS"]

#: Columns of :attr:`RepeatDraws.table` after the grouping keys.
REPEAT_COLUMNS = ("repeat_of", "n_units", "n_repeats", "n_incomplete", "mean", "wsd", "rc",
                  "wcv_pct", "unit")
_SKIPPED_STAGES = ("condition", "robustness")


@dataclass(frozen=True)
class RepeatDraws:
    """Repeatability of every quantity measured under repeated draws.

    Attributes
    ----------
    table : DataFrame
        One row per repeated condition (``repeat_of``) and quantity (grouping columns):
        ``n_units`` (cases with a usable value in every repeat), ``n_repeats``,
        ``n_incomplete`` (cases left out), ``mean``, ``wsd``, ``rc``, ``wcv_pct`` (%), ``unit``
        (of the metric; ``wcv_pct`` is in %), ``row_ids`` (the rows used).
    """

    table: pd.DataFrame

    @property
    def possible(self) -> bool:
        return not self.table.empty

    def to_dict(self) -> dict:
        return {"table": self.table.to_dict("records")}

    def summary(self) -> str:
        if self.table.empty:
            return "repeated draws: none (no condition with `repeats`)"
        return (f"repeated draws: {len(self.table)} quantities under "
                f"{self.table['repeat_of'].nunique()} repeated condition(s)")


def repeat_draw_repeatability(results: pd.DataFrame, conditions) -> RepeatDraws:
    """QIBA repeatability per quantity over the repeats of each repeated condition.

    Parameters
    ----------
    results : DataFrame
        Result rows (:func:`suite.analysis.summary.load_results`: ``row_id``, ``case_id``,
        ``usable``, grouping columns, ``df.attrs["method_stages"]``).
    conditions : list of dict
        The protocol's condition entries (with ``repeats``, or expanded:
        :func:`suite.conditions.repeats.repeat_index`).

    Returns
    -------
    RepeatDraws
    """
    from suite.conditions.repeats import repeat_index

    index = repeat_index(conditions or [])
    cols = [k for k in summary_keys(results) if k != "condition"]
    empty = pd.DataFrame(columns=[*cols, *REPEAT_COLUMNS, "row_ids"])
    if not index or results.empty:
        return RepeatDraws(empty)
    sel = results[results["condition"].isin(index) & results["usable"]
                  & ~results["stage"].isin(_SKIPPED_STAGES)].copy()
    if sel.empty:
        return RepeatDraws(empty)
    sel["repeat_of"] = sel["condition"].map(lambda c: index[c][0])
    sel["repeat"] = sel["condition"].map(lambda c: index[c][1])
    n_of = pd.Series([k for _, k in index.values()]).groupby(
        [b for b, _ in index.values()]).nunique()
    out = []
    for key, g in sel.groupby([*cols, "repeat_of"], sort=True, dropna=False):
        base = key[-1]
        wide = g.pivot_table(index="case_id", columns="repeat", values="value", aggfunc="mean")
        complete = wide.dropna()
        n = int(n_of[base])
        if wide.shape[1] < n:
            complete = complete.iloc[:0]
        if complete.empty or n < 2:
            continue
        r = repeatability(complete.to_numpy(float))
        used = g[g["case_id"].isin(complete.index)]
        out.append({**dict(zip(cols, key[:-1])), "repeat_of": base, "n_units": r.n_units,
                    "n_repeats": r.n_repeats, "n_incomplete": int(len(wide) - len(complete)),
                    "mean": r.mean, "wsd": r.wsd, "rc": r.rc, "wcv_pct": r.wcv_pct,
                    "unit": str(g["unit"].iloc[0]),
                    "row_ids": tuple(sorted(int(i) for i in used["row_id"]))})
    return RepeatDraws(pd.DataFrame(out) if out else empty)

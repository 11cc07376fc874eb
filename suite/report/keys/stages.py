"""Evidence key ``performance.stages``: every stage beyond the built-in ones.

A stage added as a plugin (``stages:`` in a protocol) stores its own metric rows; this key
summarises them with :func:`suite.analysis.summary.metric_summary`, one table per stage,
without knowing the stage: the grouping columns it shows are those the rows fill, the unit and
direction come from the rows. Stages with their own key (recon, temporal, condition,
segmentation, clinical, robustness) are left to those keys
(:data:`suite.analysis.run_summary.BUILTIN_STAGES`).

Rows with a *detail* column (:data:`DETAIL_COLUMNS`: an AHA segment) would multiply the table
by the number of segments; the stage's main table holds the rows without one (per region), and
a second table per detail column has one row per group and one column per value (the mean over
subjects; the CIs are in the run's ``metrics_summary.csv``), each row citing every store row of
its values.
"""

from __future__ import annotations

import re

import pandas as pd

from suite.analysis.run_summary import BUILTIN_STAGES
from suite.analysis.summary import metric_summary, summary_keys
from suite.report.evidence import (Evidence, RunData, Table, evidence_key, jsonable, lookup,
                                   not_applicable, sources_by_group, title_of)
from suite.report.keys.common import computation, method_cols, summary_table

__all__ = ["DETAIL_COLUMNS"]

#: Grouping columns whose values detail a row (an AHA segment "1"…"17", "global"): shown as the
#: columns of a separate table rather than as rows of the main one.
DETAIL_COLUMNS = ("segment",)


def _natural(value: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", str(value))]


def detail_table(run: RunData, df: pd.DataFrame, detail: str, name: str, title: str,
                 lead_cols) -> Table:
    """One row per group of ``df`` without ``detail``, one column per value of ``detail``
    holding the group's mean over subjects (:func:`metric_summary`); each row cites the store
    rows of all its values."""
    summ = metric_summary(df, **run.bootstrap)
    keys = [k for k in summary_keys(df) if k != detail]
    src = sources_by_group(df, keys)
    values = sorted(summ[detail].astype(str).unique(), key=_natural)
    rows = []
    for _, g in summ.groupby(keys, sort=True, dropna=False):
        first = g.iloc[0].to_dict()
        row = {c: jsonable(first.get(c)) for c, _ in lead_cols}
        means = dict(zip(g[detail].astype(str), g["mean"]))
        row.update({f"{detail}:{v}": jsonable(means.get(v)) for v in values})
        row["unit"] = jsonable(first.get("unit"))
        row["sources"] = {"results": lookup(src, first, keys)}
        rows.append(row)
    columns = tuple(lead_cols) + tuple((f"{detail}:{v}", v) for v in values) + (("unit", "unit"),)
    return Table(name, title, columns, tuple(rows),
                 note=f"mean over subjects per {detail}; CIs in metrics_summary.csv")


@evidence_key("performance.stages", "Performance of further stages (stage plugins)")
def _stages(run: RunData) -> Evidence:
    r = run.results
    stages = sorted(s for s in r["stage"].unique() if s not in BUILTIN_STAGES)
    if not stages:
        return not_applicable("performance.stages", "the run has no stage beyond the built-in "
                              f"ones ({', '.join(BUILTIN_STAGES)}), which have their own keys")
    tables = []
    for stage in stages:
        df = r[r["stage"] == stage]
        details = [c for c in DETAIL_COLUMNS if c in df and (df[c].astype(str) != "").any()]
        main = df
        for c in details:
            main = main[main[c].astype(str) == ""]
        main = main if not main.empty else df

        def lead_of(frame, skip=()):
            return tuple((c, label) for c, label in (
                ("metric", "metric"), ("structure", "structure"), ("phase", "phase"),
                ("segment", "segment"), ("convention", "convention"), ("profile", "profile"),
                ("condition", "condition"), *method_cols(run))
                if c == "metric" or (c not in skip and c in frame
                                     and (frame[c].astype(str) != "").any()))

        table, _ = summary_table(run, main, f"stage_{stage}", f"Stage {stage}",
                                 lead_of(main) + (("direction", "direction"),))
        tables.append(table)
        for c in details:
            part = df[df[c].astype(str) != ""]
            tables.append(detail_table(run, part, c, f"stage_{stage}_{c}",
                                       f"Stage {stage} per {c}", lead_of(part, skip=(c,))))
    return Evidence(
        key="performance.stages", title=title_of("performance.stages"), status="measured",
        query="SELECT rowid, * FROM results WHERE stage NOT IN ("
              + ", ".join(repr(s) for s in BUILTIN_STAGES) + ")",
        computation=computation(run), tables=tuple(tables))

"""Evidence key ``performance.stages``: every stage beyond the built-in ones.

A stage added as a plugin (``stages:`` in a protocol) stores its own metric rows; this key
summarises them with :func:`suite.analysis.summary.metric_summary`, one table per stage,
without knowing the stage: the grouping columns it shows are those the rows fill, the unit and
direction come from the rows. Stages with their own key (recon, temporal, condition,
segmentation, clinical, robustness) are left to those keys
(:data:`suite.analysis.run_summary.BUILTIN_STAGES`).
"""

from __future__ import annotations

from suite.analysis.run_summary import BUILTIN_STAGES
from suite.report.evidence import (Evidence, RunData, evidence_key, not_applicable, title_of)
from suite.report.keys.common import computation, method_cols, summary_table

__all__: list[str] = []


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
        lead = tuple((c, label) for c, label in (
            ("metric", "metric"), ("structure", "structure"), ("phase", "phase"),
            ("segment", "segment"), ("profile", "profile"), ("condition", "condition"),
            *method_cols(run)) if c == "metric" or (df[c].astype(str) != "").any())
        table, _ = summary_table(run, df, f"stage_{stage}", f"Stage {stage}",
                                 lead + (("direction", "direction"),))
        tables.append(table)
    return Evidence(
        key="performance.stages", title=title_of("performance.stages"), status="measured",
        query="SELECT rowid, * FROM results WHERE stage NOT IN ("
              + ", ".join(repr(s) for s in BUILTIN_STAGES) + ")",
        computation=computation(run), tables=tuple(tables))

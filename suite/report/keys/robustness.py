"""Evidence keys about robustness: foreseeable acquisition changes (acceleration, noise),
adversarial and random perturbations (``stage = "robustness"`` rows with ``attack`` and
``budget``), and data-crime audit flags per case.

The robustness keys are optional: when a run has no such rows the key is ``unavailable`` and
says that the run did not include that section.
"""

from __future__ import annotations

from suite.analysis.agreement import error_propagation, with_acceleration
from suite.analysis.robustness import audit_table, instability_ratios, robustness_curves
from suite.analysis.summary import metric_summary, summary_keys
from suite.report.evidence import (Evidence, RunData, Table, evidence_key, frame_rows, lookup,
                                   sources_by_group, title_of, unavailable)
from suite.report.figures import ef_bias_vs_acceleration
from suite.report.figures import robustness_curves as plot_curves
from suite.report.keys.common import (SUMMARY_COLS, ci_label, computation, headline_frame,
                                      method_cols)

__all__: list[str] = []


@evidence_key("robustness.acquisition", "Robustness to foreseeable acquisition changes (acceleration, noise)")
def _acquisition(run: RunData) -> Evidence:
    conds = run.protocol.get("conditions") or []
    changed = [c for c in conds if c.get("type") != "fully-sampled"]
    if not changed:
        return unavailable("robustness.acquisition", "the protocol applies no acceleration or noise "
                           "condition, so the run did not include an acquisition-robustness section")
    r = run.results
    cond_rows = r[(r["stage"] == "condition") & (r["metric"] == "nominal_acceleration")]
    ef = r[(r["stage"] == "clinical") & (r["metric"] == "lv_ef_pct") & r["reference_value"].notna()]
    prop = error_propagation(r) if not ef.empty else None
    methods = method_cols(run)
    tables, figs = [], []
    if prop is not None and not prop.empty:
        mk = [m for m, _ in methods if m in prop.columns]
        src = sources_by_group(ef[ef["usable"]], ["condition", *mk])
        csrc = sources_by_group(cond_rows, ["condition"])
        unit = prop["unit"].iloc[0]
        cols = (tuple(reversed([m for m in methods if m[0] in mk]))
                + (("condition", "condition"), ("nominal_acceleration", "nominal R"), ("n", "n"),
                   ("n_excluded", "excluded"), ("excluded", "excluded (reason)"),
                   ("bias", f"EF bias ({unit})"), ("loa_lower", f"LoA lower ({unit})"),
                   ("loa_upper", f"LoA upper ({unit})")))
        rows = frame_rows(prop, [c for c, _ in cols], lambda rec: {"results": sorted(
            lookup(src, rec, ["condition", *mk]) + lookup(csrc, rec, ["condition"]))})
        tables.append(Table("ef_propagation", "LV EF error against acceleration (test - truth; "
                            "primary analysis, usable values only)", cols, rows))
        figs += ef_bias_vs_acceleration(prop, list(run.method_stages), run.figure_dir, run.draw)
    hd = headline_frame(run)
    if not hd.empty:
        summ = with_acceleration(metric_summary(hd, **run.bootstrap), r, default=1.0)
        summ = summ.sort_values(["stage", "metric", "structure", "recon", "segmentation",
                                 "nominal_acceleration"])
        keys = summary_keys(hd)
        src = sources_by_group(hd, keys)
        csrc = sources_by_group(cond_rows, ["condition"])
        lead = (("metric", "metric"), ("structure", "structure"), ("recon", "reconstruction"),
                ("segmentation", "segmentation"), ("condition", "condition"),
                ("nominal_acceleration", "nominal R"))
        rows = frame_rows(summ, [c for c, _ in lead] + [c for c, _ in SUMMARY_COLS],
                          lambda rec: {"results": sorted(lookup(src, rec, keys) + lookup(csrc, rec, ["condition"]))})
        tables.append(Table("by_condition", "Headline metrics by condition", lead + SUMMARY_COLS, rows))
    return Evidence(
        key="robustness.acquisition", title=title_of("robustness.acquisition"), status="measured",
        query="SELECT rowid, * FROM results WHERE stage IN ('clinical', 'condition') or headline metrics",
        computation="suite.analysis.agreement.error_propagation (Bland-Altman of LV EF per "
                    "condition, primary analysis) and " + computation(run),
        tables=tuple(tables), figures=tuple(figs))


@evidence_key("robustness.adversarial", "Robustness to perturbations (adversarial and random)")
def _adversarial(run: RunData) -> Evidence:
    r = run.results
    rob = r[r["stage"] == "robustness"]
    if rob.empty:
        return unavailable("robustness.adversarial", "the run did not include a robustness section "
                           "(no `robustness` stage rows in the store)")
    b = run.bootstrap
    curves = robustness_curves(r, **b)
    keys = ["condition", "recon", "segmentation", "attack", "budget", "metric", "structure",
            "phase", "profile"]
    src = sources_by_group(rob, keys)
    lead = (("metric", "metric"), ("attack", "attack"), ("budget", "budget"), ("condition", "condition"),
            ("recon", "reconstruction"), ("segmentation", "segmentation"), ("structure", "structure"),
            ("phase", "phase"), ("profile", "profile"))
    stats = (("mean", "mean"), ("ci_low", "CI low"), ("ci_high", "CI high"),
             ("n_subjects", "subjects"), ("unit", "unit"))
    tables = [Table("curves", "Robustness curves: metric against budget (budget 0 = clean)",
                    lead + stats, frame_rows(curves, [c for c, _ in lead + stats],
                                             lambda rec: {"results": lookup(src, rec, keys)}))]
    ratios = instability_ratios(r, **b)
    if not ratios.empty:
        mk = ["condition", "recon", "segmentation"]
        msrc = sources_by_group(rob, mk + ["budget"])
        cols = (("condition", "condition"), ("recon", "reconstruction"), ("segmentation", "segmentation"),
                ("attack", "attack"), ("random", "random counterpart"), ("budget", "budget"),
                ("measure", "measure"), ("adversarial", "adversarial degradation"),
                ("random_degradation", "random degradation"), ("ratio", "ratio"),
                ("ratio_ci_low", "CI low"), ("ratio_ci_high", "CI high"), ("n_subjects", "subjects"))
        tables.append(Table("instability", "Instability ratio (adversarial / random degradation at "
                            "equal budget)", cols,
                            frame_rows(ratios, [c for c, _ in cols],
                                       lambda rec: {"results": lookup(msrc, rec, mk + ["budget"])})))
    figs = plot_curves(curves, run.figure_dir, run.draw, ci_label=ci_label(run))
    return Evidence(
        key="robustness.adversarial", title=title_of("robustness.adversarial"), status="measured",
        query="SELECT rowid, * FROM results WHERE stage = 'robustness'",
        computation="suite.analysis.robustness.robustness_curves and instability_ratios: subject "
                    f"means, {b['n_resamples']}-resample subject bootstrap CI, seed {b['seed']}",
        tables=tuple(tables), figures=tuple(figs))


@evidence_key("robustness.audit", "Data-crime audit flags per case")
def _audit(run: RunData) -> Evidence:
    table = audit_table(run.cases) if not run.cases.empty else None
    if table is None or table.empty or not table["audited"].any():
        return unavailable("robustness.audit", "no case carries data-crime audit results, so the "
                           "run did not include a data-crime audit")
    cols = (("case_id", "case"), ("dataset", "data set"), ("audited", "audited"),
            ("flagged", "flagged"), ("flags", "flags"))
    rows = frame_rows(table, [c for c, _ in cols], lambda rec: {"cases": [rec["case_id"]]})
    return Evidence(
        key="robustness.audit", title=title_of("robustness.audit"), status="measured",
        query="SELECT case_id, dataset, meta FROM cases  (meta.audit_flags)",
        computation="suite.analysis.robustness.audit_table: flags the on-load audit recorded",
        facts=(("cases flagged", int(table["flagged"].sum())),),
        tables=(Table("audit", "Audit flags per case", cols, rows),))

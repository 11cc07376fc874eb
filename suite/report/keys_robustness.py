"""Evidence keys about robustness: foreseeable acquisition changes (acceleration, noise),
adversarial and random perturbations (``stage = "robustness"`` rows with ``attack`` and
``budget``), and data-crime audit flags per case.

The robustness keys are optional: when a run has no such rows the key is ``unavailable`` and
says that the run did not include that section.
"""

from __future__ import annotations

from suite.report.evidence import (Evidence, RunData, Table, evidence_key, frame_rows, lookup,
                                   sources_by_group, unavailable)
from suite.report.keys_performance import _SUMMARY_COLS, _Frames, _computation, _title, summary_keys

__all__: list[str] = []


@evidence_key("robustness.acquisition", "Robustness to foreseeable acquisition changes (acceleration, noise)")
def _acquisition(run: RunData) -> Evidence:
    from suite.analysis.agreement import error_propagation

    conds = run.protocol.get("conditions") or []
    changed = [c for c in conds if c.get("type") != "fully-sampled"]
    if not changed:
        return unavailable("robustness.acquisition", "the protocol applies no acceleration or noise "
                           "condition, so the run did not include an acquisition-robustness section")
    r = run.results
    cond_rows = r[(r["stage"] == "condition") & (r["metric"] == "nominal_acceleration")]
    ef = r[(r["stage"] == "clinical") & (r["metric"] == "lv_ef_pct") & r["value"].notna()
           & r["reference_value"].notna()]
    prop = error_propagation(r) if not ef.empty else None
    tables, figs = [], []
    if prop is not None and not prop.empty:
        src = sources_by_group(ef, ["condition", "recon", "segmentation"])
        csrc = sources_by_group(cond_rows, ["condition"])
        cols = (("segmentation", "segmentation"), ("recon", "reconstruction"), ("condition", "condition"),
                ("nominal_acceleration", "nominal R"), ("n", "n"), ("bias", "EF bias (%)"),
                ("loa_lower", "LoA lower (%)"), ("loa_upper", "LoA upper (%)"))
        rows = frame_rows(prop, [c for c, _ in cols], lambda rec: {"results": sorted(
            lookup(src, rec, ["condition", "recon", "segmentation"]) + lookup(csrc, rec, ["condition"]))})
        tables.append(Table("ef_propagation", "LV EF error against acceleration (test - truth)", cols, rows))
        from suite.report.figures import ef_bias_vs_acceleration

        figs += ef_bias_vs_acceleration(prop, run.figure_dir, run.draw)
    from suite.report.keys_performance import headline_frame
    from suite.analysis.summary import metric_summary

    hd = headline_frame(run)
    if not hd.empty:
        summ = metric_summary(hd, **run.bootstrap)
        r_of = cond_rows.groupby("condition")["value"].first().to_dict()
        summ = summ.assign(nominal_acceleration=summ["condition"].map(lambda c: r_of.get(c, 1.0)))
        summ = summ.sort_values(["stage", "metric", "structure", "recon", "segmentation",
                                 "nominal_acceleration"])
        keys = summary_keys(summ)
        src = sources_by_group(hd, keys)
        csrc = sources_by_group(cond_rows, ["condition"])
        lead = (("metric", "metric"), ("structure", "structure"), ("recon", "reconstruction"),
                ("segmentation", "segmentation"), ("condition", "condition"),
                ("nominal_acceleration", "nominal R"))
        rows = frame_rows(summ, [c for c, _ in lead] + [c for c, _ in _SUMMARY_COLS],
                          lambda rec: {"results": sorted(lookup(src, rec, keys) + lookup(csrc, rec, ["condition"]))})
        tables.append(Table("by_condition", "Headline metrics by condition", lead + _SUMMARY_COLS, rows))
    return Evidence(
        key="robustness.acquisition", title=_title("robustness.acquisition"), status="measured",
        query="SELECT rowid, * FROM results WHERE stage IN ('clinical', 'condition') or headline metrics",
        computation="suite.analysis.summary.error_propagation (Bland-Altman of LV EF per condition) "
                    "and " + _computation(run),
        tables=tuple(tables), figures=tuple(figs))


@evidence_key("robustness.adversarial", "Robustness to perturbations (adversarial and random)")
def _adversarial(run: RunData) -> Evidence:
    r = run.results
    rob = r[r["stage"] == "robustness"]
    if rob.empty:
        return unavailable("robustness.adversarial", "the run did not include a robustness section "
                           "(no `robustness` stage rows in the store)")
    from suite.analysis.robustness import instability_ratios, robustness_curves

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
    from suite.report.figures import robustness_curves as plot_curves

    figs = plot_curves(curves, run.figure_dir, run.draw)
    return Evidence(
        key="robustness.adversarial", title=_title("robustness.adversarial"), status="measured",
        query="SELECT rowid, * FROM results WHERE stage = 'robustness'",
        computation="suite.analysis.robustness.robustness_curves and instability_ratios: subject "
                    f"means, {b['n_resamples']}-resample subject bootstrap CI, seed {b['seed']}",
        tables=tuple(tables), figures=tuple(figs))


@evidence_key("robustness.audit", "Data-crime audit flags per case")
def _audit(run: RunData) -> Evidence:
    from suite.analysis.robustness import audit_table

    table = audit_table(_Frames(run)) if not run.cases.empty else None
    if table is None or table.empty or not table["audited"].any():
        return unavailable("robustness.audit", "no case carries data-crime audit results, so the "
                           "run did not include a data-crime audit")
    cols = (("case_id", "case"), ("dataset", "data set"), ("audited", "audited"),
            ("flagged", "flagged"), ("flags", "flags"))
    rows = frame_rows(table, [c for c, _ in cols], lambda rec: {"cases": [rec["case_id"]]})
    return Evidence(
        key="robustness.audit", title=_title("robustness.audit"), status="measured",
        query="SELECT case_id, dataset, meta FROM cases  (meta.audit_flags)",
        computation="suite.analysis.robustness.audit_table: flags the on-load audit recorded",
        facts=(("cases flagged", int(table["flagged"].sum())),),
        tables=(Table("audit", "Audit flags per case", cols, rows),))

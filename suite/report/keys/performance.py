"""Evidence keys about performance: image quality, temporal fidelity, segmentation, acceptance,
subgroups, failures, precision, sample size, diagnostic accuracy.

Numbers come from :mod:`suite.analysis` (``metric_summary``, ``stratum_summary``,
``check_acceptance``, ``worst_cases``, ``repeatability``) with the run's own bootstrap
settings, so they are the numbers of ``report/summary.md``; each table row cites the
``results`` row ids it was computed from (the rows of its group). Clinical agreement is in
:mod:`suite.report.keys.clinical`, stages beyond the built-in ones in
:mod:`suite.report.keys.stages`.
"""

from __future__ import annotations

from suite.analysis.agreement import with_acceleration
from suite.analysis.failures import worst_cases
from suite.analysis.precision import repeatability
from suite.analysis.summary import check_acceptance, metric_summary
from suite.report.evidence import (Evidence, RunData, Table, evidence_key, not_applicable,
                                   title_of, unavailable)
from suite.report.figures import forest_plots, metric_vs_acceleration
from suite.report.keys.common import (ci_label, computation, headline_frame, method_cols,
                                      summary_table)

__all__ = ["IMAGE_METRICS", "SEGMENTATION_METRICS", "TEMPORAL_METRICS"]

#: Metrics shown in the documents (all stored metrics stay in the store and summary CSVs).
IMAGE_METRICS = ("nmse", "psnr", "ssim")
SEGMENTATION_METRICS = ("dice", "hd95")
TEMPORAL_METRICS = ("high_frequency_retention", "profile_error", "xf_error", "es_timing_error_ms",
                    "curve_error")


def _stage_evidence(run: RunData, key: str, stage: str, metrics, lead, why: str) -> Evidence:
    r = run.results
    df = r[(r["stage"] == stage) & r["metric"].isin(metrics)]
    if df.empty:
        return unavailable(key, why)
    table, _ = summary_table(run, df, stage, f"{stage} metrics", lead)
    return Evidence(key=key, title=title_of(key), status="measured",
                    query=f"SELECT rowid, * FROM results WHERE stage = '{stage}' AND metric IN "
                          f"({', '.join(repr(m) for m in metrics)})",
                    computation=computation(run), tables=(table,))


@evidence_key("performance.image", "Image quality of reconstructions against the fully sampled reference")
def _image(run: RunData) -> Evidence:
    ev = _stage_evidence(run, "performance.image", "recon", IMAGE_METRICS,
                         (("metric", "metric"), ("profile", "profile"), ("condition", "condition"),
                          ("recon", "reconstruction")),
                         "the run has no reconstruction metrics (no undersampled condition or no "
                         "reconstruction method)")
    if not ev.measured or not run.draw:
        return ev
    r = run.results
    recon = r[r["stage"] == "recon"]
    summ = with_acceleration(metric_summary(recon, **run.bootstrap), r)
    figs = metric_vs_acceleration(summ, run.figure_dir, run.draw, ci_label=ci_label(run))
    return Evidence(**{**ev.__dict__, "figures": tuple(figs)})


@evidence_key("performance.temporal", "Temporal fidelity of reconstructions")
def _temporal(run: RunData) -> Evidence:
    return _stage_evidence(run, "performance.temporal", "temporal", TEMPORAL_METRICS,
                           (("metric", "metric"), ("profile", "part"), ("condition", "condition"),
                            ("recon", "reconstruction")),
                           "the protocol did not enable temporal metrics (`metrics.temporal`)")


@evidence_key("performance.segmentation", "Segmentation overlap and boundary distances")
def _segmentation(run: RunData) -> Evidence:
    return _stage_evidence(run, "performance.segmentation", "segmentation", SEGMENTATION_METRICS,
                           (("metric", "metric"), ("structure", "structure"), ("phase", "phase"),
                            ("profile", "empty policy"), ("condition", "condition"),
                            ("recon", "reconstruction"), ("segmentation", "segmentation")),
                           "the run has no segmentation metrics (no segmentation method or no "
                           "reference labels)")


@evidence_key("performance.acceptance", "Pre-specified acceptance criteria")
def _acceptance(run: RunData) -> Evidence:
    crits = run.protocol.get("acceptance") or []
    if not crits:
        return unavailable("performance.acceptance", "the protocol states no acceptance criteria "
                           "(`acceptance`), so no performance goal was pre-specified")
    rows = [{"criterion": a["label"], "value": a["value"], "n_subjects": a["n_subjects"],
             "verdict": "pass" if a["passed"] else "FAIL",
             "sources": {"results": a["row_ids"], "manifest": ["protocol.content.acceptance"]}}
            for a in check_acceptance(run.results, crits)]
    return Evidence(
        key="performance.acceptance", title=title_of("performance.acceptance"), status="measured",
        query="SELECT rowid, * FROM results WHERE metric = <criterion metric> AND <criterion filters>",
        computation="suite.analysis.summary.check_acceptance: statistic over subjects of each "
                    "subject's mean of its usable values, compared with the pre-specified bound",
        tables=(Table("acceptance", "Acceptance criteria", (("criterion", "criterion"), ("value", "value"),
                                                            ("n_subjects", "subjects"), ("verdict", "verdict")),
                      tuple(rows)),))


@evidence_key("performance.subgroups", "Performance by subgroup (strata)")
def _subgroups(run: RunData) -> Evidence:
    df = headline_frame(run)
    if df.empty:
        return unavailable("performance.subgroups", "the store holds none of the headline metrics")
    tables, summaries = [], {}
    multi = []
    for s in run.strata():
        if s not in df.columns:
            continue
        if df[s].astype(str).nunique() > 1:
            multi.append(s)
        t, summ = summary_table(run, df, f"stratum_{s}", f"By {s}",
                                ((s, s), ("metric", "metric"), ("structure", "structure"),
                                 ("phase", "phase"), ("profile", "profile"), ("condition", "condition"),
                                 ("recon", "reconstruction"), ("segmentation", "segmentation")), by=s)
        tables.append(t)
        summaries[s] = with_acceleration(summ, run.results) if not summ.empty else summ
    if not tables:
        return unavailable("performance.subgroups", f"none of the strata {run.strata()} is recorded")
    figs = forest_plots(summaries, list(run.method_stages), run.figure_dir, run.draw,
                        ci_label=ci_label(run))
    reason = "" if multi else ("every stratum has a single level in this run, so subgroups cannot "
                               "be compared")
    return Evidence(
        key="performance.subgroups", title=title_of("performance.subgroups"), status="measured",
        reason=reason,
        query="SELECT rowid, * FROM results JOIN cases USING (case_id) WHERE (stage, metric, "
              "structure, phase) IN headline metrics; grouped by stratum",
        computation=computation(run, "stratum_summary"), tables=tuple(tables), figures=tuple(figs))


@evidence_key("performance.failures", "Failure analysis: failed jobs and worst cases")
def _failures(run: RunData) -> Evidence:
    jobs = run.jobs
    jf = jobs[jobs["status"] == "failed"] if not jobs.empty else jobs
    methods = list(run.method_stages)
    fail_rows = []
    for r in jf.to_dict("records"):
        msg = (r["message"] or "").splitlines()[0][:200] if r["message"] else ""
        method = next((r[m] for m in reversed(methods) if r.get(m)), "")
        fail_rows.append({"job": r["job_id"], "case": r["case_id"], "phase": r["phase"],
                          "condition": r["condition"], "method": method, "error": r["error"],
                          "message": msg, "sources": {"jobs": [r["job_id"]]}})
    worst = []
    for w in worst_cases(headline_frame(run)).to_dict("records"):
        chain = " + ".join(str(w[m]) for m in methods if w.get(m))
        worst.append({"metric": w["metric"], "structure": w["structure"], "phase": w["phase"],
                      "condition": w["condition"], "method": chain, "worst_case": w["case_id"],
                      "pathology": w["pathology"], "vendor": w["vendor"], "value": w["value"],
                      "unit": w["unit"], "sources": {"results": [int(w["row_id"])]}})
    if not fail_rows and not worst:
        return unavailable("performance.failures", "no failed job and no headline metric in the store")
    return Evidence(
        key="performance.failures", title=title_of("performance.failures"), status="measured",
        query="SELECT * FROM jobs WHERE status = 'failed'; headline metric rows of results",
        computation="failed jobs listed one by one; suite.analysis.failures.worst_cases: per "
                    "method and condition the usable value that is worst in the metric's "
                    "stored direction",
        facts=(("failed jobs", len(fail_rows)),),
        tables=(Table("failed_jobs", "Failed jobs", (("job", "job"), ("case", "case"), ("phase", "phase"),
                                                     ("condition", "condition"), ("method", "method"),
                                                     ("error", "error"), ("message", "message")), tuple(fail_rows)),
                Table("worst_cases", "Worst case per method and condition",
                      (("metric", "metric"), ("structure", "structure"), ("phase", "phase"),
                       ("condition", "condition"), ("method", "method"), ("worst_case", "case"),
                       ("pathology", "pathology"), ("vendor", "vendor"), ("value", "value"),
                       ("unit", "unit")), tuple(worst))))


@evidence_key("performance.precision", "Repeatability and reproducibility")
def _precision(run: RunData) -> Evidence:
    rep = repeatability(run.results, run.cases)
    if not rep.possible:
        return unavailable("performance.precision", "the run holds at most one case (acquisition) "
                           "per subject for all but at most one subject, so repeatability (scan-rescan) "
                           "cannot be estimated; add repeated acquisitions of the same subjects to a "
                           "data set of the protocol")
    if not rep.results:
        return unavailable("performance.precision", "repeated cases exist but no clinical parameter "
                           "was measured on complete repeats")
    lead = (("metric", "parameter"), ("condition", "condition")) + method_cols(run)
    rows = tuple(r.to_dict() | {"sources": {"results": list(r.row_ids)}} for r in rep.results)
    return Evidence(
        key="performance.precision", title=title_of("performance.precision"), status="measured",
        query="SELECT rowid, * FROM results WHERE stage = 'clinical' AND subject IN <subjects with >= 2 cases>",
        computation="suite.analysis.precision.repeatability: ICC(1,1) over subjects, repeated "
                    "acquisitions as raters, usable values only",
        tables=(Table("repeatability", "Scan-rescan repeatability (ICC(1,1))",
                      lead + (("n_subjects", "subjects"), ("icc_1_1", "ICC(1,1)"),
                              ("ci_low", "CI low"), ("ci_high", "CI high")), rows),))


@evidence_key("performance.sample_size", "Test-set size and precision of the headline estimates")
def _sample_size(run: RunData) -> Evidence:
    df = headline_frame(run)
    if df.empty:
        return unavailable("performance.sample_size", "the store holds none of the headline metrics")
    table, _ = summary_table(run, df, "sample_size", "Subjects and CI per headline estimate",
                             (("metric", "metric"), ("structure", "structure"), ("phase", "phase"),
                              ("condition", "condition"), ("recon", "reconstruction"),
                              ("segmentation", "segmentation")))
    return Evidence(
        key="performance.sample_size", title=title_of("performance.sample_size"), status="measured",
        query="headline metric rows of results (see performance.subgroups)",
        computation=computation(run) + "; the CI width shows the precision the test-set size gave",
        facts=(("subjects in the store", int(run.results["subject"].nunique())),),
        tables=(table,))


@evidence_key("performance.diagnostic", "Diagnostic accuracy (classification outputs)")
def _diagnostic(run: RunData) -> Evidence:
    r = run.results
    if not (r["stage"] == "diagnosis").any():
        return not_applicable("performance.diagnostic", "the run evaluates no classification output "
                              "(no `diagnosis` stage in the store); its outputs are images, "
                              "label maps and continuous measurements")
    return unavailable("performance.diagnostic", "diagnosis rows exist but the report does not "
                       "yet summarise classification metrics")

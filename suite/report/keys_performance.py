"""Evidence keys about performance: image quality, temporal fidelity, segmentation, clinical
agreement, acceptance, subgroups, failures, precision, sample size, diagnostic accuracy.

Numbers come from :mod:`suite.analysis.summary` (``metric_summary``, ``stratum_summary``,
``clinical_agreement``, ``check_acceptance``) with the run's own bootstrap settings, so they are
the numbers of ``report/summary.md``; each table row cites the ``results`` row ids it was
computed from (the rows of its group).
"""

from __future__ import annotations

import pandas as pd

from suite.report.evidence import (Evidence, RunData, Table, evidence_key, frame_rows, lookup,
                                   not_applicable, sources_by_group, unavailable)

__all__ = ["IMAGE_METRICS", "SEGMENTATION_METRICS", "TEMPORAL_METRICS", "HEADLINE"]

#: Metrics shown in the documents (all stored metrics stay in the store and summary CSVs).
IMAGE_METRICS = ("nmse", "psnr", "ssim")
SEGMENTATION_METRICS = ("dice", "hd95")
TEMPORAL_METRICS = ("high_frequency_retention", "profile_error", "xf_error", "es_timing_error_ms",
                    "curve_error")
#: Headline metrics for subgroup tables, forest plots, sample size and worst cases.
HEADLINE = (("recon", "ssim", "", ""), ("recon", "psnr", "", ""),
            ("segmentation", "dice", "LV", "ED"), ("segmentation", "dice", "MYO", "ED"),
            ("segmentation", "dice", "RV", "ED"), ("segmentation", "hd95", "LV", "ED"))

_SUMMARY_COLS = (("mean", "mean"), ("ci_low", "CI low"), ("ci_high", "CI high"),
                 ("n_subjects", "subjects"), ("n_excluded", "excluded"), ("unit", "unit"))


def summary_keys(df: pd.DataFrame, by=None) -> list[str]:
    """Grouping columns :func:`suite.analysis.summary.metric_summary` uses for ``df``."""
    from suite.analysis.summary import summary_keys as keys

    return keys(df, by)


def _summary_table(run: RunData, df: pd.DataFrame, name: str, title: str, lead_cols, by=None):
    from suite.analysis.summary import metric_summary, stratum_summary

    if by:
        df = df.assign(**{by: df[by].astype(str)})
        summ = stratum_summary(df, by, **run.bootstrap)
    else:
        summ = metric_summary(df, **run.bootstrap)
    keys = summary_keys(df, by)
    src = sources_by_group(df, keys)
    rows = frame_rows(summ, [c for c, _ in lead_cols] + [c for c, _ in _SUMMARY_COLS],
                      lambda rec: {"results": lookup(src, rec, keys)})
    return Table(name, title, tuple(lead_cols) + _SUMMARY_COLS, rows), summ


def _computation(run: RunData, fn: str = "metric_summary") -> str:
    b = run.bootstrap
    return (f"suite.analysis.summary.{fn}: mean over subjects of each subject's mean; "
            f"{b['n_resamples']}-resample subject percentile bootstrap CI at level "
            f"{1 - b['alpha']:.4g}, seed {b['seed']}; NULL values excluded and counted")


def _stage_evidence(run: RunData, key: str, stage: str, metrics, lead, why: str) -> Evidence:
    r = run.results
    df = r[(r["stage"] == stage) & r["metric"].isin(metrics)]
    if df.empty:
        return unavailable(key, why)
    table, _ = _summary_table(run, df, stage, f"{stage} metrics", lead)
    return Evidence(key=key, title=_title(key), status="measured",
                    query=f"SELECT rowid, * FROM results WHERE stage = '{stage}' AND metric IN "
                          f"({', '.join(repr(m) for m in metrics)})",
                    computation=_computation(run), tables=(table,))


def _title(key):
    from suite.report.evidence import EVIDENCE_KEYS

    return EVIDENCE_KEYS[key][0]


@evidence_key("performance.image", "Image quality of reconstructions against the fully sampled reference")
def _image(run: RunData) -> Evidence:
    ev = _stage_evidence(run, "performance.image", "recon", IMAGE_METRICS,
                         (("metric", "metric"), ("profile", "profile"), ("condition", "condition"),
                          ("recon", "reconstruction")),
                         "the run has no reconstruction metrics (no undersampled condition or no "
                         "reconstruction method)")
    if not ev.measured:
        return ev
    from suite.report.figures import metric_vs_acceleration

    figs = metric_vs_acceleration(run, run.figure_dir, run.draw)
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


@evidence_key("performance.clinical", "Agreement of clinical parameters with the reference")
def _clinical(run: RunData) -> Evidence:
    from suite.analysis.agreement import clinical_agreement

    r = run.results
    clin = r[(r["stage"] == "clinical") & r["value"].notna() & r["reference_value"].notna()]
    params = (run.protocol.get("analyses") or {}).get("agreement") or None
    if params:
        clin = clin[clin["metric"].isin(params)]
    if clin.empty:
        return unavailable("performance.clinical", "the store holds no clinical parameter with a "
                           "reference value (enable `metrics.clinical` and segmentation)")
    agree = clinical_agreement(clin)
    keys = ["metric", "condition", "recon", "segmentation", "profile"]
    src = sources_by_group(clin, keys)
    cols = (("metric", "parameter"), ("condition", "condition"), ("recon", "reconstruction"),
            ("segmentation", "segmentation"), ("reference", "reference"), ("n", "n"),
            ("unit", "unit"), ("bias", "bias"), ("bias_ci_low", "bias CI low"),
            ("bias_ci_high", "bias CI high"), ("loa_lower", "LoA lower"), ("loa_upper", "LoA upper"),
            ("ccc", "CCC"), ("icc_2_1", "ICC(2,1)"))
    rows = frame_rows(agree, [c for c, _ in cols],
                      lambda rec: {"results": lookup(src, {**rec, "profile": rec["reference"]}, keys)})
    from suite.report.figures import bland_altman_figures

    figs = bland_altman_figures(run, clin, run.figure_dir, run.draw)
    return Evidence(
        key="performance.clinical", title=_title("performance.clinical"), status="measured",
        query="SELECT rowid, * FROM results WHERE stage = 'clinical' AND value IS NOT NULL AND "
              "reference_value IS NOT NULL" + (f" AND metric IN ({', '.join(map(repr, params))})" if params else ""),
        computation="suite.analysis.summary.clinical_agreement: Bland-Altman (test - reference, "
                    "SD ddof 1, 1.96 x SD limits of agreement, approximate 95 % CI of the bias), "
                    "Lin's CCC, ICC(2,1); at least 3 subjects",
        tables=(Table("agreement", "Agreement with the reference (limits of agreement are not "
                      "confidence intervals)", cols, rows),),
        figures=tuple(figs))


class _Frames:
    """Adapter giving :func:`suite.analysis.summary.load_results` the run's tables."""

    def __init__(self, run: RunData):
        self.run = run

    def frame(self, table: str):
        if table == "results":
            cols = [c for c in self.run.results.columns
                    if c not in ("row_id", "vendor", "field_strength_t", "site", "pathology", "preset")]
            return self.run.results[cols]
        return getattr(self.run, table)


class _Proto:
    def __init__(self, raw):
        self.acceptance = raw.get("acceptance") or []


@evidence_key("performance.acceptance", "Pre-specified acceptance criteria")
def _acceptance(run: RunData) -> Evidence:
    from suite.analysis.summary import check_acceptance

    crits = run.protocol.get("acceptance") or []
    if not crits:
        return unavailable("performance.acceptance", "the protocol states no acceptance criteria "
                           "(`acceptance`), so no performance goal was pre-specified")
    results = check_acceptance(_Frames(run), _Proto(run.protocol))
    rows = []
    r = run.results
    for a in results:
        crit = a["criterion"]
        sel = r[r["metric"] == crit["metric"]]
        for col in ("stage", "recon", "segmentation", "condition", "structure", "phase", "profile"):
            if col in crit:
                sel = sel[sel[col] == crit[col]]
        sel = sel[sel["value"].notna()]
        bound = " and ".join(f"{'>=' if b == 'min' else '<='} {crit[b]}" for b in ("min", "max") if b in crit)
        where = ", ".join(f"{k}={crit[k]}" for k in ("stage", "recon", "segmentation", "condition",
                                                      "structure", "phase", "profile") if k in crit)
        rows.append({"criterion": f"{crit.get('statistic', 'mean')} {crit['metric']} ({where}) {bound}",
                     "value": a["value"], "n_subjects": a["n_subjects"],
                     "verdict": "pass" if a["passed"] else "FAIL",
                     "sources": {"results": sorted(int(i) for i in sel["row_id"]),
                                 "manifest": ["protocol.content.acceptance"]}})
    return Evidence(
        key="performance.acceptance", title=_title("performance.acceptance"), status="measured",
        query="SELECT rowid, * FROM results WHERE metric = <criterion metric> AND <criterion filters> "
              "AND value IS NOT NULL",
        computation="suite.analysis.summary.check_acceptance: statistic over subjects of each "
                    "subject's mean, compared with the pre-specified bound",
        tables=(Table("acceptance", "Acceptance criteria", (("criterion", "criterion"), ("value", "value"),
                                                            ("n_subjects", "subjects"), ("verdict", "verdict")),
                      tuple(rows)),))


def headline_frame(run: RunData) -> pd.DataFrame:
    """Rows of the headline metrics (see :data:`HEADLINE`); the first image profile only."""
    r = run.results
    parts = []
    prof = ((run.protocol.get("metrics") or {}).get("image") or {}).get("profiles") or ["fastmri"]
    for stage, metric, structure, phase in HEADLINE:
        sel = r[(r["stage"] == stage) & (r["metric"] == metric)]
        if stage == "recon":
            sel = sel[sel["profile"] == prof[0]]
        if structure:
            sel = sel[(sel["structure"] == structure) & (sel["phase"] == phase)]
        parts.append(sel)
    return pd.concat(parts) if parts else r.iloc[:0]


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
        t, summ = _summary_table(run, df, f"stratum_{s}", f"By {s}",
                                 ((s, s), ("metric", "metric"), ("structure", "structure"),
                                  ("phase", "phase"), ("profile", "profile"), ("condition", "condition"),
                                  ("recon", "reconstruction"), ("segmentation", "segmentation")), by=s)
        tables.append(t)
        summaries[s] = summ
    if not tables:
        return unavailable("performance.subgroups", f"none of the strata {run.strata()} is recorded")
    from suite.report.figures import forest_plots

    figs = forest_plots(run, summaries, run.figure_dir, run.draw)
    reason = "" if multi else ("every stratum has a single level in this run, so subgroups cannot "
                               "be compared")
    return Evidence(
        key="performance.subgroups", title=_title("performance.subgroups"), status="measured",
        reason=reason,
        query="SELECT rowid, * FROM results JOIN cases USING (case_id) WHERE (stage, metric, "
              "structure, phase) IN headline metrics; grouped by stratum",
        computation=_computation(run, "stratum_summary"), tables=tuple(tables), figures=tuple(figs))


@evidence_key("performance.failures", "Failure analysis: failed jobs and worst cases")
def _failures(run: RunData) -> Evidence:
    jobs = run.jobs
    jf = jobs[jobs["status"] == "failed"] if not jobs.empty else jobs
    fail_rows = []
    for r in jf.itertuples():
        msg = (r.message or "").splitlines()[0][:200] if r.message else ""
        fail_rows.append({"job": r.job_id, "case": r.case_id, "phase": r.phase, "condition": r.condition,
                          "method": r.segmentation or r.recon, "error": r.error, "message": msg,
                          "sources": {"jobs": [r.job_id]}})
    worst = []
    df = headline_frame(run)
    df = df[df["value"].notna()]
    for (stage, metric, structure, phase, prof), g in df.groupby(
            ["stage", "metric", "structure", "phase", "profile"], sort=True):
        lower_better = "lower" in str(g["direction"].iloc[0])
        for (rec, seg, cond), h in g.groupby(["recon", "segmentation", "condition"], sort=True):
            w = h.sort_values("value", ascending=not lower_better).iloc[0]
            worst.append({"metric": metric, "structure": structure, "phase": phase,
                          "condition": cond, "method": f"{rec}" + (f" + {seg}" if seg else ""),
                          "worst_case": w["case_id"], "pathology": w["pathology"], "vendor": w["vendor"],
                          "value": float(w["value"]), "unit": w["unit"],
                          "sources": {"results": [int(w["row_id"])]}})
    if not fail_rows and not worst:
        return unavailable("performance.failures", "no failed job and no headline metric in the store")
    return Evidence(
        key="performance.failures", title=_title("performance.failures"), status="measured",
        query="SELECT * FROM jobs WHERE status = 'failed'; headline metric rows of results",
        computation="failed jobs listed one by one; worst case per method and condition = the "
                    "lowest (higher-is-better) or highest (lower-is-better) stored value",
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
    c = run.cases
    repeats = c.groupby("subject")["case_id"].nunique() if not c.empty else pd.Series(dtype=int)
    rep_subjects = sorted(repeats[repeats >= 2].index)
    if len(rep_subjects) < 2:
        return unavailable("performance.precision", "the run holds at most one case (acquisition) "
                           "per subject for all but at most one subject, so repeatability (scan-rescan) "
                           "cannot be estimated; add repeated acquisitions of the same subjects to a "
                           "data set of the protocol")
    from suite.stats import icc

    r = run.results
    clin = r[(r["stage"] == "clinical") & r["subject"].isin(rep_subjects) & r["value"].notna()]
    rows = []
    for (metric, cond, rec, seg), g in clin.groupby(["metric", "condition", "recon", "segmentation"], sort=True):
        g = g.sort_values(["subject", "case_id"])
        g = g.assign(rep=g.groupby("subject").cumcount())
        try:
            res = icc(g["subject"], g["rep"], g["value"])["ICC(1,1)"]
        except (ValueError, KeyError):
            continue
        rows.append({"metric": metric, "condition": cond, "recon": rec, "segmentation": seg,
                     "n_subjects": int(g["subject"].nunique()), "icc_1_1": res.icc,
                     "ci_low": res.ci[0], "ci_high": res.ci[1],
                     "sources": {"results": sorted(int(i) for i in g["row_id"])}})
    if not rows:
        return unavailable("performance.precision", "repeated cases exist but no clinical parameter "
                           "was measured on complete repeats")
    return Evidence(
        key="performance.precision", title=_title("performance.precision"), status="measured",
        query="SELECT rowid, * FROM results WHERE stage = 'clinical' AND subject IN <subjects with >= 2 cases>",
        computation="suite.stats.icc ICC(1,1) over subjects, repeated acquisitions as raters",
        tables=(Table("repeatability", "Scan-rescan repeatability (ICC(1,1))",
                      (("metric", "parameter"), ("condition", "condition"), ("recon", "reconstruction"),
                       ("segmentation", "segmentation"), ("n_subjects", "subjects"),
                       ("icc_1_1", "ICC(1,1)"), ("ci_low", "CI low"), ("ci_high", "CI high")), tuple(rows)),))


@evidence_key("performance.sample_size", "Test-set size and precision of the headline estimates")
def _sample_size(run: RunData) -> Evidence:
    df = headline_frame(run)
    if df.empty:
        return unavailable("performance.sample_size", "the store holds none of the headline metrics")
    table, _ = _summary_table(run, df, "sample_size", "Subjects and CI per headline estimate",
                              (("metric", "metric"), ("structure", "structure"), ("phase", "phase"),
                               ("condition", "condition"), ("recon", "reconstruction"),
                               ("segmentation", "segmentation")))
    return Evidence(
        key="performance.sample_size", title=_title("performance.sample_size"), status="measured",
        query="headline metric rows of results (see performance.subgroups)",
        computation=_computation(run) + "; the CI width shows the precision the test-set size gave",
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

"""Evidence keys about the run and its data: provenance, protocol, methods, statistics settings,
cohort, acquisition, case flow, missing values, reference standard, independence, integrity.

Every table row cites its sources: ``results`` row ids, ``jobs``/``cases`` ids, ``failures``
row ids or ``manifest`` JSON paths (see :mod:`suite.report.evidence`).
"""

from __future__ import annotations

import json

from suite.analysis.cohort import acquisition_table, cohort_table, missing_values, unit_of_field
from suite.analysis.failures import case_flow, failure_causes
from suite.case import STRATA_COLUMNS
from suite.report.evidence import (Evidence, RunData, Table, evidence_key, frame_rows,
                                   not_applicable, unavailable)
from suite.report.figures import flow_diagram

__all__: list[str] = []

def _manifest_row(item: str, value, *paths: str) -> dict:
    """A table row ``{item, value}`` citing the manifest keys ``paths`` it was read from."""
    return {"item": item, "value": value, "sources": {"manifest": list(paths)}}


@evidence_key("run.provenance", "Software, hardware and version provenance")
def _provenance(run: RunData) -> Evidence:
    m = run.manifest
    if not m:
        return unavailable("run.provenance", f"{run.run_dir}/manifest.json is missing; re-run "
                           "the protocol (the runner writes it at the end of a run)")
    suite = m.get("suite") or {}
    rows = [_manifest_row("cmrsuite version", suite.get("version"), "suite.version"),
            _manifest_row("git commit", suite.get("commit"), "suite.commit"),
            _manifest_row("working tree modified", suite.get("dirty"), "suite.dirty"),
            _manifest_row("python", (m.get("python") or "").split()[0] or None, "python"),
            _manifest_row("platform", m.get("platform"), "platform"),
            _manifest_row("executor", json.dumps(m.get("executor")), "executor"),
            _manifest_row("run started (UTC)", m.get("started"), "started"),
            _manifest_row("run finished (UTC)", m.get("finished"), "finished")]
    pk = [{"package": k, "version": v if v is not None else "not installed",
           "sources": {"manifest": [f"packages.{k}"]}} for k, v in sorted((m.get("packages") or {}).items())]
    w = [{"file": k, "sha256": v.get("sha256"), "matches_record": v.get("matches_record"),
          "sources": {"manifest": [f"weights.{k}"]}} for k, v in sorted((m.get("weights") or {}).items())]
    seeds = m.get("seeds") or {}
    sd = [{"seed": "protocol", "value": seeds.get("protocol"), "sources": {"manifest": ["seeds.protocol"]}}]
    sd += [{"seed": f"phantom dataset {k}", "value": v, "sources": {"manifest": [f"seeds.phantom.{k}"]}}
           for k, v in sorted((seeds.get("phantom") or {}).items())]
    return Evidence(
        key="run.provenance", title="Software, hardware and version provenance", status="measured",
        query="manifest.json: suite, python, platform, packages, weights, seeds",
        computation="copied from the run's provenance manifest (suite.runner.provenance.build_manifest)",
        tables=(Table("environment", "Environment", (("item", "item"), ("value", "value")), tuple(rows)),
                Table("packages", "Package versions", (("package", "package"), ("version", "version")), tuple(pk)),
                Table("weights", "Weight files (SHA-256)", (("file", "file"), ("sha256", "SHA-256"),
                                                            ("matches_record", "matches record")), tuple(w)),
                Table("seeds", "Seeds", (("seed", "seed"), ("value", "value")), tuple(sd))))


@evidence_key("run.protocol", "Pre-specified evaluation protocol")
def _protocol(run: RunData) -> Evidence:
    p = run.protocol
    if not p:
        return unavailable("run.protocol", f"{run.run_dir}: neither manifest.json nor protocol.json "
                           "holds the protocol; re-run it")
    proto = run.manifest.get("protocol") or {}
    rows = [_manifest_row("name", p.get("name"), "protocol.name"),
            _manifest_row("file", proto.get("source"), "protocol.source"),
            _manifest_row("SHA-256 (canonical JSON)",
                          proto.get("sha256") or run.info.get("protocol_sha256"), "protocol.sha256"),
            _manifest_row("seed", p.get("seed", 0), "protocol.content.seed"),
            _manifest_row("failure tolerance", p.get("failure_tolerance", 0.0),
                          "protocol.content.failure_tolerance")]
    conds = [{"name": c.get("name"), "type": c.get("type"),
              "settings": ", ".join(f"{k}={v}" for k, v in sorted(c.items()) if k not in ("name", "type")),
              "sources": {"manifest": [f"protocol.content.conditions[{i}]"]}}
             for i, c in enumerate(p.get("conditions") or [{"name": "fully-sampled", "type": "fully-sampled"}])]
    dsets = [{"name": d.get("name"), "kind": "phantom" if "phantom" in d else "files",
              "settings": json.dumps(d.get("phantom") or {"root": d.get("root")}, sort_keys=True),
              "sources": {"manifest": [f"protocol.content.datasets[{i}]"]}}
             for i, d in enumerate(p.get("datasets") or [])]
    acc = [{"criterion": json.dumps(c, sort_keys=True), "sources": {"manifest": [f"protocol.content.acceptance[{i}]"]}}
           for i, c in enumerate(p.get("acceptance") or [])]
    metrics = [{"group": k, "settings": json.dumps(v, sort_keys=True),
                "sources": {"manifest": [f"protocol.content.metrics.{k}"]}}
               for k, v in sorted((p.get("metrics") or {}).items())]
    return Evidence(
        key="run.protocol", title="Pre-specified evaluation protocol", status="measured",
        query="manifest.json: protocol (source, sha256, content)",
        computation="the validated protocol the run executed (suite.protocol.validate_protocol)",
        tables=(Table("protocol", "Protocol", (("item", "item"), ("value", "value")), tuple(rows)),
                Table("datasets", "Data sets", (("name", "name"), ("kind", "kind"), ("settings", "settings")), tuple(dsets)),
                Table("conditions", "Conditions (input changes applied before the method)",
                      (("name", "name"), ("type", "type"), ("settings", "settings")), tuple(conds)),
                Table("metrics", "Metrics", (("group", "group"), ("settings", "settings")), tuple(metrics)),
                Table("acceptance", "Pre-specified acceptance criteria", (("criterion", "criterion"),), tuple(acc))))


@evidence_key("run.methods", "Methods under test")
def _methods(run: RunData) -> Evidence:
    if run.jobs.empty:
        return unavailable("run.methods", "the store holds no jobs")
    rows = []
    for phase in run.method_stages:
        if phase not in run.jobs.columns:
            continue
        sel = run.jobs[run.jobs["phase"] == phase]
        for label, g in sel.groupby(phase, sort=True):
            spec = json.loads(g["spec"].iloc[0]) if g["spec"].iloc[0] else {}
            chain = {s: e for s, e in spec.get("methods") or []}  # JobSpec.to_dict
            entry = chain.get(phase) or spec.get(phase) or {}  # or a store before method chains
            kind = next((k for k in ("name", "plugin", "entry_point", "predictions") if k in entry), "")
            rows.append({"stage": phase, "method": label, "kind": "reference" if kind in ("", "name") else kind,
                         "parameters": json.dumps(entry.get("params") or {}, sort_keys=True),
                         "n_jobs": int(len(g)), "n_done": int((g["status"] == "done").sum()),
                         "n_failed": int((g["status"] == "failed").sum()),
                         "sources": {"jobs": sorted(g["job_id"])}})
    return Evidence(
        key="run.methods", title="Methods under test", status="measured",
        query="SELECT job_id, phase, recon, segmentation, status, spec FROM jobs",
        computation="jobs grouped by stage and method label; counts of jobs by status",
        tables=(Table("methods", "Methods and their jobs",
                      (("stage", "stage"), ("method", "method"), ("kind", "kind"),
                       ("parameters", "parameters"), ("n_jobs", "jobs"), ("n_done", "done"),
                       ("n_failed", "failed")), tuple(rows)),))


@evidence_key("run.method_files", "Files of the methods under test (weights, SHA-256)")
def _method_files(run: RunData) -> Evidence:
    m = run.manifest
    if not m or "methods" not in m:
        return unavailable("run.method_files", f"{run.run_dir}/manifest.json records no files of "
                           "the methods under test (a run of an earlier version, or no manifest); "
                           "re-run the protocol")
    if not m["methods"]:
        return not_applicable("run.method_files", "every method of the run is a reference method "
                              "of the suite; their weight files are listed under run.provenance")
    rows = []
    for i, rec in enumerate(m["methods"]):
        files = rec.get("files") or {}
        if not files:
            rows.append({"stage": rec.get("stage"), "method": rec.get("label"),
                         "kind": rec.get("kind"), "file": "none named in params",
                         "sha256": "not evidenced: the method's weights (if any) are not hashed",
                         "sources": {"manifest": [f"methods[{i}]"]}})
        for param, d in sorted(files.items()):
            name = str(d.get("path", "")).replace("\\", "/").rsplit("/", 1)[-1]
            what = f"{name} (folder, {d['files']} files)" if "files" in d else name
            rows.append({"stage": rec.get("stage"), "method": rec.get("label"),
                         "kind": rec.get("kind"), "file": f"{param}: {what}",
                         "sha256": d.get("sha256"),
                         "sources": {"manifest": [f"methods[{i}].files.{param}"]}})
    return Evidence(
        key="run.method_files", title="Files of the methods under test (weights, SHA-256)",
        status="measured", query="manifest.json: methods",
        computation="SHA-256 of every file a plugin's or entry point's params name and of each "
                    "predictions folder, taken when the run finished "
                    "(suite.runner.method_files.method_files)",
        tables=(Table("method_files", "Files of the methods under test",
                      (("stage", "stage"), ("method", "method"), ("kind", "kind"),
                       ("file", "file"), ("sha256", "SHA-256")), tuple(rows)),))


@evidence_key("run.statistics", "Statistical methods and settings")
def _statistics(run: RunData) -> Evidence:
    b = run.bootstrap
    pk = (run.manifest.get("packages") or {})
    rows = [
        _manifest_row("point estimate", "mean over subjects of each subject's mean (patient-level; "
                      "clustered data)", "protocol.content.analyses"),
        _manifest_row("confidence interval", f"percentile bootstrap over subjects, {b['n_resamples']} "
                      f"resamples, seed {b['seed']}, level {1 - b['alpha']:.4g}",
                      "protocol.content.analyses.bootstrap", "protocol.content.seed"),
        _manifest_row("agreement", "Bland-Altman (difference = test - reference, SD ddof 1, 1.96 x SD "
                      "limits, approximate CIs); Lin's CCC; ICC(2,1)", "protocol.content.analyses.agreement"),
        _manifest_row("excluded values", "undefined values (e.g. empty masks under the chosen policy) "
                      "are counted, never averaged in", "protocol.content.metrics"),
        _manifest_row("statistics software", f"cmrsuite {(run.manifest.get('suite') or {}).get('version')}, "
                      f"numpy {pk.get('numpy')}, scipy {pk.get('scipy')}, statsmodels "
                      f"{pk.get('statsmodels')}, pandas {pk.get('pandas')}", "packages"),
    ]
    return Evidence(
        key="run.statistics", title="Statistical methods and settings", status="measured",
        query="manifest.json: protocol.content.analyses, protocol.content.seed, packages",
        computation="suite.analysis.summary.metric_summary / clinical_agreement settings",
        tables=(Table("statistics", "Statistical methods", (("item", "item"), ("value", "value")), tuple(rows)),))


@evidence_key("data.cohort", "Cohort: data sets, subjects, cases and strata")
def _cohort(run: RunData) -> Evidence:
    if run.cases.empty:
        return unavailable("data.cohort", "no case was read successfully, so no case is recorded "
                           "in the store")
    c = run.cases
    overall = [{"dataset": r["level"], "n_subjects": r["n_subjects"], "n_cases": r["n_cases"],
                "sources": {"cases": list(r["case_ids"])}}
               for r in cohort_table(c, "dataset").to_dict("records")]
    strata = []
    for col in STRATA_COLUMNS:
        unit = unit_of_field(col)
        label = col.removesuffix("_t").replace("_", " ") + (f" ({unit})" if unit else "")
        strata += [{"stratum": label, "level": r["level"], "n_subjects": r["n_subjects"],
                    "n_cases": r["n_cases"], "sources": {"cases": list(r["case_ids"])}}
                   for r in cohort_table(c, col).to_dict("records")]
    return Evidence(
        key="data.cohort", title="Cohort: data sets, subjects, cases and strata", status="measured",
        query="SELECT case_id, subject, dataset, vendor, field_strength_t, site, pathology, preset FROM cases",
        computation="suite.analysis.cohort.cohort_table: distinct subjects and cases per data set "
                    "and per stratum level",
        tables=(Table("datasets", "Data sets", (("dataset", "data set"), ("n_subjects", "subjects"),
                                                ("n_cases", "cases")), tuple(overall)),
                Table("strata", "Cases per stratum", (("stratum", "stratum"), ("level", "level"),
                                                      ("n_subjects", "subjects"), ("n_cases", "cases")),
                      tuple(strata))))


@evidence_key("data.acquisition", "Image acquisition parameters")
def _acquisition(run: RunData) -> Evidence:
    if run.cases.empty:
        return unavailable("data.acquisition", "no case was read, so no acquisition header is recorded")
    cols = (("parameter", "parameter"), ("unit", "unit"), ("n_cases", "cases"), ("min", "min"),
            ("max", "max"), ("values", "values (cases)"))
    rows = frame_rows(acquisition_table(run.cases), [c for c, _ in cols],
                      lambda rec: {"cases": list(rec["case_ids"])})
    return Evidence(
        key="data.acquisition", title="Image acquisition parameters", status="measured",
        query="SELECT case_id, meta FROM cases  (meta: JSON of the case header as read)",
        computation="suite.analysis.cohort.acquisition_table: per parameter the range over cases "
                    "(numbers) or counts of each value (text)",
        tables=(Table("acquisition", "Acquisition parameters over the cases", cols, rows),))


@evidence_key("data.flow", "Flow of cases: included, excluded and failed")
def _flow(run: RunData) -> Evidence:
    f = case_flow(run.jobs, run.failures)
    rows = [
        {"step": "inputs found", "n": f.n_inputs, "sources": {"jobs.case_id": list(f.cases), "failures": list(f.not_read)}},
        {"step": "excluded: input could not be read", "n": len(f.not_read), "sources": {"failures": list(f.not_read)}},
        {"step": "cases entering evaluation", "n": len(f.cases), "sources": {"jobs.case_id": list(f.cases)}},
        {"step": "cases with at least one failed job", "n": len(f.failed), "sources": {"jobs.case_id": list(f.failed)}},
        {"step": "of which every job failed (no output)", "n": len(f.all_failed), "sources": {"jobs.case_id": list(f.all_failed)}},
        {"step": "cases with jobs not run (interrupted run)", "n": len(f.pending), "sources": {"jobs.case_id": list(f.pending)}},
        {"step": "included: every job done", "n": len(f.included), "sources": {"jobs.case_id": list(f.included)}},
    ]
    reasons = [{"input": r.path, "dataset": r.dataset, "error": r.error, "reason": r.reason,
                "sources": {"failures": [int(r.row_id)]}} for r in run.failures.itertuples()]
    causes = [{"error": c["error"], "message": c["message"], "n_jobs": c["n_jobs"],
               "cases": ", ".join(c["cases"]), "sources": {"jobs": list(c["job_ids"])}}
              for c in failure_causes(run.jobs).to_dict("records")]
    figs = flow_diagram(f, run.figure_dir, run.draw)
    return Evidence(
        key="data.flow", title="Flow of cases: included, excluded and failed", status="measured",
        query="SELECT case_id, job_id, status, error, message FROM jobs; SELECT rowid, * FROM failures",
        computation="suite.analysis.failures.case_flow: a case is included when every job of it "
                    "is done; failed when any job failed; inputs in `failures` were never read",
        tables=(Table("flow", "Case flow", (("step", "step"), ("n", "n")), tuple(rows)),
                Table("not_read", "Inputs that could not be read", (("input", "input"), ("dataset", "data set"),
                                                                    ("error", "error"), ("reason", "reason")), tuple(reasons)),
                Table("job_failures", "Failed jobs by cause", (("error", "error"), ("message", "message"),
                                                               ("n_jobs", "jobs"), ("cases", "cases")), tuple(causes))),
        figures=tuple(figs))


@evidence_key("data.missing", "Missing and undefined values")
def _missing(run: RunData) -> Evidence:
    r = run.results
    if r.empty:
        return unavailable("data.missing", "the store holds no results")
    cols = (("stage", "stage"), ("metric", "metric"), ("status", "status"),
            ("n_values", "values"), ("n_missing", "without number"))
    rows = frame_rows(missing_values(r), [c for c, _ in cols],
                      lambda rec: {"results": list(rec["row_ids"])})
    null = sorted(int(i) for i in r.loc[r["value"].isna(), "row_id"])
    not_ok = sorted(int(i) for i in r.loc[r["status"].fillna("ok") != "ok", "row_id"])
    total = [{"item": "stored values", "n": int(len(r)), "sources": {}},
             {"item": "values without a number (NULL)", "n": len(null), "sources": {"results": null}},
             {"item": "values with a status other than ok", "n": len(not_ok),
              "sources": {"results": not_ok}}]
    return Evidence(
        key="data.missing", title="Missing and undefined values", status="measured",
        query="SELECT rowid, stage, metric, status, value FROM results WHERE value IS NULL OR status != 'ok'",
        computation="suite.analysis.cohort.missing_values: counts by stage, metric and status; "
                    "summaries exclude these values and count them",
        tables=(Table("totals", "Values in the store", (("item", "item"), ("n", "n")), tuple(total)),
                Table("by_status", "Values not ok, by metric and status", cols, rows)))


@evidence_key("data.reference_standard", "Reference standard used by each metric")
def _reference(run: RunData) -> Evidence:
    r = run.results
    if r.empty:
        return unavailable("data.reference_standard", "the store holds no results")
    desc = {"recon": "fully sampled acquisition of the same case, coil-combined (RSS)",
            "temporal": "fully sampled acquisition of the same case",
            "segmentation": "reference labels of the case (phantom: exact simulated labels)",
            "condition": "(settings of the condition, not a comparison)"}
    rows = []
    for stage, g in r.groupby("stage", sort=True):
        if stage == "clinical":
            for prof, h in g.groupby("profile", sort=True):
                what = {"truth": "analytic truth of the phantom (volumes, EF, mass)",
                        "reference-labels": "clinical parameters of the reference labels"}.get(prof, prof)
                rows.append({"stage": stage, "reference": what, "n_values": int(len(h)),
                             "sources": {"results": sorted(int(i) for i in h["row_id"])}})
        else:
            rows.append({"stage": stage, "reference": desc.get(stage, "see the metric's documentation"),
                         "n_values": int(len(g)), "sources": {"results": sorted(int(i) for i in g["row_id"])}})
    return Evidence(
        key="data.reference_standard", title="Reference standard used by each metric", status="measured",
        query="SELECT rowid, stage, profile FROM results",
        computation="the reference recorded per stored value (clinical: the `profile` column names it)",
        tables=(Table("reference", "Reference per stage", (("stage", "stage"), ("reference", "reference"),
                                                           ("n_values", "values")), tuple(rows)),))


@evidence_key("data.independence", "Independence of test data from development data")
def _independence(run: RunData) -> Evidence:
    sp = run.sponsor
    td = (sp.fields.get("training_data") if sp is not None else None) or {}
    subjects = set(td.get("subjects") or []) if isinstance(td, dict) else set()
    hashes = set(td.get("sha256") or []) if isinstance(td, dict) else set()
    if not subjects and not hashes:
        return unavailable("data.independence", "the sponsor metadata lists no training subjects "
                           "or file hashes (`training_data.subjects` / `training_data.sha256`), so "
                           "the overlap of test and development data cannot be audited")
    c = run.cases
    subj_overlap = sorted(set(c["subject"]) & subjects)
    hash_overlap = sorted(set(c["source_sha256"].dropna()) & hashes)
    cases_subj = sorted(c.loc[c["subject"].isin(subj_overlap), "case_id"])
    cases_hash = sorted(c.loc[c["source_sha256"].isin(hash_overlap), "case_id"])
    rows = [{"check": "test subjects", "n": int(c["subject"].nunique()), "sources": {"cases": sorted(c["case_id"])}},
            {"check": "declared development subjects", "n": len(subjects), "sources": {"sponsor": ["training_data.subjects"]}},
            {"check": "test subjects also in development data", "n": len(subj_overlap), "sources": {"cases": cases_subj}},
            {"check": "declared development file hashes", "n": len(hashes), "sources": {"sponsor": ["training_data.sha256"]}},
            {"check": "test files identical to a development file (SHA-256)", "n": len(hash_overlap), "sources": {"cases": cases_hash}}]
    return Evidence(
        key="data.independence", title="Independence of test data from development data", status="measured",
        query="SELECT case_id, subject, source_sha256 FROM cases; sponsor training_data.subjects/sha256",
        computation="set intersection of test subjects and file hashes with the declared development lists",
        tables=(Table("overlap", "Overlap audit (development lists are declared by the sponsor)",
                      (("check", "check"), ("n", "n")), tuple(rows)),))


@evidence_key("data.integrity", "Data set version control (file hashes)")
def _integrity(run: RunData) -> Evidence:
    c = run.cases
    if c.empty:
        return unavailable("data.integrity", "no case was read, so no file hash is recorded")
    rows = [{"case": r.case_id, "file": r.source_file, "sha256": r.source_sha256,
             "sources": {"cases": [r.case_id]}} for r in c.itertuples()]
    n_missing = int(c["source_sha256"].isna().sum())
    return Evidence(
        key="data.integrity", title="Data set version control (file hashes)", status="measured",
        query="SELECT case_id, source_file, source_sha256 FROM cases",
        computation="SHA-256 of each input file as read by the reader",
        facts=(("cases without a recorded hash", n_missing),),
        tables=(Table("files", "Input files and their SHA-256", (("case", "case"), ("file", "file"),
                                                                  ("sha256", "SHA-256")), tuple(rows)),))

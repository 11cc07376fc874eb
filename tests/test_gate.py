"""Release gate: comparability, verdicts on real tiny runs (identical candidate passes, a
zero-filled candidate fails against CG-SENSE on the image criteria only), exit codes, JUnit XML
structure, and the one-sided statistics against independent references (scipy, statsmodels,
published tables)."""

import json
import re
import shutil
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from suite.cli import main
from suite.gate import (
    GateCriteriaError, GateNotComparable, evaluation_hash, parse_criteria, run_gate,
)
from suite.gate.inference import (
    bootstrap_lower_bound, signed_rank_null_cdf, t_lower_bound, walsh_averages,
    wilcoxon_lower_bound,
)
from suite.protocol import load_protocol, validate_protocol
from suite.runner import run_protocol
from suite.store import ResultStore

ROOT = Path(__file__).resolve().parents[1]

PLAN = {
    "name": "tiny-gate-test",
    "seed": 5,
    "datasets": [{"name": "phantom",
                  "phantom": {"subjects": 3, "seed": 21, "presets": ["tiny"],
                              "pathologies": ["normal", "dilated", "hypertrophic"],
                              "overrides": {"n_frames": 6}}}],
    "conditions": [{"name": "full", "type": "fully-sampled"},
                   {"name": "R3", "type": "undersample", "pattern": "equispaced",
                    "acceleration": 3, "acs_lines": 8}],
    "methods": {"recon": ["zero-filled", "cg-sense"], "segmentation": ["classical"]},
    "metrics": {"image": {"profiles": ["fastmri"]}, "temporal": False, "clinical": True,
                "segmentation": {"tolerance_mm": 2.0, "empty": "worst"}},
}

CRITERIA = {"gate": {"n_resamples": 500, "seed": 1, "criteria": [
    {"name": "ssim-R3", "metric": "ssim", "where": {"stage": "recon", "profile": "fastmri",
                                                    "condition": "R3"},
     "noninferiority": {"margin": 0.01}},
    {"name": "nmse-R3-t", "metric": "nmse", "where": {"condition": "R3"},
     "noninferiority": {"relative_margin": 0.10, "method": "t"}},
    {"name": "ssim-floor", "metric": "ssim", "where": {"condition": "R3"},
     "floor": {"min": 0.5}},
    {"name": "dice-reference-images", "metric": "dice",
     "where": {"condition": "full", "structure": "LV"}, "per": ["phase"], "overall": False,
     "noninferiority": {"margin": 0.02}},
    {"name": "ef-agreement-reference-images", "metric": "lv_ef_pct",
     "where": {"condition": "full"},
     "agreement": {"max_half_width_increase": 0.0}},
]}}


@pytest.fixture(scope="session")
def gate_runs(tmp_path_factory):
    """One run with both reconstructions (the candidate and baseline are two methods of it) and
    one run of a different plan."""
    tmp = tmp_path_factory.mktemp("gate")
    run = tmp / "run"
    run_protocol(validate_protocol(json.loads(json.dumps(PLAN)), source="plan.yaml"), run,
                 executor="serial")
    other_raw = json.loads(json.dumps(PLAN))
    other_raw.update(name="other-plan", conditions=[PLAN["conditions"][1]],
                     methods={"recon": ["zero-filled"]}, metrics={"image": {"profiles": ["fastmri"]}})
    other_raw["datasets"][0]["phantom"]["subjects"] = 2
    other = tmp / "other"
    run_protocol(validate_protocol(other_raw, source="other.yaml"), other, executor="serial")
    return run, other, tmp


def _criteria():
    return parse_criteria(json.loads(json.dumps(CRITERIA)), source="criteria.yaml")


# ---------------------------------------------------------------- acceptance on real runs
def test_identical_candidate_passes(gate_runs):
    run, _, _ = gate_runs
    settings, crits = _criteria()
    for method in ("zero-filled", "cg-sense"):
        res = run_gate(run, run, crits, settings=settings, candidate_method={"recon": method},
                       baseline_method={"recon": method})
        assert res.exit_code == 0, res.summary("text")
        assert res.basis == "same protocol"
        ni = [v for v in res.verdicts if v.kind == "noninferiority"]
        assert ni and all(v.estimate == 0.0 for v in ni)  # paired differences are exactly zero


def test_degraded_candidate_fails_on_the_right_criteria(gate_runs):
    run, _, _ = gate_runs
    settings, crits = _criteria()
    res = run_gate(run, run, crits, settings=settings, candidate_method={"recon": "zero-filled"},
                   baseline_method={"recon": "cg-sense"})
    verdict = {v.name: v for v in res.verdicts}
    assert res.exit_code == 1
    # image quality at R = 3: zero-filled is worse than CG-SENSE by far more than the margins
    assert not verdict["ssim-R3"].passed and verdict["ssim-R3"].estimate < -0.01
    assert not verdict["nmse-R3-t"].passed and verdict["nmse-R3-t"].estimate > 0
    # the absolute floor is still met, and the criteria on fully sampled images (which do not
    # depend on the reconstruction) pass: the gate fails for the right reasons only
    assert verdict["ssim-floor"].passed
    assert verdict["dice-reference-images [phase=ED]"].passed
    assert verdict["dice-reference-images [phase=ES]"].passed
    assert verdict["ef-agreement-reference-images · half-width increase"].passed
    # the reported paired difference equals the independent per-case computation from SQL
    con = sqlite3.connect(run / "results.sqlite")
    rows = con.execute("SELECT subject, recon, value FROM results WHERE metric='ssim' AND "
                       "condition='R3' AND profile='fastmri' ORDER BY subject").fetchall()
    zf = {s: v for s, r, v in rows if r == "zero-filled"}
    cg = {s: v for s, r, v in rows if r == "cg-sense"}
    expected = np.mean([zf[s] - cg[s] for s in cg])
    assert verdict["ssim-R3"].estimate == pytest.approx(expected, rel=1e-12)
    # the paired t verdict agrees with scipy's one-sided one-sample t test on the differences
    nm = con.execute("SELECT subject, recon, value FROM results WHERE metric='nmse' AND "
                     "condition='R3' ORDER BY subject").fetchall()
    zf = {s: v for s, r, v in nm if r == "zero-filled"}
    cg = {s: v for s, r, v in nm if r == "cg-sense"}
    d = np.array([zf[s] - cg[s] for s in sorted(cg)])
    margin = 0.10 * np.mean([cg[s] for s in cg])
    p = stats.ttest_1samp(d, margin, alternative="less").pvalue
    assert verdict["nmse-R3-t"].p_value == pytest.approx(p, rel=1e-9)
    assert verdict["nmse-R3-t"].limit == pytest.approx(margin)
    con.close()


def test_different_plans_are_not_comparable(gate_runs, tmp_path):
    run, other, _ = gate_runs
    settings, crits = _criteria()
    with pytest.raises(GateNotComparable) as err:
        run_gate(other, run, crits, settings=settings)
    text = str(err.value)
    assert "different evaluation plans" in text and "`conditions`" in text and "`datasets`" in text
    out = tmp_path / "gate"
    code = main(["gate", "--candidate", str(other), "--baseline", str(run), "--out", str(out)])
    assert code == 2
    root = ET.parse(out / "gate.xml").getroot()
    suite = root.find("testsuite")
    assert suite.get("errors") == "1" and suite.get("tests") == "1"
    err_el = suite.find("testcase").find("error")
    assert err_el.get("type") == "GateNotComparable" and "evaluation plans" in err_el.get("message")


def test_methods_may_differ_but_not_the_plan(gate_runs):
    run, _, _ = gate_runs
    raw = json.loads((run / "protocol.json").read_text())["protocol"]
    changed = dict(raw, methods={"recon": ["cg-sense"]}, name="renamed", acceptance=[])
    assert evaluation_hash(changed) == evaluation_hash(raw)
    assert evaluation_hash(dict(raw, seed=raw["seed"] + 1)) != evaluation_hash(raw)


def test_missing_cases_give_exit_2(gate_runs, tmp_path):
    run, _, _ = gate_runs
    cand = tmp_path / "cand"
    shutil.copytree(run, cand, ignore=shutil.ignore_patterns("cache", "data"))
    con = sqlite3.connect(cand / "results.sqlite")
    case = con.execute("SELECT case_id FROM cases ORDER BY case_id").fetchone()[0]
    # the candidate's zero-filled R3 job of one case failed: its rows are absent
    con.execute("DELETE FROM results WHERE case_id=? AND recon='zero-filled'", (case,))
    con.commit()
    con.close()
    settings, crits = _criteria()
    with pytest.raises(GateNotComparable, match=re.escape(case)):
        run_gate(cand, run, crits, settings=settings, candidate_method={"recon": "zero-filled"},
                 baseline_method={"recon": "zero-filled"})
    # a case absent from the cases table altogether
    con = sqlite3.connect(cand / "results.sqlite")
    con.execute("DELETE FROM cases WHERE case_id=?", (case,))
    con.commit()
    con.close()
    with pytest.raises(GateNotComparable, match="only in the baseline run"):
        run_gate(cand, run, crits, settings=settings)
    assert main(["gate", "--candidate", str(cand), "--baseline", str(run), "--criteria",
                 str(_write(tmp_path, CRITERIA))]) == 2


def _write(tmp_path, raw, name="criteria.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(raw))
    return p


def test_cli_exit_codes_and_outputs(gate_runs, tmp_path):
    run, _, _ = gate_runs
    crit = _write(tmp_path, CRITERIA)
    ok = main(["gate", "--candidate", str(run), "--baseline", str(run), "--criteria", str(crit),
               "--candidate-method", "recon=cg-sense", "--baseline-method", "recon=cg-sense",
               "--out", str(tmp_path / "same")])
    assert ok == 0
    # without a mapping both reconstructions of the run match `ssim-R3`: ambiguous, exit 2
    assert main(["gate", "--candidate", str(run), "--baseline", str(run), "--criteria",
                 str(crit)]) == 2
    bad = main(["gate", "--candidate", str(run), "--baseline", str(run), "--criteria", str(crit),
                "--candidate-method", "recon=zero-filled", "--baseline-method", "recon=cg-sense",
                "--out", str(tmp_path / "worse")])
    assert bad == 1
    md = (tmp_path / "worse" / "gate.md").read_text()
    assert md.startswith("# Release gate: FAILED") and "ssim-R3" in md
    data = json.loads((tmp_path / "worse" / "gate.json").read_text())
    assert data["exit_code"] == 1 and data["method_mapping"] == {"recon": ["cg-sense", "zero-filled"]}
    # a mapping given for one side only is refused
    assert main(["gate", "--candidate", str(run), "--baseline", str(run), "--criteria", str(crit),
                 "--candidate-method", "recon=zero-filled"]) == 2


def _check_junit(xml_text: str) -> ET.Element:
    """Structure of the Jenkins junit-10.xsd / Ant formatter schema (see suite.gate.junit)."""
    root = ET.fromstring(xml_text)
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for s in suites:
        for attr in ("name", "tests", "failures", "errors", "skipped", "time", "timestamp"):
            assert s.get(attr) is not None, attr
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", s.get("timestamp"))
        cases = s.findall("testcase")
        assert int(s.get("tests")) == len(cases)
        assert int(s.get("failures")) == sum(c.find("failure") is not None for c in cases)
        assert int(s.get("errors")) == sum(c.find("error") is not None for c in cases)
        for c in cases:
            assert c.get("name") and c.get("classname") and float(c.get("time")) >= 0
            for child in c:
                assert child.tag in ("failure", "error", "skipped", "system-out", "system-err")
                if child.tag in ("failure", "error"):
                    assert child.get("type") and child.get("message")
        for allowed in s:
            assert allowed.tag in ("properties", "testcase", "system-out", "system-err")
        for k in total:
            total[k] += int(s.get(k))
    for k, v in total.items():
        assert int(root.get(k)) == v
    return root


def test_junit_xml_validates(gate_runs):
    run, _, _ = gate_runs
    settings, crits = _criteria()
    res = run_gate(run, run, crits, settings=settings, candidate_method={"recon": "zero-filled"},
                   baseline_method={"recon": "cg-sense"})
    root = _check_junit(res.to_junit())
    cases = root.find("testsuite").findall("testcase")
    assert [c.get("name") for c in cases] == [v.name for v in res.verdicts]
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    assert failed == {v.name for v in res.verdicts if not v.passed} and "ssim-R3" in failed


def test_default_criteria_are_the_protocol_acceptance_floors(gate_runs, tmp_path):
    run, _, _ = gate_runs
    base = tmp_path / "base"
    shutil.copytree(run, base, ignore=shutil.ignore_patterns("cache", "data"))
    meta = json.loads((base / "protocol.json").read_text())
    meta["protocol"]["acceptance"] = [{"metric": "ssim", "stage": "recon", "recon": "cg-sense",
                                       "condition": "R3", "profile": "fastmri", "min": 0.99}]
    (base / "protocol.json").write_text(json.dumps(meta))
    res = run_gate(run, base)
    (v,) = res.verdicts
    con = sqlite3.connect(run / "results.sqlite")
    vals = [r[0] for r in con.execute("SELECT value FROM results WHERE metric='ssim' AND "
                                      "recon='cg-sense' AND condition='R3'")]
    con.close()
    assert v.estimate == pytest.approx(np.mean(vals)) and v.passed == (np.mean(vals) >= 0.99)


def test_ambiguous_criterion_names_the_varying_column(gate_runs):
    run, _, _ = gate_runs
    settings, crits = parse_criteria({"gate": {"criteria": [
        {"name": "too-broad", "metric": "ssim", "floor": {"min": 0.1}}]}})
    with pytest.raises(GateCriteriaError, match="`recon` takes"):
        run_gate(run, run, crits, settings=settings)


# ---------------------------------------------------------------- synthetic stores
def _synthetic_run(path: Path, values: dict, *, metric="dice", direction="higher is better",
                   reference=None, sha="a" * 64):
    """A run folder with one metric per (subject, case): values = {subject: [v_case1, ...]}."""
    path.mkdir(parents=True)
    plan = {"name": "synthetic", "seed": 0, "datasets": [{"name": "d", "root": "."}],
            "methods": {"segmentation": ["m"]}}
    (path / "protocol.json").write_text(json.dumps({"name": "synthetic", "sha256": sha,
                                                    "protocol": plan}))
    with ResultStore(path / "results.sqlite") as st:
        for s, vals in values.items():
            for k, v in enumerate(vals):
                cid = f"d/{s}-{k}"
                st.record_case(cid, {"subject": s, "dataset": "d", "vendor": "V" + s[-1]}, None)
                st.register_jobs([])
                row = {"job_id": cid, "case_id": cid, "subject": s, "dataset": "d",
                       "condition": "c", "recon": "reference", "segmentation": "m",
                       "stage": "segmentation", "metric": metric, "structure": "LV",
                       "phase": "ED", "value": v, "unit": "1", "direction": direction,
                       "profile": "", "status": "ok",
                       "reference_value": None if reference is None else reference[s][k]}
                st._con.execute("INSERT INTO jobs (job_id, status) VALUES (?, 'done')", (cid,))
                st.record_success(cid, [row], 0.0)
    return path


def test_synthetic_noninferiority_matches_statsmodels(tmp_path):
    rng = np.random.default_rng(0)
    base_vals = {f"s{i}": list(rng.uniform(0.8, 0.9, 2)) for i in range(8)}
    shift = {s: list(np.array(v) - rng.normal(0.004, 0.01, 2)) for s, v in base_vals.items()}
    b = _synthetic_run(tmp_path / "b", base_vals)
    c = _synthetic_run(tmp_path / "c", shift)
    settings, crits = parse_criteria({"gate": {"criteria": [
        {"name": "t", "metric": "dice", "noninferiority": {"margin": 0.01, "method": "t"}}]}})
    (v,) = run_gate(c, b, crits, settings=settings).verdicts
    from statsmodels.stats.weightstats import DescrStatsW

    per_subject = np.array([np.mean(shift[s]) - np.mean(base_vals[s]) for s in sorted(base_vals)])
    lo, _ = DescrStatsW(per_subject).tconfint_mean(alpha=0.10)  # two-sided 90 % = one-sided 95 %
    assert v.ci[0] == pytest.approx(lo, rel=1e-10)
    assert v.passed == (lo > -0.01)
    assert v.n_subjects == 8 and v.n_cases == 16


def test_synthetic_agreement_limits(tmp_path):
    subjects = [f"s{i}" for i in range(10)]
    ref = {s: [50.0 + i] for i, s in enumerate(subjects)}
    diffs = np.array([-2.0, 1.0, 3.0, -1.0, 0.5, 2.5, -0.5, 1.5, 0.0, 4.0])
    val = {s: [ref[s][0] + d] for s, d in zip(subjects, diffs)}
    c = _synthetic_run(tmp_path / "c", val, metric="lv_ef_pct", direction="closer is better",
                       reference=ref)
    settings, crits = parse_criteria({"gate": {"criteria": [
        {"name": "ef", "metric": "lv_ef_pct",
         "agreement": {"max_loa_half_width": 4.0, "max_abs_bias": 1.0, "use": "bound"}}]}})
    res = run_gate(c, c, crits, settings=settings)
    hw, bias = res.verdicts
    sd = np.std(diffs, ddof=1)
    assert hw.estimate == pytest.approx(1.96 * sd)
    # one-sided 95 % upper bound of an SD: SD·sqrt((n-1)/chi2_{0.05, n-1}); chi2_{0.05, 9} =
    # 3.325 (published tables, e.g. NIST/SEMATECH e-Handbook 1.3.6.7.4)
    assert hw.ci[1] == pytest.approx(1.96 * sd * np.sqrt(9 / 3.325), rel=2e-4)
    assert hw.passed == (hw.ci[1] <= 4.0)
    t95 = 1.833  # t_{0.95, 9} from tables
    assert bias.ci[1] == pytest.approx(abs(diffs.mean()) + t95 * sd / np.sqrt(10), rel=5e-4)
    assert not bias.passed  # bias 0.9 but its upper bound exceeds 1


def test_floor_use_bound_and_strata(tmp_path):
    vals = {"s1": [0.70], "s2": [0.90], "s3": [0.92], "s4": [0.95]}
    c = _synthetic_run(tmp_path / "c", vals)
    settings, crits = parse_criteria({"gate": {"n_resamples": 400, "criteria": [
        {"name": "est", "metric": "dice", "floor": {"min": 0.85}},
        {"name": "bnd", "metric": "dice", "floor": {"min": 0.85, "use": "bound"}},
        {"name": "byvendor", "metric": "dice", "per": ["vendor"], "overall": False,
         "floor": {"min": 0.8}}]}})
    res = run_gate(c, c, crits, settings=settings)
    v = {x.name: x for x in res.verdicts}
    assert v["est"].estimate == pytest.approx(np.mean([0.70, 0.90, 0.92, 0.95]))
    assert v["est"].passed and not v["bnd"].passed  # the lower bound is pulled down by s1
    assert not v["byvendor [vendor=V1]"].passed and v["byvendor [vendor=V2]"].passed
    assert len([n for n in v if n.startswith("byvendor")]) == 4


# ---------------------------------------------------------------- inference references
def test_signed_rank_null_matches_scipy_exact():
    for n in (5, 8, 12):
        cdf = signed_rank_null_cdf(n)
        x = np.arange(1, n + 1, dtype=float)  # ranks 1..n, all positive but k negatives below
        for k in range(n + 1):
            d = x.copy()
            d[:k] *= -1  # W+ = sum of ranks k+1..n
            w_plus = x[k:].sum()
            p = stats.wilcoxon(d, alternative="greater", method="exact").pvalue
            assert p == pytest.approx(1.0 - (cdf[int(w_plus) - 1] if w_plus > 0 else 0.0))


def test_wilcoxon_bound_against_tables():
    # n = 8, one-sided alpha 0.05: critical lower-tail T = 5 (P(W <= 5) = 10/256), so the
    # bound is the (5 + 1)-th smallest of the 36 Walsh averages (Hollander & Wolfe §3.3)
    d = np.array([0.3, -0.2, 0.5, 0.8, 0.1, 0.4, -0.1, 0.6])
    r = wilcoxon_lower_bound(d, np.arange(8), null=-0.05, alpha=0.05)
    assert r.lower == pytest.approx(walsh_averages(d)[5])
    assert r.estimate == pytest.approx(np.median(walsh_averages(d)))
    # n = 5: only W+ = 15 has probability <= 0.05 (1/32), so the bound is min(d)
    d5 = np.array([0.2, 0.4, 0.1, 0.3, 0.5])
    assert wilcoxon_lower_bound(d5, np.arange(5), null=0.0).lower == pytest.approx(0.1)
    # the test decision and the bound agree (duality), p from scipy's exact test
    for null in (-0.3, -0.05, 0.0, 0.2, 0.35):
        r = wilcoxon_lower_bound(d, np.arange(8), null=null, alpha=0.05)
        p = stats.wilcoxon(d - null, alternative="greater").pvalue
        assert r.p_value == pytest.approx(p)
        assert r.rejected == (p <= 0.05)


def test_t_bound_matches_scipy():
    rng = np.random.default_rng(3)
    g = rng.normal(0.01, 0.02, 12)
    r = t_lower_bound(g, np.arange(12), null=-0.01, alpha=0.05)
    ci = stats.ttest_1samp(g, -0.01, alternative="greater").confidence_interval(0.95)
    assert r.lower == pytest.approx(ci.low)
    assert r.p_value == pytest.approx(stats.ttest_1samp(g, -0.01, alternative="greater").pvalue)


def test_bootstrap_bound_is_close_to_normal_theory_and_clusters():
    rng = np.random.default_rng(4)
    g = rng.normal(0.0, 1.0, 400)
    r = bootstrap_lower_bound(g, np.arange(400), null=-1.0, alpha=0.05, n_resamples=2000, seed=2)
    normal = g.mean() - 1.6449 * g.std(ddof=1) / np.sqrt(400)
    assert r.lower == pytest.approx(normal, abs=0.02)
    # duplicating every case within its subject changes nothing at the subject level
    r2 = bootstrap_lower_bound(np.repeat(g[:50], 2), np.repeat(np.arange(50), 2), null=-1.0,
                               n_resamples=1000, seed=2)
    r1 = bootstrap_lower_bound(g[:50], np.arange(50), null=-1.0, n_resamples=1000, seed=2)
    assert r2.lower == pytest.approx(r1.lower) and r2.n_cases == 100 and r2.n_subjects == 50


# ---------------------------------------------------------------- criteria schema
@pytest.mark.parametrize("crit, key, text", [
    ({"metric": "ssim", "floor": {"min": 1}}, "gate.criteria[0].name", "is required"),
    ({"name": "a", "metric": "ssim"}, "gate.criteria[0]", "exactly one of"),
    ({"name": "a", "metric": "ssim", "floor": {}}, "gate.criteria[0].floor", "needs `min` or `max`"),
    ({"name": "a", "metric": "ssim", "noninferiority": {"margin": -1}},
     "gate.criteria[0].noninferiority.margin", "must be > 0"),
    ({"name": "a", "metric": "ssim", "noninferiority": {"margin": 0.1, "method": "wilcoxn"}},
     "gate.criteria[0].noninferiority.method", "did you mean 'wilcoxon'"),
    ({"name": "a", "metric": "ssim", "per": ["vendr"], "floor": {"min": 0}},
     "gate.criteria[0].per[0]", "did you mean 'vendor'"),
    ({"name": "a", "metric": "ssim", "where": {"conditon": "R4"}, "floor": {"min": 0}},
     "gate.criteria[0].where.conditon", "did you mean 'condition'"),
    ({"name": "a", "metric": "x", "agreement": {"use": "bound"}}, "gate.criteria[0].agreement",
     "at least one limit"),
    ({"name": "a", "metric": "ssim", "flor": {"min": 0}}, "gate.criteria[0].flor",
     "is not a known key; expected one of ['agreement', 'floor', 'metric', 'name', "
     "'noninferiority', 'overall', 'per', 'where'] (did you mean 'floor'?)"),
    ({"name": "a", "metric": "ssim", "floor": {"min": "0.5"}}, "gate.criteria[0].floor.min",
     "must be a number; got '0.5'"),
    ({"name": "a", "metric": "ssim", "overall": "yes", "floor": {"min": 0}},
     "gate.criteria[0].overall", "must be true or false; got 'yes'"),
    ({"name": "a", "floor": {"min": 0}}, "gate.criteria[0].metric",
     "is required: expected a non-empty string, got nothing"),
    ({"name": "a", "metric": "ssim", "floor": {"min": 0, "statistic": "meen"}},
     "gate.criteria[0].floor.statistic",
     "is 'meen'; expected one of ['mean', 'median'] (did you mean 'mean'?)"),
])
def test_criteria_errors_name_the_key(crit, key, text):
    with pytest.raises(GateCriteriaError) as err:
        parse_criteria({"gate": {"criteria": [crit]}}, source="bad.yaml")
    assert err.value.key == key and text in str(err.value) and "bad.yaml" in str(err.value)


@pytest.mark.parametrize("settings, key, text", [
    ({"alpha": "0.05"}, "gate.alpha", "must be a number; got '0.05'"),
    ({"alpha": 0.6}, "gate.alpha", "must be <= 0.5; got 0.6"),
    ({"n_resamples": 2000.5}, "gate.n_resamples", "must be an integer; got 2000.5"),
    ({"candidate_method": {"recon": ""}}, "gate.candidate_method.recon",
     "must be a non-empty string; got ''"),
    ({"baseline_method": {"recn": "x"}}, "gate.baseline_method.recn", "did you mean 'recon'"),
    ({"criteria": []}, "gate.criteria", "must not be empty"),
    ({"criteria": None}, "gate.criteria", "is required: expected a list of mappings, got null"),
])
def test_criteria_settings_errors_name_the_key(settings, key, text):
    gate = {"criteria": [{"name": "a", "metric": "ssim", "floor": {"min": 0}}]} | settings
    with pytest.raises(GateCriteriaError) as err:
        parse_criteria({"gate": gate}, source="bad.yaml")
    assert err.value.key == key and str(err.value).startswith(f"bad.yaml: `{key}` ")
    assert text in err.value.problem


def test_worked_examples_validate():
    """protocols/release-gate.yaml is a valid plan and the criteria file in docs/gate.md
    parses and names only the plan's conditions and methods."""
    proto = load_protocol(ROOT / "protocols" / "release-gate.yaml")
    text = (ROOT / "docs" / "gate.md").read_text()
    block = re.search(r"```yaml\n(# release-criteria.yaml.*?)```", text, re.S).group(1)
    settings, crits = parse_criteria(yaml.safe_load(block), source="docs/gate.md")
    conditions = {c["name"] for c in proto.conditions}
    methods = {m.get("name") for st in ("recon", "segmentation") for m in proto.methods(st)}
    for c in crits:
        assert c.where.get("condition", next(iter(conditions))) in conditions
        for st in ("recon", "segmentation"):
            if st in c.where:
                assert c.where[st] in methods | {"my-net", "reference"}
    assert settings.candidate_method == {"recon": "my-net"}
    assert settings.baseline_method == {"recon": "unrolled"}


def test_criteria_may_be_a_section_of_a_protocol_file(tmp_path):
    raw = yaml.safe_load((ROOT / "protocols" / "release-gate.yaml").read_text())
    raw["gate"] = {"alpha": 0.1, "criteria": [{"name": "f", "metric": "ssim",
                                               "floor": {"min": 0.5}}]}
    path = tmp_path / "with-gate.yaml"
    path.write_text(yaml.safe_dump(raw))
    from suite.gate import load_criteria

    settings, crits = load_criteria(path)
    assert settings.alpha == 0.1 and [c.name for c in crits] == ["f"]
    del raw["gate"]
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(GateCriteriaError, match="`gate` is required"):
        load_criteria(path)


def test_release_gate_protocol_carries_the_docs_criteria():
    from suite.gate import load_criteria

    text = (ROOT / "docs" / "gate.md").read_text()
    block = re.search(r"```yaml\n(# release-criteria.yaml.*?)```", text, re.S).group(1)
    docs_settings, docs_crits = parse_criteria(yaml.safe_load(block), source="docs/gate.md")
    settings, crits = load_criteria(ROOT / "protocols" / "release-gate.yaml")
    assert settings == docs_settings and crits == docs_crits


def test_protocol_validation_checks_the_gate_section(tmp_path):
    from suite.protocol import ProtocolError, validate_protocol

    raw = yaml.safe_load((ROOT / "protocols" / "release-gate.yaml").read_text())
    raw["gate"]["alpha"] = 2.0
    with pytest.raises(ProtocolError) as err:
        validate_protocol(raw, source="p.yaml")
    assert err.value.key == "gate.alpha" and "p.yaml" in str(err.value)

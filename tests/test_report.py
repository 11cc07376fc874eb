"""Evidence reports: guideline definitions, evidence keys that cite store rows, rendering.

One tiny run (3 phantom subjects, one unreadable input, a segmentation plugin that fails on one
subject) is made once per session and reported once; tests that change the store work on a copy.
Numbers are checked against independent recomputation from the SQLite rows with numpy, never
against the report code's own earlier output.
"""

import json
import re
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import yaml

from suite.protocol import ProtocolError, load_protocol, validate_protocol
from suite.report import GUIDELINES, build_report, load_guideline
from suite.report.guidelines import reports_dir
from suite.report.sponsor import SponsorError, load_sponsor

ROOT = Path(__file__).resolve().parents[1]

FLAKY = '''
from reference_impls import get


class FlakySeg:
    """Classical segmentation that raises on one subject (a failing user plugin)."""
    name = "flaky-seg"
    version = "0.1"
    stage = "segmentation"
    needs_case = True

    def __init__(self, fail_subject="phantom-001"):
        self.fail_subject = fail_subject
        self.inner = get("segmentation", "classical")

    def params(self):
        return {"fail_subject": self.fail_subject}

    def __call__(self, images, spacing):
        return self.inner(images, spacing)

    def predict(self, case, condition, recon_label):
        if case.meta.subject == self.fail_subject:
            raise RuntimeError(f"flaky-seg cannot segment {case.meta.subject}")
        from suite.mr import ifft2c, rss
        import numpy as np
        img = np.asarray(rss(ifft2c(case.kspace), dim=2), np.float32)
        return self.inner(img, case.meta.pixel_spacing_mm)


class StoredLabels:
    """Returns the case's own reference labels: clinical values defined for every subject, so
    the agreement rows do not depend on how well a real method copes with the tiny preset."""
    name = "stored-labels"
    version = "0.1"
    stage = "segmentation"
    needs_case = True

    def params(self):
        return {}

    def __call__(self, images, spacing):
        raise NotImplementedError("stored-labels needs the case (needs_case = True)")

    def predict(self, case, condition, recon_label):
        return case.labels.astype("uint8")
'''

SPONSOR = {
    "annotators": "Two SCMR level-3 readers (declared for the test).",
    "intended_use": "Research evaluation only.",
    "answers": {"claim:2": "Abstract text supplied by the sponsor."},
    "not_applicable": {"claim:34": "No clinical trial: retrospective technical validation."},
}


@pytest.fixture(scope="session")
def report_run(tmp_path_factory):
    """A tiny run with a failed case and an unreadable input, reported once (with figures)."""
    from suite.runner import run_protocol
    from suite.trust import AllowList

    tmp = tmp_path_factory.mktemp("report")
    (tmp / "plugins").mkdir()
    (tmp / "plugins" / "flaky.py").write_text(FLAKY)
    (tmp / "junk").mkdir()
    (tmp / "junk" / "notes.h5").write_text("this is not HDF5")
    (tmp / "sponsor.yaml").write_text(yaml.safe_dump(SPONSOR))
    proto = {
        "name": "report-test", "seed": 5, "failure_tolerance": 1.0, "plugin_paths": ["plugins"],
        "sponsor": "sponsor.yaml",
        "datasets": [{"name": "phantom", "phantom": {"subjects": 3, "seed": 2, "presets": ["tiny"],
                                                     "pathologies": ["normal", "dilated", "hypertrophic"],
                                                     "overrides": {"n_frames": 6}}},
                     {"name": "uploads", "root": "junk"}],
        "conditions": [{"name": "full", "type": "fully-sampled"},
                       {"name": "R3", "type": "undersample", "pattern": "equispaced",
                        "acceleration": 3, "acs_lines": 8}],
        "methods": {"recon": ["zero-filled"],
                    "segmentation": ["classical", {"plugin": "flaky:FlakySeg"},
                                     {"plugin": "flaky:StoredLabels"}]},
        "metrics": {"image": {"profiles": ["fastmri"]}, "temporal": False,
                    "segmentation": {"tolerance_mm": 2.0, "empty": "worst"}, "clinical": True},
        "analyses": {"bootstrap": {"n_resamples": 200}, "strata": ["pathology"],
                     "agreement": ["lv_ef_pct"]},
        "acceptance": [{"metric": "ssim", "stage": "recon", "recon": "zero-filled",
                        "condition": "R3", "profile": "fastmri", "min": 0.3}],
    }
    path = tmp / "protocol.yaml"
    path.write_text(yaml.safe_dump(proto))
    run_dir = tmp / "run"
    allow = AllowList(["flaky:FlakySeg", "flaky:StoredLabels"], paths=[tmp / "plugins"])
    run_protocol(load_protocol(path, allow_plugins=allow), run_dir, executor="serial")
    result = build_report(run_dir, "all", ("md", "html"))
    return run_dir, result


def _evidence(run_dir, guideline):
    return json.loads((Path(run_dir) / "report" / guideline / "evidence.json").read_text())


def _db(run_dir):
    return sqlite3.connect(Path(run_dir) / "results.sqlite")


# ------------------------------------------------------------------ guideline definitions
def _raw(name):
    return yaml.safe_load((reports_dir() / "guidelines" / f"{name}.yaml").read_text())


def test_claim_2024_has_items_1_to_44():
    ids = [it["id"] for it in _raw("claim")["items"]]
    assert ids == [str(i) for i in range(1, 45)]  # CLAIM 2024: 44 items (Tejani et al. 2024)


def test_tripod_ai_has_27_items_and_52_subitems():
    items = _raw("tripod-ai")["items"]
    expected_sub = {"3": "abc", "5": "ab", "6": "abc", "8": "abc", "9": "abc", "12": "abcdefg",
                    "18": "abcdef", "20": "abc", "23": "ab", "27": "abc"}
    expected = []
    for n in range(1, 28):
        expected += [f"{n}{s}" for s in expected_sub[str(n)]] if str(n) in expected_sub else [str(n)]
    assert [it["id"] for it in items] == expected
    assert len(expected) == 52 and len({it["item"] for it in items}) == 27


def test_minimar_has_21_items_in_4_components():
    ids = [it["id"] for it in _raw("minimar")["items"]]
    expected = [f"1.{i}" for i in range(1, 5)] + [f"2.{i}" for i in range(1, 6)] + \
               [f"3.{i}" for i in range(1, 9)] + [f"4.{i}" for i in range(1, 5)]
    assert ids == expected and len(ids) == 21


def test_prime_covers_seven_domains():
    items = _raw("prime")["items"]
    assert {it["id"].split(".")[0] for it in items} == {str(d) for d in range(1, 8)}
    assert "4.3" in {it["id"] for it in items} and "4.4" in {it["id"] for it in items}


def test_fda_performance_covers_the_draft_guidance_topics():
    topics = " ".join(it["topic"].lower() for it in _raw("fda-performance")["items"])
    for needle in ("independence", "95 %", "subgroup", "repeatability", "robustness",
                   "quality control", "version control", "reference standard"):
        assert needle in topics, needle


@pytest.mark.parametrize("name", GUIDELINES)
def test_every_definition_loads_and_names_known_evidence(name):
    g = load_guideline(name)  # validates counts, unique ids and every evidence key
    assert g.items and all(it.topic and it.evidence for it in g.items)
    assert all(len(it.topic.split()) <= 20 for it in g.items)  # short topics, not checklist text


def test_a_wrong_item_count_is_refused(tmp_path, monkeypatch):
    shutil.copytree(reports_dir(), tmp_path / "reports")
    p = tmp_path / "reports" / "guidelines" / "minimar.yaml"
    raw = yaml.safe_load(p.read_text())
    raw["items"] = raw["items"][:-1]
    p.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("CMRSUITE_REPORTS_DIR", str(tmp_path / "reports"))
    with pytest.raises(ValueError, match="20 items; the file states 21"):
        load_guideline("minimar")


# ------------------------------------------------------------------ documents
def test_all_documents_are_written_with_every_item(report_run):
    run_dir, result = report_run
    for name in GUIDELINES:
        folder = run_dir / "report" / name
        assert (folder / "report.md").is_file() and (folder / "report.html").is_file()
        ev = _evidence(run_dir, name)
        assert [it["id"] for it in ev["items"]] == [it.id for it in load_guideline(name).items]
        assert sum(ev["status_counts"].values()) == len(ev["items"])
        md = (folder / "report.md").read_text()
        assert "## Provenance" in md and ev["store_sha256"] in md


def test_measured_items_cite_rows_that_exist_in_the_store(report_run):
    run_dir, _ = report_run
    con = _db(run_dir)
    results = {r[0]: r[1:] for r in con.execute("SELECT rowid, stage, metric, value FROM results")}
    jobs = {r[0] for r in con.execute("SELECT job_id FROM jobs")}
    cases = {r[0] for r in con.execute("SELECT case_id FROM cases")}
    for name in GUIDELINES:
        ev = _evidence(run_dir, name)
        for it in ev["items"]:
            if it["status"] != "measured":
                continue
            cited = 0
            for key in it["measured"]:
                for t in ev["evidence"][key]["tables"]:
                    for row in t["rows"]:
                        src = row["sources"]
                        for rid in src.get("results", []):
                            assert rid in results, (name, it["id"], key, rid)
                            stored = ev["store_rows"]["results"][str(rid)]
                            assert (stored["stage"], stored["metric"], stored["value"]) == results[rid]
                        assert set(src.get("jobs", [])) <= jobs
                        assert set(src.get("cases", [])) <= cases
                        cited += sum(len(v) for v in src.values())
            assert cited > 0, (name, it["id"])


def test_image_means_recompute_from_the_cited_rows(report_run):
    run_dir, _ = report_run
    con = _db(run_dir)
    ev = _evidence(run_dir, "claim")["evidence"]["performance.image"]
    rows = ev["tables"][0]["rows"]
    assert rows
    for row in rows:
        ids = row["sources"]["results"]
        got = con.execute(f"SELECT subject, value FROM results WHERE rowid IN ({','.join(map(str, ids))})"
                          " AND value IS NOT NULL").fetchall()
        per_subject = {}
        for s, v in got:
            per_subject.setdefault(s, []).append(v)
        means = [np.mean(v) for v in per_subject.values()]
        assert row["mean"] == pytest.approx(np.mean(means), rel=1e-12)
        assert row["n_subjects"] == len(per_subject)


def test_clinical_agreement_recomputes_from_the_cited_rows(report_run):
    run_dir, _ = report_run
    con = _db(run_dir)
    ev = _evidence(run_dir, "claim")["evidence"]["performance.clinical"]
    rows = [r for r in ev["tables"][0]["rows"] if r["bias"] is not None]
    assert {r["segmentation"] for r in rows} >= {"flaky:StoredLabels"}
    for row in rows:
        ids = ",".join(map(str, row["sources"]["results"]))
        d = np.array([v - r for v, r in con.execute(
            f"SELECT value, reference_value FROM results WHERE rowid IN ({ids})")])
        assert row["n"] == d.size
        assert row["bias"] == pytest.approx(d.mean(), rel=1e-10)
        sd = d.std(ddof=1)
        assert row["loa_lower"] == pytest.approx(d.mean() - 1.96 * sd, rel=1e-10)
        assert row["loa_upper"] == pytest.approx(d.mean() + 1.96 * sd, rel=1e-10)


def test_failed_case_shows_in_the_flow_and_in_claim_case_flow_item(report_run):
    run_dir, _ = report_run
    con = _db(run_dir)
    failed_case = con.execute("SELECT DISTINCT case_id FROM jobs WHERE status='failed'").fetchall()
    assert len(failed_case) == 1
    failed_case = failed_case[0][0]
    ev = _evidence(run_dir, "claim")
    item35 = next(it for it in ev["items"] if it["id"] == "35")
    assert item35["status"] == "measured" and "data.flow" in item35["measured"]
    flow = {r["step"]: r for r in ev["evidence"]["data.flow"]["tables"][0]["rows"]}
    assert flow["cases with at least one failed job"]["n"] == 1
    assert flow["cases with at least one failed job"]["sources"]["jobs.case_id"] == [failed_case]
    assert flow["excluded: input could not be read"]["n"] == 1
    n_cases = con.execute("SELECT COUNT(DISTINCT case_id) FROM jobs").fetchone()[0]
    assert flow["cases entering evaluation"]["n"] == n_cases == 3
    assert flow["included: every job done"]["n"] == 2
    figs = ev["evidence"]["data.flow"]["figures"]
    assert figs and (run_dir / "report" / figs[0]["png"]).is_file()
    md = (run_dir / "report" / "claim" / "report.md").read_text()
    assert "flaky-seg cannot segment phantom-001" in md and "notes.h5" in md
    assert f"../{figs[0]['png']}" in md


def test_changing_one_stored_value_changes_the_rendered_number(report_run, tmp_path):
    run_dir, _ = report_run
    copy = tmp_path / "run"
    copy.mkdir()
    for f in ("results.sqlite", "manifest.json", "protocol.json"):
        shutil.copy(run_dir / f, copy / f)
    con = sqlite3.connect(copy / "results.sqlite")
    sel = ("FROM results WHERE stage='recon' AND metric='ssim' AND profile='fastmri' "
           "AND condition='R3' AND recon='zero-filled'")
    rid = con.execute(f"SELECT MIN(rowid) {sel}").fetchone()[0]
    con.execute("UPDATE results SET value = 0.123456 WHERE rowid = ?", (rid,))
    con.commit()
    values = [v for (v,) in con.execute(f"SELECT value {sel}")]  # one row per subject
    con.close()
    expected = f"{np.mean(values):.4g}"
    before = f"{np.mean([v for (v,) in _db(run_dir).execute(f'SELECT value {sel}')]):.4g}"
    assert expected != before
    (tmp_path / "sponsor.yaml").write_text(yaml.safe_dump(SPONSOR))
    build_report(copy, "claim", ("md",), sponsor=tmp_path / "sponsor.yaml", figures=False)
    md = (copy / "report" / "claim" / "report.md").read_text()
    line = next(ln for ln in md.splitlines() if ln.startswith("| ssim | fastmri | R3 | zero-filled |"))
    assert f"| {expected} |" in line and f"| {before} |" not in line


def test_sponsor_fields_are_declared_and_not_applicable_needs_a_reason(report_run):
    run_dir, _ = report_run
    items = {it["id"]: it for it in _evidence(run_dir, "claim")["items"]}
    assert items["16"]["status"] == "declared"
    assert items["16"]["declared"][0]["value"] == SPONSOR["annotators"]
    assert items["2"]["status"] == "declared"
    assert items["34"]["status"] == "not-applicable" and "retrospective" in items["34"]["reason"]
    assert items["11"]["status"] == "sponsor-to-complete"  # de-identification: nobody declared it
    assert items["38"]["status"] == "not-applicable"  # no classification output in this run
    md = (run_dir / "report" / "claim" / "report.md").read_text()
    assert "declared by the sponsor, not verified" in md and "SPONSOR TO COMPLETE" in md


def test_robustness_keys_say_the_run_had_no_robustness_section(report_run):
    run_dir, _ = report_run
    fda = _evidence(run_dir, "fda-performance")
    pv7 = next(it for it in fda["items"] if it["id"] == "PV-7")
    adv = next(u for u in pv7["unavailable"] if u["key"] == "robustness.adversarial")
    assert "did not include a robustness section" in adv["reason"]


@pytest.mark.parametrize("text, key, problem", [
    ("anotators: x\n", "anotators", "is not a known key; expected one of ["),
    ("anotators: x\n", "anotators", "(did you mean 'annotators'?)"),
    ("- device\n", "(top level)", "must be a mapping; got a list ['device']"),
    ("not_applicable: [claim:34]\n", "not_applicable", "must be a mapping; got a list"),
    ("training_data: {subjects: s01}\n", "training_data.subjects", "must be a list; got 's01'"),
    ("not_applicable:\n  'claim:34':\n", "not_applicable.claim:34",
     "must be a non-empty text (the reason the item does not apply); got None"),
    ("answers:\n  claim2: text\n", "answers.claim2",
     "expected 'guideline:item', e.g. 'claim:34', got 'claim2'"),
])
def test_sponsor_errors_name_the_key(tmp_path, text, key, problem):
    """Sponsor files have no required key and no closed option set: the nearest cases are an
    empty not-applicable reason (a required value) and an item reference of the wrong form."""
    p = tmp_path / "s.yaml"
    p.write_text(text)
    with pytest.raises(SponsorError) as err:
        load_sponsor(p)
    assert err.value.key == key and problem in err.value.problem
    assert str(err.value).startswith(f"{p}: `{key}` ")


def test_sponsor_file_errors_name_the_problem(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("not_applicable:\n  'claim:34': ''\n")
    with pytest.raises(SponsorError, match="reason the item does not apply"):
        load_sponsor(p)
    with pytest.raises(SponsorError, match="does not exist"):
        load_sponsor(tmp_path / "missing.yaml")
    assert load_sponsor(ROOT / "protocols" / "sponsors" / "example.yaml").fields["device"]["version"]


def test_protocol_sponsor_key_must_be_a_path_string():
    raw = {"name": "x", "datasets": [{"name": "d", "root": "r"}], "methods": {"recon": ["zero-filled"]}}
    validate_protocol({**raw, "sponsor": "sponsor.yaml"})
    with pytest.raises(ProtocolError) as err:
        validate_protocol({**raw, "sponsor": 3}, source="p.yaml")
    assert err.value.key == "sponsor"


def test_html_is_self_contained(report_run):
    run_dir, _ = report_run
    html = (run_dir / "report" / "claim" / "report.html").read_text()
    assert "<script" not in html
    srcs = re.findall(r'src="([^"]*)"', html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    figs = [f for e in _evidence(run_dir, "claim")["evidence"].values() for f in e["figures"]]
    assert len(srcs) == len(figs)
    assert not re.findall(r'href="(?!#)', html)  # only in-page links


def test_templates_type_no_numbers():
    for path in (reports_dir() / "templates").iterdir():
        text = re.sub(r"<style>.*?</style>", "", path.read_text(), flags=re.S)
        text = re.sub(r"</?h[1-6]", "", text).replace("SHA-256", "").replace("base64", "").replace("utf-8", "")
        text = re.sub(r"{{.*?}}|{%.*?%}", "", text)
        assert not re.search(r"\d", text), (path.name, re.findall(r".{20}\d.{20}", text))


def test_cli_report_writes_one_guideline(report_run, tmp_path):
    from suite.cli import main

    run_dir, _ = report_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("data", "cache", "report"))
    assert main(["report", str(copy), "--guideline", "minimar", "--format", "md",
                 "--sponsor", str(ROOT / "protocols" / "sponsors" / "example.yaml"), "--no-figures"]) == 0
    assert (copy / "report" / "minimar" / "report.md").is_file()
    assert not (copy / "report" / "claim").exists()
    assert main(["report", str(tmp_path / "nope")]) == 2


@pytest.mark.ci  # a cross-check with an optional renderer; the HTML it renders is checked above
def test_pdf_through_weasyprint(report_run, tmp_path):
    pytest.importorskip("weasyprint", reason="PDF output needs WeasyPrint (the `pdf` extra)")
    run_dir, _ = report_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("data", "cache", "report"))
    build_report(copy, "model-card", ("pdf",), sponsor=ROOT / "protocols" / "sponsors" / "example.yaml",
                 figures=False)
    assert (copy / "report" / "model-card" / "report.pdf").read_bytes()[:5] == b"%PDF-"


def test_robustness_rows_make_the_robustness_item_measured(report_run, tmp_path):
    run_dir, _ = report_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("data", "cache", "report"))
    con = sqlite3.connect(copy / "results.sqlite")
    cols = [r[1] for r in con.execute("PRAGMA table_info(results)")]
    if "attack" not in cols:
        pytest.skip("this store has no robustness columns (attack, budget)")
    jobs = con.execute("SELECT job_id, case_id FROM jobs WHERE recon='zero-filled' AND "
                       "phase='recon'").fetchall()
    rng = np.random.default_rng(0)
    for job_id, case_id in jobs:
        subject = case_id.split("/")[-1]
        for attack in ("kspace-pgd", "kspace-random"):
            for budget in (0.0, 0.01, 0.02):
                con.execute("INSERT INTO results (job_id, case_id, subject, dataset, condition, recon, "
                            "segmentation, stage, metric, value, unit, direction, profile, status, "
                            "attack, budget) VALUES (?, ?, ?, 'phantom', 'R3', 'zero-filled', NULL, "
                            "'robustness', 'ssim', ?, '1', 'higher is better', 'fastmri', 'ok', ?, ?)",
                            (job_id, case_id, subject, float(rng.uniform(0.3, 0.9)), attack, budget))
    con.commit()
    con.close()
    build_report(copy, "fda-performance", ("md",), sponsor=ROOT / "protocols" / "sponsors" / "example.yaml",
                 figures=False)
    ev = _evidence(copy, "fda-performance")
    pv7 = next(it for it in ev["items"] if it["id"] == "PV-7")
    assert "robustness.adversarial" in pv7["measured"]
    rows = ev["evidence"]["robustness.adversarial"]["tables"][0]["rows"]
    assert len(rows) == 6  # 2 attacks x 3 budgets
    con = _db(copy)
    for row in rows:
        ids = ",".join(map(str, row["sources"]["results"]))
        vals = [v for (v,) in con.execute(f"SELECT value FROM results WHERE rowid IN ({ids})")]
        assert len(vals) == 3 and row["mean"] == pytest.approx(np.mean(vals), rel=1e-12)


def test_guideline_mapping_page_lists_every_item_with_its_keys():
    page = (ROOT / "docs" / "guidelines.md").read_text()
    for name in GUIDELINES:
        for it in load_guideline(name).items:
            row = f"| {it.id} | {it.section} | {it.topic} | {', '.join('`' + k + '`' for k in it.evidence)} |"
            assert row in page, (name, it.id)


def test_example_cases_cite_the_scored_job_and_its_cached_images(report_run):
    import hashlib

    run_dir, _ = report_run
    ev = _evidence(run_dir, "claim")["evidence"]["examples.images"]
    assert ev["status"] == "measured"
    con = _db(run_dir)
    for row in ev["tables"][0]["rows"]:
        (rid,) = row["sources"]["results"]
        job, metric, value = con.execute("SELECT job_id, metric, value FROM results WHERE rowid=?",
                                         (rid,)).fetchone()
        assert (metric, value) == ("ssim", row["ssim"]) and row["sources"]["jobs"] == [job]
        assert hashlib.sha256(Path(row["cache_file"]).read_bytes()).hexdigest() == row["cache_sha256"]
    assert (run_dir / "report" / ev["figures"][0]["png"]).is_file()


def test_sponsor_text_is_escaped_in_html_and_item_references_are_checked(report_run, tmp_path):
    run_dir, _ = report_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("data", "cache", "report"))
    sp = tmp_path / "s.yaml"
    sp.write_text(yaml.safe_dump({"annotators": "<img src=x onerror=alert(1)>"}))
    build_report(copy, "claim", ("html",), sponsor=sp, figures=False)
    html = (copy / "report" / "claim" / "report.html").read_text()
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    sp.write_text(yaml.safe_dump({"not_applicable": {"claim:340": "typo"}}))
    with pytest.raises(ValueError, match="'claim:340', which is not a guideline item"):
        build_report(copy, "claim", ("md",), sponsor=sp, figures=False)

"""The report renders, it computes nothing: layering of ``suite.report``, series styles, figures
that plot usable values only, and a run with an implausible EF whose exclusion, listing and
sensitivity analysis appear in ``summary.md`` and in the ``performance.clinical`` evidence.

Expected values are recomputed here with numpy from the stored rows, never taken from the
report code's own output.
"""

import ast
import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]

CORRUPT = '''
class SwappedPhases:
    """Returns the case's reference labels, with ED and ES swapped for one subject: that
    subject's ESV exceeds its EDV, so its EF is negative (an implausible value)."""
    name = "swapped-phases"
    version = "0.1"
    stage = "segmentation"
    needs_case = True

    def __init__(self, subject="phantom-001"):
        self.subject = subject

    def params(self):
        return {"subject": self.subject}

    def __call__(self, images, spacing):
        raise NotImplementedError("swapped-phases needs the case (needs_case = True)")

    def predict(self, case, condition, recon_label):
        labels = case.labels.astype("uint8").copy()
        if case.meta.subject == self.subject:
            ed, es = case.meta.ed_frame, case.meta.es_frame
            labels[:, [ed, es]] = labels[:, [es, ed]]
        return labels
'''


# ------------------------------------------------------------------ layering
def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_report_reads_runs_only_through_the_run_view_and_imports_no_statistics():
    files = sorted((ROOT / "suite" / "report").rglob("*.py"))
    assert len(files) > 10
    for f in files:
        mods = _imports(f)
        bad = sorted(m for m in mods if m == "sqlite3" or m.startswith(("suite.stats",
                                                                          "suite.runner")))
        assert not bad, f"{f.relative_to(ROOT)} imports {bad}"
        text = f.read_text()
        for name in ("load_case", "resolve_method", "sqlite3.connect", "read_sql"):
            assert name not in text, f"{f.relative_to(ROOT)} uses {name}"


def test_analysis_writes_no_files_and_draws_nothing():
    for f in sorted((ROOT / "suite" / "analysis").rglob("*.py")):
        if f.name == "measurements_csv.py":  # the CLI's CSV reader
            continue
        mods = _imports(f)
        assert not any(m.startswith(("matplotlib", "suite.report")) for m in mods), f.name
        text = f.read_text()
        for call in (".to_csv(", ".write_text(", ".savefig("):
            assert call not in text, f"{f.name} calls {call}"


# ------------------------------------------------------------------ styles
def test_series_styles_give_distinct_colour_marker_pairs():
    from suite.report.style import MAX_DISTINCT_PAIRS, series_styles

    for n in (1, 2, 10, 14, 37, MAX_DISTINCT_PAIRS):
        styles = series_styles(n)
        pairs = [(s.color, s.marker) for s in styles]
        assert len(set(pairs)) == n
        # neighbours differ in colour and in marker
        assert all(a[0] != b[0] and a[1] != b[1] for a, b in zip(pairs, pairs[1:]))
    many = series_styles(MAX_DISTINCT_PAIRS + 5)
    assert len({(s.color, s.marker, s.linestyle) for s in many}) == MAX_DISTINCT_PAIRS + 5
    with pytest.raises(ValueError, match="n"):
        series_styles(-1)


def test_a_figure_with_14_series_has_14_distinct_styles(tmp_path):
    from suite.report.figures import metric_vs_acceleration

    rows = [{"metric": "ssim", "profile": "fastmri", "recon": f"method-{k:02d}",
             "condition": f"R{r}", "nominal_acceleration": float(r), "mean": 0.9 - 0.01 * k - 0.02 * r,
             "ci_low": 0.85 - 0.01 * k - 0.02 * r, "ci_high": 0.95 - 0.01 * k - 0.02 * r,
             "n_excluded": 0, "excluded": "", "unit": "1"}
            for k in range(14) for r in (2, 4, 8)]
    captured = []
    import matplotlib.figure

    real = matplotlib.figure.Figure.savefig

    def spy(fig, *a, **kw):
        ax = fig.axes[0]
        handles, _ = ax.get_legend_handles_labels()
        lines = [h.lines[0] for h in handles]  # the data line of each error-bar series
        captured.append([(tuple(line.get_color()), line.get_marker()) for line in lines])
        return real(fig, *a, **kw)

    matplotlib.figure.Figure.savefig = spy
    try:
        figs = metric_vs_acceleration(pd.DataFrame(rows), tmp_path, True)
    finally:
        matplotlib.figure.Figure.savefig = real
    assert len(figs) == 1 and (tmp_path / Path(figs[0]["png"]).name).is_file()
    styles = captured[0]
    assert len(styles) == 14 and len(set(styles)) == 14


# ------------------------------------------------------------------ figures of results
def _clinical_rows(values, refs, exclusions, condition="R3"):
    return pd.DataFrame({
        "row_id": np.arange(len(values)), "stage": "clinical", "metric": "lv_ef_pct",
        "value": values, "reference_value": refs, "exclusion": exclusions,
        "status": ["implausible" if e == "implausible" else "ok" for e in exclusions],
        "subject": [f"s{i}" for i in range(len(values))],
        "case_id": [f"c{i}" for i in range(len(values))], "unit": "%",
        "condition": condition, "recon": "zero-filled", "segmentation": "seg", "profile": "truth"})


def test_bland_altman_panel_plots_usable_pairs_and_names_the_excluded():
    from suite.analysis.agreement import PRIMARY, agreement_results
    from suite.report.draw import bland_altman_panel, pyplot

    values = [55.0, 61.0, 48.0, 58.0, -1900.0]
    refs = [57.0, 60.0, 50.0, 56.0, 58.0]
    res = agreement_results(_clinical_rows(values, refs, [None] * 4 + ["implausible"]))
    primary = next(r for r in res if r.keys["analysis"] == PRIMARY)
    fig, ax = pyplot().subplots()
    bland_altman_panel(ax, primary, title="t")
    d = np.array(values[:4]) - np.array(refs[:4])
    lo, hi = ax.get_ylim()
    assert lo <= d.min() and hi >= d.max()
    assert hi - lo < 50  # the excluded difference (−1958) does not stretch the axis
    (points,) = ax.collections[:1]
    assert len(points.get_offsets()) == 4
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "1 implausible" in texts and "n = 4" in texts
    assert "%" in ax.get_ylabel()  # the unit comes from the rows
    pyplot().close(fig)


def test_ef_bias_figure_names_excluded_values_per_series_in_the_legend(tmp_path):
    from suite.analysis.agreement import error_propagation
    from suite.report.draw import pyplot

    base = [55.0, 61.0, 48.0, 58.0, 52.0]
    refs = [57.0, 60.0, 50.0, 56.0, 53.0]
    df = pd.concat([
        _clinical_rows(base, refs, [None] * 5, condition="R3"),
        _clinical_rows(base[:4] + [-1900.0], refs, [None] * 4 + ["implausible"], condition="R6"),
        pd.DataFrame({"stage": "condition", "metric": "nominal_acceleration", "condition": ["R3", "R6"],
                      "value": [3.0, 6.0], "reference_value": np.nan})], ignore_index=True)
    df.attrs["method_stages"] = ["recon", "segmentation"]
    prop = error_propagation(df)
    assert list(prop["n_excluded"]) == [0, 1] and list(prop["unit"]) == ["%", "%"]
    legends = []
    import matplotlib.figure

    real = matplotlib.figure.Figure.savefig

    def spy(fig, *a, **kw):
        ax = fig.axes[0]
        legends.append(([t.get_text() for t in ax.get_legend().get_texts()], ax.get_ylim(),
                        ax.get_ylabel()))
        return real(fig, *a, **kw)

    matplotlib.figure.Figure.savefig = spy
    try:
        from suite.report.figures import ef_bias_vs_acceleration

        ef_bias_vs_acceleration(prop, ["recon", "segmentation"], tmp_path, True)
    finally:
        matplotlib.figure.Figure.savefig = real
    labels, (lo, hi), ylabel = legends[0]
    assert labels == ["zero-filled + seg (excluded: R6: 1 implausible)"]
    assert hi - lo < 100 and "(%)" in ylabel
    pyplot().close("all")


# ------------------------------------------------------------------ a run with an implausible EF
@pytest.fixture(scope="module")
def implausible_run(tmp_path_factory):
    from suite.protocol import load_protocol
    from suite.runner import run_protocol
    from suite.trust import AllowList

    tmp = tmp_path_factory.mktemp("implausible")
    (tmp / "plugins").mkdir()
    (tmp / "plugins" / "corrupt.py").write_text(CORRUPT)
    proto = {
        "name": "implausible-ef", "seed": 3, "plugin_paths": ["plugins"],
        "datasets": [{"name": "phantom", "phantom": {"subjects": 4, "seed": 2, "presets": ["tiny"],
                                                     "overrides": {"n_frames": 6}}}],
        "conditions": [{"name": "full", "type": "fully-sampled"},
                       {"name": "R3", "type": "undersample", "pattern": "equispaced",
                        "acceleration": 3, "acs_lines": 8}],
        "methods": {"recon": ["zero-filled"],
                    "segmentation": [{"plugin": "corrupt:SwappedPhases"}]},
        "metrics": {"image": {"profiles": ["fastmri"]}, "temporal": False,
                    "segmentation": {"tolerance_mm": 2.0, "empty": "worst"}, "clinical": True},
        "analyses": {"bootstrap": {"n_resamples": 100}, "agreement": ["lv_ef_pct"]},
    }
    path = tmp / "protocol.yaml"
    path.write_text(yaml.safe_dump(proto))
    run_dir = tmp / "run"
    allow = AllowList(["corrupt:SwappedPhases"], paths=[tmp / "plugins"])
    result = run_protocol(load_protocol(path, allow_plugins=allow), run_dir, executor="serial")
    assert result.n_failed == 0, result.summary()
    return run_dir


def _ef_rows(run_dir):
    con = sqlite3.connect(run_dir / "results.sqlite")
    rows = con.execute("SELECT rowid, condition, recon, subject, value, reference_value, status "
                       "FROM results WHERE stage='clinical' AND metric='lv_ef_pct' AND "
                       "reference_value IS NOT NULL ORDER BY condition, subject").fetchall()
    con.close()
    return rows


def test_the_corrupt_subject_is_stored_as_implausible(implausible_run):
    rows = _ef_rows(implausible_run)
    bad = [r for r in rows if r[6] == "implausible"]
    assert {r[3] for r in bad} == {"phantom-001"} and all(r[4] < 0 for r in bad)
    assert len({r[1] for r in bad}) == 2  # one per condition (chain)


def test_summary_md_counts_lists_and_shows_the_sensitivity_analysis(implausible_run):
    report = implausible_run / "report"
    text = (report / "summary.md").read_text()
    assert "2 value(s) excluded from the primary analysis: 2 implausible" in text
    assert "Sensitivity analysis: implausible values included" in text
    assert "Excluded values (implausible)" in text and "phantom-001" in text
    assert "outside the plausible range" in text or "ESV > EDV" in text
    agree = pd.read_csv(report / "clinical_agreement.csv")
    assert set(agree["analysis"]) == {"primary", "sensitivity: implausible values included"}
    rows = _ef_rows(implausible_run)
    for cond in ("full", "R3"):
        sub = [r for r in rows if r[1] == cond]
        d_all = np.array([r[4] - r[5] for r in sub])
        d_ok = np.array([r[4] - r[5] for r in sub if r[6] != "implausible"])
        got = agree[agree["condition"] == cond].set_index("analysis")
        assert got.loc["primary", "n"] == 3 and got.loc["primary", "n_excluded"] == 1
        assert got.loc["primary", "bias"] == pytest.approx(d_ok.mean(), rel=1e-10)
        sens = got.loc["sensitivity: implausible values included"]
        assert sens["n"] == 4 and sens["bias"] == pytest.approx(d_all.mean(), rel=1e-10)
    implausible = pd.read_csv(report / "implausible_values.csv")
    assert set(implausible["subject"]) == {"phantom-001"} and implausible["reason"].notna().all()
    assert (report / "ba_lv_ef_R3_zero-filled_corrupt_SwappedPhases.png").is_file()


def test_clinical_evidence_shows_exclusions_listing_and_sensitivity(implausible_run):
    from suite.report import build_report

    build_report(implausible_run, "claim", ("md",))
    ev = json.loads((implausible_run / "report" / "claim" / "evidence.json").read_text())
    clin = ev["evidence"]["performance.clinical"]
    facts = {f["name"]: f["value"] for f in clin["facts"]}
    assert facts["values excluded from the primary analysis"] == 2
    assert facts["excluded, by reason"] == "2 implausible"
    agree, excluded = clin["tables"]
    analyses = {r["analysis"] for r in agree["rows"]}
    assert analyses == {"primary", "sensitivity: implausible values included"}
    con = sqlite3.connect(implausible_run / "results.sqlite")
    for row in agree["rows"]:
        ids = ",".join(map(str, row["sources"]["results"]))
        pairs = con.execute(f"SELECT value, reference_value, status FROM results "
                            f"WHERE rowid IN ({ids})").fetchall()
        statuses = {p[2] for p in pairs}
        assert ("implausible" in statuses) == (row["analysis"] != "primary")
        d = np.array([v - r for v, r, _ in pairs])
        assert row["bias"] == pytest.approx(d.mean(), rel=1e-10)
    assert {r["case_id"].split("/")[-1] for r in excluded["rows"]} == {"phantom-001"}
    for r in excluded["rows"]:
        (rid,) = r["sources"]["results"]
        assert con.execute("SELECT status FROM results WHERE rowid=?", (rid,)).fetchone()[0] \
            == "implausible"
    md = (implausible_run / "report" / "claim" / "report.md").read_text()
    assert "Values excluded from the primary analysis as implausible" in md
    assert "sensitivity: implausible values included" in md


def test_stages_key_is_not_applicable_without_a_plugin_stage(implausible_run):
    ev = json.loads((implausible_run / "report" / "claim" / "evidence.json").read_text())
    stages = ev["evidence"].get("performance.stages")
    if stages is None:  # only cited keys are kept; find the item that lists it
        items = [it for it in ev["items"] if "performance.stages" in it["evidence"]]
        assert items
        reasons = [u for it in items for u in it["unavailable"] if u["key"] == "performance.stages"]
        assert reasons and reasons[0]["status"] == "not_applicable"
    else:
        assert stages["status"] == "not_applicable"


# ------------------------------------------------------------------ analysis objects the keys render
def test_repeatability_is_one_way_icc_over_repeated_acquisitions():
    from suite.analysis.precision import repeatability

    values = {"s1": [50.0, 52.0], "s2": [60.0, 59.0], "s3": [45.0, 47.5], "s4": [70.0, 68.0]}
    rows, cases = [], []
    for s, vals in values.items():
        for k, v in enumerate(vals):
            cid = f"{s}-scan{k}"
            cases.append({"subject": s, "case_id": cid})
            rows.append({"row_id": len(rows), "stage": "clinical", "metric": "lv_ef_pct",
                         "subject": s, "case_id": cid, "value": v, "usable": True, "unit": "%",
                         "condition": "full", "recon": "reference", "segmentation": "seg"})
    # an implausible value on a third scan is not used
    cases.append({"subject": "s1", "case_id": "s1-scan2"})
    rows.append({"row_id": len(rows), "stage": "clinical", "metric": "lv_ef_pct", "subject": "s1",
                 "case_id": "s1-scan2", "value": -40.0, "usable": False, "unit": "%",
                 "condition": "full", "recon": "reference", "segmentation": "seg"})
    rep = repeatability(pd.DataFrame(rows), pd.DataFrame(cases))
    assert rep.possible and rep.subjects == ("s1", "s2", "s3", "s4")
    (res,) = rep.results
    y = np.array(list(values.values()))
    n, k = y.shape
    msb = k * ((y.mean(axis=1) - y.mean()) ** 2).sum() / (n - 1)
    msw = ((y - y.mean(axis=1, keepdims=True)) ** 2).sum() / (n * (k - 1))
    assert res.icc.icc == pytest.approx((msb - msw) / (msb + (k - 1) * msw), rel=1e-10)
    assert res.n_subjects == 4 and len(res.row_ids) == 8 and res.unit == "%"
    assert repeatability(pd.DataFrame(rows), pd.DataFrame(cases[:3])).possible is False


def test_worst_cases_follow_the_stored_direction():
    from suite.analysis.failures import worst_cases

    df = pd.DataFrame({
        "row_id": range(6), "stage": "segmentation", "metric": ["dice"] * 3 + ["hd95"] * 3,
        "structure": "LV", "phase": "ED", "profile": "worst", "condition": "full",
        "recon": "reference", "segmentation": "seg", "case_id": ["a", "b", "c"] * 2,
        "subject": ["a", "b", "c"] * 2, "pathology": "normal", "vendor": "v",
        "value": [0.9, 0.5, 0.95, 2.0, 9.0, 1.0], "unit": ["1"] * 3 + ["mm"] * 3,
        "direction": ["higher is better"] * 3 + ["lower is better"] * 3,
        "usable": [True, True, True, True, False, True]})
    w = worst_cases(df).set_index("metric")
    assert w.loc["dice", "case_id"] == "b"  # lowest of a higher-is-better metric
    assert w.loc["hd95", "case_id"] == "a"  # highest usable of a lower-is-better metric

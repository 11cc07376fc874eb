"""A stage added from a test module runs through run → summary → report → gate without any
change to the harness (tests/plugins/toy_stage.py declares it)."""

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import yaml

from suite.protocol import ProtocolError, load_protocol, validate_protocol
from suite.trust import AllowList

PLUGINS = Path(__file__).parent / "plugins"
#: What these tests allow the protocols to import (suite.trust): the toy stage and its folder.
ALLOW = AllowList(["toy_stage:ToyStage"], paths=[PLUGINS])


def _raw(toy_methods):
    return {"name": "toy-stage", "seed": 2,
            "stages": {"toy": {"plugin": "toy_stage:ToyStage"}},
            "plugin_paths": [str(PLUGINS)],
            "pipeline": ["recon", "toy"],
            "datasets": [{"name": "phantom", "phantom": {"subjects": 3, "seed": 1,
                                                         "presets": ["tiny"],
                                                         "overrides": {"n_frames": 4}}}],
            "conditions": [{"name": "full", "type": "fully-sampled"},
                           {"name": "R3", "type": "undersample", "pattern": "equispaced",
                            "acceleration": 3, "acs_lines": 6}],
            "methods": {"recon": ["zero-filled"], "toy": toy_methods},
            "metrics": {"image": {"profiles": ["fastmri"]}},
            "analyses": {"bootstrap": {"n_resamples": 100}}}


@pytest.fixture(scope="module")
def toy_runs(tmp_path_factory):
    from suite.runner import run_protocol

    tmp = tmp_path_factory.mktemp("toy")
    runs = {}
    for label, methods in (("candidate", ["frame-means"]), ("baseline", ["biased-means"])):
        path = tmp / f"{label}.yaml"
        path.write_text(yaml.safe_dump(_raw(methods)))
        result = run_protocol(load_protocol(path, allow_plugins=ALLOW), tmp / label,
                              executor="serial")
        assert result.n_failed == 0, result.summary()
        runs[label] = tmp / label
    return runs


def test_toy_stage_rows_are_stored_with_its_own_method_column(toy_runs):
    con = sqlite3.connect(toy_runs["candidate"] / "results.sqlite")
    rows = con.execute("SELECT condition, recon, toy, value, unit, direction FROM results "
                       "WHERE stage = 'toy' ORDER BY case_id, condition").fetchall()
    phases = {r[0] for r in con.execute("SELECT DISTINCT phase FROM jobs")}
    con.close()
    assert phases == {"recon", "toy"}
    assert len(rows) == 3 * 2  # 3 subjects x 2 conditions
    assert {r[2] for r in rows} == {"frame-means"}
    assert {r[4:] for r in rows} == {("1", "lower is better")}
    full = [r[3] for r in rows if r[0] == "full"]
    assert full == pytest.approx([0.0] * 3, abs=1e-6)  # the reference's own means
    assert all(r[3] > 0 for r in rows if r[0] == "R3")


def test_toy_stage_appears_in_summary_and_reports(toy_runs):
    from suite.report import build_report

    summary = (toy_runs["candidate"] / "report" / "metrics_summary.csv").read_text()
    assert "frame_mean_error" in summary and "frame-means" in summary
    res = build_report(toy_runs["candidate"], guidelines=["claim"], formats=("md",))
    text = Path(res.documents["claim"][0]).read_text()
    assert "frame_mean_error" in text


def test_gate_compares_toy_methods(toy_runs, tmp_path):
    from suite.gate import GateSettings, parse_criteria, run_gate

    _, crit = parse_criteria({"gate": {"criteria": [
        {"name": "toy-floor", "metric": "frame_mean_error", "floor": {"max": 0.05},
         "where": {"stage": "toy", "condition": "full"}}]}}, source="c.yaml")
    res = run_gate(toy_runs["candidate"], toy_runs["baseline"], crit,
                   settings=GateSettings(n_resamples=200),
                   candidate_method={"toy": "frame-means"},
                   baseline_method={"toy": "biased-means"})
    assert res.passed, res.summary("text")
    worse = run_gate(toy_runs["baseline"], toy_runs["candidate"], crit,
                     settings=GateSettings(n_resamples=200),
                     candidate_method={"toy": "biased-means"},
                     baseline_method={"toy": "frame-means"})
    assert not worse.passed  # 10 % biased means fail the floor


def test_gate_criteria_filter_and_split_on_the_toy_method_column(toy_runs):
    """``where``/``per`` may name a plugin stage's method column; a method column the runs do
    not have stops the gate with the key path and the columns the runs have."""
    from suite.gate import GateCriteriaError, GateSettings, parse_criteria, run_gate

    _, crit = parse_criteria({"gate": {"criteria": [
        {"name": "toy-floor", "metric": "frame_mean_error", "floor": {"max": 0.05},
         "where": {"stage": "toy", "condition": "full", "toy": "frame-means"}},
        {"name": "toy-per", "metric": "frame_mean_error", "floor": {"max": 0.05},
         "where": {"stage": "toy", "condition": "full"}, "per": ["toy"], "overall": False}]}},
        source="c.yaml")
    res = run_gate(toy_runs["candidate"], toy_runs["candidate"], crit,
                   settings=GateSettings(n_resamples=200))
    assert res.passed, res.summary("text")
    assert sorted(v.stratum.get("toy") for v in res.verdicts if v.criterion == "toy-per") == \
        ["frame-means"]
    _, missing = parse_criteria({"gate": {"criteria": [
        {"name": "m", "metric": "frame_mean_error", "floor": {"max": 0.05},
         "where": {"stage": "toy"}, "per": ["motion"]}]}}, source="c.yaml")
    with pytest.raises(GateCriteriaError) as err:
        run_gate(toy_runs["candidate"], toy_runs["candidate"], missing,
                 settings=GateSettings(n_resamples=200))
    assert err.value.key == "m.per[0]" and "names a column the runs lack" in err.value.problem
    assert "'toy'" in err.value.problem


def test_protocol_names_unknown_stage_and_misplaced_stage():
    bad = _raw(["frame-means"]) | {"pipeline": ["toy", "recon"]}
    with pytest.raises(ProtocolError, match=r"pipeline\[0\].*consumes 'recon'"):
        validate_protocol(bad, source="p.yaml", allow_plugins=ALLOW)
    bad = _raw(["frame-means"]) | {"pipeline": ["recon", "tyo"]}
    with pytest.raises(ProtocolError, match="did you mean 'toy'"):
        validate_protocol(bad, source="p.yaml", allow_plugins=ALLOW)
    bad = _raw(["frame-mean"])
    with pytest.raises(ProtocolError, match=r"methods.toy\[0\].name.*did you mean 'frame-means'"):
        validate_protocol(bad, source="p.yaml", allow_plugins=ALLOW)


def test_generic_input_attack_runs_on_the_toy_stage(tmp_path):
    """``robustness.adversarial.toy``: the generic input attack of any stage with an attack
    surface; for the per-frame mean (a linear map) the worst case along the gradient changes the
    output far more than a random perturbation of the same norm."""
    from suite.runner import run_protocol

    raw = _raw(["frame-means"]) | {"robustness": {"adversarial": {
        "toy": {"budgets": [0.01, 0.05], "steps": 3}}}}
    raw["datasets"][0]["phantom"]["subjects"] = 2
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw))
    result = run_protocol(load_protocol(path, allow_plugins=ALLOW), tmp_path / "run",
                          executor="serial", analyse=False)
    assert result.n_failed == 0, result.summary()
    con = sqlite3.connect(tmp_path / "run" / "results.sqlite")
    dev = dict(((a, b), v) for a, b, v in con.execute(
        "SELECT attack, budget, avg(value) FROM results WHERE stage = 'robustness' AND "
        "metric = 'deviation' GROUP BY attack, budget"))
    clean = con.execute("SELECT count(*) FROM results WHERE stage = 'robustness' AND "
                        "attack = 'none' AND metric = 'frame_mean_error'").fetchone()[0]
    con.close()
    assert clean == 2  # one clean row per subject (fully sampled condition)
    for budget in (0.01, 0.05):
        # the gradient of the mean is uniform: PGD reaches the bound of the budget exactly,
        # ||mean(e)|| = eps ||x|| / sqrt(n_pixels), so the deviation is eps * ||x|| / (sqrt(n)
        # ||mean(x)||) > random's, whose mean averages out
        assert dev[("input-pgd", budget)] > 5 * dev[("input-random", budget)]
    # a linear map: the worst-case deviation grows linearly with the budget
    assert dev[("input-pgd", 0.05)] == pytest.approx(5 * dev[("input-pgd", 0.01)], rel=1e-3)


def test_shift_selection_may_name_a_plugin_stage_method():
    raw = _raw(["frame-means"]) | {"robustness": {"shift": {
        "strata": ["condition"], "reference": {"condition": "full"},
        "metrics": [{"metric": "frame_mean_error", "stage": "toy", "toy": "frame-means"}]}}}
    validate_protocol(raw, source="p.yaml", allow_plugins=ALLOW)
    raw["robustness"]["shift"]["metrics"][0]["tyo"] = "frame-means"
    with pytest.raises(ProtocolError, match=r"metrics\[0\]\.tyo.*did you mean 'toy'"):
        validate_protocol(raw, source="p.yaml", allow_plugins=ALLOW)

"""Shift factors of the mapping phantom as paired case strata, analysed by the generic shift
analysis (no mapping code in runner, analysis or report).

Expected directions are the published ones (MOLLI underestimates more with lower inversion
efficiency: Kellman, Herzka & Hansen, MRM 2014, doi 10.1002/mrm.24793; SASHA does not depend on
the inversion: MRM 2014;71:2082), and the design facts are checked against the sweep
definition (same subjects in every level; a series of one factor's sweep is not a level of
another factor).
"""

from pathlib import Path

import pandas as pd
import pytest
import yaml

from suite.phantom.mapping.shift import sweep_points, sweep_strata
from suite.protocol import ProtocolError, load_protocol, validate_protocol

ROOT = Path(__file__).resolve().parents[1]


def test_sweep_points_vary_one_factor_at_a_time_around_the_nominal_acquisition():
    entry = {"heart_rate_bpm": 60, "sweep": {"heart_rate_bpm": [60, 120],
                                             "inversion_efficiency": [1.0, 0.9, 0.96]}}
    points = sweep_points(entry)
    assert [p.factor for p in points] == [None, "heart_rate_bpm", "inversion_efficiency",
                                          "inversion_efficiency"]
    nominal = points[0]
    # the nominal acquisition is a level of every swept factor; the others of their own only
    assert nominal.strata == {"sweep_heart_rate_bpm": 60, "sweep_inversion_efficiency": 1.0}
    assert points[1].strata == {"sweep_heart_rate_bpm": 120}
    assert points[1].values == {**nominal.values, "heart_rate_bpm": 120}
    assert {p.suffix for p in points} == {"", "__heart_rate_bpm-120",
                                          "__inversion_efficiency-0.9",
                                          "__inversion_efficiency-0.96"}
    assert sweep_strata(entry) == ("sweep_heart_rate_bpm", "sweep_inversion_efficiency")


def _raw(**phantom):
    return {"name": "mapping-shift-test", "seed": 0, "pipeline": ["recon", "mapping"],
            "datasets": [{"name": "m", "phantom": {
                "kind": "mapping", "subjects": 2, "seed": 5, "snr": None, "upsample": 1,
                "sequences": ["molli-5(3)3", "sasha"], "heart_rate_bpm": 60,
                "sweep": {"inversion_efficiency": [1.0, 0.9], "heart_rate_bpm": [60, 120]},
                **phantom}}],
            "conditions": [{"name": "full", "type": "fully-sampled"}],
            "methods": {"recon": ["zero-filled"], "mapping": ["molli-3p", "sasha-3p"]},
            "metrics": {"mapping": {"regions": ["myocardium"], "segments": [],
                                    "scores": False, "reference_fit": False}},
            "analyses": {"bootstrap": {"n_resamples": 100},
                         "strata": ["sweep_inversion_efficiency", "sequence"]},
            "robustness": {"shift": {
                "strata": ["sweep_inversion_efficiency", "sweep_heart_rate_bpm"],
                "reference": {"sweep_inversion_efficiency": 1, "sweep_heart_rate_bpm": 60},
                "metrics": [{"metric": "t1_relative_bias_pct", "stage": "mapping",
                             "profile": "truth", "structure": "myocardium", "segment": ""}]}}}


@pytest.mark.parametrize("change, key", [
    (lambda r: r["analyses"].update(strata=["sweep_b1_scale"]), "analyses.strata"),
    (lambda r: r["robustness"]["shift"].update(strata=["sweep_snr"]), "robustness.shift.strata"),
    (lambda r: r["datasets"][0]["phantom"]["sweep"].update(b1=[0.8, 1.0]), "sweep"),
    (lambda r: r["datasets"][0]["phantom"]["sweep"].update(b1_scale=[0.8]), "sweep.b1_scale"),
    (lambda r: r["datasets"][0]["phantom"].pop("heart_rate_bpm"), "heart_rate_bpm"),
    (lambda r: r["datasets"][0]["phantom"].update(arrhythmia="sometimes"), "arrhythmia"),
])
def test_strata_and_sweeps_are_validated_with_the_key(change, key):
    raw = _raw()
    validate_protocol(raw)  # the declared strata are accepted
    change(raw)
    with pytest.raises(ProtocolError, match=key.replace(".", r"\.")):
        validate_protocol(raw)


def test_shipped_shift_protocol_validates():
    p = load_protocol(ROOT / "protocols" / "mapping-shift.yaml")
    shift = p.raw["robustness"]["shift"]
    assert set(shift["strata"]) == {f"sweep_{f}" for f in p.raw["datasets"][0]["phantom"]["sweep"]}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from suite.runner import run_protocol

    tmp = tmp_path_factory.mktemp("mapshift")
    (tmp / "p.yaml").write_text(yaml.safe_dump(_raw()))
    result = run_protocol(load_protocol(tmp / "p.yaml"), tmp / "run", executor="serial")
    assert result.n_failed == 0, result.summary()
    return tmp / "run"


def test_shift_analysis_reports_each_factor_per_paired_stratum(run):
    table = pd.read_csv(run / "report" / "shift_strata.csv")
    eta = table[table["stratum_column"] == "sweep_inversion_efficiency"].set_index(
        ["mapping", "stratum"])
    molli = eta.loc[("molli-3p", 0.9)]
    # same subjects in both levels (paired), each level holds one series per subject
    assert molli["design"] == "paired" and molli["n_pairs"] == 2 and molli["n_cases"] == 2
    assert molli["gap"] > 3.0  # |bias| in % points grows with lower inversion efficiency
    assert abs(eta.loc[("sasha-3p", 0.9), "gap"]) < 1e-9  # no inversion in SASHA
    hr = table[(table["stratum_column"] == "sweep_heart_rate_bpm")
               & (table["mapping"] == "molli-3p")]
    # the η-swept series are not heart-rate levels: 2 cases per level, 2 levels
    assert sorted(hr["stratum"].astype(float)) == [60.0, 120.0]
    assert set(hr["n_cases"]) == {2}
    assert table["selection"].str.startswith("|").all()  # closer is better: |bias − 0|


def test_declared_strata_reach_results_and_report(run):
    from suite.store import RunView

    view = RunView(run)
    res = view.results
    assert {"sweep_inversion_efficiency", "sweep_heart_rate_bpm", "sequence"} <= set(res.columns)
    assert set(res["sequence"].dropna()) == {"molli-5(3)3", "sasha"}
    assert (run / "report" / "strata_sweep_inversion_efficiency.csv").is_file()
    assert (run / "report" / "strata_sequence.csv").is_file()

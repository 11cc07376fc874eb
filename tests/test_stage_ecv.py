"""The ECV stage and repeated draws end to end through run_protocol on a noise-free mapping
phantom (one pure tissue per pixel): MOLLI native and post-contrast series of one subject.

Independent expectations: the clinical formula ECV = 100·(1 − Hct)·ΔR1_myo/ΔR1_blood
(ΔR1 = 1/T1_post − 1/T1_native; SCMR/EACVI consensus, doi 10.1186/s12968-017-0389-8) is
written out here and applied to the mapping stage's own myocardial and blood-pool T1 means of
the two series; the truth is the phantom's ECV (25 % for normal myocardium). With pure-tissue
pixels and no noise every map is constant per region, so the mean of the pixel-wise ECV map
equals the formula applied to the region means.
"""

import sqlite3

import pandas as pd
import pytest
import yaml

from suite.protocol import ProtocolError, load_protocol, validate_protocol


def _raw(**overrides):
    raw = {"name": "ecv-test", "seed": 1, "pipeline": ["recon", "mapping", "ecv"],
           "datasets": [{"name": "map", "phantom": {
               "kind": "mapping", "subjects": 1, "seed": 3, "snr": None, "upsample": 1,
               "sequences": ["molli-5(3)3"], "contrasts": ["native", "post"]}}],
           "conditions": [{"name": "full", "type": "fully-sampled"},
                          {"name": "R2", "type": "undersample", "pattern": "equispaced",
                           "acceleration": 2, "acs_lines": 12},
                          {"name": "snr", "type": "noise", "relative_sigma": 0.02,
                           "repeats": 2}],
           "methods": {"recon": ["zero-filled"], "mapping": ["molli-3p"]},
           "metrics": {"image": {"profiles": ["fastmri"]},
                       "mapping": {"regions": ["myocardium", "lv_blood"],
                                   "segments": ["insertion"], "scores": False},
                       "ecv": {"segments": ["insertion"]}},
           "analyses": {"bootstrap": {"n_resamples": 100}}}
    raw.update(overrides)
    return raw


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from suite.runner import run_protocol

    tmp = tmp_path_factory.mktemp("ecv")
    path = tmp / "p.yaml"
    path.write_text(yaml.safe_dump(_raw()))
    result = run_protocol(load_protocol(path), tmp / "run", executor="serial")
    assert result.n_failed == 0, result.summary()
    return tmp / "run"


def _results(run) -> pd.DataFrame:
    con = sqlite3.connect(run / "results.sqlite")
    df = pd.read_sql("SELECT * FROM results", con)
    con.close()
    return df


def _one(df, **where) -> pd.Series:
    sel = df
    for k, v in where.items():
        sel = sel[sel[k].isna()] if v is None else sel[sel[k] == v]
    assert len(sel) == 1, (where, len(sel))
    return sel.iloc[0]


def _ecv(t1n_myo, t1p_myo, t1n_blood, t1p_blood, hct):
    return 100.0 * (1 - hct) * (1 / t1p_myo - 1 / t1n_myo) / (1 / t1p_blood - 1 / t1n_blood)


def test_ecv_rows_follow_the_clinical_formula_and_the_truth(run):
    df = _results(run)
    hct = float(_one(df, stage="ecv", metric="haematocrit", condition="full")["value"])
    assert hct == 0.42  # the phantom's contrast model, from the case's truth
    assert _one(df, stage="ecv", metric="haematocrit", condition="full")["profile"] == "case-truth"
    t1 = {}
    for contrast in ("native", "post"):
        for region in ("myocardium", "lv_blood"):
            sel = df[(df["stage"] == "mapping") & (df["metric"] == "t1_mean")
                     & (df["condition"] == "full") & (df["profile"] == "truth")
                     & (df["structure"] == region) & df["segment"].isna()
                     & df["case_id"].str.endswith(f"_{contrast}.h5")]
            assert len(sel) == 1
            t1[contrast, region] = float(sel["value"].iloc[0])
    expected = _ecv(t1["native", "myocardium"], t1["post", "myocardium"],
                    t1["native", "lv_blood"], t1["post", "lv_blood"], hct)
    row = _one(df, stage="ecv", metric="ecv_mean", condition="full", profile="truth",
               structure="myocardium", segment=None)
    assert row["value"] == pytest.approx(expected, rel=1e-9)
    assert row["reference_value"] == pytest.approx(25.0, rel=1e-12)  # truth ECV, normal
    assert row["case_id"].endswith("_post.h5") and row["mapping"] == "molli-3p"
    bias = _one(df, stage="ecv", metric="ecv_bias", condition="full", profile="truth",
                structure="myocardium", segment=None)["value"]
    assert bias == pytest.approx(expected - 25.0, rel=1e-9)
    seg = df[(df["stage"] == "ecv") & (df["metric"] == "ecv_mean") & (df["condition"] == "full")
             & df["exclusion"].isna() & df["segment"].notna()]
    assert set(seg["segment"]) == {"1", "2", "3", "4", "5", "6", "global"}
    assert set(seg["convention"]) == {"insertion"}
    for v in seg["value"]:  # homogeneous normal myocardium: every segment has the region ECV
        assert v == pytest.approx(expected, rel=1e-6)


def test_undersampled_ecv_against_the_fully_sampled_fits(run):
    df = _results(run)
    full = _one(df, stage="ecv", metric="ecv_mean", condition="full", profile="truth",
                structure="myocardium", segment=None)["value"]
    ref = _one(df, stage="ecv", metric="ecv_mean", condition="R2", profile="reference-fit",
               structure="myocardium", segment=None)
    assert ref["reference_value"] == pytest.approx(full, rel=1e-9)  # the fully sampled ECV
    assert not (df[(df["stage"] == "ecv") & (df["condition"] == "full")]["profile"]
                == "reference-fit").any()


def test_only_post_contrast_jobs_pair_with_their_native_series(run):
    df = _results(run)
    ecv = df[df["stage"] == "ecv"]
    assert set(ecv["case_id"].str.extract(r"/([^/]+)\.h5$")[0]) == {"molli-5(3)3_post"}
    con = sqlite3.connect(run / "results.sqlite")
    phases = dict(con.execute("SELECT phase, COUNT(*) FROM jobs GROUP BY phase").fetchall())
    con.close()
    assert phases == {"recon": 8, "mapping": 8}  # 2 series x 4 conditions (2 repeats)


def test_repeated_draws_give_qiba_repeatability_in_the_summary(run):
    from suite.analysis import summarise

    df = _results(run)
    cond = df[(df["stage"] == "condition") & (df["metric"] == "repeat_index")]
    assert sorted(cond["value"]) == [1.0, 1.0, 2.0, 2.0]  # native and post, two repeats
    t = summarise(run).repeat_draws
    sel = t[(t["stage"] == "ecv") & (t["metric"] == "ecv_mean") & (t["segment"] == "")
            & (t["profile"] == "truth")]
    assert len(sel) == 1 and sel["n_repeats"].iloc[0] == 2 and sel["n_units"].iloc[0] == 1
    values = df[(df["stage"] == "ecv") & (df["metric"] == "ecv_mean")
                & df["condition"].isin(["snr#1", "snr#2"]) & (df["profile"] == "truth")
                & (df["structure"] == "myocardium") & df["segment"].isna()]["value"]
    d = float(values.iloc[0] - values.iloc[1])
    assert d != 0.0  # two noise draws
    assert sel["wsd"].iloc[0] == pytest.approx(abs(d) / 2 ** 0.5, rel=1e-9)  # wSD² = d²/2
    summary_md = (run / "report" / "summary.md").read_text()
    assert "Repeatability over repeated draws" in summary_md and "Stage `ecv`" in summary_md


@pytest.mark.parametrize("change, key", [
    ({"metrics": {"ecv": {"haematocrit": 1.5}}}, "metrics.ecv.haematocrit"),
    ({"metrics": {"ecv": {"region": ["myocardium"]}}}, "metrics.ecv"),
    ({"pipeline": ["recon", "ecv", "mapping"]}, "pipeline"),
])
def test_protocol_errors_name_the_key(change, key):
    with pytest.raises(ProtocolError) as err:
        validate_protocol(_raw(**change))
    assert key in str(err.value)

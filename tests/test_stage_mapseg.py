"""The ``mapseg`` stage (segmentation of the fitted map → global and AHA segmental values) end
to end through run_protocol, and its pieces against independent references.

Physics the tests rely on, from published values (not from the code):

* native T1 of blood is above that of myocardium (1.5 T: 1.58 ± 0.13 vs 1.07 ± 0.03 s, Sharma
  et al., JMRI 2006, doi 10.1002/jmri.20504), so a myocardial ROI that takes blood-pool pixels
  reads a **higher** native T1 — the blood contamination the SCMR/EACVI consensus tells readers
  to avoid by keeping the ROI off the blood pool (Messroghli et al., JCMR 2017;19:75,
  doi 10.1186/s12968-017-0389-8; accuracy as bias against truth, Kellman & Hansen, JCMR
  2014;16:2, doi 10.1186/1532-429X-16-2);
* after contrast, blood T1 is below myocardial T1 (3 T: 508 ± 9 vs 645 ± 26 ms, MyoMapNet,
  doi 10.1186/s12968-021-00834-0), so the same error **lowers** post-contrast T1.
"""

import sqlite3

import numpy as np
import pandas as pd
import pytest
import yaml

from suite.protocol import ProtocolError, load_protocol, validate_protocol


def _raw(**overrides):
    raw = {"name": "mapseg-test", "seed": 0, "pipeline": ["recon", "mapping", "mapseg"],
           "datasets": [{"name": "map", "phantom": {
               "kind": "mapping", "subjects": 1, "seed": 3, "snr": 50, "preset": "ge-1.5t",
               "sequences": ["molli-5(3)3", "t2prep-bssfp"], "contrasts": ["native", "post"]}}],
           "conditions": [{"name": "full", "type": "fully-sampled"}],
           "methods": {"recon": ["zero-filled"], "mapping": ["molli-3p", "t2-2p"],
                       "mapseg": ["map-classical", "oracle",
                                  {"name": "oracle", "params": {"endo": 1}, "label": "endo+1"},
                                  {"name": "oracle", "params": {"endo": -1},
                                   "label": "endo-1"}]},
           "metrics": {"image": {"profiles": ["fastmri"]},
                       "mapping": {"regions": ["myocardium", "lv_blood"],
                                   "segments": ["insertion"], "roi": "pure"},
                       "mapseg": {"roi": "pure"}}}
    raw.update(overrides)
    return raw


#: A user's segmentation plugin (stage "segmentation") that checks the stage's call and
#: segments nothing.
PLUGIN = """
import numpy as np

class EmptySeg:
    name, version, stage = "empty-seg", "1", "segmentation"

    def __call__(self, maps, spacing_mm):
        assert maps.ndim == 4 and maps.shape[1] == 1 and maps.dtype == np.float32
        assert np.isfinite(maps).all() and maps.max() > 100.0  # a map in ms, failed pixels 0
        assert len(spacing_mm) == 2
        return np.zeros(maps.shape, np.uint8)
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> pd.DataFrame:
    from suite.runner import run_protocol
    from suite.trust import AllowList

    tmp = tmp_path_factory.mktemp("mapseg")
    (tmp / "user_seg.py").write_text(PLUGIN)
    raw = _raw(plugin_paths=["."])
    raw["methods"]["mapseg"] = [*raw["methods"]["mapseg"], {"plugin": "user_seg:EmptySeg",
                                                            "label": "empty-seg"}]
    path = tmp / "p.yaml"
    path.write_text(yaml.safe_dump(raw))
    allow = AllowList(["user_seg:EmptySeg"], [tmp])
    result = run_protocol(load_protocol(path, allow_plugins=allow), tmp / "run",
                          executor="serial")
    assert result.n_failed == 0, result.summary()
    con = sqlite3.connect(tmp / "run" / "results.sqlite")
    df = pd.read_sql("SELECT * FROM results WHERE stage IN ('mapping', 'mapseg')", con)
    con.close()
    return df.assign(segment=df["segment"].fillna(""))


def _one(df, **where) -> pd.Series:
    sel = df
    for k, v in where.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, (where, len(sel))
    return sel.iloc[0]


def _series(df, name):
    return df[df["case_id"].str.contains(name, regex=False)]


def test_oracle_reproduces_the_truth_label_scoring_exactly(results):
    """(a) With the truth labels (oracle, no border moved) and the same pixels (roi: pure) the
    value read in the predicted ROI is the mapping stage's truth-label value, bit for bit, for
    every series, region and AHA segment; the segmentation alone causes no error."""
    mapping = results[(results["stage"] == "mapping") & results["metric"].isin(["t1_mean",
                                                                                "t2_mean"])]
    oracle = results[(results["stage"] == "mapseg") & (results["mapseg"] == "oracle")]
    assert len(mapping) > 20
    for _, row in mapping.iterrows():
        mine = _one(oracle, case_id=row["case_id"], metric=row["metric"], profile="truth",
                    structure=row["structure"], segment=row["segment"])
        assert mine["value"] == row["value"] or (np.isnan(mine["value"])
                                                 and np.isnan(row["value"]))
        assert mine["reference_value"] == row["reference_value"] or np.isnan(row["value"])
    seg_only = oracle[(oracle["profile"] == "segmentation-only")
                      & oracle["metric"].str.endswith("_value_error")]
    assert (seg_only["value"].dropna() == 0.0).all()
    dice = oracle[oracle["metric"] == "dice"]
    assert len(dice) == 12 and (dice["value"] == 1.0).all()  # 4 series x LV, MYO, RV


@pytest.mark.parametrize("contrast, sign", [("native", +1), ("post", -1)])
def test_myocardium_taking_blood_moves_t1_toward_blood(results, contrast, sign):
    """(b) Moving the endocardial border one pixel into the LV blood pool raises myocardial T1
    natively and lowers it after contrast (module docstring: blood T1 above myocardium
    natively, below after contrast); moving it into the myocardium (the blood pool grows) does
    not change the myocardial value on a perfect map, only the blood pool's."""
    df = _series(results[results["stage"] == "mapseg"], f"molli-5(3)3_{contrast}")
    for segment in ("", "global"):
        where = {"metric": "t1_value_error", "structure": "myocardium", "segment": segment}
        base = _one(df, mapseg="oracle", profile="truth", **where)["value"]
        for profile in ("truth", "segmentation-only"):
            moved = _one(df, mapseg="endo+1", profile=profile, **where)["value"]
            ref = base if profile == "truth" else 0.0
            # on the truth map the shift is the truth contrast times the fraction of pixels
            # taken (> 1 ms; roi: pure keeps only the pure blood pixels taken); on the fitted
            # MOLLI map it is the fitted contrast's, which after contrast is small (the map's
            # blood-myocardium difference is ~15 ms against 54 ms in truth): sign only
            floor = 1.0 if profile == "segmentation-only" else 0.0
            assert sign * (moved - ref) > floor, (contrast, profile, moved, ref)
        shrunk = _one(df, mapseg="endo-1", profile="segmentation-only", **where)["value"]
        assert shrunk == 0.0
    # the blood pool losing its border pixels to the myocardium keeps its truth value
    blood = _one(df, mapseg="endo+1", profile="segmentation-only", metric="t1_value_error",
                 structure="lv_blood", segment="")["value"]
    assert blood == 0.0


def test_map_classical_segments_native_t1_and_t2_maps(results):
    """The classical map segmenter on the phantom's fitted native T1 and T2 maps (SNR 50):
    LV pool, myocardium and RV overlap the truth labels; its segmentation-only error of the
    global myocardial value is small next to the MOLLI bias the mapping stage reports."""
    seg = results[(results["stage"] == "mapseg") & (results["mapseg"] == "map-classical")]
    for name in ("molli-5(3)3_native", "t2prep-bssfp_native", "t2prep-bssfp_post"):
        df = _series(seg, name)
        dice = {s: _one(df, metric="dice", structure=s)["value"] for s in ("LV", "MYO", "RV")}
        assert dice["LV"] > 0.95 and dice["RV"] > 0.9 and dice["MYO"] > 0.85, (name, dice)
    df = _series(seg, "molli-5(3)3_native")
    err = _one(df, metric="t1_value_error", profile="segmentation-only",
               structure="myocardium", segment="global")["value"]
    assert abs(err) < 10.0  # ms, at roi: pure


def test_value_rows_against_closed_form_means():
    """On a synthetic ring the value, truth value and both errors are the means of the pixels
    of each ROI, computed here by hand."""
    from suite.stages.mapping.segmental import MAPSEG_SETTINGS, SEGMENTATION_ONLY, value_rows

    yy, xx = np.mgrid[:32, :32]
    r = np.hypot(yy - 15.5, xx - 15.5)
    regions = np.zeros((1, 32, 32), np.uint8)
    regions[0][r < 12] = 4
    regions[0][r < 7] = 2
    regions[0][(r >= 12) & (r < 15) & (xx < 12)] = 3
    truth = {"regions": regions, "region_names": ("air", "body", "lv_blood", "rv_blood",
                                                  "myocardium", "scar"),
             "t1_ms": np.where(regions == 2, 1600.0, 1000.0)}
    labels = np.zeros_like(regions)
    labels[regions == 3], labels[regions == 4], labels[regions == 2] = 1, 2, 3
    labels[0][(r >= 6) & (r < 7)] = 2            # the myocardium takes a one-pixel blood rim
    fitted = truth["t1_ms"] * 0.9
    cfg = {**MAPSEG_SETTINGS, "segments": ()}
    rows = {(x.metric, x.profile, x.structure): x for x in
            value_rows({"t1": fitted}, labels, truth, cfg)}
    myo_pred, myo_true = labels == 2, regions == 4
    value = fitted[myo_pred].mean()
    assert rows[("t1_mean", "truth", "myocardium")].value == pytest.approx(value)
    assert rows[("t1_mean", "truth", "myocardium")].reference_value == pytest.approx(1000.0)
    assert rows[("t1_value_error", "truth", "myocardium")].value == pytest.approx(value - 1000)
    seg_only = truth["t1_ms"][myo_pred].mean() - 1000.0
    assert seg_only > 0
    assert rows[("t1_value_error", SEGMENTATION_ONLY, "myocardium")].value == \
        pytest.approx(seg_only)


def test_move_borders_against_a_brute_force_distance():
    """``endo``/``epi`` move a border by the pixels within that Euclidean distance (pixel
    centres), found here by brute force over all pixel pairs."""
    from suite.stages.mapping.segmental import move_borders

    yy, xx = np.mgrid[:24, :24]
    r = np.hypot(yy - 11.3, xx - 12.1)
    lab = np.zeros((1, 24, 24), np.uint8)
    lab[0][r < 9] = 2
    lab[0][r < 5] = 3
    pts = np.argwhere(np.ones((24, 24), bool))

    def dist_to(mask):
        m = np.argwhere(mask)
        d = np.sqrt(((pts[:, None, :] - m[None, :, :]) ** 2).sum(-1)).min(1)
        return d.reshape(24, 24)

    for k in (1, 2):
        out = move_borders(lab, endo=k)[0]
        expected = (lab[0] == 3) & (dist_to(lab[0] == 2) <= k)
        assert np.array_equal(out == 2, (lab[0] == 2) | expected)
        out = move_borders(lab, epi=k)[0]
        grown = (lab[0] == 0) & (dist_to(lab[0] > 0) <= k)
        assert np.array_equal(out == 2, (lab[0] == 2) | grown)
        out = move_borders(lab, epi=-k)[0]
        shrunk = (lab[0] == 2) & (dist_to(lab[0] == 0) <= k)
        assert np.array_equal(out == 2, (lab[0] == 2) & ~shrunk)
        assert np.array_equal(out == 3, lab[0] == 3)
    assert np.array_equal(move_borders(lab), lab)


def test_segmentation_plugins_and_reference_methods_are_mapseg_methods(tmp_path):
    """``mapseg`` runs segmentation methods (``method_kind``): every reference segmentation
    method and the oracle validate by name; an unknown name lists them."""
    from suite.protocol.validate import available_methods
    from suite.stages import get_stage

    names = available_methods(get_stage("mapseg"))
    assert {"map-classical", "classical", "unet", "oracle"} <= set(names)
    bad = _raw(methods={**_raw()["methods"], "mapseg": ["map-clasical"]})
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(ProtocolError) as err:
        validate_protocol(load_protocol(path))
    assert "methods.mapseg[0].name" in str(err.value) and "map-classical" in str(err.value)


@pytest.mark.parametrize("change, key", [
    ({"mapseg": {"roi": "inner"}}, "metrics.mapseg.roi"),
    ({"mapseg": {"regions": ["scar"]}}, "metrics.mapseg.regions[0]"),
    ({"mapseg": {"segment": ["insertion"]}}, "metrics.mapseg"),
])
def test_protocol_errors_name_the_key(tmp_path, change, key):
    raw = _raw()
    raw["metrics"] = {**raw["metrics"], **change}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ProtocolError) as err:
        validate_protocol(load_protocol(path))
    assert key in str(err.value)


def test_oracle_refuses_fractional_pixels():
    from suite.stages.mapping.segmental import OracleLabels

    with pytest.raises(ValueError, match="whole number"):
        OracleLabels(endo=0.5)


def test_a_segmentation_plugin_runs_on_the_maps(results):
    """A user's segmentation plugin (``stage = "segmentation"``) listed under ``mapseg`` gets
    each map as one finite float32 frame (its assertions) and its empty labels give Dice 0 and
    no values (``exclusion = missing``), never a number read in no pixel."""
    df = results[(results["stage"] == "mapseg") & (results["mapseg"] == "empty-seg")]
    assert set(df["case_id"].str.rsplit("/", n=1).str[-1]) == {
        "molli-5(3)3_native.h5", "molli-5(3)3_post.h5", "t2prep-bssfp_native.h5",
        "t2prep-bssfp_post.h5"}
    dice = df[df["metric"] == "dice"]
    assert (dice["value"] == 0.0).all() and len(dice) == 12
    values = df[df["metric"].isin(["t1_mean", "t2_mean", "t1_value_error", "t2_value_error"])]
    assert len(values) and values["value"].isna().all()
    assert set(values["exclusion"]) == {"missing"}

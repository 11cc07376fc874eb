"""The mapping stage end to end through run_protocol: a noise-free mapping phantom (one pure
tissue per pixel), fully sampled and undersampled, MOLLI and T2-prep series, the reference fits.

Expectations are independent of the stage and of the fit under test: the MOLLI signal of a
myocardial (and a blood) pixel is simulated with the sequence model, fitted here with SciPy's
``curve_fit`` (3-parameter model S = A − B·exp(−TI/T1*), exhaustive polarity search, Look-Locker
correction T1 = T1*·(B/A − 1); Messroghli et al., MRM 2004;52:141, doi 10.1002/mrm.20110), and
the stage's map must reproduce that apparent T1; its sign against the truth follows the
published direction (MOLLI underestimates T1: McDiarmid et al., QIMS 2015;5:503,
doi 10.3978/j.issn.2223-4292.2015.04.07).
"""

import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.optimize import curve_fit

from suite.protocol import ProtocolError, load_protocol, validate_protocol


def _raw(**overrides):
    raw = {"name": "mapping-test", "seed": 1, "pipeline": ["recon", "mapping"],
           "datasets": [{"name": "map", "phantom": {
               "kind": "mapping", "subjects": 1, "seed": 3, "snr": None, "upsample": 1,
               "sequences": ["molli-5(3)3", "t2prep-bssfp"]}}],
           "conditions": [{"name": "full", "type": "fully-sampled"},
                          {"name": "R2", "type": "undersample", "pattern": "equispaced",
                           "acceleration": 2, "acs_lines": 12}],
           "methods": {"recon": ["zero-filled"], "mapping": ["molli-3p", "t2-2p"]},
           "metrics": {"image": {"profiles": ["fastmri"]},
                       "mapping": {"regions": ["myocardium", "lv_blood"],
                                   "segments": ["insertion"]}},
           "analyses": {"bootstrap": {"n_resamples": 100}},
           "acceptance": [{"metric": "t1_relative_bias_pct", "stage": "mapping",
                           "mapping": "molli-3p", "recon": "reference", "profile": "truth",
                           "structure": "myocardium", "segment": "", "max": 0.0}]}
    raw.update(overrides)
    return raw


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from suite.runner import run_protocol

    tmp = tmp_path_factory.mktemp("mapping")
    path = tmp / "p.yaml"
    path.write_text(yaml.safe_dump(_raw()))
    result = run_protocol(load_protocol(path), tmp / "run", executor="serial")
    assert result.n_failed == 0, result.summary()
    [acc] = result.acceptance  # MOLLI underestimates T1; the region row only, no segment rows
    assert acc["passed"] and acc["n_subjects"] == 1 and acc["n_excluded"] == 0, acc
    return tmp / "run"


def _results(run) -> pd.DataFrame:
    con = sqlite3.connect(run / "results.sqlite")
    df = pd.read_sql("SELECT * FROM results WHERE stage = 'mapping'", con)
    con.close()
    return df


def _value(df, **where) -> float:
    sel = df
    for k, v in where.items():
        sel = sel[sel[k].isna()] if v is None else sel[sel[k] == v]
    assert len(sel) == 1, (where, len(sel))
    return float(sel["value"].iloc[0])


def _apparent_t1(case, t1_ms, t2_ms) -> float:
    """The model's apparent MOLLI T1 of a pure tissue: simulate, then fit independently."""
    from suite.mr.sequences import Tissue, molli_5_3_3, simulate_epg

    rr = np.asarray(case.meta.extra["rr_ms"], float)
    sim = simulate_epg(molli_5_3_3().program(rr), Tissue(np.array([t1_ms]), np.array([t2_ms])),
                       n_states=1)
    y = np.abs(sim.signal.numpy()[0])
    ti = np.asarray(case.meta.timings_ms["TI"][0], float)
    order = np.argsort(ti)
    ti, y = ti[order], y[order] / y.max()

    def model(t, a, b, t1s):
        return a - b * np.exp(-t / t1s)

    best = None
    for k in range(len(y) + 1):  # negate the first k samples (exhaustive polarity search)
        yk = np.where(np.arange(len(y)) < k, -y, y)
        try:
            p, _ = curve_fit(model, ti, yk, p0=(1.0, 2.0, 800.0), maxfev=20000)
        except RuntimeError:
            continue
        sse = float(np.sum((model(ti, *p) - yk) ** 2))
        if best is None or sse < best[0]:
            best = (sse, p)
    a, b, t1s = best[1]
    return t1s * (b / a - 1.0)


def test_methods_run_only_on_series_with_their_timing(run):
    df = _results(run)
    pairs = set(zip(df["case_id"].str.extract(r"/([^/]+)\.h5$")[0], df["mapping"]))
    assert pairs == {("molli-5(3)3_native", "molli-3p"), ("t2prep-bssfp_native", "t2-2p")}
    con = sqlite3.connect(run / "results.sqlite")
    phases = dict(con.execute("SELECT phase, COUNT(*) FROM jobs GROUP BY phase").fetchall())
    con.close()
    assert phases == {"recon": 4, "mapping": 4}  # 2 series x 2 conditions each


def test_noise_free_molli_fit_gives_the_models_apparent_t1_below_truth(run):
    from suite.data.loader import Unit, read_unit

    df = _results(run)
    molli = next((run / "data" / "map").rglob("molli-5(3)3_native.h5"))
    case = read_unit(Unit(molli, "phantom-mapping"))
    t = case.truth
    names = list(t["region_names"])
    for region in ("myocardium", "lv_blood"):
        pix = t["regions"] == names.index(region)
        t1, t2 = float(np.median(t["t1_ms"][pix])), float(np.median(t["t2_ms"][pix]))
        apparent = _apparent_t1(case, t1, t2)
        full = dict(stage="mapping", condition="full", recon="reference", mapping="molli-3p",
                    profile="truth", structure=region, segment=None)
        mean = _value(df, metric="t1_mean", **full)
        assert mean == pytest.approx(apparent, rel=2e-3)
        assert _value(df, metric="map_failure_fraction", **full) == 0.0
        rel = _value(df, metric="t1_relative_bias_pct", **full)
        assert rel == pytest.approx(100 * (mean - t1) / t1, rel=1e-6)
        assert rel < 0  # MOLLI underestimates T1


def test_rows_name_their_reference_and_segments(run):
    df = _results(run)
    full, r2 = df[df["condition"] == "full"], df[df["condition"] == "R2"]
    assert set(full["profile"]) == {"truth"}  # the fit of the fully sampled images is the output
    assert set(r2["profile"]) == {"truth", "reference-fit"}
    seg = df[df["segment"].notna()]
    assert set(seg["convention"]) == {"insertion"}
    usable = seg[seg["exclusion"].isna()]
    assert set(usable["segment"]) == {"1", "2", "3", "4", "5", "6", "global"}  # one basal slice
    assert set(seg.loc[seg["exclusion"].notna(), "exclusion"]) == {"missing"}  # empty segments
    # the undersampled fit against the fully sampled fit: reference_value is that fit's mean
    ref_mean = _value(df, metric="t1_mean", condition="full", recon="reference",
                      profile="truth", structure="myocardium", segment=None)
    sel = r2[(r2["metric"] == "t1_mean") & (r2["profile"] == "reference-fit")
             & (r2["structure"] == "myocardium") & r2["segment"].isna()]
    assert float(sel["reference_value"].iloc[0]) == pytest.approx(ref_mean, rel=1e-9)


def test_summary_report_and_gate_need_no_mapping_code(run, tmp_path):
    from suite.gate import GateSettings, parse_criteria, run_gate
    from suite.report import build_report

    summary = (run / "report" / "metrics_summary.csv").read_text()
    assert "t1_relative_bias_pct" in summary and "molli-3p" in summary
    out = subprocess.run([sys.executable, "-m", "suite.cli", "summary", str(run)],
                         capture_output=True, text=True, check=True).stdout
    assert "t1_relative_bias_pct" in out and "reference-fit" in out  # profile shown
    res = build_report(run, guidelines=["claim"], formats=("md",))
    assert "t1_relative_bias_pct" in Path(res.documents["claim"][0]).read_text()
    _check_stage_tables(run)
    where = {"stage": "mapping", "condition": "full", "profile": "truth",
             "structure": "myocardium", "mapping": "molli-3p", "segment": ""}
    bias = _value(_results(run), metric="t1_relative_bias_pct", **{**where, "segment": None})

    def gate(limit):  # a "closer is better" metric: the floor bounds its distance from 0
        _, crit = parse_criteria({"gate": {"criteria": [
            {"name": "t1-bias", "metric": "t1_relative_bias_pct", "floor": {"max": limit},
             "where": where}]}}, source="c.yaml")
        return run_gate(run, run, crit, settings=GateSettings(n_resamples=50)).passed

    assert gate(abs(bias) + 0.5) and not gate(abs(bias) - 0.5)


def _check_stage_tables(run):
    """The generic stage key: region rows in the main table, AHA segments as the columns of a
    second one whose cells are the subject means of the store rows each row cites."""
    from suite.report.evidence import RunData
    from suite.report.keys import compute_evidence

    data = RunData(run, figures=False)
    ev = compute_evidence(data, ["performance.stages"])["performance.stages"]
    main, seg = ev.tables
    assert all(row.get("segment") in (None, "") for row in main.rows)
    labels = [lab for _, lab in seg.columns]
    assert "global" in labels and "1" in labels and "segment" not in labels
    r = data.results
    [row] = [x for x in seg.rows if x["metric"] == "t1_mean" and x["profile"] == "truth"
             and x["condition"] == "full" and x["mapping"] == "molli-3p"]
    sel = r[(r["metric"] == "t1_mean") & (r["profile"] == "truth") & (r["condition"] == "full")
            & (r["mapping"] == "molli-3p") & (r["segment"] == "1")]
    assert row["segment:1"] == pytest.approx(sel["value"].mean(), rel=1e-12)  # one subject
    cited = r[r["row_id"].isin(row["sources"]["results"])]
    assert {"1", "global"} <= set(cited["segment"]) and set(cited["metric"]) == {"t1_mean"}


@pytest.mark.parametrize("change, key", [
    ({"metrics": {"mapping": {"segment": ["insertion"]}}}, "metrics.mapping"),
    ({"metrics": {"mapping": {"segments": ["aha"]}}}, "metrics.mapping.segments[0]"),
    ({"datasets": [{"name": "m", "phantom": {"kind": "mapping", "subjects": 1,
                                              "sequences": ["molli"]}}]},
     "datasets[0].phantom.sequences[0]"),
    ({"datasets": [{"name": "m", "phantom": {"kind": "maping", "subjects": 1}}]},
     "datasets[0].phantom.kind"),
])
def test_protocol_errors_name_the_key(change, key):
    with pytest.raises(ProtocolError) as err:
        validate_protocol(_raw(**change))
    assert key in str(err.value)


def test_shipped_protocol_validates():
    p = load_protocol(Path(__file__).parents[1] / "protocols" / "mapping.yaml")
    assert p.pipeline("mapping-phantom") == ["recon", "mapping", "ecv", "mapseg"]


def test_scoring_uses_pure_pixels_unless_asked_for_all():
    """A boundary pixel (purity < 1) with a large error is left out of the ROI and of its AHA
    segment by default (``roi: pure``) and counted with ``roi: all``; the bias is then the
    closed-form mean over the ROI's pixels."""
    from suite.stages.mapping.scoring import mapping_settings, map_rows

    regions = np.zeros((1, 16, 16), np.uint8)
    yy, xx = np.mgrid[:16, :16]
    r = np.hypot(yy - 7.5, xx - 7.5)
    regions[0][r < 6] = 4       # myocardium ring
    regions[0][r < 3.5] = 2     # LV blood
    regions[0][(r < 6) & (xx > 11)] = 3  # an RV-ish region for the AHA insertion points
    purity = np.ones(regions.shape)
    myo = regions == 4
    edge = tuple(np.argwhere(myo)[0])
    purity[edge] = 0.5
    truth = {"regions": regions, "purity": purity,
             "region_names": ("air", "body", "lv_blood", "rv_blood", "myocardium", "scar")}
    ref = np.full(regions.shape, 1000.0)
    pred = ref.copy()
    pred[edge] = 2000.0         # +100 % at the impure pixel only
    for roi, expected in (("pure", 0.0), ("all", 100.0 / myo.sum())):
        cfg = mapping_settings({"mapping": {"regions": ["myocardium"], "segments": [],
                                            "scores": False, "roi": roi}})
        rows = map_rows(ref, pred, truth, "t1", cfg, reference_source="truth")
        [bias] = [x["value"] for x in rows if x["metric"] == "t1_relative_bias_pct"]
        assert bias == pytest.approx(expected), roi

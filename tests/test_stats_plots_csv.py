"""Plots save to PNG; CSV wrappers return the documented keys and name file and column."""

import json

import numpy as np
import pandas as pd
import pytest

from suite.stats import (
    ICC_LABELS, bland_altman, bland_altman_log_ratio, bland_altman_repeated, deming,
)
from suite.analysis.measurements_csv import agreement_from_csv, icc_from_csv
from suite.stats.plots import bland_altman_plot, regression_plot

KEYS = {"n", "bias", "sd", "loa", "bias_ci", "loa_lower_ci", "loa_upper_ci", "ccc", "ccc_ci",
        "pearson_r", "pearson_ci", "spearman_rho", "direction", "ci_method", "multiplier"}


@pytest.fixture
def pairs():
    rng = np.random.default_rng(0)
    ref = rng.uniform(40, 160, 30)
    return ref * 1.02 + rng.normal(0, 4, 30), ref


def test_plots_write_png(tmp_path, pairs):
    t, r = pairs
    subj = np.repeat(np.arange(10), 3)
    for i, res in enumerate([bland_altman(t, r), bland_altman_log_ratio(t, r),
                             bland_altman_repeated(subj, t, r)]):
        fig = bland_altman_plot(res)
        fig.savefig(tmp_path / f"ba{i}.png")
        assert (tmp_path / f"ba{i}.png").stat().st_size > 1000
    fig = regression_plot(deming(t, r))
    fig.savefig(tmp_path / "reg.png")
    assert (tmp_path / "reg.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="Bland-Altman result"):
        bland_altman_plot(deming(t, r))


def test_agreement_from_csv_single_pairs(tmp_path, pairs):
    t, r = pairs
    path = tmp_path / "a.csv"
    pd.DataFrame({"ai_ef": t, "ref_ef": r}).to_csv(path, index=False)
    out = agreement_from_csv(path, "ai_ef", "ref_ef", ci_method="exact")
    assert KEYS <= set(out)
    json.dumps(out, allow_nan=False)
    ba = bland_altman(t, r, ci_method="exact")
    assert out["bias"] == pytest.approx(ba.bias) and out["loa_upper_ci"] == pytest.approx(
        list(ba.loa_upper_ci))
    assert out["direction"] == "test - reference" and out["design"] == "one pair per subject"


def test_agreement_from_csv_repeated(tmp_path, pairs):
    t, r = pairs
    path = tmp_path / "rep.csv"
    pd.DataFrame({"sid": np.repeat(np.arange(10), 3), "t": t, "r": r}).to_csv(path, index=False)
    out = agreement_from_csv(path, "t", "r", subject_col="sid", n_resamples=150, seed=3)
    assert out["design"] == "repeated pairs per subject" and "bootstrap" in out["ci_method"]
    assert out["n"] == 30 and out["n_subjects"] == 10
    rep = bland_altman_repeated(np.repeat(np.arange(10), 3), t, r)
    assert out["loa"] == pytest.approx([rep.loa_lower, rep.loa_upper])
    assert out["bias_ci"][0] < out["bias"] < out["bias_ci"][1]


def test_csv_errors_name_file_column_and_fix(tmp_path):
    path = tmp_path / "bad.csv"
    pd.DataFrame({"t": [1.0, 2.0, np.nan, 4.0, 5.0], "r": [1.0, 2.5, 3.0, 4.0, 4.5],
                  "txt": ["a", "b", "c", "d", "e"]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"bad\.csv.*\['x'\] not found.*columns"):
        agreement_from_csv(path, "x", "r")
    with pytest.raises(ValueError, match=r"bad\.csv.*'txt' must be numeric.*row 2"):
        agreement_from_csv(path, "txt", "r")
    with pytest.raises(ValueError, match=r"bad\.csv: 1 row\(s\).*\['t'\].*nan_policy='omit'"):
        agreement_from_csv(path, "t", "r")
    out = agreement_from_csv(path, "t", "r", nan_policy="omit")
    assert out["n"] == 4 and out["n_dropped_nan"] == 1
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        agreement_from_csv(tmp_path / "nope.csv", "t", "r")


def test_icc_from_csv(tmp_path):
    sf = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9],
                   [6, 2, 4, 7]], dtype=float)
    df = pd.DataFrame({"case": np.repeat(np.arange(6), 4), "reader": np.tile(list("ABCD"), 6),
                       "lvef": sf.ravel()})
    path = tmp_path / "icc.csv"
    df.to_csv(path, index=False)
    out = icc_from_csv(path, "case", "reader", "lvef")
    assert list(out) == list(ICC_LABELS)
    assert out["ICC(3,1)"]["icc"] == pytest.approx(0.71, abs=0.005)
    for entry in out.values():
        assert {"icc", "ci", "F", "df1", "df2", "p"} <= set(entry)
    json.dumps(out, allow_nan=False)
    df.iloc[:-1].to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"icc\.csv.*missing or repeated.*rater='D'"):
        icc_from_csv(path, "case", "reader", "lvef")

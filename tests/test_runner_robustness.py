"""A run with a ``robustness`` section, end to end on tiny phantoms: the third job phase, the
store rows (attack, budget), the analysis tables and figures, resume.

The attacks and detectors themselves are tested against closed forms in
test_robustness_adversarial.py, test_robustness_features.py, test_data_audit.py and
test_robustness_shift.py; here the checks are that the runner wires them correctly: budgets
respected in the stored rows, adversarial rows paired with the random rows of the same budget,
crimed data flagged while the honest data is not, a known degradation (added noise) found
significant, and nothing recomputed on resume.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from suite.protocol import validate_protocol
from suite.runner import run_protocol
from suite.store import ResultStore

#: CI only (``pytest -m ci``): the whole run takes about a minute of CPU. ``make test`` runs the
#: robustness phase end to end in test_stage_plugin.py (the generic input attack on a toy stage)
#: and test_mapping_neural_robustness.py (attacks on a mapping network and fit).
pytestmark = pytest.mark.ci

PROTOCOL = {
    "name": "robustness-tiny",
    "seed": 0,
    "datasets": [{"name": "ph", "phantom": {"subjects": 3, "seed": 3, "presets": ["tiny"],
                                            "overrides": {"n_frames": 6}}}],
    "conditions": [
        {"name": "full", "type": "fully-sampled"},
        {"name": "R3", "type": "undersample", "pattern": "equispaced", "acceleration": 3,
         "acs_lines": 8},
        {"name": "R3-noisy", "type": "undersample", "pattern": "equispaced", "acceleration": 3,
         "acs_lines": 8, "relative_sigma": 0.3},
    ],
    "methods": {"recon": ["zero-filled"], "segmentation": ["unet"]},
    "metrics": {"image": {"profiles": ["fastmri"]}, "segmentation": {"tolerance_mm": 2.0}},
    "analyses": {"bootstrap": {"n_resamples": 200}},
    "robustness": {
        "adversarial": {
            "recon": {"conditions": ["R3"], "budgets": [0.02, 0.05], "steps": 2,
                      "segmentation": "unet"},
            "segmentation": {"attacks": ["fgsm"], "budgets": [0.03], "steps": 1},
        },
        "features": {"conditions": ["R3"], "contrasts": [0.5]},
        "crimes": {"crimes": ["magnitude", "zero-padded"], "conditions": ["R3"]},
        "shift": {"strata": ["condition"], "reference": {"condition": "R3"},
                  "metrics": [{"metric": "ssim", "stage": "recon", "profile": "fastmri"}]},
    },
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("rob") / "run"
    protocol = validate_protocol(PROTOCOL, source="robustness-tiny")
    result = run_protocol(protocol, out, executor="local", workers=2)
    return protocol, result, out


@pytest.fixture(scope="module")
def results(run):
    with ResultStore(run[2] / "results.sqlite") as store:
        return store.frame("results"), store.frame("jobs"), store.frame("cases")


def test_every_job_runs_including_the_robustness_phase(run, results):
    _, result, _ = run
    _, jobs, _ = results
    assert result.n_failed == 0 and result.exit_code == 0, result.summary()
    kinds = jobs[jobs["phase"] == "robustness"]["spec"].map(
        lambda s: json.loads(s)["robustness"]["kind"]).value_counts().to_dict()
    # 3 cases: one recon attack, one features, two crimes, one segmentation attack each
    assert kinds == {"recon-attack": 3, "features": 3, "crime": 6, "seg-attack": 3}


def test_stored_perturbations_respect_their_budgets(results):
    res, _, _ = results
    norms = res[(res["stage"] == "robustness") & (res["metric"] == "norm_reached")]
    assert len(norms) == 3 * 2 * 2 + 3 * 2  # recon: 2 budgets x (pgd, random); seg: fgsm + random
    assert (norms["value"] <= norms["budget"] * (1 + 1e-6)).all()
    # the random baseline sits exactly on the budget sphere/box
    rand = norms[norms["attack"].isin(["kspace-random", "random-linf"])]
    np.testing.assert_allclose(rand["value"], rand["budget"], rtol=1e-4)


def test_instability_ratios_pair_adversarial_and_random_rows(run):
    table = pd.read_csv(run[2] / "report" / "instability_ratios.csv")
    with ResultStore(run[2] / "results.sqlite") as store:
        res = store.frame("results")
    dev = res[(res["metric"] == "deviation") & (res["budget"] == 0.05)]
    by_subject = dev.groupby(["attack", "subject"])["value"].mean()
    expected = by_subject["kspace-pgd"].mean() / by_subject["kspace-random"].mean()
    row = table[(table["attack"] == "kspace-pgd") & (table["budget"] == 0.05)
                & (table["measure"] == "deviation")].iloc[0]
    assert row["ratio"] == pytest.approx(expected, rel=1e-12)
    assert row["ratio"] >= 1.0  # PGD starts at the random draw and keeps the worst iterate
    fgsm = table[(table["attack"] == "fgsm") & (table["measure"] == "label_change")].iloc[0]
    assert fgsm["random"] == "random-linf" and fgsm["ratio"] > 1.0


def test_clean_rows_anchor_the_curves(results):
    res, _, _ = results
    clean = res[(res["stage"] == "robustness") & (res["attack"] == "none")
                & (res["metric"] == "ssim")]
    honest = res[(res["stage"] == "recon") & (res["metric"] == "ssim") & (res["condition"] == "R3")]
    merged = clean.merge(honest, on=["case_id", "profile"], suffixes=("_clean", "_recon"))
    assert len(merged) == 3
    np.testing.assert_allclose(merged["value_clean"], merged["value_recon"], rtol=1e-6)
    ef = res[(res["stage"] == "robustness-clinical") & (res["metric"] == "lv_ef_pct")]
    assert ef["reference_value"].notna().all() and set(ef["attack"]) >= {"none", "kspace-pgd"}


def test_crimes_are_flagged_and_honest_cases_are_not(run, results):
    res, _, cases = results
    for _, c in cases.iterrows():
        audit = json.loads(c["meta"])["audit_flags"]
        assert audit and not audit["flagged"], (c["case_id"], audit["flags"])
    flags = res[res["metric"].str.startswith("audit_")]
    caught = flags.groupby(["attack", "case_id"])["value"].max()
    assert (caught == 1.0).all() and len(caught) == 6
    zp = flags[(flags["attack"] == "crime:zero-padded") & (flags["metric"] == "audit_zero_padded")]
    assert (zp["value"] == 1.0).all() and len(zp) == 3
    table = pd.read_csv(run[2] / "report" / "crime_inflation.csv")
    row = table[(table["crime"] == "zero-padded") & (table["metric"] == "nmse")].iloc[0]
    assert row["inflation"] < 0 and row["flagged_fraction"] == 1.0  # looks better than it is


def test_noise_shows_as_a_significant_stratum_gap(run):
    table = pd.read_csv(run[2] / "report" / "shift_strata.csv")
    noisy = table[table["stratum"] == "R3-noisy"].iloc[0]
    assert noisy["design"] == "paired" and noisy["gap"] < 0
    assert noisy["p_holm"] < 0.05 and bool(noisy["significant"])


def test_summary_and_figures(run):
    report = run[2] / "report"
    text = (report / "summary.md").read_text()
    for heading in ("Data-crime audit on load", "instability ratios", "Robustness curves",
                    "Small-feature recovery", "score inflation", "Domain shift"):
        assert heading in text
    for name in ("robustness_recon_deviation", "robustness_seg_dice", "robustness_ef_error",
                 "worst_case_recon_zero-filled", "worst_case_seg_unet"):
        assert (report / f"{name}.png").stat().st_size > 1000
        assert (report / f"{name}.svg").exists()


def test_resume_recomputes_nothing(run, results):
    protocol, first, out = run
    again = run_protocol(protocol, out, executor="serial", resume=True)
    assert again.n_skipped == first.n_jobs and again.n_failed == 0
    with ResultStore(out / "results.sqlite") as store:
        pd.testing.assert_frame_equal(store.frame("results"), results[0])

"""White-box and random perturbations of the mapping stage's input through run_protocol: the
neural estimator ``myomapnet`` (white box: L-infinity PGD, R+FGSM, L2 PGD) and the
conventional ``molli-3p`` fit (black box: random search) on one MOLLI 5(3)3 phantom series,
reported as robustness rows and instability ratios by the stage-generic runner and analysis.

Independent check of the white-box attack: the network is a per-pixel map T1(s), so to first
order the worst L-infinity perturbation of radius r moves pixel i by r·‖∇T1_i‖₁ (the vertex
of the box along the gradient's signs); PGD must reach that to within the curvature of the
network, and the same-norm random perturbation (random signs) stays far below it.
"""

import sqlite3

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from suite.protocol import ProtocolError, load_protocol, validate_protocol

BUDGETS = [0.01, 0.03]


def _raw(**robustness):
    return {"name": "mapping-robustness-test", "seed": 2, "pipeline": ["recon", "mapping"],
            "datasets": [{"name": "map", "phantom": {
                "kind": "mapping", "subjects": 1, "seed": 5, "snr": 50, "upsample": 1,
                "sequences": ["molli-5(3)3"]}}],
            "conditions": [{"name": "full", "type": "fully-sampled"}],
            "methods": {"recon": ["zero-filled"], "mapping": ["myomapnet", "molli-3p"]},
            "metrics": {"mapping": {"regions": ["myocardium", "lv_blood"], "segments": []}},
            "analyses": {"bootstrap": {"n_resamples": 100}},
            "robustness": {"adversarial": {"mapping": robustness or {
                "attacks": ["pgd", "fgsm", "pgd-l2"], "linf_budgets": BUDGETS,
                "budgets": [0.01], "steps": 5}}}}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from suite.runner import run_protocol

    tmp = tmp_path_factory.mktemp("maprob")
    path = tmp / "p.yaml"
    path.write_text(yaml.safe_dump(_raw()))
    result = run_protocol(load_protocol(path), tmp / "run", executor="serial")
    assert result.n_failed == 0, result.summary()
    con = sqlite3.connect(tmp / "run" / "results.sqlite")
    df = pd.read_sql("SELECT * FROM results", con)
    con.close()
    return tmp / "run", df


def _dev(df, method, attack):
    sel = df[(df["stage"] == "robustness") & (df["mapping"] == method)
             & (df["attack"] == attack) & (df["metric"] == "deviation")]
    return dict(zip(sel["budget"], sel["value"]))


def test_attack_rows_for_the_network_and_the_fit(run):
    _, df = run
    net = {a: _dev(df, "myomapnet", a) for a in ("input-pgd-linf", "input-fgsm",
                                                  "input-random-linf", "input-pgd",
                                                  "input-random")}
    assert set(net["input-pgd-linf"]) == set(BUDGETS) and set(net["input-pgd"]) == {0.01}
    for b in BUDGETS:
        assert net["input-pgd-linf"][b] > 1.5 * net["input-random-linf"][b]
        assert net["input-pgd-linf"][b] >= 0.95 * net["input-fgsm"][b]
    assert net["input-pgd"][0.01] > net["input-random"][0.01]
    fit = {a: _dev(df, "molli-3p", a) for a in ("input-random-search-linf",
                                                 "input-random-search")}
    assert set(fit["input-random-search-linf"]) == set(BUDGETS) and fit["input-random-search"]
    reached = df[(df["metric"] == "norm_reached") & (df["attack"] == "input-pgd-linf")]
    assert (reached["value"] <= reached["budget"] * (1 + 1e-9)).all()
    # the stage's own metrics of every perturbed map: T1 bias against the truth
    rob = df[(df["stage"] == "robustness") & (df["mapping"] == "myomapnet")
             & (df["metric"] == "t1_relative_bias_pct") & (df["structure"] == "myocardium")]
    assert {"none", "input-pgd-linf", "input-random-linf"} <= set(rob["attack"])


def test_instability_ratios_come_from_the_generic_analysis(run):
    from suite.analysis.robustness import instability_ratios
    from suite.analysis.summary import load_results

    ratios = instability_ratios(load_results(run[0]))
    sel = ratios[(ratios["mapping"] == "myomapnet") & (ratios["attack"] == "input-pgd-linf")
                 & (ratios["measure"] == "deviation")]
    assert len(sel) == len(BUDGETS) and (sel["random"] == "input-random-linf").all()
    assert (sel["ratio"] > 1.5).all()


def test_pgd_reaches_the_first_order_worst_case(run):
    """Independent of the attack code: r·‖∇T1_i‖₁ per pixel from autograd."""
    import reference_impls
    from suite.robustness import AttackSurface, attack_input, random_input
    from suite.train.myomapnet import simulate_signals

    method = reference_impls.get("mapping", "myomapnet")
    data = simulate_signals(11, {"n_series": 2, "pixels_per_series": 64}, stream=1)
    x, ti = data.signals[:, :5], data.ti_ms[:, :5]
    surface = AttackSurface(x=x, forward=lambda t: method.differentiable_map(t, ti),
                            differentiable=True)
    t = torch.from_numpy(x.copy()).requires_grad_(True)
    clean = method.differentiable_map(t, ti)
    (grad,) = torch.autograd.grad(clean.sum(), t)
    eps = 0.002
    r = eps * np.abs(x).max()
    first_order = r * np.linalg.norm(grad.abs().sum(1).numpy()) / float(clean.detach().norm())
    (pgd,) = attack_input(surface, [eps], steps=10, seed=0, norm="linf")
    (rnd,) = random_input(surface, [eps], seed=0, norm="linf")
    assert 0.8 * first_order <= pgd.deviation <= 1.25 * first_order
    assert rnd.deviation < 0.5 * pgd.deviation


@pytest.mark.parametrize("change,key", [
    ({"attacks": ["pgd"], "budgets": [0.01]}, "robustness.adversarial.mapping.linf_budgets"),
    ({"attacks": ["cw"], "budgets": [0.01]}, "robustness.adversarial.mapping.attacks[0]"),
    ({"linf_budgets": [0.01]}, "robustness.adversarial.mapping.budgets"),
])
def test_protocol_errors_name_the_key(change, key):
    with pytest.raises(ProtocolError) as err:
        validate_protocol(_raw(**change))
    assert key in str(err.value)

"""The neural T1 estimator ``myomapnet`` (reference_impls.mapping.neural): shipped weights and
their record, accuracy against the known T1 of held-out simulated MOLLI signals (a seed the
training never used) next to the conventional 3-parameter fit of the same five images, input
conventions, failures, white-box access and deterministic training.

Truth is the T1 the signals were simulated with (suite.mr.sequences, checked against closed
forms in its own tests), not any fit. Floors are the measured values (seed 7, 20 series of 256
pixels: network median |ΔT1|/T1 4.3 %, 95th percentile 13.2 %, median signed −0.05 %; fit of
the same 5 images 10.3 %, 50.6 %, −9.9 % with 9 % failures) with a margin.
"""

import hashlib
import json
import shutil

import numpy as np
import pytest
import torch

import reference_impls
from reference_impls.mapping.neural import (MyoMapNet, MyoMapNetT1, WeightsError,
                                            load_myomapnet, network_inputs)
from reference_impls.weights_io import WEIGHTS_DIR


@pytest.fixture(scope="module")
def method():
    return reference_impls.get("mapping", "myomapnet")


@pytest.fixture(scope="module")
def held_out():
    from suite.train.myomapnet import simulate_signals

    return simulate_signals(7, {"n_series": 20}, stream=1)


def test_shipped_weights_match_their_hash_and_record():
    meta = json.loads((WEIGHTS_DIR / "myomapnet.json").read_text())
    digest = hashlib.sha256((WEIGHTS_DIR / "myomapnet.pt").read_bytes()).hexdigest()
    assert digest == meta["sha256"]
    for key in ("seed", "steps", "command", "torch_version", "numpy_version", "data",
                "training", "config", "held_out"):
        assert key in meta, key
    assert meta["command"].startswith("cmrsuite train myomapnet")
    for key in ("t1_ms", "t2_ms", "heart_rate_bpm", "hrv_sd_ms", "b1", "inversion_efficiency",
                "off_resonance_hz", "snr", "n_series", "pixels_per_series"):
        assert key in meta["data"], key
    net, loaded = load_myomapnet()
    assert loaded["sha256"] == digest and net.n_images == 5


def test_replaced_weights_are_refused(tmp_path):
    for suffix in (".pt", ".json"):
        shutil.copy(WEIGHTS_DIR / f"myomapnet{suffix}", tmp_path / f"myomapnet{suffix}")
    data = bytearray((tmp_path / "myomapnet.pt").read_bytes())
    data[-20] ^= 0xFF
    (tmp_path / "myomapnet.pt").write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="cmrsuite train myomapnet"):
        MyoMapNetT1(weights_dir=tmp_path)


def test_accurate_on_held_out_signals_and_better_than_the_fit_of_the_same_images(method,
                                                                                  held_out):
    from suite.train.myomapnet import evaluate_myomapnet

    r = evaluate_myomapnet(method, held_out)
    net, fit = r["network"]["all"], r["fit"]["all"]
    assert net["failure_fraction"] == 0.0
    assert net["median_abs_rel_err_pct"] < 6.0
    assert net["p95_abs_rel_err_pct"] < 18.0
    assert abs(net["median_rel_err_pct"]) < 2.0
    for band in ("t1_below_800ms", "t1_from_800ms"):
        assert r["network"][band]["median_abs_rel_err_pct"] < 7.0, band
        assert abs(r["network"][band]["median_rel_err_pct"]) < 2.0, band
    # the point of MyoMapNet: five images suffice. The Look-Locker corrected fit of the same
    # five images underestimates T1 (bSSFP readout: Messroghli et al. 2004; McDiarmid et al.
    # 2015) and fails on more pixels; the network was trained on the true T1
    assert fit["median_rel_err_pct"] < -5.0
    assert net["median_abs_rel_err_pct"] < 0.6 * fit["median_abs_rel_err_pct"]
    assert net["p95_abs_rel_err_pct"] < fit["p95_abs_rel_err_pct"]
    assert fit["failure_fraction"] > net["failure_fraction"]


def test_input_convention(method, held_out):
    sig, ti = held_out.signals[:64], held_out.ti_ms[:64]
    t1 = method(sig, ti)["t1_ms"]
    # per-pixel normalisation: the proton density cancels
    np.testing.assert_allclose(method(37.0 * sig, ti)["t1_ms"], t1, rtol=1e-5)
    # only the first five images are used; later ones (e.g. MOLLI's second inversion) ignored
    extra = np.concatenate([sig, sig[:, :3]], axis=1)
    ti_extra = np.concatenate([ti, ti[:, :3]], axis=1)
    np.testing.assert_array_equal(method(extra, ti_extra)["t1_ms"], t1)
    x = network_inputs(torch.tensor([[2.0, 1.0, 4.0]]), torch.tensor([100.0, 900.0, 1700.0]))
    np.testing.assert_allclose(x.numpy(), [[0.5, 0.25, 1.0, 0.1, 0.9, 1.7]])
    with pytest.raises(ValueError, match="must increase"):
        method(sig, ti[:, ::-1])
    with pytest.raises(ValueError, match="at least 5"):
        method(sig[:, :4], ti[:, :4])


def test_failures_are_flagged(method, held_out):
    sig = held_out.signals[:4].copy()
    sig[1, 2] = np.nan          # non-finite sample
    sig[2] = 3.0                # constant signal
    fit = method(sig, held_out.ti_ms[:4])
    assert fit.failed.tolist() == [False, True, True, False]
    assert np.isnan(fit["t1_ms"][1:3]).all() and np.isfinite(fit["t1_ms"][[0, 3]]).all()
    narrow = MyoMapNetT1(module=method.module, t1_range_ms=(0.0, 1.0))  # every output out of range
    assert narrow(held_out.signals[:4], held_out.ti_ms[:4]).failed.all()
    assert fit.to_dict()["model"] == "myomapnet" and np.isnan(fit.rmse).all()


def test_differentiable_map_is_the_method(method, held_out):
    sig, ti = held_out.signals[:32], held_out.ti_ms[:32]
    t = torch.from_numpy(sig.copy()).requires_grad_(True)
    out = method.differentiable_map(t, ti)
    np.testing.assert_allclose(out.detach().numpy(), method(sig, ti)["t1_ms"], rtol=1e-6)
    out.sum().backward()
    assert torch.isfinite(t.grad).all() and float(t.grad.abs().sum()) > 0


def test_training_is_deterministic(tmp_path):
    from suite.train.myomapnet import (MyoMapNetConfig, fit_myomapnet, simulate_signals,
                                       train_myomapnet)

    data = simulate_signals(3, {"n_series": 2, "pixels_per_series": 32})
    config = MyoMapNetConfig(seed=3, steps=15, batch_size=16, hidden=(8, 8))
    one, two = fit_myomapnet(data, config), fit_myomapnet(data, config)
    for k in one.state_dict:
        assert torch.equal(one.state_dict[k], two.state_dict[k]), k
    assert one.final_loss == two.final_loss
    out = train_myomapnet(seed=1, steps=3, out_dir=tmp_path,
                          recipe={"n_series": 2, "pixels_per_series": 16})
    meta = json.loads(out.meta_path.read_text())
    assert meta["sha256"] == out.sha256 and meta["steps"] == 3 and meta["data"]["n_series"] == 2
    assert MyoMapNetT1(weights_dir=tmp_path).n_images == 5
    assert isinstance(MyoMapNetT1(weights_dir=tmp_path).module, MyoMapNet)

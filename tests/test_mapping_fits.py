"""Conventional mapping fits against closed forms (reference_impls.mapping).

Noise-free data of each model must give its exact parameters; the polarity rules are checked
on magnitude data with a known number of negative samples; garbage pixels must be flagged.
"""

import numpy as np
import pytest

from reference_impls.mapping import MapFit, fit_molli, fit_sasha, fit_t2
from reference_impls.mapping.t1 import flip_counts

# MOLLI 5(3)3 at RR 1000 ms (inversion 1: 100 ms + k·RR, inversion 2: 180 ms + k·RR).
TI_53 = np.array([100.0, 1100.0, 2100.0, 3100.0, 4100.0, 180.0, 1180.0, 2180.0])
# Pixels (A, B, T1*) spanning blood, myocardium and post-contrast tissue, signal units x1e3.
MOLLI_P = np.array([[1000.0, 1900.0, 1100.0],   # native blood-like: T1 = 990 ms
                    [800.0, 1700.0, 700.0],     # myocardium-like: T1 = 787.5 ms
                    [600.0, 1150.0, 300.0],     # post-contrast: T1 = 275 ms
                    [1.2e-3, 2.3e-3, 900.0]])   # tiny scale (normalised images)


def molli_signal(p, ti):
    a, b, t1s = (p[..., i, None] for i in range(3))
    return a - b * np.exp(-ti / t1s)


def test_molli_signed_noise_free_gives_exact_parameters_and_look_locker_t1():
    fit = fit_molli(molli_signal(MOLLI_P, TI_53), TI_53, polarity="none")
    np.testing.assert_allclose(fit["A"], MOLLI_P[:, 0], rtol=1e-8)
    np.testing.assert_allclose(fit["B"], MOLLI_P[:, 1], rtol=1e-8)
    np.testing.assert_allclose(fit["t1_star_ms"], MOLLI_P[:, 2], rtol=1e-8)
    expected_t1 = MOLLI_P[:, 2] * (MOLLI_P[:, 1] / MOLLI_P[:, 0] - 1)  # Messroghli 2004
    np.testing.assert_allclose(fit["t1_ms"], expected_t1, rtol=1e-8)
    np.testing.assert_allclose(fit.r2, 1.0, atol=1e-12)
    assert not fit.failed.any()


@pytest.mark.parametrize("polarity", ["exhaustive", "shmolli"])
def test_polarity_search_restores_magnitude_data(polarity):
    sig = molli_signal(MOLLI_P, TI_53)
    fit = fit_molli(np.abs(sig), TI_53, polarity=polarity)
    np.testing.assert_allclose(fit["t1_star_ms"], MOLLI_P[:, 2], rtol=1e-7)
    np.testing.assert_allclose(fit["t1_ms"], MOLLI_P[:, 2] * (MOLLI_P[:, 1] / MOLLI_P[:, 0] - 1),
                               rtol=1e-7)
    # the negative samples in TI order are the ones the rule must have negated
    order = np.argsort(TI_53)
    n_neg = (sig[:, order] < 0).sum(axis=1)
    np.testing.assert_array_equal(fit["n_flipped"], n_neg)


def test_shmolli_rule_cannot_restore_more_than_three_negative_samples():
    # T1* 1500 ms, B/A = 1.95: samples below TI = 1500·ln 1.95 ≈ 1002 ms are negative, i.e.
    # 100, 180, 260, 340, 420 ms of a dense schedule: 5 negative samples.
    ti = np.array([100.0, 180.0, 260.0, 340.0, 420.0, 1100.0, 2100.0, 3100.0])
    sig = np.abs(molli_signal(np.array([1000.0, 1950.0, 1500.0]), ti))
    exhaustive = fit_molli(sig, ti, polarity="exhaustive")
    shmolli = fit_molli(sig, ti, polarity="shmolli")
    assert float(exhaustive["n_flipped"]) == 5
    assert float(exhaustive["t1_ms"]) == pytest.approx(1500 * 0.95, rel=1e-7)
    # at most 3 flips: no exact fit exists, the pixel fails or gets a wrong T1
    assert bool(shmolli.failed) or (float(shmolli["n_flipped"]) <= 3
                                    and abs(float(shmolli["t1_ms"]) - 1425.0) > 1.0)


def test_cmrxrecon_rule_keeps_the_first_converged_fit():
    # One negative sample: the first converged fit (k = 1) is the right one.
    ti = np.array([120.0, 200.0, 280.0, 1120.0, 1200.0, 1280.0, 2120.0, 2200.0, 3120.0])
    one = np.array([1000.0, 1500.0, 600.0])  # negative below 600·ln 1.5 = 243 ms: 2 samples
    sig = molli_signal(one, ti)
    assert (sig < 0).sum() == 2
    fit = fit_molli(np.abs(sig), ti, polarity="cmrxrecon2023")
    # file order: samples 0 and 1 (120, 200 ms) are the negative ones; the rule keeps k = 1,
    # which converges to a wrong fit instead of searching on to k = 2.
    assert float(fit["n_flipped"]) == 1
    assert abs(float(fit["t1_ms"]) - 300.0) > 1.0
    best = fit_molli(np.abs(sig), ti, polarity="exhaustive")
    assert float(best["n_flipped"]) == 2
    assert float(best["t1_ms"]) == pytest.approx(300.0, rel=1e-7)


def test_cmrxrecon_rule_keeps_file_order_and_drops_a_trailing_zero_ti():
    # CMRxRecon pads T1map.csv with a zero TI when a slice has fewer images; their fit drops it.
    ti = np.array([120.0, 1120.0, 2120.0, 200.0, 1200.0, 280.0, 1280.0, 2200.0])
    sig = np.abs(molli_signal(np.array([1000.0, 1300.0, 600.0]), ti))  # only 120 ms negative
    padded = fit_molli(np.r_[sig, 0.0], np.r_[ti, 0.0], polarity="cmrxrecon2023")
    plain = fit_molli(sig, ti, polarity="cmrxrecon2023")
    assert float(plain["n_flipped"]) == float(padded["n_flipped"]) == 1
    assert float(padded["t1_ms"]) == pytest.approx(180.0, rel=1e-7)
    assert float(plain["t1_ms"]) == pytest.approx(180.0, rel=1e-7)
    # file order: with the negative samples at positions 0 and 2 (120, 200 ms after sorting
    # would be adjacent) a cumulative prefix flip in file order cannot restore the signal
    ti2 = np.array([120.0, 1120.0, 200.0, 2120.0, 1200.0, 280.0, 1280.0, 2200.0])
    sig2 = np.abs(molli_signal(np.array([1000.0, 1900.0, 800.0]), ti2))
    cmrx = fit_molli(sig2, ti2, polarity="cmrxrecon2023")
    assert bool(cmrx.failed) or abs(float(cmrx["t1_ms"]) - 720.0) > 1.0
    assert float(fit_molli(sig2, ti2)["t1_ms"]) == pytest.approx(720.0, rel=1e-7)


def test_flip_counts_follow_each_rule():
    assert flip_counts("exhaustive", 4) == (0, 1, 2, 3)
    assert flip_counts("shmolli", 3) == (0, 1, 2)
    assert flip_counts("cmrxrecon2023", 4) == (1, 2, 3, 4)
    assert flip_counts("none", 9) == (0,)


def test_per_slice_timings_broadcast():
    ti = np.stack([TI_53, TI_53 + 35.0])[:, None, :]  # (slice, 1, n)
    p = MOLLI_P[:2]
    sig = np.stack([molli_signal(p, ti[0]), molli_signal(p, ti[1])])  # (slice, pixel, n)
    fit = fit_molli(np.abs(sig), ti)
    assert fit.shape == (2, 2)
    np.testing.assert_allclose(fit["t1_star_ms"], np.broadcast_to(p[:, 2], (2, 2)), rtol=1e-7)


def test_garbage_pixels_are_flagged_not_fitted():
    good = np.abs(molli_signal(MOLLI_P[1], TI_53))
    nan_px = good.copy()
    nan_px[2] = np.nan
    images = np.stack([good, nan_px, np.zeros(8), np.full(8, 5.0), good])
    fit = fit_molli(images, TI_53)
    np.testing.assert_array_equal(fit.failed, [False, True, True, True, False])
    assert np.isnan(fit["t1_ms"][1:4]).all() and np.isnan(fit.r2[1:4]).all()
    assert fit.failure_fraction == pytest.approx(0.6)
    d = fit.to_dict()
    assert d["n_failed"] == 3 and "t1_ms" in d["median"]
    assert "3 failed" in fit.summary()


def test_inputs_are_validated():
    with pytest.raises(ValueError, match="polarity must be one of"):
        fit_molli(np.ones((2, 8)), TI_53, polarity="kellman")
    with pytest.raises(ValueError, match="does not broadcast"):
        fit_molli(np.ones((2, 8)), TI_53[:5])
    with pytest.raises(ValueError, match="must be real"):
        fit_molli(np.ones((2, 8), complex), TI_53)
    with pytest.raises(ValueError, match="finite and >= 0"):
        fit_molli(np.ones((2, 8)), np.r_[TI_53[:-1], np.inf])


TS = np.array([100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0, 800.0, np.inf])


@pytest.mark.parametrize("a,b,t1", [(900.0, 0.93, 1200.0), (500.0, 1.0, 400.0),
                                    (2e-3, 0.85, 1500.0)])
def test_sasha_three_parameter_noise_free(a, b, t1):
    sig = a * (1 - b * np.exp(-TS / t1))
    fit = fit_sasha(sig[None], TS, model="3p")
    assert float(fit["t1_ms"][0]) == pytest.approx(t1, rel=1e-8)
    assert float(fit["A"][0]) == pytest.approx(a, rel=1e-8)
    assert float(fit["B"][0]) == pytest.approx(b, rel=1e-8)


def test_sasha_two_parameter_noise_free_and_bias_under_imperfect_saturation():
    sig = 700.0 * (1 - np.exp(-TS / 1100.0))
    fit = fit_sasha(sig, TS, model="2p")
    assert float(fit["t1_ms"]) == pytest.approx(1100.0, rel=1e-8)
    assert float(fit["A"]) == pytest.approx(700.0, rel=1e-8)
    # incomplete saturation (B = 0.9) violates the 2-parameter model: it no longer fits exactly
    biased = fit_sasha(700.0 * (1 - 0.9 * np.exp(-TS / 1100.0)), TS, model="2p")
    assert abs(float(biased["t1_ms"]) - 1100.0) > 10.0 and float(biased.r2) < 1.0


TE = np.array([0.0, 25.0, 35.0, 55.0])


@pytest.mark.parametrize("model", ["loglinear", "2p"])
def test_t2_two_parameter_models_noise_free(model):
    t2 = np.array([[40.0, 52.0], [70.0, 150.0]])
    a = np.array([[1000.0, 0.5], [300.0, 80.0]])
    sig = a[..., None] * np.exp(-TE / t2[..., None])
    fit = fit_t2(sig, TE, model=model)
    np.testing.assert_allclose(fit["t2_ms"], t2, rtol=1e-8)
    np.testing.assert_allclose(fit["A"], a, rtol=1e-8)
    assert fit.model == f"t2-{model}"


def test_t2_three_parameter_with_saturation_prepared_image():
    te = np.r_[TE, np.inf]
    sig = 900.0 * np.exp(-te / 48.0) + 60.0
    fit = fit_t2(sig, te, model="3p")
    assert float(fit["t2_ms"]) == pytest.approx(48.0, rel=1e-8)
    assert float(fit["C"]) == pytest.approx(60.0, rel=1e-8)
    # the 2-parameter fit of the same prepared images (offset present) is biased long
    two = fit_t2(sig[:-1], TE, model="2p")
    assert float(two["t2_ms"]) > 48.5


def test_t2_cmrxrecon_gates():
    sig = 800.0 * np.exp(-np.array([0.0, 35.0, 55.0]) / np.array([[45.0], [250.0]]))
    suite_fit = fit_t2(sig, [0.0, 35.0, 55.0], model="loglinear")
    cmrx = fit_t2(sig, [0.0, 35.0, 55.0], model="loglinear", profile="cmrxrecon2023")
    assert not suite_fit.failed.any()
    np.testing.assert_array_equal(cmrx.failed, [False, True])  # T2 > 200 ms is dropped
    # their -1/(slope + float32 eps) shifts T2 by about T2^2·eps
    assert float(cmrx["t2_ms"][0]) == pytest.approx(-1 / (-1 / 45.0 + np.finfo(np.float32).eps),
                                                    rel=1e-12)
    with pytest.raises(ValueError, match="loglinear"):
        fit_t2(sig, [0.0, 35.0, 55.0], model="2p", profile="cmrxrecon2023")
    with pytest.raises(ValueError, match="finite"):
        fit_t2(sig, [0.0, 35.0, np.inf], model="2p")


def test_t2_garbage_and_negative_samples_fail():
    sig = np.stack([900.0 * np.exp(-TE / 50.0), np.full(4, np.nan), np.zeros(4),
                    np.array([5.0, -1.0, 2.0, 1.0])])
    for model in ("loglinear", "2p"):
        fit = fit_t2(sig, TE, model=model)
        assert isinstance(fit, MapFit)
        assert not fit.failed[0] and fit.failed[1:3].all()
    assert fit_t2(sig, TE, model="loglinear").failed[3]


def test_fits_are_registered_mapping_methods():
    import reference_impls

    names = reference_impls.available("mapping")
    assert {"molli-3p", "sasha-3p", "sasha-2p", "t2-loglinear", "t2-2p", "t2-3p"} <= set(names)
    method = reference_impls.get("mapping", "molli-3p", polarity="shmolli")
    assert method.stage == "mapping" and method.params() == {"polarity": "shmolli"}
    fit = method(np.abs(molli_signal(MOLLI_P[1], TI_53)), TI_53)
    assert float(fit["t1_ms"]) == pytest.approx(787.5, rel=1e-7)
    t2 = reference_impls.get("mapping", "t2-loglinear")
    assert t2.name == "t2-loglinear"
    assert float(t2(900.0 * np.exp(-TE / 50.0), TE)["t2_ms"]) == pytest.approx(50.0)
    assert reference_impls.get("mapping", "sasha-2p").name == "sasha-2p"


def test_mask_limits_the_fit_and_the_failure_count():
    good = np.abs(molli_signal(MOLLI_P[1], TI_53))
    images = np.stack([good, np.zeros(8), good, np.full(8, np.nan)])
    fit = fit_molli(images, TI_53, mask=np.array([True, True, False, False]))
    np.testing.assert_array_equal(fit.attempted, [True, True, False, False])
    np.testing.assert_array_equal(fit.failed, [False, True, False, False])
    assert np.isnan(fit["t1_ms"][2]) and fit.failure_fraction == 0.5
    none = fit_t2(np.ones((2, 3)), [0.0, 25.0, 50.0], mask=np.zeros(2, bool))
    assert not none.attempted.any() and none.failure_fraction == 0.0
    with pytest.raises(ValueError, match="mask"):
        fit_molli(images, TI_53, mask=np.ones(3, bool))


# ---- noisy pixels against an independent optimiser, and batch independence (issue 17)

def _scipy_best_fit(t, y):
    """Least squares of ``A − B·e^{−t/T}`` by scipy's MINPACK Levenberg–Marquardt from several
    starts (linear amplitudes at each start ``T``); ``(sse, (A, B, T))`` of the best."""
    from scipy.optimize import least_squares

    best = (np.inf, None)
    for tau in (300.0, 1500.0):
        phi = np.stack([np.ones_like(t), -np.exp(-t / tau)], axis=1)
        a, b = np.linalg.lstsq(phi, y, rcond=None)[0]
        with np.errstate(over="ignore"):
            res = least_squares(lambda p: p[0] - p[1] * np.exp(-t / p[2]) - y, [a, b, tau],
                                method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=5000)
        sse = float(np.sum(res.fun ** 2))
        if res.x[2] > 0 and sse < best[0]:
            best = (sse, res.x)
    return best


def test_exhaustive_polarity_fit_of_noisy_magnitude_pixels_matches_scipy():
    rng = np.random.default_rng(7)
    sig = np.abs(molli_signal(MOLLI_P[1:3], TI_53)) + rng.normal(0.0, 15.0, (2, 8))
    fit = fit_molli(sig, TI_53)
    order = np.argsort(TI_53)
    t = TI_53[order]
    for i, y in enumerate(sig[:, order]):
        per_k = [_scipy_best_fit(t, np.where(np.arange(8) < k, -y, y)) for k in range(8)]
        k = int(np.argmin([sse for sse, _ in per_k]))
        a, b, t1s = per_k[k][1]
        assert fit["n_flipped"][i] == k
        np.testing.assert_allclose([fit["A"][i], fit["B"][i], fit["t1_star_ms"][i]],
                                   [a, b, t1s], rtol=1e-6)
        np.testing.assert_allclose(fit["t1_ms"][i], t1s * (b / a - 1.0), rtol=1e-6)


def test_all_polarities_in_one_batch_equal_one_fit_per_polarity_to_the_last_bit():
    # fit_molli fits all flip counts of a chunk in one Levenberg-Marquardt batch; the numbers
    # must be those of one fit_exponential call per flip count
    from reference_impls.mapping.exp_fit import ExpBasis, fit_exponential, fit_exponential_flips

    molli = ExpBasis(offsets=(1.0, 0.0), slopes=(0.0, -1.0))  # A − B·e^{−t/T}
    rng = np.random.default_rng(3)
    t = np.tile(np.sort(TI_53), (3, 1))
    y = np.abs(molli_signal(MOLLI_P[:3], t[0])) + rng.normal(0.0, 15.0, (3, 8))
    grid = np.geomspace(1.0, 10000.0, 120)
    for k, batch in zip((0, 2, 5), fit_exponential_flips(t, y, molli, grid, (0, 2, 5))):
        yk = y.copy()
        yk[:, :k] *= -1.0
        alone = fit_exponential(t, yk, molli, grid)
        for name in ("coefficients", "time_constant", "sse", "converged", "iterations"):
            np.testing.assert_array_equal(getattr(batch, name), getattr(alone, name))

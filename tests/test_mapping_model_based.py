"""MRF dictionary matching and the Bloch-model fit against the phantom's exact truth."""

from __future__ import annotations

import numpy as np
import pytest

from reference_impls.mapping.bloch_fit import fit_bloch
from reference_impls.mapping.mrf import build_dictionary, match, mrf_grid
from suite.mr.sequences import CardiacMRF, T2PrepBSSFP, Tissue, molli_5_3_3, simulate_epg

STEP = 0.05


@pytest.fixture(scope="module")
def fast_hr_scan():
    # ~100 bpm with beat-to-beat variability: blocks skip beats when the window does not fit
    rr = 600.0 + 70.0 * np.random.default_rng(3).standard_normal(34)
    t1, t2 = mrf_grid((300.0, 2200.0), (25.0, 300.0), STEP)
    truth_t1 = np.array([t1[200], t1[500], 1000.0, 1450.0])    # two on the grid, two off it
    truth_t2 = np.array([t2[200], t2[500], 45.0, 52.0])
    sig = simulate_epg(CardiacMRF().program(rr), Tissue(truth_t1, truth_t2, m0=2.5),
                       n_states=20).signal.numpy()
    return rr, (t1, t2), truth_t1, truth_t2, sig


def test_mrf_dictionary_with_the_true_rr_recovers_truth_to_the_grid_step(fast_hr_scan):
    rr, grid, tt1, tt2, sig = fast_hr_scan
    d = build_dictionary(rr, *grid)
    m = match(d, sig)
    np.testing.assert_allclose(m.maps["t1_ms"][:2], tt1[:2], rtol=1e-9)   # on-grid: exact
    np.testing.assert_allclose(m.maps["t2_ms"][:2], tt2[:2], rtol=1e-9)
    assert np.all(np.abs(m.maps["t1_ms"] / tt1 - 1) <= STEP)
    assert np.all(np.abs(m.maps["t2_ms"] / tt2 - 1) <= STEP)
    assert np.all(m.score > 0.9999) and not m.failed.any()
    np.testing.assert_allclose(np.abs(m.maps["m0"][:2]), 2.5, rtol=1e-3)


def test_mrf_dictionary_with_nominal_constant_rr_is_biased_at_a_fast_heart_rate(fast_hr_scan):
    # Hamilton et al. 2017 simulate the dictionary per scan because it depends on the RR
    # intervals; a dictionary for the mean RR misses beat-to-beat variation.
    rr, grid, tt1, tt2, sig = fast_hr_scan
    d = build_dictionary(np.full(rr.size, rr.mean()), *grid)
    m = match(d, sig)
    rel = m.maps["t1_ms"] / tt1 - 1
    assert np.mean(np.abs(rel)) > STEP                  # bias beyond one grid step


def test_match_flags_unusable_pixels():
    t1, t2 = mrf_grid((500.0, 1500.0), (30.0, 60.0), 0.1)
    d = build_dictionary([1000.0] * 15, t1, t2)
    sig = np.zeros((2, 705), complex)
    sig[1, 3] = np.nan
    m = match(d, sig)
    assert m.failed.all() and np.isnan(m.maps["t1_ms"]).all()
    with pytest.raises(ValueError, match="705 samples"):
        match(d, np.zeros((2, 10), complex))


RR = [900.0, 1050.0, 980.0, 700.0, 1000.0, 1100.0, 950.0, 1000.0, 1000.0, 990.0, 1010.0, 1000.0]


def test_bloch_fit_recovers_molli_truth_noise_free():
    seq = molli_5_3_3()
    t1 = np.array([400.0, 1000.0, 1300.0, 1800.0])
    t2 = np.array([40.0, 45.0, 55.0, 250.0])
    b1 = np.array([1.0, 0.9, 1.1, 1.0])
    sig = simulate_epg(seq.program(RR), Tissue(t1, t2, m0=3.0, b1=b1, inversion_efficiency=0.95),
                       n_states=1).signal.numpy()
    known = {"t2_ms": t2, "b1": b1, "inversion_efficiency": 0.95}
    fit = fit_bloch(seq, RR, np.abs(sig), known=known)
    np.testing.assert_allclose(fit.maps["t1_ms"], t1, rtol=0.005)
    np.testing.assert_allclose(fit.maps["m0"], 3.0, rtol=0.005)
    assert not fit.failed.any()


def test_bloch_fit_recovers_t2_from_t2prep_magnitude_and_complex():
    seq = T2PrepBSSFP()
    t1, t2 = np.array([1000.0, 1500.0]), np.array([45.0, 70.0])
    sig = simulate_epg(seq.program(RR), Tissue(t1, t2), n_states=1).signal.numpy()
    fit = fit_bloch(seq, RR, np.abs(sig), fit=("t2_ms",), known={"t1_ms": t1})
    np.testing.assert_allclose(fit.maps["t2_ms"], t2, rtol=0.005)
    cfit = fit_bloch(seq, RR, 2.0 * sig * np.exp(0.4j), fit=("t2_ms",), known={"t1_ms": t1})
    np.testing.assert_allclose(cfit.maps["t2_ms"], t2, rtol=0.005)     # complex data
    np.testing.assert_allclose(cfit.maps["m0"], 2.0 * np.exp(0.4j), rtol=1e-6)


def test_bloch_fit_rejects_bad_arguments():
    with pytest.raises(ValueError, match="subset"):
        fit_bloch(molli_5_3_3(), RR, np.ones((1, 8)), fit=("t3_ms",))
    with pytest.raises(ValueError, match="t2_ms"):
        fit_bloch(molli_5_3_3(), RR, np.ones((1, 8)))
    with pytest.raises(ValueError, match="records 8 images"):
        fit_bloch(molli_5_3_3(), RR, np.ones((1, 7)), known={"t2_ms": 45.0})

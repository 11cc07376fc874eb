"""Signal physics of suite.mr.sequences against closed forms and between the two engines."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from suite.mr.sequences import (
    SASHA, CardiacMRF, Delay, Inversion, MOLLI, Program, T2Prep, T2PrepBSSFP, Timings, Tissue,
    Train, molli_4_1_3_1_2, molli_5_3_3, shmolli, simulate_bloch, simulate_epg,
)

ENGINES = [lambda p, t: simulate_epg(p, t, n_states=1), lambda p, t: simulate_bloch(p, t)]


def _program(*events, n_samples=1):
    z = np.zeros(n_samples)
    return Program(tuple(events), Timings(z, z, z.astype(int), z, z, z, z.astype(int)))


def _spoiled_train(flip_rad, n, tr_ms, te_ms=0.0):
    return Train((flip_rad,) * n, (0.0,) * n, tr_ms, te_ms, tuple(range(n)), spoil=True)


@pytest.mark.parametrize("sim", ENGINES)
def test_spoiled_look_locker_recursion_and_apparent_t1(sim):
    # Spoiled Look-Locker from perfect inversion: Mz_n = Mss + (−M0 − Mss)·q^n with
    # q = cos α·E1 = exp(−TR/T1*), 1/T1* = 1/T1 − ln(cos α)/TR (Deichmann & Haase 1992).
    t1, tr, a = 1000.0, 10.0, math.radians(8.0)
    sig = sim(_program(Inversion(), _spoiled_train(a, 300, tr), n_samples=300),
              Tissue(t1, 50.0)).signal.real.numpy()[0]
    t1s = 1.0 / (1.0 / t1 - math.log(math.cos(a)) / tr)
    e1 = math.exp(-tr / t1)
    mss = (1 - e1) / (1 - math.cos(a) * e1)
    n = np.arange(300)
    np.testing.assert_allclose(sig, math.sin(a) * (mss + (-1 - mss) * np.exp(-n * tr / t1s)),
                               atol=1e-12)
    # three-parameter Look-Locker correction T1*(B/A − 1) = T1*/Mss: slightly below T1 for a
    # discrete readout (T1* = 505.6 ms, corrected ≈ 996 ms at TR 10 ms, 8°)
    q = (sig[2] - sig[1]) / (sig[1] - sig[0])
    b_ = (sig[1] - sig[0]) / (1 - q)
    a_ = sig[0] + b_
    assert t1s == pytest.approx(505.57, abs=0.01)
    assert t1s * (b_ / a_ - 1) == pytest.approx(t1s / mss, rel=1e-9)
    assert 0.99 < t1s / mss / t1 < 0.999


def test_look_locker_correction_exact_in_continuous_limit():
    # With TR → 0 at fixed T1* the corrected T1* (B/A − 1) tends to T1 (Messroghli 2004).
    t1 = 1000.0
    errs = []
    for tr in (10.0, 1.0, 0.1):
        a = math.acos(math.exp(-tr / t1))          # 1/T1* = 2/T1
        s = simulate_epg(_program(Inversion(), _spoiled_train(a, 3, tr), n_samples=3),
                         Tissue(t1, 50.0), n_states=1).signal.real.numpy()[0]
        q = (s[2] - s[1]) / (s[1] - s[0])
        b_ = (s[1] - s[0]) / (1 - q)
        a_ = s[0] + b_
        t1s = -tr / math.log(q)
        assert t1s == pytest.approx(500.0, rel=1e-6)
        errs.append(abs(t1s * (b_ / a_ - 1) - t1) / t1)
    assert errs[0] > errs[1] > errs[2] and errs[2] < 1e-4


@pytest.mark.parametrize("sim", ENGINES)
@pytest.mark.parametrize("eta", [1.0, 0.92])
def test_ideal_inversion_recovery(sim, eta):
    t1 = np.array([300.0, 900.0, 1500.0])
    for ti in (50.0, 400.0, 2000.0):
        p = _program(Inversion(), Delay(ti), _spoiled_train(math.pi / 2, 1, 5.0))
        s = sim(p, Tissue(t1, 40.0, m0=2.0, inversion_efficiency=eta)).signal.numpy()[:, 0]
        np.testing.assert_allclose(s, 2.0 * (1 - (1 + eta) * np.exp(-ti / t1)), atol=1e-12)


@pytest.mark.parametrize("sim", ENGINES)
def test_ideal_t2_prep_is_exp_minus_te_over_t2_whatever_the_off_resonance(sim):
    t2 = np.array([30.0, 50.0, 120.0, 50.0])
    df = np.array([0.0, 0.0, 0.0, 60.0])
    for te in (0.0, 25.0, 55.0):
        p = _program(T2Prep(te), _spoiled_train(math.pi / 2, 1, 5.0))
        s = sim(p, Tissue(math.inf, t2, off_resonance_hz=df)).signal.numpy()[:, 0]
        np.testing.assert_allclose(s, np.exp(-te / t2), atol=1e-12)


@pytest.mark.parametrize("sim", ENGINES)
def test_no_relaxation_no_change(sim):
    train0 = Train((0.0,) * 10, (0.0,) * 10, 3.0, 1.5, tuple(range(10)))
    p = _program(Delay(700.0), train0, Delay(123.0), _spoiled_train(math.pi / 2, 1, 3.0),
                 n_samples=11)
    s = sim(p, Tissue(math.inf, math.inf, m0=1.5, off_resonance_hz=37.0)).signal.numpy()[0]
    np.testing.assert_allclose(s[:10], 0.0, atol=1e-15)
    assert s[10] == pytest.approx(1.5, abs=1e-12)
    # relaxation from equilibrium changes nothing either
    s = sim(p, Tissue(800.0, 40.0)).signal.numpy()[0]
    assert s[10] == pytest.approx(1.0, abs=1e-12)


def test_bssfp_steady_state_matches_closed_form():
    # Alternating-phase bSSFP on resonance, signal at TE = TR/2 (Freeman & Hill 1971; Scheffler
    # & Lehnhardt, Eur Radiol 2003;13:2409): M0·sin α·(1 − E1)/(1 − (E1 − E2)cos α − E1E2)·√E2.
    t1, t2, tr, a, n = 300.0, 100.0, 4.0, math.radians(50.0), 1500
    tr_train = Train((a,) * n, tuple(math.pi * (k % 2) for k in range(n)), tr, tr / 2, (n - 1,))
    for sim in ENGINES:
        s = complex(sim(_program(tr_train), Tissue(t1, t2)).signal[0, 0])
        e1, e2 = math.exp(-tr / t1), math.exp(-tr / t2)
        ss = math.sin(a) * (1 - e1) / (1 - (e1 - e2) * math.cos(a) - e1 * e2) * math.sqrt(e2)
        assert s.real == pytest.approx(ss, abs=1e-6) and abs(s.imag) < 1e-9


def test_epg_equals_bloch_for_the_mrf_train():
    rr = [950.0, 1010.0, 990.0, 870.0, 1100.0, 1000.0, 960.0, 1040.0, 980.0, 1000.0,
          930.0, 1020.0, 990.0, 1005.0, 995.0]
    prog = CardiacMRF().program(rr)
    tissue = Tissue([300.0, 1000.0, 1500.0, 1200.0], [40.0, 50.0, 100.0, 45.0],
                    b1=[1.0, 0.9, 1.1, 1.0], off_resonance_hz=[0.0, 0.0, 0.0, 15.0])
    epg = simulate_epg(prog, tissue, n_states=120).signal
    bloch = simulate_bloch(prog, tissue, n_isochromats=360).signal
    assert epg.shape == (4, 705)
    err = (epg - bloch).abs().max() / epg.abs().max()
    assert float(err) < 1e-6


def test_molli_and_bssfp_engines_agree_with_imperfections():
    prog = molli_5_3_3().program([1000.0, 700.0, 1200.0] * 6)
    tissue = Tissue([900.0, 1500.0], [45.0, 200.0], b1=[0.8, 1.1], off_resonance_hz=[-80.0, 35.0],
                    inversion_efficiency=[0.95, 1.0])
    a, b = simulate_epg(prog, tissue, n_states=1).signal, simulate_bloch(prog, tissue).signal
    assert float((a - b).abs().max()) < 1e-12


def test_molli_inversion_times_follow_the_rr_intervals():
    # TI_k = TI_min,j + Σ RR of the elapsed beats (shared/reference tables for RR 1000/750 ms)
    ti = molli_5_3_3(trigger_delay_ms=500.0).program([1000.0] * 11).timings.ti_ms
    np.testing.assert_allclose(ti, [100, 1100, 2100, 3100, 4100, 180, 1180, 2180])
    ti = molli_5_3_3(trigger_delay_ms=500.0).program([750.0] * 11).timings.ti_ms
    np.testing.assert_allclose(ti, [100, 850, 1600, 2350, 3100, 180, 930, 1680])
    t = molli_4_1_3_1_2(trigger_delay_ms=500.0).program([1000.0] * 11).timings
    np.testing.assert_allclose(t.ti_ms, [120, 1120, 2120, 3120, 200, 1200, 2200, 280, 1280])
    np.testing.assert_array_equal(t.beat, [0, 1, 2, 3, 5, 6, 7, 9, 10])
    rr = [800.0, 1100.0, 950.0, 1000.0, 900.0]
    t = molli_5_3_3(trigger_delay_ms=400.0).program(rr * 3).timings
    np.testing.assert_allclose(t.ti_ms[:5], 100 + np.concatenate([[0], np.cumsum(rr[:4])]))
    np.testing.assert_allclose(t.trigger_ms[:5], np.concatenate([[0], np.cumsum(rr[:4])]))


def test_short_beat_skips_a_trigger():
    # A premature beat shorter than the acquisition window: its trigger is ignored.
    rr = [1000.0, 300.0] + [1000.0] * 11
    t = molli_5_3_3(trigger_delay_ms=500.0).program(rr).timings
    np.testing.assert_array_equal(t.beat[:5], [0, 1, 3, 4, 5])
    np.testing.assert_allclose(t.ti_ms[2], 100 + 2300)


def test_sasha_t2prep_shmolli_timings():
    t = SASHA(trigger_delay_ms=800.0).program([1000.0] * 12).timings
    assert np.isnan(t.ts_ms[0]) and np.isnan(t.ti_ms).all()
    np.testing.assert_allclose(t.ts_ms[1:], np.linspace(165, 780, 9))
    t = T2PrepBSSFP(saturation_image=True, trigger_delay_ms=500.0).program([1000.0] * 16).timings
    np.testing.assert_allclose(t.t2prep_ms, [0, 24, 55, 0])
    np.testing.assert_array_equal(t.beat, [0, 4, 8, 12])
    assert shmolli().n_beats == 9 and shmolli().n_images == 7


def test_sasha_signal_is_saturation_recovery():
    # Ideal saturation → Mz(TS) = M0(1 − e^{−TS/T1}) before the readout; with a single 90° pulse
    # readout at the centre (no ramp) the signal is exactly that.
    from suite.mr.sequences import BSSFPReadout
    ro = BSSFPReadout(90.0, 2.5, 1, 0, 0)
    seq = SASHA(readout=ro, trigger_delay_ms=800.0)
    t1 = np.array([800.0, 1400.0])
    s = simulate_epg(seq.program([1000.0] * 12), Tissue(t1, 1e9), n_states=1).signal.real.numpy()
    ts = np.linspace(165, 780, 9) - 1.25          # saturation → pulse (echo at TR/2 after it)
    np.testing.assert_allclose(s[:, 1:], (1 - np.exp(-ts[None] / t1[:, None])), atol=1e-9)


def test_gradients_flow_for_model_fits():
    t1 = torch.tensor([1000.0], dtype=torch.float64, requires_grad=True)
    s = simulate_epg(molli_5_3_3().program([1000.0] * 11), Tissue(t1, 45.0), n_states=1).signal
    s.real.sum().backward()
    assert t1.grad is not None and torch.isfinite(t1.grad).all()


def test_invalid_inputs_are_rejected():
    with pytest.raises(ValueError, match="5\\(3\\)3"):
        MOLLI.from_scheme("5-3-x", (100.0, 180.0))
    with pytest.raises(ValueError, match="give more RR"):
        molli_5_3_3().program([1000.0] * 5)
    with pytest.raises(ValueError, match="> 0 ms"):
        Tissue([1000.0, -1.0], 40.0).tensors()
    with pytest.raises(ValueError, match="RR intervals"):
        molli_5_3_3().program([1000.0, float("nan")])

"""Phantom mapping acquisitions: RR series, contrast model, rendering and the written files."""

from __future__ import annotations

import csv

import h5py
import numpy as np
import pytest

from suite.mr.sequences import Tissue, molli_5_3_3, simulate_epg
from suite.phantom.mapping import (
    REGIONS, ContrastModel, relaxation_maps, rr_series, simulate_mapping, write_mapping_subject,
)


@pytest.fixture(scope="module")
def subject():
    return simulate_mapping(1, "focal-scar", sequences=("molli-5(3)3",), snr=30.0)


def test_rr_series_heart_rate_and_arrhythmias():
    rng = np.random.default_rng(0)
    rr = rr_series(400, 75.0, rng)
    assert 60000 / rr.mean() == pytest.approx(75.0, rel=0.02)
    rr = rr_series(50, 60.0, rng, hrv_sd_ms=0.0, respiratory_modulation=0.0,
                   arrhythmia="ectopic", ectopic_rate=0.3)
    premature = np.nonzero(np.isclose(rr, 600.0))[0]
    assert premature.size > 0
    np.testing.assert_allclose(rr[premature] + rr[premature + 1], 2000.0)  # compensatory pause
    af = rr_series(2000, 60.0, rng, arrhythmia="af")
    assert af.std() / af.mean() == pytest.approx(0.2, abs=0.03)
    with pytest.raises(ValueError, match="arrhythmia"):
        rr_series(10, 60.0, rng, arrhythmia="flutter")


def test_contrast_model_gives_the_truth_ecv_through_the_clinical_formula():
    # ECV = (1 − Hct)·ΔR1myo/ΔR1blood (SCMR/EACVI consensus) must return the truth ECV
    for state in ("normal", "diffuse-fibrosis", "oedema"):
        r = relaxation_maps(1.5, state, ContrastModel(plasma_mM=0.5, haematocrit=0.40))
        d = 1 / r.t1_post_ms - 1 / r.t1_native_ms
        i_myo, i_blood, i_scar = (REGIONS.index(n) for n in ("myocardium", "lv_blood", "scar"))
        assert (1 - 0.40) * d[i_myo] / d[i_blood] == pytest.approx(r.ecv[i_myo], rel=1e-12)
        assert (1 - 0.40) * d[i_scar] / d[i_blood] == pytest.approx(0.60, rel=1e-12)
    normal, fib, oed = (relaxation_maps(3.0, s) for s in ("normal", "diffuse-fibrosis", "oedema"))
    i = REGIONS.index("myocardium")
    assert fib.t1_native_ms[i] > normal.t1_native_ms[i] and fib.ecv[i] > normal.ecv[i]
    assert oed.t2_native_ms[i] > normal.t2_native_ms[i]
    assert np.all(normal.t1_post_ms[1:] < normal.t1_native_ms[1:])


def test_weighted_images_equal_the_area_weighted_signals(subject):
    # The centred orthonormal FFT and crop keep the image mean exactly, so the mean of each
    # band-limited weighted image is Σ_region (area fraction × PD × signal of that tissue),
    # each tissue simulated on its own with the series' RR intervals.
    s = subject.series_named("molli-5(3)3_native")
    reg = subject.anatomy.regions
    frac = np.bincount(reg.ravel(), minlength=len(REGIONS)) / reg.size
    r = subject.relaxation
    sig = simulate_epg(molli_5_3_3().program(s.rr_ms),
                       Tissue(r.t1_native_ms, r.t2_native_ms, m0=r.pd), n_states=1).signal.numpy()
    expected = (frac[:, None] * sig).sum(0)
    np.testing.assert_allclose(s.images.mean(axis=(1, 2)), expected, rtol=1e-9, atol=1e-12)
    assert (subject.truth["regions"] == REGIONS.index("scar")).any()
    np.testing.assert_allclose(s.case.meta.timings_ms["TI"][0], s.timings.ti_ms)


def test_written_files_read_back_through_the_suite_readers(subject, tmp_path):
    from suite.data.ismrmrd_io import read_ismrmrd
    from suite.data.nifti_io import read_nifti

    out = write_mapping_subject(tmp_path, subject)
    s = subject.series_named("molli-5(3)3_post")
    case = read_ismrmrd(out["series"][s.name], prewhiten=False)
    assert case.kspace.shape == (1, 8, 4, 60, 72)
    np.testing.assert_array_equal(case.kspace, s.case.kspace)
    np.testing.assert_allclose(case.meta.timings_ms["TI"][0], s.timings.ti_ms)
    np.testing.assert_allclose(case.meta.timings_ms["trigger"][0], s.timings.trigger_ms)
    assert case.meta.extra["sequence"] == "molli-5(3)3"
    with h5py.File(out["series"][s.name]) as f:
        head = f["dataset/data"]["head"]
        frame = head["idx"]["phase"].astype(int)
        np.testing.assert_allclose(head["user_float"][:, 0], s.timings.ti_ms[frame], rtol=1e-6)
        np.testing.assert_array_equal(head["physiology_time_stamp"][:, 0],
                                      np.round(s.timings.trigger_ms[frame]))
    t1 = read_nifti(out["truth"]["t1_native_ms"])
    np.testing.assert_allclose(np.asarray(t1.data)[0, 0], subject.truth["t1_native_ms"],
                               rtol=1e-6)
    purity = np.asarray(read_nifti(out["truth"]["purity"]).data)[0, 0]
    np.testing.assert_allclose(purity, subject.truth["purity"], rtol=1e-6)
    rows = list(csv.DictReader(open(out["table"], encoding="utf-8")))
    assert [r["region"] for r in rows] == list(REGIONS)
    assert float(rows[REGIONS.index("scar")]["ecv"]) == 0.6


def test_region_purity_is_the_fraction_of_fine_pixels_in_the_majority_region():
    from suite.phantom.mapping.acquire import majority_regions, region_purity

    fine = np.zeros((4, 6), np.uint8)   # 2 x 3 blocks of 2 x 2 fine pixels
    fine[0, 0] = 4                      # block (0, 0): 3 of 4 air -> purity 0.75
    fine[0:2, 2:4] = 2                  # block (0, 1): pure blood
    fine[2:4, 4] = 4                    # block (1, 2): 2 myocardium, 2 air: tie -> lower code
    np.testing.assert_array_equal(majority_regions(fine, 2), [[0, 2, 0], [0, 0, 0]])
    np.testing.assert_allclose(region_purity(fine, 2), [[0.75, 1, 1], [1, 1, 0.5]])


def test_boundary_pixels_of_the_heart_are_impure(subject):
    from scipy import ndimage

    reg, purity = subject.truth["regions"], subject.truth["purity"]
    myo = reg == REGIONS.index("myocardium")
    edge = myo & ~ndimage.binary_erosion(myo) & ndimage.binary_dilation(reg == REGIONS.index(
        "lv_blood"))
    inner = ndimage.binary_erosion(myo)
    assert purity.min() > 0 and purity.max() == 1.0
    assert (purity[edge] < 1).any()          # the blood-pool boundary cuts some edge pixels
    assert (purity[inner] == 1).all()        # a pixel with no other region beside it is pure

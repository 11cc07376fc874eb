"""Data-crime audit (suite.data.audit): constructed crimes are flagged, honest raw data is not.

Independent references: crimed k-spaces are built here by hand (mirror-averaging for Hermitian
symmetry, zeroing outer lines for zero padding, integer rounding for quantisation); the
Hermitian statistic is checked against a brute-force minimisation over the global phase in the
image domain; the level count against integer data with a known number of levels.
"""

from __future__ import annotations

import numpy as np
import pytest

from suite.case import Case
from suite.conditions import commit_crime
from suite.data.audit import (
    CRIME_FLAGS, CRIMES, THRESHOLDS, audit_case, hermitian_error, level_ratio,
)
from suite.mr.coils import rss
from suite.mr.fft import fft2c, ifft2c
from suite.phantom import simulate


def _tiny(seed=3, **kw):
    kw.setdefault("n_frames", 2)
    kw.setdefault("n_slices", 2)
    return simulate(seed=seed, preset="tiny", **kw)


@pytest.fixture(scope="module")
def honest():
    return _tiny()


# ---------------------------------------------------------------- statistics vs brute force
def test_hermitian_error_matches_bruteforce_phase_search():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(9, 10)) + 0.3j * rng.normal(size=(9, 10))).astype(np.complex64)
    theta = np.linspace(0, np.pi, 20001)
    for n in ((9, 10), (8, 7)):  # odd and even sizes, DC at N // 2
        xx = x[: n[0], : n[1]]
        frac = [np.sum(np.imag(np.exp(1j * t) * xx.astype(np.complex128)) ** 2) for t in theta]
        brute = min(frac) / np.sum(np.abs(xx.astype(np.complex128)) ** 2)
        assert float(hermitian_error(fft2c(xx))) == pytest.approx(brute, rel=1e-4)
    real = rng.random((8, 6)).astype(np.complex64) * np.exp(1j * 1.1).astype(np.complex64)
    assert float(hermitian_error(fft2c(real))) < 1e-6


def test_audit_statistics_equal_their_definitions_bit_for_bit():
    """``hermitian_error`` (one gather of the mirrored samples; no pair mask for fully
    sampled k-space) and the coherence sums (gathering the shifted pixels rather than rolling
    the coil images) equal their definitions written with ``np.roll`` and the mirror index
    ``(2 (N // 2) - i) mod N``, to the bit, for odd and even sizes."""
    from suite.data.audit import _coherence

    rng = np.random.default_rng(5)
    for ny, nx in ((7, 8), (8, 9)):
        k = (rng.normal(size=(3, ny, nx)) + 1j * rng.normal(size=(3, ny, nx))).astype(np.complex64)
        my, mx = (2 * (ny // 2) - np.arange(ny)) % ny, (2 * (nx // 2) - np.arange(nx)) % nx
        k64, km64 = k.astype(np.complex128), k[:, my][:, :, mx].astype(np.complex128)
        e = np.sum(np.abs(k64) ** 2, axis=(-2, -1))
        want = (e - np.abs(np.sum(k64 * km64, axis=(-2, -1)))) / (2 * e)
        for got in (hermitian_error(k), hermitian_error(k, np.ones(k.shape, bool))):
            assert got.tobytes() == want.tobytes()
        select = rng.random((ny, nx)) < 0.4
        re_want = abs_want = 0.0
        for shift, axis in ((2, -1), (-2, -1), (2, -2), (-2, -2)):
            z = np.sum(np.conj(np.roll(k, shift, axis=axis)[:, select]) * k[:, select], axis=0)
            re_want += float(np.sum(z.real))
            abs_want += float(np.sum(np.abs(z)))
        assert _coherence(k, 2, select) == (re_want, abs_want)


def test_level_ratio_counts_known_levels():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 64, size=(40, 60)).astype(np.float32)  # 64 levels, 63 non-zero
    ratio, n_levels, n_values, step = level_ratio(img)
    assert n_levels == 63
    assert step * 63 == pytest.approx(1.0)
    assert ratio == pytest.approx(63 / n_values)
    cont = rng.random((40, 60))
    assert level_ratio(cont)[0] > 0.9


# ---------------------------------------------------------------- constructed crimes
def test_constructed_hermitian_symmetric_kspace_is_flagged(honest):
    k = honest.kspace[:, :, :1]  # single coil
    ny, nx = k.shape[-2:]
    iy = (2 * (ny // 2) - np.arange(ny)) % ny
    ix = (2 * (nx // 2) - np.arange(nx)) % nx
    k_h = 0.5 * (k + np.conj(k[..., iy, :][..., ix]))  # = fft2c(Re(image))
    assert np.allclose(ifft2c(k_h).imag, 0, atol=1e-5 * np.abs(k).max())
    case = honest.replace(kspace=k_h.astype(np.complex64), reference=None, coil_maps=None)
    res = audit_case(case)
    assert res.flags["hermitian_symmetric"]
    assert res.scores["hermitian_error"] < 1e-5
    honest_single = audit_case(honest.replace(kspace=k, reference=None))
    assert not honest_single.flags["hermitian_symmetric"]
    # measured 74x the threshold on phantom version 2 (tiny preset, one coil)
    assert honest_single.scores["hermitian_error"] > 50 * THRESHOLDS["hermitian_max"]


def test_constructed_zero_padded_kspace_is_flagged(honest):
    k = honest.kspace.copy()
    ny, nx = k.shape[-2:]
    k[..., :10, :] = 0
    k[..., ny - 10:, :] = 0
    res = audit_case(honest.replace(kspace=k))
    assert res.flags["zero_padded"]
    assert res.scores["zero_band_ky_start"] == 10 and res.scores["zero_band_ky_end"] == 10
    assert res.scores["zero_band_fraction"] == pytest.approx(10 / ny)
    assert "symmetric" in res.details["zero_padded"]


def test_asymmetric_echo_is_not_zero_padding(honest):
    # asymmetric echo: the first 30 % of the readout not acquired, stored as zeros
    k = honest.kspace.copy()
    nx = k.shape[-1]
    k[..., : int(0.3 * nx)] = 0
    res = audit_case(honest.replace(kspace=k))
    assert not res.flags["zero_padded"]
    assert res.scores["zero_band_kx_start"] == int(0.3 * nx)
    assert "partial Fourier" in res.details["zero_padded"]
    # partial Fourier in ky marked in the mask (lines never acquired): nothing to report
    mask = np.ones((1, 1, 1, k.shape[-2], 1), bool)
    mask[..., : k.shape[-2] // 4, :] = False
    k2 = honest.kspace * mask
    res2 = audit_case(honest.replace(kspace=k2.astype(np.complex64), mask=mask))
    assert not res2.flags["zero_padded"]
    assert res2.scores["zero_band_ky_start"] == 0


def test_undersampled_zero_lines_are_not_flagged(honest):
    from suite.mr import make_mask

    samp = make_mask("equispaced", honest.kspace.shape, 4, 8, np.random.default_rng(0))
    k = (honest.kspace * samp.mask).astype(np.complex64)
    res = audit_case(honest.replace(kspace=k, mask=samp.mask))
    assert not res.flagged, res.summary()
    assert "real_valued_object" in res.not_assessed


@pytest.mark.parametrize("crime", CRIMES)
def test_each_crime_is_flagged_by_its_detector(honest, crime):
    crimed = commit_crime(honest, crime)
    res = audit_case(crimed)
    assert any(res.flags.get(f, False) for f in CRIME_FLAGS[crime]), res.summary()
    assert crime in res.suspected_crimes
    # shapes, reference and provenance
    assert crimed.kspace.shape == honest.kspace.shape and crimed.kspace.dtype == np.complex64
    ref = rss(ifft2c(crimed.kspace), dim=2)
    assert np.allclose(np.abs(crimed.reference), ref, atol=1e-6 * ref.max())
    assert crimed.meta.extra["data_crime"]["crime"] == crime
    assert crimed.meta.subject == honest.meta.subject and crimed.case_id != honest.case_id
    assert crimed.labels is honest.labels


def test_crimes_do_what_they_say(honest):
    zp = commit_crime(honest, "zero-padded", fraction=0.5)
    ny, nx = honest.matrix
    outside = np.ones((ny, nx), bool)
    outside[ny // 2 - ny // 4: ny // 2 + ny // 4, nx // 2 - nx // 4: nx // 2 + nx // 4] = False
    assert np.all(zp.kspace[..., outside] == 0)
    assert np.array_equal(zp.kspace[..., ~outside], honest.kspace[..., ~outside])
    q = commit_crime(honest, "quantised", bits=6)
    scaled = np.abs(q.reference) / np.abs(q.reference).max() * 63
    assert np.allclose(scaled, np.round(scaled), atol=1e-3)
    single = commit_crime(honest, "magnitude", coils="single")
    assert single.kspace.shape[2] == 1
    m = rss(ifft2c(honest.kspace), dim=2)
    assert np.allclose(ifft2c(single.kspace)[:, :, 0], m, atol=1e-5 * m.max())
    assert audit_case(single).flags["hermitian_symmetric"]
    # Shimron's crime 1 chain: zero-pad, RSS magnitude, FFT (single coil)
    zp_single = commit_crime(honest, "zero-padded", coils="single")
    m_zp = rss(ifft2c(zp.kspace), dim=2)
    assert np.allclose(np.abs(ifft2c(zp_single.kspace)[:, :, 0]), m_zp, atol=1e-5 * m_zp.max())
    res = audit_case(zp_single)
    assert res.flags["hermitian_symmetric"] and "zero-padded" not in res.suspected_crimes


def test_jpeg_crime_changes_the_image_by_jpeg_error(honest):
    from PIL import Image
    import io

    m = rss(ifft2c(honest.kspace), dim=2)
    q = np.round(m / m.max() * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(q[0, 0]).save(buf, format="JPEG", quality=50)
    expected = np.asarray(Image.open(io.BytesIO(buf.getvalue())), dtype=float) * m.max() / 255
    crimed = commit_crime(honest, "jpeg", quality=50)
    assert np.allclose(np.abs(crimed.reference[0, 0]), expected, atol=1e-5 * m.max())


# ---------------------------------------------------------------- honest data
@pytest.mark.parametrize("preset,snr", [("tiny", 5), ("tiny", 20), ("tiny", 100),
                                        ("ge-1.5t", 16), ("philips-3t", 40)])
def test_phantom_raw_data_is_not_flagged(preset, snr):
    kw = {"n_slices": 1, "matrix": (80, 100), "pixel_spacing_mm": 3.6} if preset != "tiny" \
        else {}
    case = simulate(seed=5, preset=preset, snr=snr, n_frames=2, **kw) if kw else \
        _tiny(seed=5, snr=snr)
    res = audit_case(case)
    assert not res.flagged, res.summary()
    assert set(res.flags) == {"zero_padded", "hermitian_symmetric", "real_valued_object",
                              "quantised", "jpeg_blocking"}
    d = res.to_dict()
    assert d["flagged"] is False and d["suspected_crimes"] == []


def test_ismrmrd_round_trip_is_not_flagged(tmp_path, honest):
    from suite.data import load, write_ismrmrd

    path = write_ismrmrd(tmp_path / "phantom.h5", honest)
    case = next(iter(load(path)))
    assert case.kspace.shape == honest.kspace.shape
    res = audit_case(case)
    assert not res.flagged, res.summary()


def test_image_only_case_reports_what_it_can(honest):
    ref = np.abs(honest.reference).astype(np.float32)
    res = audit_case(honest.replace(kspace=None, mask=None, coil_maps=None, reference=ref))
    assert not res.flagged
    assert set(res.not_assessed) >= {"zero_padded", "hermitian_symmetric", "real_valued_object"}
    stored = np.round(ref / ref.max() * 255).astype(np.float32)  # an 8-bit PNG/DICOM export
    res8 = audit_case(honest.replace(kspace=None, mask=None, reference=stored))
    assert not res8.flags["quantised"] and not res8.flagged  # a fact of stored images
    assert res8.info["quantised_images"] and not res.info["quantised_images"]
    assert res8.scores["n_levels_reference"] <= 255
    assert "normal for DICOM" in res8.details["quantised"]
    # commit_crime on an image-only case synthesises single-coil k-space
    crimed = commit_crime(honest.replace(kspace=None, mask=None, reference=ref), "magnitude")
    assert crimed.kspace.shape[2] == 1 and audit_case(crimed).flags["hermitian_symmetric"]


def test_errors_and_summary(honest):
    with pytest.raises(ValueError, match="crime"):
        commit_crime(honest, "jpg")
    mask = np.zeros((1, 1, 1, honest.matrix[0], 1), bool)
    mask[..., ::2, :] = True
    with pytest.raises(ValueError, match="undersampled"):
        commit_crime(honest.replace(mask=mask), "magnitude")
    with pytest.raises(ValueError, match="threshold"):
        audit_case(honest, thresholds={"hermitian_maximum": 1})
    text = audit_case(commit_crime(honest, "zero-padded")).summary()
    assert "zero_padded" in text and "FLAG" in text and "Shimron" in text


# ---------------------------------------------------------------- inflation (Shimron 2022)
def test_zero_padding_crime_inflates_zero_filled_scores():
    """Same mask, same method: the zero-padded copy scores better against its own reference.

    Shimron et al. (PNAS 2022) report 25-48 % inflation; benchmarks/measure_data_crimes.py
    measures the full table (docs/robustness-audit.md).
    """
    import reference_impls
    from suite.metrics.image import score
    from suite.mr import make_mask

    method = reference_impls.get("recon", "zero-filled")
    gains = []
    for seed in (0, 1):
        case = _tiny(seed=seed, snr=20)
        mask = make_mask("kt-gaussian", case.kspace.shape, 4, acs_lines=8,
                         rng=np.random.default_rng(seed)).mask
        nmse = {}
        for name, c in (("honest", case), ("crimed", commit_crime(case, "zero-padded"))):
            ref = rss(ifft2c(c.kspace), dim=2).astype(np.float64)
            under = c.replace(kspace=(c.kspace * mask).astype(np.complex64), mask=mask)
            nmse[name] = score(ref, np.abs(method(under)).astype(np.float64)).nmse
        gains.append(nmse["crimed"] / nmse["honest"])
    assert max(gains) < 0.9, gains  # at least 10 % lower NMSE on crimed data, every subject


def test_level_count_ignores_the_dark_background():
    """Regression: a full-size honest cine is mostly dark pixels; counted on a coarse grid
    with the background included, its values crowded few bins and it was flagged quantised.
    With the audit's grid and floor, continuous intensities give a ratio near 1 whatever the
    share of background, and an 8-bit copy of the same values stays far below 0.25."""
    from suite.data.audit import THRESHOLDS as DEFAULT_THRESHOLDS, level_ratio

    rng = np.random.default_rng(0)
    values = np.concatenate([rng.rayleigh(2e-3, 950_000), rng.uniform(0.05, 1.0, 50_000)])
    rng.shuffle(values)
    kw = {"bin_width": DEFAULT_THRESHOLDS["level_bin"], "floor": DEFAULT_THRESHOLDS["level_floor"],
          "sample": int(DEFAULT_THRESHOLDS["level_sample"])}
    honest, *_ = level_ratio(values, **kw)
    quantised, n_levels, _, _ = level_ratio(np.round(values * 255) / 255, **kw)
    assert honest > 0.9
    assert quantised < 0.05 and n_levels <= 256
    assert honest > DEFAULT_THRESHOLDS["level_ratio_max"] > quantised


# ---------------------------------------------------------------- cmrsuite audit
def _piecewise_raw(snr, seed=0, ny=96, nx=96, nc=4):
    """Raw complex multi-coil k-space of a piecewise-constant object with a smooth phase (what a
    simulation pipeline gives a user), at a stated SNR."""
    rng = np.random.default_rng(seed)
    img = np.zeros((ny, nx))
    for _ in range(6):
        y0, x0 = rng.integers(0, ny - 30), rng.integers(0, nx - 30)
        img[y0:y0 + rng.integers(10, 30), x0:x0 + rng.integers(10, 30)] += rng.random()
    yy, xx = np.mgrid[:ny, :nx]
    angles = np.linspace(0, 2 * np.pi, nc, endpoint=False)
    maps = np.stack([np.exp(-((yy - ny * (0.5 + 0.4 * np.cos(a))) ** 2
                              + (xx - nx * (0.5 + 0.4 * np.sin(a))) ** 2) / (2 * (ny / 2) ** 2))
                     * np.exp(1j * a) for a in angles])
    k = fft2c((maps * img * np.exp(1j * 0.3 * xx / nx)).astype(np.complex64))
    sigma = np.sqrt(np.mean(np.abs(k) ** 2)) / snr
    k = k + sigma * (rng.standard_normal(k.shape) + 1j * rng.standard_normal(k.shape))
    return Case(kspace=k[None, None].astype(np.complex64), mask=np.ones((1, 1, 1, ny, 1), bool))


def test_blockiness_ignores_the_corners_of_a_piecewise_constant_object():
    # a mean over each block phase lets a few corner differences through at high SNR; the
    # audit requires the median-pooled score too (JPEG raises both)
    for snr in (10, 1000):
        res = audit_case(_piecewise_raw(snr, seed=3))
        assert res.flags["jpeg_blocking"] is False, res.summary()
        assert res.scores["blockiness_median"] < 1.2


def test_cli_audit_flags_crimes_and_passes_raw_complex_data(tmp_path, capsys):
    import json

    from suite.cli import main
    from suite.data.ismrmrd_io import write_ismrmrd

    honest = simulate(seed=4, preset="tiny", n_frames=2)
    for name, case in (("low-snr", _piecewise_raw(5)), ("high-snr", _piecewise_raw(1000)),
                       ("phantom", honest)):
        write_ismrmrd(tmp_path / "raw" / f"{name}.h5", case)
    assert main(["audit", str(tmp_path / "raw")]) == 0
    out = capsys.readouterr().out
    assert "3 audited, 0 flagged, 0 unreadable" in out
    for crime in ("zero-padded", "magnitude", "jpeg"):
        write_ismrmrd(tmp_path / "crimed" / f"{crime}.h5", commit_crime(honest, crime))
    assert main(["audit", str(tmp_path / "crimed"), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["n_flagged"] == 3
    assert {c for a in report["audited"] for c in a["suspected_crimes"]} >= {
        "zero-padded", "magnitude", "jpeg"}
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    assert main(["audit", str(tmp_path / "junk.h5")]) == 2
    assert "UNREAD" in capsys.readouterr().out

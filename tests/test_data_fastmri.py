"""fastMRI reader and reconstruction writer (STYLE R12).

Input files are written here with **plain h5py** in fastMRI's layout (``kspace`` complex64
``(slice, coil, height, width)``, ``mask`` over the width, ``reconstruction_rss``, attributes,
``ismrmrd_header`` XML typed by hand); expected values come from index formulas and numpy's
own shift-FFT-shift, never from the reader.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from suite.data import load, sniff, write_ismrmrd
from suite.data.errors import CaseReadError, CorruptFileError, LayoutError
from suite.data.fastmri import open_fastmri, read_fastmri, write_fastmri_reconstruction
from suite.mr.fft import ifft2c

NS, NC, H, W = 2, 3, 8, 6  # H = readout (height), W = phase encode (width)
TH, TW = 4, 5              # target size (h, w) in fastMRI orientation

HEADER = b"""<?xml version="1.0" encoding="utf-8"?>
<ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD">
  <experimentalConditions><H1resonanceFrequency_Hz>123251815</H1resonanceFrequency_Hz>
  </experimentalConditions>
  <acquisitionSystemInformation>
    <systemVendor>SIEMENS</systemVendor><systemModel>Skyra</systemModel>
    <systemFieldStrength_T>2.89362</systemFieldStrength_T>
    <receiverChannels>3</receiverChannels>
  </acquisitionSystemInformation>
  <encoding>
    <encodedSpace><matrixSize><x>8</x><y>6</y><z>1</z></matrixSize>
      <fieldOfView_mm><x>24</x><y>12</y><z>3</z></fieldOfView_mm></encodedSpace>
    <reconSpace><matrixSize><x>4</x><y>5</y><z>1</z></matrixSize>
      <fieldOfView_mm><x>12</x><y>10</y><z>3</z></fieldOfView_mm></reconSpace>
    <encodingLimits><kspace_encoding_step_1><minimum>0</minimum><maximum>3</maximum>
      <center>2</center></kspace_encoding_step_1></encodingLimits>
    <trajectory>cartesian</trajectory>
  </encoding>
</ismrmrdHeader>
"""


def fm_kspace(single=False):
    """file[s, c, h, w] = (h + 16 w) + 1j (c + 8 s), exact in float32."""
    s, c, h, w = np.meshgrid(np.arange(NS), np.arange(1 if single else NC), np.arange(H),
                             np.arange(W), indexing="ij")
    k = ((h + 16 * w) + 1j * (c + 8 * s)).astype(np.complex64)
    return k[:, 0] if single else k


def write_fastmri_file(path, *, single=False, mask=None, target=True, header=True):
    k = fm_kspace(single)
    rng = np.random.default_rng(1)
    rss = rng.random((NS, TH, TW)).astype(np.float32)
    with h5py.File(path, "w") as f:
        f.create_dataset("kspace", data=k)
        if mask is not None:
            f.create_dataset("mask", data=mask)
        if target:
            f.create_dataset("reconstruction_esc" if single else "reconstruction_rss", data=rss)
        if header:
            f.create_dataset("ismrmrd_header", data=HEADER)
        f.attrs["acquisition"] = "CORPD_FBK"
        f.attrs["max"] = float(rss.max())
        f.attrs["norm"] = 1.5
        f.attrs["patient_id"] = "abc123"
    return path, k, rss


def _raises(exc_type, fn, path):
    with pytest.raises(CaseReadError) as info:
        fn()
    assert type(info.value) is exc_type, f"{type(info.value).__name__}: {info.value}"
    assert str(path) in str(info.value)
    return info.value


def test_multicoil_axes_mask_target_attrs(tmp_path):
    mask = np.array([1, 0, 1, 1, 0, 1], np.float32)
    p, raw, rss = write_fastmri_file(tmp_path / "file1000001.h5", mask=mask)
    case = read_fastmri(p)
    assert case.kspace.shape == (NS, 1, NC, W, H)  # (slice, frame, coil, ky = W, kx = H)
    s, c, ky, kx = np.meshgrid(np.arange(NS), np.arange(NC), np.arange(W), np.arange(H),
                               indexing="ij")
    np.testing.assert_array_equal(case.kspace[:, 0], (kx + 16 * ky) + 1j * (c + 8 * s))
    assert case.mask.shape == (1, 1, 1, W, 1)
    assert np.flatnonzero(case.mask.ravel()).tolist() == [0, 2, 3, 5]
    t = case.truth["target"]
    assert case.truth["target_key"] == "reconstruction_rss" and t.shape == (NS, 1, TW, TH)
    for si, yi, xi in [(0, 0, 0), (1, 4, 3), (1, 2, 1)]:
        assert t[si, 0, yi, xi] == rss[si, xi, yi]
    m = case.meta
    assert m.dataset == "fastmri" and m.subject == "file1000001" and m.series == "CORPD_FBK"
    a = m.extra["fastmri_attrs"]
    assert a["acquisition"] == "CORPD_FBK" and a["norm"] == 1.5 and a["patient_id"] == "abc123"
    assert m.vendor == "SIEMENS" and m.field_strength_t == pytest.approx(2.89362)
    assert m.pixel_spacing_mm == (2.0, 3.0)  # (dy, dx) = (FOV_y / 6, FOV_x / 8)
    assert m.slice_thickness_mm == 3.0
    assert m.extra["encoded_matrix"] == [8, 6, 1] and m.extra["recon_matrix"] == [4, 5, 1]
    assert m.extra["pe_padding"] == [1, 5]  # 6 // 2 - 2, then + 3 + 1 (mri_data.py)


def test_image_orientation_is_fastmri_image_transposed(tmp_path):
    p, raw, _ = write_fastmri_file(tmp_path / "f.h5")
    case = read_fastmri(p)
    ax = (-2, -1)
    fm_img = np.fft.fftshift(np.fft.ifftn(np.fft.ifftshift(raw, axes=ax), axes=ax, norm="ortho"),
                             axes=ax)  # fastMRI's image (slice, coil, H, W)
    np.testing.assert_allclose(ifft2c(case.kspace[:, 0]), np.swapaxes(fm_img, -1, -2),
                               atol=1e-4)


def test_fully_sampled_file_without_mask(tmp_path):
    p, _, _ = write_fastmri_file(tmp_path / "f.h5", target=False, header=False)
    case = read_fastmri(p)
    assert case.mask.shape == (1, 1, 1, W, 1) and case.mask.all()
    assert case.truth is None and case.meta.extra["ismrmrd_header"] == "absent"


def test_single_coil(tmp_path):
    p, raw, esc = write_fastmri_file(tmp_path / "s.h5", single=True)
    case = read_fastmri(p)
    assert case.kspace.shape == (NS, 1, 1, W, H)
    np.testing.assert_array_equal(case.kspace[:, 0, 0], np.swapaxes(raw, -1, -2))
    assert case.truth["target_key"] == "reconstruction_esc"
    np.testing.assert_array_equal(case.truth["target"][:, 0], np.swapaxes(esc, -1, -2))


def test_lazy_slice(tmp_path):
    p, raw, _ = write_fastmri_file(tmp_path / "f.h5")
    one = open_fastmri(p).read(slices=[1])
    np.testing.assert_array_equal(one.kspace[0, 0], np.swapaxes(raw[1], -1, -2))
    assert one.truth["target"].shape == (1, 1, TW, TH)


def test_reconstruction_writer_round_trips_to_fastmri_layout(tmp_path):
    p, _, rss = write_fastmri_file(tmp_path / "file1.h5")
    target = open_fastmri(p).read_target()  # Case orientation
    (tmp_path / "recon").mkdir()
    out = write_fastmri_reconstruction(tmp_path / "recon" / "file1.h5", target)
    with h5py.File(out, "r") as f:
        assert list(f.keys()) == ["reconstruction"] and dict(f.attrs) == {}
        rec = f["reconstruction"]
        assert rec.dtype == np.float32 and rec.shape == (NS, TH, TW)
        np.testing.assert_array_equal(rec[()], rss)  # same pixels as fastMRI's target
    again = write_fastmri_reconstruction(tmp_path / "again.h5", target[:, 0])
    assert again.read_bytes() == out.read_bytes()  # 3-D input, deterministic bytes


def test_sniff_distinguishes_fastmri_from_ismrmrd(tmp_path):
    p, _, _ = write_fastmri_file(tmp_path / "f.h5")
    assert sniff(p) == "fastmri"
    from suite.case import Case, CaseMeta

    q = write_ismrmrd(tmp_path / "i.h5", Case(kspace=np.ones((1, 1, 1, 4, 4), np.complex64),
                                              mask=np.ones((1, 1, 1, 4, 1), bool),
                                              meta=CaseMeta(subject="x")))
    assert sniff(q) == "ismrmrd"
    cases = list(load(tmp_path))
    assert len(cases) == 2 and [c.meta.dataset for c in cases].count("fastmri") == 1


# ---------------------------------------------------------------------- bad files
def test_truncated_empty_text(tmp_path):
    p, _, _ = write_fastmri_file(tmp_path / "f.h5")
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) // 2])
    _raises(CorruptFileError, lambda: read_fastmri(p), p)
    p.write_bytes(b"")
    _raises(CorruptFileError, lambda: read_fastmri(p), p)
    p.write_text("hello\n" * 30)
    _raises(CorruptFileError, lambda: read_fastmri(p), p)


def test_missing_kspace(tmp_path):
    p = tmp_path / "f.h5"
    with h5py.File(p, "w") as f:
        f["reconstruction_rss"] = np.zeros((1, 2, 2), np.float32)
    err = _raises(LayoutError, lambda: read_fastmri(p), p)
    assert "`kspace`" in err.reason


def test_wrong_dims(tmp_path):
    p = tmp_path / "f.h5"
    with h5py.File(p, "w") as f:
        f["kspace"] = np.zeros((1, 2, 2, 3, 4), np.complex64)
    _raises(LayoutError, lambda: read_fastmri(p), p)


def test_nan_in_kspace(tmp_path):
    p, _, _ = write_fastmri_file(tmp_path / "f.h5")
    with h5py.File(p, "r+") as f:
        k = f["kspace"][()]
        k[1, 2, 3, 4] = np.nan
        f["kspace"][...] = k
    err = _raises(CorruptFileError, lambda: read_fastmri(p), p)
    assert err.reason.startswith("1 non-finite")


def test_compound_without_imag(tmp_path):
    p = tmp_path / "f.h5"
    with h5py.File(p, "w") as f:
        f["kspace"] = np.zeros((1, 2, 3, 4), [("r", "<f4")])
    err = _raises(LayoutError, lambda: read_fastmri(p), p)
    assert "imaginary" in err.reason


def test_mask_over_the_wrong_axis(tmp_path):
    p, _, _ = write_fastmri_file(tmp_path / "f.h5", mask=np.ones(H, np.float32))  # height
    err = _raises(LayoutError, lambda: read_fastmri(p), p)
    assert f"({W},)" in err.reason

"""CMRxRecon readers, the MATLAB v7.3 helper and the submission writer (STYLE R12).

Every CMRxRecon input file is written here with **plain h5py** in the layout MATLAB produces
(512-byte userblock with the MATLAB header, datasets with reversed axes, complex as a compound
of ``real``/``imag``, ``MATLAB_class`` attributes), never with our writer. Expected values are
computed from closed-form index formulas, not from the reader.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.io
import scipy.io.matlab

from suite.data import load, sniff
from suite.data.cmrxrecon import detect_year, open_cmrxrecon, read_cmrxrecon
from suite.data.cmrxrecon_submission import write_cmrxrecon_submission
from suite.data.errors import CaseReadError, CorruptFileError, LayoutError
from suite.data.matv73 import CREATED_ON, open_mat, read_mat_variable, write_mat_v73

MATLAB_HEADER = (b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 "
                 b"2024 HDF5 schema 1.00 .").ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM"


# ---------------------------------------------------------------------- plain-h5py writers
def compound(z, part="<f4"):
    out = np.empty(z.shape, [("real", part), ("imag", part)])
    out["real"], out["imag"] = z.real, z.imag
    return out


def write_plain_v73(path, datasets):
    """``datasets``: {name: (array in h5py order, MATLAB class)}; MATLAB's own file layout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, (arr, cls) in datasets.items():
            d = f.create_dataset(name, data=arr)
            d.attrs["MATLAB_class"] = np.bytes_(cls)
    with open(path, "r+b") as fh:
        fh.write(MATLAB_HEADER)
    return path


def kspace_h5(nt, nz, nc, ny, nx):
    """Multi-coil k-space as h5py sees MATLAB's (kx, ky, kc, kz, t): array [t, kz, kc, ky, kx]
    with value (kx + 32 ky) + 1j (kc + 16 kz + 256 t), exact in float32."""
    t, z, c, y, x = np.meshgrid(*(np.arange(n) for n in (nt, nz, nc, ny, nx)), indexing="ij")
    return compound((x + 32 * y) + 1j * (c + 16 * z + 256 * t))


def expected_case_kspace(ns, nf, nc, ny, nx):
    """The Case array [slice, frame, coil, ky, kx] the same formula must give."""
    s, f, c, y, x = np.meshgrid(*(np.arange(n) for n in (ns, nf, nc, ny, nx)), indexing="ij")
    return ((x + 32 * y) + 1j * (c + 16 * s + 256 * f)).astype(np.complex64)


def _raises(exc_type, fn, path):
    with pytest.raises(CaseReadError) as info:
        fn()
    assert type(info.value) is exc_type, f"{type(info.value).__name__}: {info.value}"
    assert str(path) in str(info.value) or path.name in str(info.value)
    return info.value


# geometry used throughout: nx (readout) != ny (phase encode) so an axis swap cannot pass
NT, NZ, NC, NY, NX = 3, 2, 4, 12, 10
LINES = [0, 4, 5, 6, 8]  # sampled ky lines (equispaced + a small centre block)


def _tree_2023(root, coil="MultiCoil"):
    d = root / coil / "Cine" / "TrainingSet" / "AccFactor04" / "P001"
    if coil == "MultiCoil":
        k = kspace_h5(NT, NZ, NC, NY, NX)
        write_plain_v73(d / "cine_sax.mat", {"kspace_sub04": (k, "single")})
    else:
        k = kspace_h5(NT, NZ, 1, NY, NX)[:, :, 0]  # (t, kz, ky, kx)
        write_plain_v73(d / "cine_sax.mat", {"kspace_single_sub04": (k, "single")})
    m = np.zeros((NY, NX))  # MATLAB (kx, ky) → h5py (ky, kx): sampled ky lines are rows
    m[LINES, :] = 1
    write_plain_v73(d / "cine_sax_mask.mat", {"mask04": (m, "double"),
                                              "mask08": (np.zeros((NY, NX)), "double")})
    return d / "cine_sax.mat"


# ====================================================================== 2023
def test_2023_multicoil_axes_values_and_mask(tmp_path):
    p = _tree_2023(tmp_path)
    case = read_cmrxrecon(p)
    assert case.kspace.shape == (NZ, NT, NC, NY, NX)
    np.testing.assert_array_equal(case.kspace, expected_case_kspace(NZ, NT, NC, NY, NX))
    assert case.mask.shape == (1, 1, 1, NY, 1)
    assert np.flatnonzero(case.mask[0, 0, 0, :, 0]).tolist() == LINES
    m = case.meta
    assert (m.subject, m.series, m.dataset) == ("P001", "cine_sax", "cmrxrecon2023")
    assert m.field_strength_t == 3.0 and m.vendor == "Siemens"
    assert m.extra["acceleration"] == 4 and m.extra["acs"] == "24 ky lines"
    assert m.extra["split"] == "TrainingSet" and m.extra["coil_type"] == "multi"
    assert len(m.source_sha256) == 64


def test_2023_singlecoil_has_one_coil(tmp_path):
    p = _tree_2023(tmp_path, coil="SingleCoil")
    case = read_cmrxrecon(p)
    assert case.kspace.shape == (NZ, NT, 1, NY, NX)
    np.testing.assert_array_equal(case.kspace, expected_case_kspace(NZ, NT, 1, NY, NX))
    assert case.meta.extra["coil_type"] == "single"


def test_2023_mask_in_wrong_orientation_is_refused(tmp_path):
    p = _tree_2023(tmp_path)
    m = np.zeros((NX, NY))  # h5py (kx, ky) = MATLAB (ky, kx): transposed
    write_plain_v73(p.with_name("cine_sax_mask.mat"), {"mask04": (m, "double")})
    err = _raises(LayoutError, lambda: read_cmrxrecon(p), p.with_name("cine_sax_mask.mat"))
    assert f"({NX}, {NY})" in err.reason


def test_lazy_slice_read_matches_full_read(tmp_path):
    p = _tree_2023(tmp_path)
    src = open_cmrxrecon(p)
    assert src.shape == (NZ, NT, NC, NY, NX)
    one = src.read(slices=[1])
    np.testing.assert_array_equal(one.kspace[0], expected_case_kspace(NZ, NT, NC, NY, NX)[1])
    assert one.meta.extra["slice_indices"] == [1]


# ====================================================================== 2024 / 2025
def _kus_2024(root, pattern, r, mask_h5):
    base = root / "MultiCoil" / "Cine" / "ValidationSet"
    task = "Task2" if pattern.startswith("kt") else "Task1"
    k = kspace_h5(NT, NZ, NC, NY, NX)
    p = write_plain_v73(base / f"UnderSample_{task}" / "P003" / f"cine_lax_kus_{pattern}{r}.mat",
                        {"kus": (k, "single")})
    write_plain_v73(base / f"Mask_{task}" / "P003" / f"cine_lax_mask_{pattern}{r}.mat",
                    {"mask": (mask_h5, "double")})
    return p


def test_2024_kus_with_3d_kt_mask(tmp_path):
    rng = np.random.default_rng(3)
    mask_h5 = (rng.random((NT, NY, NX)) < 0.4).astype(float)  # MATLAB (nx, ny, nt) → (nt, ny, nx)
    p = _kus_2024(tmp_path, "ktRadial", 8, mask_h5)
    case = read_cmrxrecon(p)
    np.testing.assert_array_equal(case.kspace, expected_case_kspace(NZ, NT, NC, NY, NX))
    assert case.mask.shape == (1, NT, 1, NY, NX)
    for t in range(NT):
        np.testing.assert_array_equal(case.mask[0, t, 0], mask_h5[t] == 1)
    m = case.meta
    assert m.dataset == "cmrxrecon2024" and m.series == "cine_lax" and m.subject == "P003"
    assert (m.extra["pattern"], m.extra["acceleration"]) == ("ktRadial", 8)
    assert m.extra["acs"] == "16x16 centre" and m.extra["task"] == "Task2"
    assert m.extra["mask_file"].endswith("Mask_Task2/P003/cine_lax_mask_ktRadial8.mat")
    assert len(list(load(tmp_path))) == 1  # Mask_Task2/... is a companion, not a unit


def test_2024_uniform_2d_mask_collapses_to_lines(tmp_path):
    m = np.zeros((NY, NX))
    m[LINES] = 1
    p = _kus_2024(tmp_path, "Uniform", 4, m)
    case = read_cmrxrecon(p)
    assert case.mask.shape == (1, 1, 1, NY, 1)
    assert np.flatnonzero(case.mask.ravel()).tolist() == LINES
    assert case.meta.extra["sampling_pattern"] == "equispaced"


def test_2024_kt_lines_mask_keeps_frames(tmp_path):
    m = np.zeros((NT, NY, NX))
    for t in range(NT):
        m[t, t::3] = 1
    p = _kus_2024(tmp_path, "ktUniform", 4, m)
    case = read_cmrxrecon(p)
    assert case.mask.shape == (1, NT, 1, NY, 1)
    for t in range(NT):
        assert np.flatnonzero(case.mask[0, t, 0, :, 0]).tolist() == list(range(t, NY, 3))


def test_2024_missing_mask_file(tmp_path):
    p = _kus_2024(tmp_path, "Uniform", 4, np.ones((NY, NX)))
    mpath = tmp_path / "MultiCoil/Cine/ValidationSet/Mask_Task1/P003/cine_lax_mask_Uniform4.mat"
    mpath.unlink()
    err = _raises(LayoutError, lambda: read_cmrxrecon(p), p)
    assert "mask" in err.reason and "mask=" in err.hint


def test_2025_kspace_variable_and_centre_vendor(tmp_path):
    base = tmp_path / "TaskR1" / "MultiCoil" / "Cine" / "ValidationSet"
    k = kspace_h5(NT, NZ, NC, NY, NX)
    sub = ("Center005", "UIH_30T_umr780", "P010")
    p = write_plain_v73(base.joinpath("UnderSample_TaskR1", *sub, "cine_sax_kus_ktGaussian16.mat"),
                        {"kus": (k, "single")})
    m = np.zeros((NT, NY, NX))
    m[:, ::2] = 1
    write_plain_v73(base.joinpath("Mask_TaskR1", *sub, "cine_sax_mask_ktGaussian16.mat"),
                    {"mask": (m, "double")})
    case = read_cmrxrecon(p)
    assert case.meta.dataset == "cmrxrecon2025" and case.meta.site == "Center005"
    assert case.meta.vendor == "UIH_30T_umr780" and case.meta.field_strength_t is None
    assert case.meta.extra["acs"] == "20 ky lines"
    full = write_plain_v73(tmp_path / "lone" / "P010" / "cine_sax.mat", {"kspace": (k, "single")})
    assert detect_year(full, ["kspace"])[0] == 2025
    np.testing.assert_array_equal(read_cmrxrecon(full).kspace,
                                  expected_case_kspace(NZ, NT, NC, NY, NX))


def test_blackblood_4d_is_one_frame(tmp_path):
    k = kspace_h5(1, NZ, NC, NY, NX)[0]  # MATLAB (nx, ny, nc, nz) → h5py (nz, nc, ny, nx)
    p = write_plain_v73(tmp_path / "x" / "P001" / "blackblood.mat", {"kspace_full": (k, "single")})
    case = read_cmrxrecon(p, year=2024)
    assert case.kspace.shape == (NZ, 1, NC, NY, NX)
    np.testing.assert_array_equal(case.kspace, expected_case_kspace(NZ, 1, NC, NY, NX))


# ====================================================================== year detection
def test_year_is_not_guessed_for_a_lone_file(tmp_path):
    k = kspace_h5(NT, NZ, NC, NY, NX)
    p = write_plain_v73(tmp_path / "P001" / "cine_sax.mat", {"kspace_full": (k, "single")})
    err = _raises(LayoutError, lambda: read_cmrxrecon(p), p)
    assert "year=" in err.hint
    assert read_cmrxrecon(p, year=2024).meta.dataset == "cmrxrecon2024"
    assert read_cmrxrecon(p, dataset="cmrxrecon2023").meta.dataset == "cmrxrecon2023"
    assert next(load(p, dataset="cmrxrecon2025")).meta.dataset == "cmrxrecon2025"  # card option


def test_year_from_fullsample_siblings(tmp_path):
    k = kspace_h5(NT, NZ, NC, NY, NX)
    for year, sibling in ((2023, "AccFactor08"), (2024, "Mask_Task1")):
        root = tmp_path / str(year) / "Cine" / "TrainingSet"
        (root / sibling).mkdir(parents=True)
        p = write_plain_v73(root / "FullSample" / "P001" / "cine_sax.mat",
                            {"kspace_full": (k, "single")})
        assert detect_year(p, ["kspace_full"])[0] == year
        case = read_cmrxrecon(p)
        assert case.meta.dataset == f"cmrxrecon{year}"
        assert case.mask.all() and case.mask.shape == (1, 1, 1, NY, 1)


# ====================================================================== mapping
def test_mapping_csv_gives_per_slice_timings(tmp_path):
    nw, nz = 4, 3
    d = tmp_path / "MultiCoil" / "Mapping" / "TrainingSet" / "FullSample" / "P001"
    (d.parent.parent / "AccFactor04").mkdir(parents=True)  # the 2023 tree beside FullSample
    write_plain_v73(d / "T1map.mat", {"kspace_full": (kspace_h5(nw, nz, 2, NY, NX), "single")})
    ti = np.array([[100 + 10 * s + w for s in range(nz)] for w in range(nw)], float)  # rows = w
    lines = ["slice1,slice2,slice3"] + [",".join(f"{v:g}" for v in row) for row in ti]
    (d / "T1map.csv").write_text("\n".join(lines) + "\n")
    case = read_cmrxrecon(d / "T1map.mat")
    assert case.kspace.shape == (nz, nw, 2, NY, NX)
    assert case.meta.series == "T1map"
    assert case.meta.timings_ms == {"TI": [[100 + 10 * s + w for w in range(nw)]
                                           for s in range(nz)]}
    sub = open_cmrxrecon(d / "T1map.mat").read(slices=[2])
    assert sub.meta.timings_ms["TI"] == [[120, 121, 122, 123]]
    # T2map: the T2-preparation times are "TE"
    write_plain_v73(d / "T2map.mat", {"kspace_full": (kspace_h5(3, 1, 2, NY, NX), "single")})
    (d / "T2map.csv").write_text("slice1\n0\n35\n55\n")
    assert read_cmrxrecon(d / "T2map.mat").meta.timings_ms == {"TE": [[0.0, 35.0, 55.0]]}
    # CSV with the wrong number of rows
    (d / "T2map.csv").write_text("slice1\n0\n35\n")
    _raises(LayoutError, lambda: read_cmrxrecon(d / "T2map.mat"), d / "T2map.csv")


# ====================================================================== bad files
@pytest.fixture
def good(tmp_path):
    return _tree_2023(tmp_path)


def test_truncated(good):
    raw = good.read_bytes()
    good.write_bytes(raw[: len(raw) // 2])
    _raises(CorruptFileError, lambda: read_cmrxrecon(good), good)
    good.write_bytes(raw[:300])  # header only, no HDF5 superblock
    _raises(CorruptFileError, lambda: read_cmrxrecon(good), good)


def test_empty_and_text(good):
    good.write_bytes(b"")
    _raises(CorruptFileError, lambda: read_cmrxrecon(good), good)
    good.write_text("not a MAT-file\n" * 40)
    _raises(CorruptFileError, lambda: read_cmrxrecon(good), good)


def test_missing_variable(good):
    write_plain_v73(good, {"img": (np.zeros((2, 2)), "double")})
    err = _raises(LayoutError, lambda: read_cmrxrecon(good), good)
    assert "kspace_full" in err.reason


def test_wrong_dims(good):
    k = compound(np.zeros((2, 1, 2, 2, 3, 4), np.complex64))
    write_plain_v73(good, {"kspace_sub04": (k, "single")})
    err = _raises(LayoutError, lambda: read_cmrxrecon(good), good)
    assert "(kx, ky, kc, kz, t)" in err.reason


def test_real_kspace(good):
    write_plain_v73(good, {"kspace_sub04": (np.zeros((NT, NZ, NC, NY, NX), np.float32), "single")})
    _raises(LayoutError, lambda: read_cmrxrecon(good), good)


def test_compound_without_imag(good):
    k = np.zeros((NT, NZ, NC, NY, NX), [("real", "<f4")])
    write_plain_v73(good, {"kspace_sub04": (k, "single")})
    err = _raises(LayoutError, lambda: read_cmrxrecon(good), good)
    assert "imag" in err.reason


def test_nan_in_kspace(good):
    k = kspace_h5(NT, NZ, NC, NY, NX)
    k["real"][1, 0, 2, 3, 4] = np.nan
    k["imag"][0, 1, 0, 0, 0] = np.inf
    write_plain_v73(good, {"kspace_sub04": (k, "single")})
    err = _raises(CorruptFileError, lambda: read_cmrxrecon(good), good)
    assert err.reason.startswith("2 non-finite")


# ====================================================================== sniffing and folders
def test_sniff_and_folder_walk(tmp_path):
    p = _tree_2023(tmp_path)
    assert sniff(p) == "cmrxrecon"
    cases = list(load(tmp_path))  # the mask file is a companion, not a unit
    assert len(cases) == 1 and cases[0].meta.subject == "P001"


# ====================================================================== MATLAB v7.3 helper
def test_writer_layout_seen_by_plain_h5py(tmp_path):
    a = (np.arange(24).reshape(2, 3, 4) + 1j * np.arange(24).reshape(2, 3, 4)[::-1]).astype(
        np.complex64)  # MATLAB size (2, 3, 4)
    p = write_mat_v73(tmp_path / "a.mat", {"z": a, "m": np.array([[True, False, True]]),
                                           "d": np.arange(6.0).reshape(3, 2)})
    raw = p.read_bytes()
    assert raw[:19] == b"MATLAB 7.3 MAT-file"
    assert raw[116:124] == b"\x00" * 8 and raw[124:128] == b"\x00\x02IM"
    assert raw[512:520] == b"\x89HDF\r\n\x1a\n"
    assert CREATED_ON.encode() in raw[:116]
    assert scipy.io.matlab.matfile_version(str(p)) == (2, 0)
    with pytest.raises(NotImplementedError):
        scipy.io.loadmat(str(p))
    with h5py.File(p, "r") as f:
        assert f.userblock_size == 512
        z = f["z"]
        assert z.shape == (4, 3, 2) and z.dtype.names == ("real", "imag")
        assert z.dtype["real"] == np.float32 and z.attrs["MATLAB_class"] == b"single"
        for i, j, k in np.ndindex(2, 3, 4):
            assert z[k, j, i]["real"] == a[i, j, k].real and z[k, j, i]["imag"] == a[i, j, k].imag
        assert f["m"].dtype == np.uint8 and f["m"].attrs["MATLAB_class"] == b"logical"
        assert f["m"].attrs["MATLAB_int_decode"] == 1 and f["m"].shape == (3, 1)
        assert f["d"].attrs["MATLAB_class"] == b"double" and f["d"][1, 2] == 5.0  # d[2, 1]
    mf = open_mat(p)
    assert mf.version == "7.3" and mf["z"].shape == (2, 3, 4)
    np.testing.assert_array_equal(mf["z"].read(), a)
    np.testing.assert_array_equal(mf["z"].read((1, slice(0, 2))), a[1, 0:2])
    assert mf["m"].read().dtype == np.bool_


def test_writer_is_deterministic_and_drops_trailing_singletons(tmp_path):
    a = np.ones((3, 4, 1, 1), np.float32)
    p1 = write_mat_v73(tmp_path / "1.mat", {"x": a, "s": 2.5, "v": np.arange(3.0)})
    p2 = write_mat_v73(tmp_path / "2.mat", {"x": a, "s": 2.5, "v": np.arange(3.0)})
    assert p1.read_bytes() == p2.read_bytes()
    mf = open_mat(p1)
    assert mf["x"].shape == (3, 4) and mf["s"].shape == (1, 1) and mf["v"].shape == (1, 3)


def test_reader_accepts_v5_masks(tmp_path):
    m = np.zeros((NX, NY))
    m[:, LINES] = 1  # MATLAB (kx, ky): scipy keeps MATLAB's order
    scipy.io.savemat(tmp_path / "cine_sax_mask.mat", {"mask04": m})
    np.testing.assert_array_equal(read_mat_variable(tmp_path / "cine_sax_mask.mat", "mask04"), m)
    d = tmp_path / "AccFactor04" / "P001"
    p = write_plain_v73(d / "cine_sax.mat", {"kspace_sub04": (kspace_h5(NT, NZ, NC, NY, NX),
                                                              "single")})
    scipy.io.savemat(d / "cine_sax_mask.mat", {"mask04": m})
    case = read_cmrxrecon(p)
    assert np.flatnonzero(case.mask.ravel()).tolist() == LINES


# ====================================================================== submission
def test_submission_file_layout(tmp_path):
    ns, nf, ny, nx = 2, 3, 5, 7
    s, f, y, x = np.meshgrid(*(np.arange(n) for n in (ns, nf, ny, nx)), indexing="ij")
    img = (x + 10 * y + 100 * f + 1000 * s).astype(np.float32)
    p = write_cmrxrecon_submission(tmp_path / "cine_sax.mat", img, year=2024)
    raw = p.read_bytes()
    assert raw[124:128] == b"\x00\x02IM" and raw[512:520] == b"\x89HDF\r\n\x1a\n"
    with h5py.File(p, "r") as h:
        d = h["img4ranking"]
        assert d.shape == (nf, ns, ny, nx) and d.dtype == np.float32  # (frames, slices, sy, sx)
        assert d.attrs["MATLAB_class"] == b"single"
        arr = d[()]
    for si, fi, yi, xi in [(0, 0, 0, 0), (1, 2, 4, 6), (1, 0, 3, 2)]:
        assert arr[fi, si, yi, xi] == xi + 10 * yi + 100 * fi + 1000 * si
    assert open_mat(p)["img4ranking"].shape == (nx, ny, ns, nf)  # MATLAB (sx, sy, sz, t)
    c = write_cmrxrecon_submission(tmp_path / "c.mat", img * np.exp(1j), year=2023)
    np.testing.assert_allclose(h5py.File(c, "r")["img4ranking"][()], arr, rtol=1e-6)


def test_submission_of_ranked_images(tmp_path):
    img = np.random.default_rng(0).random((5, 6, 13, 17)).astype(np.float32)
    ranked = img[[1, 2]][:, [0, 1, 2]][:, :, 3:10, 5:11]  # run4Ranking by hand (profile tests)
    p = write_cmrxrecon_submission(tmp_path / "r.mat", ranked, year=2024)
    np.testing.assert_array_equal(h5py.File(p, "r")["img4ranking"][()],
                                  np.transpose(ranked, (1, 0, 2, 3)))  # (frames, slices, sy, sx)
    with pytest.raises(ValueError, match="year must be one of"):
        write_cmrxrecon_submission(tmp_path / "x.mat", ranked, year=2022)
    with pytest.raises(ValueError, match="4 dimensions"):
        write_cmrxrecon_submission(tmp_path / "x.mat", ranked[0], year=2024)
    with pytest.raises(ValueError, match="non-finite"):
        write_cmrxrecon_submission(tmp_path / "x.mat", ranked * np.nan, year=2024)


# ====================================================================== FullSample pairing
def _rss_numpy(k):
    """RSS over coils of the centred orthonormal inverse FFT, written with numpy only."""
    img = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), norm="ortho"),
                          axes=(-2, -1))
    return np.sqrt((np.abs(img) ** 2).sum(axis=2))


def _pair_2023(root):
    """AccFactor04 (undersampled, lines LINES) and FullSample of the same subject."""
    base = root / "MultiCoil" / "Cine" / "TrainingSet"
    k = kspace_h5(NT, NZ, NC, NY, NX)
    write_plain_v73(base / "FullSample" / "P001" / "cine_sax.mat", {"kspace_full": (k, "single")})
    kus = k.copy()
    drop = [y for y in range(NY) if y not in LINES]
    kus[:, :, :, drop, :] = np.zeros((), kus.dtype)
    p = write_plain_v73(base / "AccFactor04" / "P001" / "cine_sax.mat",
                        {"kspace_sub04": (kus, "single")})
    m = np.zeros((NY, NX))
    m[LINES, :] = 1
    write_plain_v73(p.with_name("cine_sax_mask.mat"), {"mask04": (m, "double")})
    return p, base / "FullSample" / "P001" / "cine_sax.mat"


def test_undersampled_file_is_paired_with_its_fullsample_reference(tmp_path):
    p, full = _pair_2023(tmp_path)
    case = read_cmrxrecon(p)
    expected = _rss_numpy(expected_case_kspace(NZ, NT, NC, NY, NX).astype(np.complex128))
    assert case.reference.shape == (NZ, NT, NY, NX) and case.reference.dtype == np.float32
    np.testing.assert_allclose(case.reference, expected, rtol=1e-5, atol=1e-3)
    assert case.meta.extra["reference_file"] == str(full)
    # the k-space is still the undersampled one, with its mask
    assert np.flatnonzero(case.mask[0, 0, 0, :, 0]).tolist() == LINES
    assert not np.any(case.kspace[:, :, :, [y for y in range(NY) if y not in LINES]])
    # a lazy read of one slice pairs the same slice
    one = open_cmrxrecon(p).read([1])
    np.testing.assert_allclose(one.reference[0], expected[1], rtol=1e-5, atol=1e-3)
    # opting out, and the fully sampled file itself, have no reference
    assert read_cmrxrecon(p, fullsample=False).reference is None
    assert read_cmrxrecon(full).reference is None


def test_fullsample_pair_of_another_shape_is_refused(tmp_path):
    p, full = _pair_2023(tmp_path)
    write_plain_v73(full, {"kspace_full": (kspace_h5(NT + 1, NZ, NC, NY, NX), "single")})
    err = _raises(LayoutError, lambda: read_cmrxrecon(p), p)
    assert "fully sampled pair" in str(err) and "fullsample=False" in str(err)
    _raises(LayoutError, lambda: read_cmrxrecon(p, fullsample=tmp_path / "nope.mat"), p)


def test_mapping_csv_in_the_challenge_layout(tmp_path):
    """The challenge CSVs start each row with a label cell ('TI1'...) and may pad a slice
    with fewer images with zero TIs; T2map.csv may hold one column shared by all slices."""
    nw, nz = 4, 2
    d = tmp_path / "MultiCoil" / "Mapping" / "TrainingSet" / "FullSample" / "P002"
    (d.parent.parent / "AccFactor04").mkdir(parents=True)
    write_plain_v73(d / "T1map.mat", {"kspace_full": (kspace_h5(nw, nz, 2, NY, NX), "single")})
    (d / "T1map.csv").write_text(",slice1,slice2\nTI1,100,105\nTI2,1100,1105\n"
                                 "TI3,2100,2105\nTI4,180,0\n")
    case = read_cmrxrecon(d / "T1map.mat")
    ti = case.meta.timings_ms["TI"]
    assert [len(col) for col in ti] == [nw] * nz  # every frame of every slice has its TI
    assert ti == [[100.0, 1100.0, 2100.0, 180.0], [105.0, 1105.0, 2105.0, 0.0]]
    assert case.meta.extra["ti_padded_frames"] == {"1": [3]}
    write_plain_v73(d / "T2map.mat", {"kspace_full": (kspace_h5(3, nz, 2, NY, NX), "single")})
    (d / "T2map.csv").write_text("TE,value\nTE1,0\nTE2,35\nTE3,55\n")
    assert read_cmrxrecon(d / "T2map.mat").meta.timings_ms == {
        "TE": [[0.0, 35.0, 55.0], [0.0, 35.0, 55.0]]}
    (d / "T2map.csv").write_text("TE,value\nTE1,0\nTE2,abc\nTE3,55\n")
    _raises(LayoutError, lambda: read_cmrxrecon(d / "T2map.mat"), d / "T2map.csv")

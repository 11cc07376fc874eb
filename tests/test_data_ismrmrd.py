"""ISMRMRD writer and reader, checked against independent numpy references (STYLE R12).

The OCMR-layout file is written with the plain ``ismrmrd`` package (``Dataset`` +
``append_acquisition``, as OCMR's converter output is read by ``read_ocmr.py``), never with
our writer; its expected k-space is built here with numpy from a known image.
"""

from __future__ import annotations

import hashlib

import h5py
import ismrmrd
import ismrmrd.xsd as X
import numpy as np
import pytest

from suite.case import Case, CaseMeta
from suite.data import (
    LayoutError,
    inspect,
    load,
    open_ismrmrd,
    read_ismrmrd,
    write_ismrmrd,
)

RNG_SEED = 1234


# ---------------------------------------------------------------------- independent numpy FFTs
def np_fft_c(x, axes):
    return np.fft.fftshift(np.fft.fftn(np.fft.ifftshift(x, axes=axes), axes=axes, norm="ortho"),
                           axes=axes)


def np_ifft_c(x, axes):
    return np.fft.fftshift(np.fft.ifftn(np.fft.ifftshift(x, axes=axes), axes=axes, norm="ortho"),
                           axes=axes)


def make_case(shape=(2, 4, 3, 10, 12), *, undersample=False, seed=0):
    rng = np.random.default_rng(seed)
    k = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    s, f, c, ny, nx = shape
    if undersample:
        mask = np.zeros((1, f, 1, ny, 1), bool)
        for fr in range(f):
            mask[0, fr, 0, fr % 3::3] = True
        mask[:, :, :, ny // 2 - 1:ny // 2 + 2] = True
    else:
        mask = np.ones((1, 1, 1, ny, 1), bool)
    k = k * mask
    meta = CaseMeta(subject="sub-01", dataset="phantom", series="cine_sax", vendor="SimVendor",
                    field_strength_t=1.5, site="Site A", pixel_spacing_mm=(1.3, 1.7),
                    slice_thickness_mm=8.0, slice_spacing_mm=10.0, heart_rate_bpm=61.5,
                    temporal_resolution_ms=40.1, ed_frame=0, es_frame=2,
                    annotated_frames=(0, 2), strata={"vendor": "SimVendor", "site": "Site A"},
                    timings_ms={"TI": [100.0, 200.0]}, audit_flags={"zero_padded": False},
                    extra={"tr_ms": 3.0, "te_ms": 1.5, "flip_angle_deg": 60.0, "seed": 7})
    return Case(kspace=k, mask=mask, meta=meta)


def meta_without_reader_keys(meta: CaseMeta) -> dict:
    d = meta.to_dict()
    for key in ("source_file", "source_sha256"):
        d.pop(key)
    for key in ("ismrmrd_reader", "prewhitened", "noise_samples", "slice_geometry"):
        d["extra"].pop(key, None)
    return d


# ---------------------------------------------------------------------- round trip
def test_round_trip_fully_sampled(tmp_path):
    case = make_case()
    path = write_ismrmrd(tmp_path / "a.h5", case)
    back = read_ismrmrd(path)
    assert back.kspace.dtype == np.complex64
    np.testing.assert_array_equal(back.kspace, case.kspace)
    assert back.mask.shape == case.mask.shape
    np.testing.assert_array_equal(back.mask, case.mask)
    assert meta_without_reader_keys(back.meta) == meta_without_reader_keys(case.meta)
    assert back.meta.source_file == str(path)
    assert back.meta.source_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_round_trip_undersampled_mask_recovered(tmp_path):
    case = make_case(undersample=True)
    back = read_ismrmrd(write_ismrmrd(tmp_path / "u.h5", case))
    np.testing.assert_array_equal(back.mask, case.mask)
    np.testing.assert_array_equal(back.kspace, case.kspace)
    # one Acquisition per acquired (slice, frame, ky) line, nothing else
    with h5py.File(tmp_path / "u.h5", "r") as f:
        n = f["dataset/data"].shape[0]
    assert n == case.kspace.shape[0] * int(case.mask.sum())


def test_mask_without_stored_shape_is_minimal(tmp_path):
    """A file without the cmrsuite mask-shape parameter gets (1, frame, 1, ky, 1) masks."""
    case = make_case(undersample=True)
    path = write_ismrmrd(tmp_path / "u.h5", case)
    src = open_ismrmrd(path)
    src.header.userParameters.userParameterString = []  # as a foreign writer would leave it
    from suite.data import ismrmrd_reader as ismrmrd_io

    src2 = ismrmrd_io._classify(path, src.header, src.layout, src.heads, src.options)
    assert src2.read().mask.shape == (1, 4, 1, 10, 1)


def test_writer_header_is_standard(tmp_path):
    case = make_case()
    path = write_ismrmrd(tmp_path / "h.h5", case)
    with ismrmrd.Dataset(str(path), "dataset", mode="r") as ds:
        hdr = X.CreateFromDocument(ds.read_xml_header())
        acq = ds.read_acquisition(0)
        n = ds.number_of_acquisitions()
    e = hdr.encoding[0]
    assert (e.encodedSpace.matrixSize.x, e.encodedSpace.matrixSize.y) == (12, 10)
    assert e.reconSpace.fieldOfView_mm.x == pytest.approx(12 * 1.7)
    assert e.reconSpace.fieldOfView_mm.y == pytest.approx(10 * 1.3)
    assert e.reconSpace.fieldOfView_mm.z == pytest.approx(8.0)
    assert e.encodingLimits.kspace_encoding_step_1.center == 5
    assert e.encodingLimits.phase.maximum == 3 and e.encodingLimits.slice.maximum == 1
    assert hdr.acquisitionSystemInformation.receiverChannels == 3
    assert hdr.acquisitionSystemInformation.systemVendor == "SimVendor"
    assert hdr.acquisitionSystemInformation.institutionName == "Site A"
    assert hdr.subjectInformation.patientID == "sub-01"
    assert hdr.measurementInformation.protocolName == "cine_sax"
    assert list(hdr.sequenceParameters.TR) == [3.0]
    assert acq.data.shape == (3, 12) and n == 2 * 4 * 10
    np.testing.assert_array_equal(acq.data, case.kspace[0, 0, :, 0, :])
    assert acq.is_flag_set(ismrmrd.ACQ_FIRST_IN_SLICE)


@pytest.mark.parametrize("oversampling", [1, 2])
def test_writer_is_deterministic(tmp_path, oversampling):
    case = make_case(undersample=True)
    a = write_ismrmrd(tmp_path / "a.h5", case, oversampling=oversampling)
    b = write_ismrmrd(tmp_path / "b.h5", case, oversampling=oversampling)
    assert a.read_bytes() == b.read_bytes()


def test_oversampled_write_matches_numpy_and_reads_back(tmp_path):
    case = make_case(shape=(1, 2, 2, 8, 10))
    path = write_ismrmrd(tmp_path / "os.h5", case, oversampling=2)
    # independent expectation of the written samples: image zero-padded to 2x FOV
    img = np_ifft_c(case.kspace[0, 0], axes=(-1,))
    pad = np.zeros(img.shape[:-1] + (20,), complex)
    pad[..., 5:15] = img
    expected = np_fft_c(pad, axes=(-1,))
    with ismrmrd.Dataset(str(path), "dataset", mode="r") as ds:
        acq = ds.read_acquisition(3)
    np.testing.assert_allclose(acq.data, expected[:, 3, :], atol=1e-5)
    back = read_ismrmrd(path)
    np.testing.assert_allclose(back.kspace, case.kspace, atol=1e-5)
    assert back.meta.extra["ismrmrd_reader"]["readout_oversampling_removed"] == 2


def test_asymmetric_echo_round_trip(tmp_path):
    case = make_case(shape=(1, 2, 2, 8, 12))
    mask = np.ones((1, 1, 1, 8, 12), bool)
    mask[..., :3] = False
    case = case.replace(kspace=case.kspace * mask, mask=mask)
    back = read_ismrmrd(write_ismrmrd(tmp_path / "asym.h5", case))
    np.testing.assert_array_equal(back.mask, mask)
    np.testing.assert_array_equal(back.kspace, case.kspace)


def test_lazy_slice_read(tmp_path):
    case = make_case(shape=(3, 2, 2, 6, 8))
    src = open_ismrmrd(write_ismrmrd(tmp_path / "s.h5", case))
    assert src.shape == (3, 2, 2, 6, 8)
    one = src.read(slices=[2])
    np.testing.assert_array_equal(one.kspace, case.kspace[2:3])
    assert one.meta.extra["slice_indices"] == [2]


def test_writer_rejects_coil_varying_mask(tmp_path):
    case = make_case(shape=(1, 1, 2, 4, 4))
    mask = np.ones((1, 1, 2, 4, 1), bool)
    mask[0, 0, 1, 0] = False
    with pytest.raises(ValueError, match="varies by coil"):
        write_ismrmrd(tmp_path / "x.h5", case.replace(kspace=case.kspace * mask, mask=mask))


# ---------------------------------------------------------------------- OCMR layout
NC, NX, NXE, NY, NPH, NSL, NAVG = 4, 16, 32, 12, 3, 2, 2
NS_ASYM = 24  # readout samples actually acquired (of 32): asymmetric echo
NOISE_ACQ, NOISE_NS = 40, 128


def _ocmr_header():
    enc_space = X.encodingSpaceType(matrixSize=X.matrixSizeType(x=NXE, y=NY, z=1),
                                    fieldOfView_mm=X.fieldOfViewMm(x=2 * 320.0, y=240.0, z=8.0))
    rec_space = X.encodingSpaceType(matrixSize=X.matrixSizeType(x=NX, y=NY, z=1),
                                    fieldOfView_mm=X.fieldOfViewMm(x=320.0, y=240.0, z=8.0))
    lim = X.encodingLimitsType(
        kspace_encoding_step_0=X.limitType(minimum=0, maximum=NXE - 1, center=NXE // 2),
        kspace_encoding_step_1=X.limitType(minimum=0, maximum=NY - 1, center=NY // 2),
        slice=X.limitType(minimum=0, maximum=NSL - 1, center=0),
        phase=X.limitType(minimum=0, maximum=NPH - 1, center=0),
        average=X.limitType(minimum=0, maximum=NAVG - 1, center=0))
    enc = X.encodingType(encodedSpace=enc_space, reconSpace=rec_space, encodingLimits=lim,
                         trajectory=X.trajectoryType.CARTESIAN)
    return X.ismrmrdHeader(
        experimentalConditions=X.experimentalConditionsType(H1resonanceFrequency_Hz=63_676_000),
        acquisitionSystemInformation=X.acquisitionSystemInformationType(
            systemVendor="SIEMENS", systemModel="Avanto", systemFieldStrength_T=1.4940,
            receiverChannels=NC, institutionName="OSU"),
        sequenceParameters=X.sequenceParametersType(TR=[35.2], TE=[1.41], flipAngle_deg=[50.0]),
        encoding=[enc])


@pytest.fixture(scope="module")
def ocmr_file(tmp_path_factory):
    """An OCMR-layout file written with plain ismrmrd, and the numpy expectation."""
    rng = np.random.default_rng(RNG_SEED)
    path = tmp_path_factory.mktemp("ocmr") / "fs_0001_1_5T.h5"
    # known coil images (slice, phase, coil, y, x) and their oversampled k-space
    img = (rng.standard_normal((NSL, NPH, NC, NY, NX))
           + 1j * rng.standard_normal((NSL, NPH, NC, NY, NX)))
    pad = np.zeros((NSL, NPH, NC, NY, NXE), complex)
    pad[..., (NXE - NX) // 2:(NXE - NX) // 2 + NX] = img
    k_os = np_fft_c(pad, axes=(-2, -1)).astype(np.complex64)
    # noise with a known, correlated covariance
    a = rng.standard_normal((NC, NC)) + 1j * rng.standard_normal((NC, NC))
    mix = np.eye(NC) + 0.3 * a
    psi_true = mix @ mix.conj().T
    noise = [(mix @ (rng.standard_normal((NC, NOISE_NS))
                     + 1j * rng.standard_normal((NC, NOISE_NS))) / np.sqrt(2)).astype(np.complex64)
             for _ in range(NOISE_ACQ)]
    # undersampling: phase 1 misses ky lines 0, 1, 10
    missing = {(sl, 1, ky) for sl in range(NSL) for ky in (0, 1, 10)}
    dev = (0.1 * (rng.standard_normal(k_os.shape) + 1j * rng.standard_normal(k_os.shape))
           ).astype(np.complex64)
    with ismrmrd.Dataset(str(path), "dataset", create_if_needed=True) as ds:
        ds.write_xml_header(X.ToXML(_ocmr_header()))
        for i, nz in enumerate(noise):
            acq = ismrmrd.Acquisition.from_array(nz)
            acq.set_flag(ismrmrd.ACQ_IS_NOISE_MEASUREMENT)
            acq.sample_time_us = 2.5
            acq.scan_counter = i
            ds.append_acquisition(acq)
        for sl in range(NSL):
            for ph in range(NPH):
                for ky in range(NY):
                    if (sl, ph, ky) in missing:
                        continue
                    for av in range(NAVG):
                        line = k_os[sl, ph, :, ky] + (dev if av == 0 else -dev)[sl, ph, :, ky]
                        acq = ismrmrd.Acquisition.from_array(
                            np.ascontiguousarray(line[:, NXE - NS_ASYM:]))
                        acq.center_sample = NXE // 2 - (NXE - NS_ASYM)  # echo early: 8
                        acq.sample_time_us = 2.5
                        acq.idx.kspace_encode_step_1 = ky
                        acq.idx.slice, acq.idx.phase, acq.idx.average = sl, ph, av
                        ds.append_acquisition(acq)
    # ----- independent expectation (numpy only) -----
    x = np.concatenate(noise, axis=1).astype(np.complex128)
    psi_hat = x @ x.conj().T / (x.shape[1] - 1)
    w = np.linalg.inv(np.linalg.cholesky(psi_hat))
    k_asym = k_os.astype(np.complex128).copy()
    k_asym[..., :NXE - NS_ASYM] = 0  # asymmetric echo zero-filled at the start (OCMR)
    dec = np_fft_c(np_ifft_c(k_asym, axes=(-1,))[..., NX // 2:NX // 2 + NX], axes=(-1,))
    n_unsampled = int(np.ceil((NXE - NS_ASYM) / 2))
    dec[..., :n_unsampled] = 0
    for sl, ph, ky in missing:
        dec[sl, ph, :, ky] = 0
    expected = np.einsum("ij,spjyx->spiyx", w, dec)
    unwhitened = dec.copy()
    mask = np.ones((1, NPH, 1, NY, NX), bool)
    mask[..., :n_unsampled] = False
    mask[0, 1, 0, [0, 1, 10]] = False
    return {"path": path, "expected": expected, "mask": mask, "psi_true": psi_true,
            "psi_hat": psi_hat, "w": w, "noise": x, "image": img, "unwhitened": unwhitened}


def test_ocmr_layout_values(ocmr_file):
    case = read_ismrmrd(ocmr_file["path"], dataset="ocmr")
    assert case.kspace.shape == (NSL, NPH, NC, NY, NX)
    scale = np.abs(ocmr_file["expected"]).max()
    np.testing.assert_allclose(case.kspace, ocmr_file["expected"], atol=1e-5 * scale)
    np.testing.assert_array_equal(case.mask, ocmr_file["mask"])
    assert case.meta.extra["prewhitened"] is True
    assert case.meta.extra["noise_samples"] == NOISE_ACQ * NOISE_NS


def test_ocmr_noise_covariance_is_whitened(ocmr_file):
    """The estimated covariance approaches the true one; whitened noise is white."""
    psi_hat, psi_true, w, x = (ocmr_file[k] for k in ("psi_hat", "psi_true", "w", "noise"))
    rel = np.linalg.norm(psi_hat - psi_true) / np.linalg.norm(psi_true)
    assert rel < 0.1
    white = w @ x
    cov = white @ white.conj().T / (white.shape[1] - 1)
    np.testing.assert_allclose(cov, np.eye(NC), atol=1e-8)


def test_ocmr_without_prewhitening(ocmr_file):
    """prewhiten=False: the decimated, zero-filled, averaged k-space itself."""
    case = read_ismrmrd(ocmr_file["path"], prewhiten=False)
    ref = ocmr_file["unwhitened"]
    np.testing.assert_allclose(case.kspace, ref, atol=1e-5 * np.abs(ref).max())
    assert case.meta.extra["prewhitened"] is False


def test_ocmr_meta(ocmr_file):
    case = read_ismrmrd(ocmr_file["path"], dataset="ocmr")
    m = case.meta
    assert (m.vendor, m.site, m.dataset) == ("SIEMENS", "OSU", "ocmr")
    assert m.field_strength_t == pytest.approx(1.494)
    assert m.pixel_spacing_mm == pytest.approx((240.0 / NY, 320.0 / NX))
    assert m.slice_thickness_mm == pytest.approx(8.0)
    assert m.extra["tr_ms"] == pytest.approx(35.2) and m.extra["flip_angle_deg"] == 50.0
    assert m.source_sha256 == hashlib.sha256(ocmr_file["path"].read_bytes()).hexdigest()
    assert m.subject == "fs_0001_1_5T"


def test_ocmr_inspect(ocmr_file):
    info = inspect(ocmr_file["path"])
    assert info["format"] == "ismrmrd"
    assert info["dims"] == [NSL, NPH, NC, NY, NX]
    assert info["coils"] == NC and info["matrix"] == [NY, NX]
    assert info["flags"]["noise_scans"] == NOISE_ACQ
    assert info["flags"]["oversampled"] and info["flags"]["asymmetric_echo"]
    assert info["flags"]["averages"] == NAVG
    frac = 1 - 6 / (NSL * NPH * NY)
    assert info["sampling"]["fraction"] == pytest.approx(frac)
    assert info["sampling"]["effective_acceleration"] == pytest.approx(1 / frac)
    assert info["vendor"] == "SIEMENS" and info["field_strength_t"] == pytest.approx(1.494)
    import json
    json.dumps(info)


def test_load_yields_case_from_file(ocmr_file):
    cases = list(load(ocmr_file["path"]))
    assert len(cases) == 1 and cases[0].kspace.shape == (NSL, NPH, NC, NY, NX)


# ---------------------------------------------------------------------- repetitions / sets
def _write_plain(path, *, reps=1, sets=1, nc=2, ny=4, nx=6):
    rng = np.random.default_rng(3)
    k = (rng.standard_normal((sets, reps, ny, nc, nx))
         + 1j * rng.standard_normal((sets, reps, ny, nc, nx))).astype(np.complex64)
    space = X.encodingSpaceType(matrixSize=X.matrixSizeType(x=nx, y=ny, z=1),
                                fieldOfView_mm=X.fieldOfViewMm(x=60.0, y=40.0, z=5.0))
    lim = X.encodingLimitsType(
        kspace_encoding_step_1=X.limitType(minimum=0, maximum=ny - 1, center=ny // 2),
        repetition=X.limitType(minimum=0, maximum=reps - 1, center=0),
        set=X.limitType(minimum=0, maximum=sets - 1, center=0))
    hdr = X.ismrmrdHeader(
        experimentalConditions=X.experimentalConditionsType(H1resonanceFrequency_Hz=1),
        acquisitionSystemInformation=X.acquisitionSystemInformationType(receiverChannels=nc),
        encoding=[X.encodingType(encodedSpace=space, reconSpace=space, encodingLimits=lim,
                                 trajectory=X.trajectoryType.CARTESIAN)])
    acqs = []
    for st in range(sets):
        for r in range(reps):
            for ky in range(ny):
                a = ismrmrd.Acquisition.from_array(k[st, r, ky])
                a.idx.kspace_encode_step_1, a.idx.repetition, a.idx.set = ky, r, st
                a.center_sample = nx // 2
                acqs.append(a)
    with ismrmrd.File(str(path), "w") as f:  # bulk write (ismrmrd-python ismrmrd/file.py)
        f["dataset"].header = hdr
        f["dataset"].acquisitions = acqs
    return k


def test_repetitions_as_frames_or_averaged(tmp_path):
    k = _write_plain(tmp_path / "rt.h5", reps=3)
    frames = read_ismrmrd(tmp_path / "rt.h5")
    assert frames.kspace.shape == (1, 3, 2, 4, 6)
    np.testing.assert_array_equal(frames.kspace[0], k[0].transpose(0, 2, 1, 3))
    avg = read_ismrmrd(tmp_path / "rt.h5", repetitions="average")
    np.testing.assert_allclose(avg.kspace[0, 0], k[0].mean(axis=0).transpose(1, 0, 2),
                               atol=1e-6)


def test_sets_need_a_choice(tmp_path):
    k = _write_plain(tmp_path / "sets.h5", sets=2)
    with pytest.raises(LayoutError, match="set_index"):
        read_ismrmrd(tmp_path / "sets.h5")
    one = read_ismrmrd(tmp_path / "sets.h5", set_index=1)
    np.testing.assert_array_equal(one.kspace[0, 0], k[1, 0].transpose(1, 0, 2))


def test_line_accumulation_equals_numpy_add_at():
    """The reader's fast accumulation (one fancy-indexed ``+=`` for distinct lines) equals
    ``np.add.at`` bit for bit, with distinct lines, repeated lines (averages) and on counts."""
    from suite.data.ismrmrd_reader import _add_at

    rng = np.random.default_rng(3)
    # distinct lines, then line (slice 1, frame 0, ky 4) acquired twice
    for frames, lines in (([2, 0, 1, 2], [0, 3, 5, 7]), ([2, 0, 0, 2], [1, 4, 4, 6])):
        s, f, ky = np.array([0, 1, 1, 0]), np.array(frames), np.array(lines)
        vals = (rng.standard_normal((4, 3, 5)) + 1j * rng.standard_normal((4, 3, 5)))
        vals = vals.astype(np.complex64)
        got = (rng.standard_normal((2, 3, 3, 8, 9)) * 1e3).astype(np.complex64)
        want = got.copy()
        _add_at(got, (s, f, slice(None), ky, slice(2, 7)), vals)
        np.add.at(want, (s, f, slice(None), ky, slice(2, 7)), vals)
        assert got.tobytes() == want.tobytes()
        cnt, ref = np.zeros((2, 3, 8), np.int32), np.zeros((2, 3, 8), np.int32)
        _add_at(cnt, (s, f, ky), 1)
        np.add.at(ref, (s, f, ky), 1)
        assert np.array_equal(cnt, ref)


def test_placed_samples_equal_the_line_sums_bit_for_bit(tmp_path):
    """One acquisition per line (the reader places the samples instead of accumulating them):
    the k-space is, to the bit, ``0.0 + sample`` divided by the line count (1), each sample as
    ismrmrd's own ``Dataset.read_acquisition`` returns it; ``-0.0`` parts come out ``+0.0``.
    The acquisitions are written in shuffled order, two ky lines of one frame are missing."""
    path = tmp_path / "signed.h5"
    k = _write_plain(path, reps=3, nc=3, ny=5, nx=7)  # (set, rep, ky, coil, x), complex64
    rng = np.random.default_rng(8)
    k = k[0]
    flat = k.view(np.float32).reshape(-1)
    flat[rng.choice(flat.size, 40, replace=False)] = -0.0
    flat[rng.choice(flat.size, 10, replace=False)] = np.float32(1e-42)  # subnormal
    order = rng.permutation([(r, ky) for r in range(3) for ky in range(5)
                             if (r, ky) not in {(1, 0), (1, 3)}])
    with ismrmrd.File(str(path), "r") as f:
        hdr = f["dataset"].header
    path.unlink()
    acqs = []
    for r, ky in order:
        a = ismrmrd.Acquisition.from_array(k[r, ky])
        a.idx.kspace_encode_step_1, a.idx.repetition, a.center_sample = ky, r, 3
        acqs.append(a)
    with ismrmrd.File(str(path), "w") as f:
        f["dataset"].header, f["dataset"].acquisitions = hdr, acqs
    want = np.zeros((1, 3, 3, 5, 7), np.complex64)
    count = np.zeros((1, 3, 1, 5, 1), np.float32)
    ds = ismrmrd.Dataset(str(path), "dataset", create_if_needed=False)
    try:
        for i in range(ds.number_of_acquisitions()):
            a = ds.read_acquisition(i)
            r, ky = a.idx.repetition, a.idx.kspace_encode_step_1
            want[0, r, :, ky] += a.data
            count[0, r, 0, ky] += 1
    finally:
        ds.close()
    want /= np.maximum(count, 1)
    got = read_ismrmrd(path)
    assert got.kspace.tobytes() == want.tobytes()
    assert np.signbit(got.kspace.view(np.float32)[got.kspace.view(np.float32) == 0]).sum() == 0
    assert np.signbit(k.view(np.float32)).sum() > np.signbit(want.view(np.float32)).sum()
    assert got.mask[0, 1, 0, :, 0].tolist() == [False, True, True, False, True]


def test_read_reads_the_acquisitions_once(tmp_path, monkeypatch):
    """``read_ismrmrd`` reads ``/dataset/data`` once (headers and samples in one read; a
    ``head``-only read costs as much, docs/performance.md); ``open_ismrmrd`` + ``read`` of a
    slice reads the headers at open and the slice's samples at read."""
    path = write_ismrmrd(tmp_path / "once.h5", make_case())
    reads = []
    original = h5py.Dataset.__getitem__

    def counting(self, key, **kwargs):
        if self.name == "/dataset/data":
            reads.append(key)
        return original(self, key, **kwargs)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", counting)
    whole = read_ismrmrd(path)
    assert len(reads) == 1
    reads.clear()
    part = open_ismrmrd(path).read(slices=[1])
    assert len(reads) == 2
    assert part.kspace.tobytes() == whole.kspace[1:2].tobytes()


def test_source_sha256_follows_the_file(tmp_path):
    """``meta.source_sha256`` is the file's SHA-256 (hashlib), remembered per process only
    while the file is unchanged: rewritten with the same size and its modification time set
    back, the file is hashed again."""
    import os

    path = write_ismrmrd(tmp_path / "h.h5", make_case(seed=0))
    first = read_ismrmrd(path).meta.source_sha256
    assert first == hashlib.sha256(path.read_bytes()).hexdigest()
    st = path.stat()
    other = write_ismrmrd(tmp_path / "other.h5", make_case(seed=1)).read_bytes()
    assert len(other) == st.st_size
    path.write_bytes(other)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    again = read_ismrmrd(path).meta.source_sha256
    assert again == hashlib.sha256(other).hexdigest() != first


def test_parse_xml_equals_ismrmrd_parser():
    """``parse_xml`` (one shared xsdata context) gives ismrmrd's ``CreateFromDocument``
    header, twice in a row; a vendor element the schema lacks is skipped."""
    from suite.data.ismrmrd_xml import parse_xml

    xml = X.ToXML(_ocmr_header())
    want = X.CreateFromDocument(xml)
    assert parse_xml(xml) == want and parse_xml(xml.encode()) == want
    vendor = xml.replace("<encoding>", "<vendorThing>7</vendorThing><encoding>", 1)
    assert vendor != xml
    with pytest.raises(Exception):
        X.CreateFromDocument(vendor)
    assert parse_xml(vendor) == want

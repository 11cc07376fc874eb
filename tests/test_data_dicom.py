"""DICOM cine reader: series written here with pydicom, checked against the volume they hold.

The independent reference is the construction itself: a known stored volume, a rotation
matrix whose third column is the slice normal (the reader uses cross(row, column) of the
Image Orientation), positions placed along that normal, trigger times and rescale values
chosen here; files are written in shuffled order with random names.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, MRImageStorage, \
    generate_uid

from suite.data import CaseReadError, CorruptFileError, LayoutError, inspect, iter_cases, load
from suite.data.dicom import find_dicom_series, is_dicom, open_dicom_series, read_dicom_series

NS, NF, NY, NX = 4, 5, 12, 10            # slices, frames, rows (y), columns (x)
DY, DX = 1.4, 1.2                        # PixelSpacing = [row spacing, column spacing], mm
SPACING, THICKNESS = 10.0, 8.0           # centre-to-centre vs nominal thickness, mm
DT, SLOPE, INTERCEPT = 40.0, 0.5, -100.0


def _rotation(a_deg=35.0, b_deg=-25.0, c_deg=10.0):
    """Double-angulated orientation: rotations about x, then y, then z (columns = axes)."""
    a, b, c = np.deg2rad([a_deg, b_deg, c_deg])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _volume(seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 4000, (NS, NF, NY, NX)).astype(np.uint16)


def _dataset(path, sop_class, ts, *, study_uid, series_uid, modality="MR"):
    """A new file dataset: file meta, SOP class/instance, modality, patient, study, series."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ts
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientName, ds.PatientID = "Doe^Jane", "P001"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    return ds


def _write(path, pixels, *, ipp, iop, trigger, instance, series_uid, study_uid,
           ts=ExplicitVRLittleEndian, series_number=7, description="cine_sax",
           modality="MR", thickness=THICKNESS, drop=(), **tags):
    ds = _dataset(path, MRImageStorage, ts, study_uid=study_uid, series_uid=series_uid,
                  modality=modality)
    ds.SeriesNumber, ds.SeriesDescription, ds.ProtocolName = series_number, description, \
        "tfi_cine_sax"
    ds.Manufacturer, ds.InstitutionName = "SIEMENS", "Site A"
    ds.MagneticFieldStrength, ds.SequenceName, ds.ScanningSequence = 1.5, "*tfi2d1_12", "GR"
    ds.HeartRate = 62
    ds.ImagePositionPatient = [f"{v:.6f}" for v in ipp]
    ds.ImageOrientationPatient = [f"{v:.8f}" for v in iop]
    ds.PixelSpacing = [DY, DX]
    ds.SliceThickness = thickness
    ds.TriggerTime = f"{trigger:.3f}"
    ds.InstanceNumber = instance
    ds.RescaleSlope, ds.RescaleIntercept = SLOPE, INTERCEPT
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = pixels.astype("<u2").tobytes()
    for k, v in tags.items():
        setattr(ds, k, v)
    for k in drop:
        delattr(ds, k)
    ds.save_as(str(path), enforce_file_format=True)
    return path


def _series(folder, vol=None, *, seed=1, ts=ExplicitVRLittleEndian, per_slice_series=False,
            rot=None, skip=(), description="cine_sax", study_uid=None, series_number=7,
            positions=None):
    """Write ``vol`` (slice, frame, y, x) as a cine series; return (files, expected, info)."""
    vol = _volume() if vol is None else vol
    ns, nf = vol.shape[:2]
    rng = np.random.default_rng(seed)
    rot = _rotation() if rot is None else rot
    r, c, n = rot[:, 0], rot[:, 1], rot[:, 2]
    iop = list(r) + list(c)
    study = study_uid or generate_uid()
    uids = [generate_uid() for _ in range(ns)] if per_slice_series else [generate_uid()] * ns
    centre = np.array([12.0, -30.0, 55.0])
    pos = np.arange(ns) * SPACING if positions is None else np.asarray(positions)
    jobs = [(s, f) for s in range(ns) for f in range(nf) if (s, f) not in skip]
    order = rng.permutation(len(jobs))
    instances = rng.permutation(len(jobs)) + 1     # instance numbers unrelated to order
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for j in order:
        s, f = jobs[j]
        ipp = centre + pos[s] * n - (NY // 2) * DY * c - (NX // 2) * DX * r
        name = uuid.UUID(int=int(rng.integers(0, 2**62))).hex[-12:]
        name += ".dcm" if j % 2 else ""            # half without an extension
        files.append(_write(folder / name, vol[s, f], ipp=ipp, iop=iop,
                            trigger=f * DT + 0.5 * s, instance=int(instances[j]),
                            series_uid=uids[s], study_uid=study, ts=ts,
                            series_number=series_number + (s if per_slice_series else 0),
                            description=description))
    expected = vol.astype(np.float64) * SLOPE + INTERCEPT
    return files, expected.astype(np.float32), {"normal": n, "study": study, "uids": uids}


# ---------------------------------------------------------------------- recovery
@pytest.mark.parametrize("ts", [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
def test_recovers_known_volume(tmp_path, ts):
    files, expected, _ = _series(tmp_path / "exam", ts=ts)
    case = read_dicom_series(tmp_path / "exam")
    m = case.meta
    assert case.reference.dtype == np.float32
    assert case.reference.shape == (NS, NF, NY, NX)
    np.testing.assert_array_equal(case.reference, expected)
    assert m.pixel_spacing_mm == (DY, DX)
    assert m.slice_spacing_mm == pytest.approx(SPACING, abs=1e-5)
    assert m.slice_thickness_mm == THICKNESS
    assert m.temporal_resolution_ms == pytest.approx(DT)
    assert (m.vendor, m.field_strength_t, m.site, m.sequence) == \
        ("SIEMENS", 1.5, "Site A", "*tfi2d1_12")
    assert m.heart_rate_bpm == 62 and m.subject == "P001" and m.dataset == "dicom"
    assert "Doe" not in repr(m.to_dict())                      # no patient name anywhere
    assert m.audit_flags == {}
    assert np.all(np.diff(m.extra["slice_positions_mm"]) > 0)
    assert m.extra["interslice_gap_mm"] == pytest.approx(SPACING - THICKNESS, abs=1e-5)
    assert m.strata == {"vendor": "SIEMENS", "field_strength_t": 1.5, "site": "Site A"}
    # combined SHA-256 recomputed here: sorted "<relative path> <sha256>\n" lines
    lines = sorted(f"{p.name} {hashlib.sha256(p.read_bytes()).hexdigest()}\n" for p in files)
    assert m.source_sha256 == hashlib.sha256("".join(lines).encode()).hexdigest()
    [loaded] = list(load(tmp_path / "exam"))
    np.testing.assert_array_equal(loaded.reference, expected)


def test_slice_order_follows_normal_not_z(tmp_path):
    """Positions placed against the z axis: the order is along cross(row, column)."""
    rot = _rotation(120.0, 40.0, -30.0)          # normal with a negative z component
    assert rot[2, 2] < 0
    _, expected, info = _series(tmp_path / "s", rot=rot)
    case = read_dicom_series(tmp_path / "s")
    np.testing.assert_array_equal(case.reference, expected)
    np.testing.assert_allclose(case.meta.extra["slice_normal"], info["normal"], atol=1e-6)
    z = [p[2] for p in case.meta.extra["image_position_patient"]]
    assert np.all(np.diff(z) < 0)                # z descends while the slice index ascends


def test_lazy_open_reads_one_slice(tmp_path):
    _, expected, _ = _series(tmp_path / "s")
    src = open_dicom_series(tmp_path / "s")
    assert src.shape == (NS, NF, NY, NX) and src.meta.source_sha256 is None
    np.testing.assert_array_equal(src.read_slice(2), expected[2])


def test_frame_order_falls_back_to_instance_number(tmp_path):
    vol = _volume()
    rot = _rotation()
    r, c, n = rot[:, 0], rot[:, 1], rot[:, 2]
    for f in range(NF):
        _write(tmp_path / f"im{(NF - f) * 7}", vol[0, f], ipp=list(n * 3), iop=list(r) + list(c),
               trigger=0.0, instance=f + 1, series_uid="1.2.3.4", study_uid="1.2.3",
               drop=("TriggerTime",) if f == 2 else ())
    case = read_dicom_series(tmp_path)
    np.testing.assert_array_equal(case.reference[0], vol[0] * SLOPE + INTERCEPT)
    assert case.meta.temporal_resolution_ms is None
    assert "instance_number" in case.meta.audit_flags["frame_order"]


def test_gap_and_irregular_spacing_flagged(tmp_path):
    vol = _volume()
    _series(tmp_path / "s", vol, positions=[0.0, 10.0, 20.0, 40.0])   # slice at 30 missing
    m = read_dicom_series(tmp_path / "s").meta
    assert m.slice_spacing_mm == pytest.approx(10.0, abs=1e-5)
    assert m.audit_flags["slice_gaps"][0]["between_slices"] == [2, 3]
    assert m.audit_flags["slice_gaps"][0]["spacing_mm"] == pytest.approx(20.0, abs=1e-4)
    assert "slice_spacing_irregular" in m.audit_flags


# ---------------------------------------------------------------------- grouping
def test_folder_with_two_series(tmp_path):
    study = generate_uid()
    _, e1, i1 = _series(tmp_path / "a", study_uid=study, series_number=3)
    v2 = _volume(5)[:2, :3]
    _, e2, i2 = _series(tmp_path / "b", v2, study_uid=study, series_number=4,
                        description="cine_lax", rot=_rotation(0, 90, 0))
    cases = list(load(tmp_path))
    assert [c.reference.shape for c in cases] == [e1.shape, e2.shape]
    with pytest.raises(LayoutError) as info:
        read_dicom_series(tmp_path)
    assert "2 series found" in str(info.value) and str(tmp_path) in str(info.value)
    np.testing.assert_array_equal(read_dicom_series(tmp_path, series_uid=i2["uids"][0])
                                  .reference, e2)


def test_one_series_per_slice_grouped_as_stack(tmp_path):
    study = generate_uid()
    _, expected, info = _series(tmp_path / "exam", per_slice_series=True, study_uid=study)
    # a long-axis series of the same protocol and study stays out of the stack (orientation)
    _series(tmp_path / "exam" / "lax", _volume(3)[:1], study_uid=study, rot=_rotation(0, 90, 0))
    per_series = list(load(tmp_path / "exam"))
    assert len(per_series) == NS + 1 and all(c.n_slices == 1 for c in per_series)
    stacks = list(load(tmp_path / "exam", group_by="stack"))
    assert sorted(c.n_slices for c in stacks) == [1, NS]
    stack = next(c for c in stacks if c.n_slices == NS)
    np.testing.assert_array_equal(stack.reference, expected)
    assert stack.meta.slice_spacing_mm == pytest.approx(SPACING, abs=1e-5)
    assert sorted(stack.meta.extra["series_instance_uids"]) == sorted(info["uids"])
    one = read_dicom_series(tmp_path / "exam", group_by="stack", series_uid=info["uids"][2])
    np.testing.assert_array_equal(one.reference, expected)
    with pytest.raises(ValueError, match="did you mean 'stack'"):
        read_dicom_series(tmp_path / "exam", group_by="stacks")


# ---------------------------------------------------------------------- errors
def _raises(exc_type, fn, *needles):
    with pytest.raises(CaseReadError) as info:
        fn()
    assert type(info.value) is exc_type, f"{type(info.value).__name__}: {info.value}"
    for needle in needles:
        assert str(needle) in str(info.value), (needle, str(info.value))
    return info.value


def test_missing_frame_in_one_slice(tmp_path):
    _series(tmp_path / "s", skip={(2, 3)})
    err = _raises(LayoutError, lambda: read_dicom_series(tmp_path / "s"), tmp_path / "s")
    assert "different numbers of frames" in err.reason and "slice(s) [2]" in err.reason


def test_mismatched_matrix(tmp_path):
    files, _, info = _series(tmp_path / "s")
    ds = pydicom.dcmread(files[0])
    _write(files[0], np.zeros((NY + 2, NX), np.uint16), ipp=ds.ImagePositionPatient,
           iop=ds.ImageOrientationPatient, trigger=float(ds.TriggerTime),
           instance=ds.InstanceNumber, series_uid=ds.SeriesInstanceUID,
           study_uid=ds.StudyInstanceUID)
    err = _raises(LayoutError, lambda: read_dicom_series(tmp_path / "s"), tmp_path / "s")
    assert f"{NY + 2}x{NX}" in err.reason and f"{NY}x{NX}" in err.reason


@pytest.mark.parametrize("tag,code", [("ImagePositionPatient", "(0020,0032)"),
                                      ("ImageOrientationPatient", "(0020,0037)")])
def test_missing_geometry_tag_names_tag_and_file(tmp_path, tag, code):
    files, _, _ = _series(tmp_path / "s")
    ds = pydicom.dcmread(files[5])
    delattr(ds, tag)
    ds.save_as(files[5])
    err = _raises(LayoutError, lambda: read_dicom_series(tmp_path / "s"), files[5], tag, code)
    assert err.path == files[5]


def test_duplicate_instance(tmp_path):
    files, _, _ = _series(tmp_path / "s")
    shutil.copy(files[3], tmp_path / "s" / "copy_of_one")
    err = _raises(LayoutError, lambda: read_dicom_series(tmp_path / "s"), tmp_path / "s",
                  "copy_of_one", files[3].name)
    assert "duplicate" in err.reason


def test_different_orientation_within_series(tmp_path):
    files, _, _ = _series(tmp_path / "s")
    ds = pydicom.dcmread(files[0])
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.save_as(files[0])
    err = _raises(LayoutError, lambda: read_dicom_series(tmp_path / "s"), tmp_path / "s")
    assert "different orientations" in err.reason and files[0].name in err.reason


def test_non_mr_modality(tmp_path):
    files, _, _ = _series(tmp_path / "s")
    ds = pydicom.dcmread(files[0])
    ds.Modality = "CT"
    ds.save_as(files[0])
    err = _raises(LayoutError, lambda: read_dicom_series(tmp_path / "s"), tmp_path / "s")
    assert "not MR" in err.reason and files[0].name in err.reason


def test_text_file_named_dcm(tmp_path):
    _series(tmp_path / "s")
    bad = tmp_path / "s" / "notes.dcm"
    bad.write_text("exported by hand\n" * 20)
    (tmp_path / "s" / "README.txt").write_text("not DICOM, not named like it: ignored\n")
    assert not is_dicom(bad)
    err = _raises(CorruptFileError, lambda: read_dicom_series(tmp_path / "s"), bad)
    assert "not a DICOM file" in err.reason
    it = iter_cases(tmp_path / "s", on_error="record")
    assert [c.n_slices for c in it] == [NS]
    assert [(f.path, f.error) for f in it.failures] == [(bad, "CorruptFileError")]


def test_pydicom_truncated_file(tmp_path):
    src = get_testdata_file("MR_truncated.dcm")
    err = _raises(CorruptFileError, lambda: read_dicom_series(src), "MR_truncated.dcm")
    assert "truncated" in err.reason


def test_bad_file_among_good_ones_is_recorded(tmp_path):
    files, expected, _ = _series(tmp_path / "s")
    bad = tmp_path / "s" / "zz_truncated"
    shutil.copy(get_testdata_file("MR_truncated.dcm"), bad)
    _raises(CorruptFileError, lambda: read_dicom_series(tmp_path / "s"), bad)
    it = iter_cases(tmp_path / "s", on_error="record")
    [case] = list(it)
    np.testing.assert_array_equal(case.reference, expected)
    assert [(f.path, f.error) for f in it.failures] == [(bad, "CorruptFileError")]
    # a good file of the series truncated: the series is incomplete and fails on its own
    raw = files[0].read_bytes()
    files[0].write_bytes(raw[:-50])
    it = iter_cases(tmp_path / "s", on_error="record")
    assert list(it) == []
    errors = {f.path: f.error for f in it.failures}
    assert errors[files[0]] == "CorruptFileError" and errors[bad] == "CorruptFileError"
    assert "LayoutError" in errors.values()      # the series without files[0] lacks a frame


def test_find_dicom_series_units(tmp_path):
    files, _, info = _series(tmp_path / "s")
    (tmp_path / "s" / "x.dcm").write_bytes(b"")
    units = find_dicom_series(files + [tmp_path / "s" / "x.dcm"])
    assert [u.key for u in units] == [info["uids"][0], None]
    assert len(units[0].files) == NS * NF


# ---------------------------------------------------------------------- bundled file, inspect
def test_pydicom_mr_small():
    path = get_testdata_file("MR_small.dcm")
    case = read_dicom_series(path)
    ds = pydicom.dcmread(path)
    assert case.reference.shape == (1, 1, 64, 64)
    np.testing.assert_array_equal(case.reference[0, 0], ds.pixel_array.astype(np.float32))
    assert case.meta.pixel_spacing_mm == (0.3125, 0.3125)
    assert case.meta.vendor == "TOSHIBA_MEC" and case.meta.subject == "4MR1"
    assert case.meta.slice_spacing_mm is None and case.meta.slice_thickness_mm == 0.8
    assert "CompressedSamples" not in repr(case.meta.to_dict())


@pytest.mark.parametrize("name", ["MR_small_implicit.dcm", "MR_small_bigendian.dcm",
                                  "MR_small_expb.dcm", "MR_small_RLE.dcm",
                                  "MR_small_padded.dcm"])
def test_pydicom_mr_small_encodings(name):
    """Other transfer syntaxes of the same image give the same values as MR_small.dcm."""
    expected = pydicom.dcmread(get_testdata_file("MR_small.dcm")).pixel_array
    case = read_dicom_series(get_testdata_file(name))
    np.testing.assert_array_equal(case.reference[0, 0], expected.astype(np.float32))


@pytest.mark.parametrize("name", ["MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"])
def test_compressed_lossless_series_read_with_the_decoder_plugins(name):
    """Clinical exports are often compressed: JPEG-LS and JPEG 2000 lossless decode (pylibjpeg
    with libjpeg/openjpeg, pyjpegls are dependencies) to the values of the uncompressed file."""
    expected = pydicom.dcmread(get_testdata_file("MR_small.dcm")).pixel_array
    case = read_dicom_series(get_testdata_file(name))
    np.testing.assert_array_equal(case.reference[0, 0], expected.astype(np.float32))


def test_undecodable_syntax_fails_at_open(tmp_path):
    """A transfer syntax no installed plugin decodes (MPEG-2 video here) is refused when the
    series is opened, naming the syntax and the plugins that would decode it."""
    from pydicom.encaps import encapsulate
    from pydicom.uid import MPEG2MPML

    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    ds.file_meta.TransferSyntaxUID = MPEG2MPML
    ds.PixelData = encapsulate([b"\x00" * 64])
    ds["PixelData"].VR = "OB"
    path = tmp_path / "mpeg2.dcm"
    ds.save_as(path, enforce_file_format=True)
    err = _raises(LayoutError, lambda: open_dicom_series(path), "mpeg2.dcm")
    assert "cannot be decoded" in err.reason and MPEG2MPML in err.reason


def test_preambleless_file(tmp_path):
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    ds.preamble = None
    p = tmp_path / "IMG0001"
    ds.save_as(p, enforce_file_format=False)
    assert p.read_bytes()[128:132] != b"DICM" and is_dicom(p)
    [case] = list(load(tmp_path))
    np.testing.assert_array_equal(case.reference[0, 0], ds.pixel_array.astype(np.float32))


def test_inspect_file_and_folder(tmp_path):
    out = inspect(get_testdata_file("MR_small.dcm"))
    assert out["format"] == "dicom" and (out["rows"], out["columns"]) == (64, 64)
    assert (out["slices"], out["frames"], out["vendor"]) == (1, 1, "TOSHIBA_MEC")
    _series(tmp_path / "s")
    out = inspect(tmp_path / "s")
    assert out["format"] == "dicom" and out["dims"] == [NS, NF, NY, NX]
    assert out["pixel_spacing_mm"] == [DY, DX] and out["field_strength_t"] == 1.5
    assert out["slice_spacing_mm"] == pytest.approx(SPACING, abs=1e-5)
    _series(tmp_path / "s2", _volume()[:2])
    out = inspect(tmp_path)
    assert out["n_cases"] == 2 and {c["slices"] for c in out["cases"]} == {NS, 2}


def test_dataset_card(monkeypatch, tmp_path):
    """The card validates and its strata are CaseMeta fields the reader fills."""
    from suite.data import cards

    if "dicom" not in cards.READERS:  # cards.READERS predates this reader: add it here only
        monkeypatch.setattr(cards, "READERS", cards.READERS + ("dicom",))
    card = cards.load_card("dicom-cine")
    assert card.format == "dicom" and card.manifest == {} and card.citation["doi"][:3] == "10."
    _series(tmp_path / "s")
    assert cards.verify(card, tmp_path).ok
    case = read_dicom_series(tmp_path / "s", **card.reader_options)
    assert case.meta.dataset == "dicom-cine"
    for key in card.strata:
        assert getattr(case.meta, key) is not None


# ---------------------------------------------------------------------- enhanced (multi-frame)
ENHANCED_MR = "1.2.840.10008.5.1.4.1.1.4.1"


def _item(**kw):
    ds = pydicom.Dataset()
    for k, v in kw.items():
        setattr(ds, k, v)
    return ds


def _geometry(s, f, rot=None):
    """Position, orientation and trigger time of (slice s, frame f) exactly as ``_series``."""
    rot = _rotation() if rot is None else rot
    r, c, n = rot[:, 0], rot[:, 1], rot[:, 2]
    centre = np.array([12.0, -30.0, 55.0])
    ipp = centre + s * SPACING * n - (NY // 2) * DY * c - (NX // 2) * DX * r
    return ([f"{v:.6f}" for v in ipp], [f"{v:.8f}" for v in list(r) + list(c)],
            f * DT + 0.5 * s)


def _enhanced(path, vol, frames, *, series_uid, study_uid, per_frame_rescale=None,
              timing="trigger", colour=False, drop_macro=None, iop_override=None):
    """Write one Enhanced MR file holding ``frames`` = [(slice, frame), ...] of ``vol``.

    Shared groups: Pixel Measures, Plane Orientation, Pixel Value Transformation (unless
    ``per_frame_rescale`` = [(slope, intercept), ...] puts it per frame). Per frame: Plane
    Position, Frame Content and (``timing="trigger"``) Cardiac Synchronization; with
    ``timing="temporal"`` only TemporalPositionIndex, with ``"dimension"`` only
    DimensionIndexValues = [stack position, temporal index] under a Dimension Index Sequence,
    with ``"none"`` no timing at all.
    ``drop_macro`` = (frame index, keyword) removes one macro of one frame.
    """
    ds = _dataset(path, ENHANCED_MR, ExplicitVRLittleEndian, study_uid=study_uid,
                  series_uid=series_uid)
    ds.SeriesNumber, ds.SeriesDescription, ds.ProtocolName = 7, "cine_sax", "tfi_cine_sax"
    ds.Manufacturer, ds.InstitutionName = "SIEMENS", "Site A"
    ds.MagneticFieldStrength, ds.PulseSequenceName, ds.HeartRate = 1.5, "*tfi2d1_12", 62
    ds.InstanceNumber = 1
    iop = _geometry(0, 0)[1]
    shared = _item(PixelMeasuresSequence=[_item(PixelSpacing=[DY, DX],
                                                SliceThickness=THICKNESS)],
                   PlaneOrientationSequence=[_item(ImageOrientationPatient=iop)])
    if per_frame_rescale is None:
        shared.PixelValueTransformationSequence = [_item(
            RescaleSlope=SLOPE, RescaleIntercept=INTERCEPT, RescaleType="US")]
    ds.SharedFunctionalGroupsSequence = [shared]
    if timing == "dimension":
        ds.DimensionIndexSequence = [
            _item(DimensionIndexPointer=0x00209057, FunctionalGroupPointer=0x00209111),
            _item(DimensionIndexPointer=0x00209128, FunctionalGroupPointer=0x00209111)]
    per = []
    for k, (s, f) in enumerate(frames):
        ipp, _, trigger = _geometry(s, f)
        fc = _item(StackID="1", InStackPositionNumber=s + 1)
        if timing == "dimension":
            fc.DimensionIndexValues = [s + 1, f + 1]
        elif timing != "none":
            fc.TemporalPositionIndex = f + 1
        item = _item(PlanePositionSequence=[_item(ImagePositionPatient=ipp)],
                     FrameContentSequence=[fc])
        if timing == "trigger":
            item.CardiacSynchronizationSequence = [_item(
                NominalCardiacTriggerDelayTime=round(trigger, 3))]
        if per_frame_rescale is not None:
            slope, intercept = per_frame_rescale[k]
            item.PixelValueTransformationSequence = [_item(
                RescaleSlope=slope, RescaleIntercept=intercept, RescaleType="US")]
        if iop_override is not None and k == iop_override[0]:
            item.PlaneOrientationSequence = [_item(ImageOrientationPatient=iop_override[1])]
        if drop_macro is not None and k == drop_macro[0]:
            delattr(item, drop_macro[1])
        per.append(item)
    ds.PerFrameFunctionalGroupsSequence = per
    ds.NumberOfFrames = len(frames)
    ds.Rows, ds.Columns = vol.shape[2:]
    stack = np.stack([vol[s, f] for s, f in frames]).astype("<u2")
    if colour:
        ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        ds.PixelData = np.repeat(stack[..., None], 3, -1).astype(np.uint8).tobytes()
    else:
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = stack.tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    return path


def _shuffled(ns=NS, nf=NF, seed=3, slices=None):
    rng = np.random.default_rng(seed)
    jobs = [(s, f) for s in (range(ns) if slices is None else slices) for f in range(nf)]
    return [jobs[j] for j in rng.permutation(len(jobs))]


@pytest.mark.parametrize("layout", ["one_file", "file_per_slice"])
def test_enhanced_equals_classic(tmp_path, layout):
    """Enhanced MR files (frames shuffled) give the classic series' Case, value for value."""
    vol = _volume(4)
    _series(tmp_path / "classic", vol)
    classic = read_dicom_series(tmp_path / "classic")
    study, uid = generate_uid(), generate_uid()
    (tmp_path / "enh").mkdir()
    if layout == "one_file":
        files = [_enhanced(tmp_path / "enh" / "cine.dcm", vol, _shuffled(),
                           series_uid=uid, study_uid=study)]
    else:
        files = [_enhanced(tmp_path / "enh" / f"slice{s}", vol, _shuffled(slices=[s], seed=s),
                           series_uid=uid, study_uid=study) for s in (2, 0, 3, 1)]
    case = read_dicom_series(tmp_path / "enh")
    np.testing.assert_array_equal(case.reference, classic.reference)
    a, b = case.meta, classic.meta
    for key in ("pixel_spacing_mm", "slice_thickness_mm", "temporal_resolution_ms", "vendor",
                "field_strength_t", "site", "sequence", "heart_rate_bpm", "subject",
                "strata", "audit_flags", "series"):
        assert getattr(a, key) == getattr(b, key), key
    assert a.slice_spacing_mm == pytest.approx(b.slice_spacing_mm, abs=1e-5)
    np.testing.assert_allclose(a.extra["trigger_times_ms"], b.extra["trigger_times_ms"])
    np.testing.assert_allclose(a.extra["slice_positions_mm"], b.extra["slice_positions_mm"],
                               atol=1e-5)
    assert a.extra["frame_order"] == "trigger_time" and a.extra["multi_frame"] is True
    assert a.extra["n_files"] == len(files) and b.extra["multi_frame"] is False
    assert a.extra["sop_class_uids"] == [ENHANCED_MR]
    assert set(a.extra["source_files_sha256"]) == {f.name for f in files}
    src = open_dicom_series(tmp_path / "enh")
    np.testing.assert_array_equal(src.read_slice(1), classic.reference[1])
    [loaded] = list(load(tmp_path / "enh"))                      # loader path: one unit
    np.testing.assert_array_equal(loaded.reference, classic.reference)
    out = inspect(tmp_path / "enh")
    assert out["dims"] == [NS, NF, NY, NX] and out["n_files"] == len(files)


def test_enhanced_per_frame_rescale(tmp_path):
    vol = _volume(5)[:2]
    frames = _shuffled(ns=2)
    rs = [(0.25 + 0.5 * k, -10.0 * k) for k in range(len(frames))]
    _enhanced(tmp_path / "e.dcm", vol, frames, series_uid="1.2.3.4", study_uid="1.2.3",
              per_frame_rescale=rs)
    case = read_dicom_series(tmp_path / "e.dcm")
    expected = np.zeros(vol.shape, np.float32)
    for (s, f), (slope, intercept) in zip(frames, rs):
        expected[s, f] = (vol[s, f].astype(np.float64) * slope + intercept).astype(np.float32)
    np.testing.assert_array_equal(case.reference, expected)


@pytest.mark.parametrize("timing", ["temporal", "dimension"])
def test_enhanced_frame_order_without_trigger_times(tmp_path, timing):
    vol = _volume(6)[:2]
    _enhanced(tmp_path / "e.dcm", vol, _shuffled(ns=2), series_uid="1.2.3.4",
              study_uid="1.2.3", timing=timing)
    case = read_dicom_series(tmp_path / "e.dcm")
    np.testing.assert_array_equal(case.reference, vol * SLOPE + INTERCEPT)
    assert case.meta.temporal_resolution_ms is None
    assert case.meta.audit_flags["frame_order"].startswith("temporal_position_index")


def test_enhanced_without_timing(tmp_path):
    """One frame per slice location needs no frame key; several do, and the error says so."""
    vol = _volume(9)[:, :1]
    (tmp_path / "a").mkdir()
    _enhanced(tmp_path / "a" / "static.dcm", vol, _shuffled(nf=1), series_uid="1.2",
              study_uid="1.3", timing="none")
    case = read_dicom_series(tmp_path / "a")
    np.testing.assert_array_equal(case.reference, vol * SLOPE + INTERCEPT)
    _enhanced_error(tmp_path / "b", ["neither NominalCardiacTriggerDelayTime",
                                     "TemporalPositionIndex (0020,9128)"], timing="none")


def _enhanced_error(tmp_path, needles, exc_type=LayoutError, **kw):
    vol = _volume(7)[:2]
    frames = kw.pop("frames", None) or _shuffled(ns=2)
    tmp_path.mkdir(exist_ok=True)
    f = _enhanced(tmp_path / "bad.dcm", vol, frames, series_uid="1.2.3.4",
                  study_uid="1.2.3", **kw)
    err = _raises(exc_type, lambda: read_dicom_series(tmp_path), "bad.dcm", *needles)
    assert err.path == f, err.path
    return err


def test_enhanced_missing_functional_group(tmp_path):
    err = _enhanced_error(tmp_path, ["frame 3 of", "Plane Position (Patient)", "(0020,9113)",
                                     "SharedFunctionalGroupsSequence"],
                          drop_macro=(2, "PlanePositionSequence"))
    assert "C.7.6.16" in err.hint


def test_enhanced_without_any_functional_groups(tmp_path):
    f = _enhanced(tmp_path / "bad.dcm", _volume()[:1], _shuffled(ns=1), series_uid="1.2",
                  study_uid="1.3")
    ds = pydicom.dcmread(f)
    del ds.PerFrameFunctionalGroupsSequence, ds.SharedFunctionalGroupsSequence
    ds.save_as(f)
    err = _raises(LayoutError, lambda: read_dicom_series(tmp_path), "bad.dcm",
                  f"NumberOfFrames = {NF}", "without Multi-frame Functional Groups")
    assert err.path == f


def test_enhanced_per_frame_count_mismatch(tmp_path):
    f = _enhanced(tmp_path / "bad.dcm", _volume()[:2], _shuffled(ns=2), series_uid="1.2",
                  study_uid="1.3")
    ds = pydicom.dcmread(f)
    del ds.PerFrameFunctionalGroupsSequence[-1]
    ds.save_as(f)
    err = _raises(LayoutError, lambda: read_dicom_series(tmp_path), "bad.dcm",
                  "PerFrameFunctionalGroupsSequence", f"holds {2 * NF - 1} item(s)",
                  f"NumberOfFrames (0028,0008) is {2 * NF}")
    assert err.path == f


def test_enhanced_inconsistent_frames_per_slice(tmp_path):
    frames = [j for j in _shuffled(ns=2) if j != (1, 3)]
    err = _enhanced_error(tmp_path, ["different numbers of frames", "slice(s) [1]"],
                          frames=frames)
    assert f"{NF - 1} at slice(s) [1]" in err.reason


def test_enhanced_mixed_orientations(tmp_path):
    err = _enhanced_error(tmp_path, ["different orientations", "bad.dcm frame 4",
                                     "[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]"],
                          iop_override=(3, [1, 0, 0, 0, 1, 0]))
    assert "export each view" in err.hint
    # group_by="stack" never splits a file: the same refusal, not two half stacks
    _raises(LayoutError, lambda: read_dicom_series(tmp_path, group_by="stack"),
            "bad.dcm frame 4", "different orientations")


def test_enhanced_one_series_per_slice_as_stack(tmp_path):
    vol, study = _volume(8), generate_uid()
    for s in range(NS):
        _enhanced(tmp_path / f"sl{s}.dcm", vol, _shuffled(slices=[s], seed=s),
                  series_uid=generate_uid(), study_uid=study)
    assert len(list(load(tmp_path))) == NS                     # series: one Case per file
    [case] = list(load(tmp_path, group_by="stack"))
    np.testing.assert_array_equal(case.reference, vol * SLOPE + INTERCEPT)
    assert case.meta.extra["n_files"] == NS


def test_enhanced_colour(tmp_path):
    _enhanced_error(tmp_path, ["SamplesPerPixel is 3", "colour"], colour=True)


def test_pydicom_enhanced_mr_testdata():
    """pydicom's enhanced MR test file, if installed (the pydicom-data package; not shipped).

    ``emri_small.dcm`` (pydicom-data 1.0) is an anonymised Enhanced MR object whose functional
    groups were removed: the reader must refuse it, naming the file. A copy that keeps them
    must give NumberOfFrames images of Rows x Columns with its Pixel Measures spacing.
    """
    path = get_testdata_file("emri_small.dcm", download=False)
    if path is None:
        pytest.skip("pydicom's emri_small.dcm is not installed here (pydicom-data package)")
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    n = int(ds.NumberOfFrames)
    if "SharedFunctionalGroupsSequence" not in ds and \
            "PerFrameFunctionalGroupsSequence" not in ds:
        _raises(LayoutError, lambda: read_dicom_series(path), "emri_small.dcm",
                f"NumberOfFrames = {n}", "without Multi-frame Functional Groups")
        return
    groups = [ds.get("SharedFunctionalGroupsSequence", [None])[0],
              ds.PerFrameFunctionalGroupsSequence[0]]
    pm = next(g.PixelMeasuresSequence[0] for g in groups
              if g is not None and "PixelMeasuresSequence" in g)
    case = read_dicom_series(path)
    ns, nf = case.reference.shape[:2]
    assert ns * nf == n and case.reference.shape[2:] == (ds.Rows, ds.Columns)
    assert case.meta.pixel_spacing_mm == tuple(float(v) for v in pm.PixelSpacing)

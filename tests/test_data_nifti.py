"""NIfTI writers/readers, ACDC and M&Ms folders (written here with nibabel), and load()."""

from __future__ import annotations

import csv
import time

import nibabel as nib
import numpy as np
import pytest

from suite.data import (
    MNMS_TO_ACDC,
    CorruptFileError,
    iter_cases,
    load,
    read_nifti,
    write_image_nifti,
    write_labels_nifti,
    write_ismrmrd,
)
from suite.case import Case, CaseMeta

NX, NY, NZ, NT = 9, 7, 3, 6
ZOOMS = (1.4, 1.2, 10.0)  # dx, dy, dz


def _nib_save(path, arr, zooms=ZOOMS, dt=None):
    """Write with plain nibabel, as the datasets ship (independent of our writer)."""
    img = nib.Nifti1Image(arr, np.diag(list(zooms) + [1.0]))
    z = list(zooms) + ([dt] if arr.ndim == 4 else [])
    img.header.set_zooms(z[: arr.ndim])
    if dt is not None:
        img.header.set_xyzt_units("mm", "msec")
    nib.save(img, str(path))


# ---------------------------------------------------------------------- writers
def test_labels_writer_orientation_and_zooms(tmp_path):
    rng = np.random.default_rng(0)
    lab = rng.integers(0, 4, (NZ, NT, NY, NX)).astype(np.uint8)
    p = write_labels_nifti(tmp_path / "l.nii.gz", lab, (1.2, 1.4, 10.0), temporal_resolution_ms=35)
    img = nib.load(str(p))
    data = np.asarray(img.dataobj)
    assert data.shape == (NX, NY, NZ, NT) and data.dtype == np.uint8
    assert data[4, 2, 1, 5] == lab[1, 5, 2, 4]
    np.testing.assert_allclose(img.header.get_zooms(), (1.4, 1.2, 10.0, 35.0), rtol=1e-6)
    back = read_nifti(p, kind="labels")
    np.testing.assert_array_equal(back.data, lab)
    assert back.spacing_mm == pytest.approx((1.2, 1.4, 10.0))
    assert back.temporal_resolution_ms == pytest.approx(35.0)


def test_image_writer_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    im = rng.random((NZ, NT, NY, NX)).astype(np.float32)
    back = read_nifti(write_image_nifti(tmp_path / "i.nii", im, (1.2, 1.4, 10.0)))
    np.testing.assert_array_equal(back.data, im)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii"])
def test_nifti_writers_are_deterministic(tmp_path, suffix):
    lab = np.random.default_rng(2).integers(0, 4, (NZ, NT, NY, NX)).astype(np.uint8)
    a = write_labels_nifti(tmp_path / f"a{suffix}", lab, (1.0, 1.0, 8.0))
    time.sleep(1.05)  # a gzip mtime would differ by now
    b = write_labels_nifti(tmp_path / f"b{suffix}", lab, (1.0, 1.0, 8.0))
    assert a.read_bytes() == b.read_bytes()
    im = lab.astype(np.float32) * 0.5
    assert (write_image_nifti(tmp_path / f"c{suffix}", im, (1, 1, 8)).read_bytes()
            == write_image_nifti(tmp_path / f"d{suffix}", im, (1, 1, 8)).read_bytes())


# ---------------------------------------------------------------------- ACDC
def make_acdc(root, pid="patient001", *, ed=1, es=4, four_d=True, seed=0):
    """An ACDC-layout patient folder; returns the cine (x, y, z, t) and the two label maps."""
    rng = np.random.default_rng(seed)
    d = root / pid
    d.mkdir(parents=True)
    cine = rng.random((NX, NY, NZ, NT)).astype(np.float32) * 100
    (d / "Info.cfg").write_text(f"ED: {ed}\nES: {es}\nGroup: DCM\nHeight: 184.0\n"
                                f"NbFrame: {NT}\nWeight: 95.0\n")
    if four_d:
        _nib_save(d / f"{pid}_4d.nii.gz", cine, dt=30.0)
    gts = {}
    for num in (ed, es):
        _nib_save(d / f"{pid}_frame{num:02d}.nii.gz", cine[..., num - 1])
        gt = rng.integers(0, 4, (NX, NY, NZ)).astype(np.uint8)
        _nib_save(d / f"{pid}_frame{num:02d}_gt.nii.gz", gt)
        gts[num] = gt
    return cine, gts


def test_acdc_patient_with_4d(tmp_path):
    cine, gts = make_acdc(tmp_path, ed=1, es=4)
    (case,) = list(load(tmp_path))
    assert case.reference.shape == (NZ, NT, NY, NX)
    # independent transpose: case[s, f, y, x] = nifti[x, y, s, f]
    np.testing.assert_array_equal(case.reference[2, 3, 5, 7], cine[7, 5, 2, 3])
    assert (case.meta.ed_frame, case.meta.es_frame) == (0, 3)  # 1-based → 0-based
    assert case.meta.annotated_frames == (0, 3)
    np.testing.assert_array_equal(case.labels[:, 0], gts[1].transpose(2, 1, 0))
    np.testing.assert_array_equal(case.labels[:, 3], gts[4].transpose(2, 1, 0))
    assert not case.labels[:, [1, 2, 4, 5]].any()
    assert case.meta.pixel_spacing_mm == pytest.approx((1.2, 1.4))
    assert case.meta.slice_thickness_mm == pytest.approx(10.0)
    assert case.meta.temporal_resolution_ms == pytest.approx(30.0)
    assert case.meta.strata["group"] == "DCM"
    assert case.meta.extra["height_cm"] == 184.0 and case.meta.extra["weight_kg"] == 95.0
    assert case.meta.dataset == "acdc" and case.meta.subject == "patient001"
    assert len(case.meta.source_sha256) == 64


def test_acdc_patient_frames_only(tmp_path):
    cine, gts = make_acdc(tmp_path, ed=2, es=5, four_d=False)
    (case,) = list(load(tmp_path / "patient001"))
    assert case.reference.shape == (NZ, 2, NY, NX)
    np.testing.assert_array_equal(case.reference[:, 1], cine[..., 4].transpose(2, 1, 0))
    assert (case.meta.ed_frame, case.meta.es_frame) == (0, 1)
    assert case.meta.extra["source_frames"] == [1, 4]
    np.testing.assert_array_equal(case.labels[:, 1], gts[5].transpose(2, 1, 0))


# ---------------------------------------------------------------------- M&Ms
def make_mnms(root, codes=("A0S9V9", "B1K2L3"), *, csv_rows=True, seed=0):
    rng = np.random.default_rng(seed)
    rows, data = [], {}
    for i, code in enumerate(codes):
        d = root / "Training" / "Labeled" / code
        d.mkdir(parents=True)
        img = rng.random((NX, NY, NZ, NT)).astype(np.float32)
        gt = np.zeros((NX, NY, NZ, NT), np.uint8)
        ed, es = 0, 3 + i
        gt[..., ed] = rng.integers(0, 4, (NX, NY, NZ))
        gt[..., es] = rng.integers(0, 4, (NX, NY, NZ))
        _nib_save(d / f"{code}_sa.nii.gz", img, dt=25.0)
        _nib_save(d / f"{code}_sa_gt.nii.gz", gt, dt=25.0)
        rows.append({"External code": code, "VendorName": ["Siemens", "Philips"][i],
                     "Vendor": "AB"[i], "Centre": str(i + 1), "ED": ed, "ES": es})
        data[code] = (img, gt, ed, es)
    if csv_rows:
        with open(root / "201014_M&Ms_Dataset_Information_-_opendataset.csv", "w",
                  newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return data


def test_mnms_labels_mapped_and_metadata(tmp_path):
    data = make_mnms(tmp_path)
    cases = {c.meta.subject: c for c in load(tmp_path)}
    assert set(cases) == set(data)
    c = cases["B1K2L3"]
    img, gt, ed, es = data["B1K2L3"]
    np.testing.assert_array_equal(c.reference, img.transpose(2, 3, 1, 0))
    # explicit, independent mapping: M&Ms 1 LV, 2 MYO, 3 RV → ACDC 3 LV, 2 MYO, 1 RV
    expected = np.select([gt == 1, gt == 2, gt == 3], [3, 2, 1], 0).astype(np.uint8)
    np.testing.assert_array_equal(c.labels, expected.transpose(2, 3, 1, 0))
    assert dict(MNMS_TO_ACDC) == {0: 0, 1: 3, 2: 2, 3: 1}
    assert (c.meta.ed_frame, c.meta.es_frame, c.meta.annotated_frames) == (ed, es, (ed, es))
    assert (c.meta.vendor, c.meta.site) == ("Philips", "2")
    assert c.meta.strata == {"vendor": "Philips", "vendor_code": "B", "centre": "2"}
    assert c.meta.temporal_resolution_ms == pytest.approx(25.0)


def test_mnms_without_csv_uses_annotated_frames(tmp_path):
    make_mnms(tmp_path, codes=("C0C0C0",), csv_rows=False)
    (c,) = list(load(tmp_path))
    assert c.meta.ed_frame is None and c.meta.annotated_frames == (0, 3)
    assert c.meta.extra["metadata_row"] is False


# ---------------------------------------------------------------------- folders with failures
def test_folder_with_one_corrupt_file_records_failure(tmp_path):
    good = Case(kspace=np.ones((1, 2, 2, 4, 4), np.complex64),
                mask=np.ones((1, 1, 1, 4, 1), bool), meta=CaseMeta(subject="good"))
    write_ismrmrd(tmp_path / "a_good.h5", good)
    write_image_nifti(tmp_path / "b_good.nii.gz", np.ones((1, 2, 4, 4), np.float32), (1, 1, 1))
    bad = tmp_path / "c_bad.h5"
    bad.write_bytes((tmp_path / "a_good.h5").read_bytes()[:700])  # truncated
    (tmp_path / "d_text.h5").write_text("not hdf5\n")
    it = iter_cases(tmp_path, on_error="record")
    cases = list(it)
    assert [c.meta.subject for c in cases] == ["good", "b_good"]
    assert [f.path.name for f in it.failures] == ["c_bad.h5", "d_text.h5"]
    assert it.failures[0].error == "CorruptFileError"
    assert it.failures[1].error == "UnknownFormatError"
    assert all(f.reason for f in it.failures)
    assert it.failures[0].to_dict()["path"].endswith("c_bad.h5")
    with pytest.raises(CorruptFileError, match="c_bad.h5"):
        list(load(tmp_path))


def test_acdc_folder_with_corrupt_patient_records(tmp_path):
    make_acdc(tmp_path, "patient001")
    make_acdc(tmp_path, "patient002", seed=1)
    gt = tmp_path / "patient002" / "patient002_frame04_gt.nii.gz"
    gt.write_bytes(gt.read_bytes()[:60])
    it = iter_cases(tmp_path, on_error="record")
    assert [c.meta.subject for c in it] == ["patient001"]
    assert len(it.failures) == 1 and it.failures[0].path == gt

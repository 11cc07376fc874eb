"""Phantom v2 views: long-axis planes planned by the AHA definitions, written as ISMRMRD and
DICOM series whose slice geometry puts the landmarks where the phantom put them."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid
from scipy.ndimage import binary_dilation

from suite.data.dicom import read_dicom_series
from suite.data.ismrmrd_io import read_ismrmrd, write_ismrmrd
from suite.phantom import landmarks_in_view, simulate
from suite.phantom.model import build_model
from suite.phantom.subject import draw_subject
from suite.phantom.views import lax_view, sax_view


def _in_plane(plane, point, tol=1e-6):
    return abs((np.asarray(point) - plane.origin) @ plane.normal) < tol


def test_lax_planes_follow_the_aha_definitions():
    model = build_model(draw_subject(8, "normal"), 4)
    m = model.landmarks(0)
    apex, mv = m["lv_apex"], m["mitral_valve"]
    axis = (apex - mv) / np.linalg.norm(apex - mv)
    p4, p2, p3 = (lax_view(model, v).planes[0] for v in ("4ch", "2ch", "3ch"))
    for p in (p4, p2, p3):
        assert _in_plane(p, apex) and _in_plane(p, mv)              # contain the long axis
        np.testing.assert_allclose(p.phase_dir, -axis, atol=1e-12)   # apex at the top
        assert abs(p.read_dir @ p.phase_dir) < 1e-12
    assert _in_plane(p4, m["rv_acute_margin"])                       # through the RV
    assert abs(p2.normal @ p4.normal) < 1e-12                        # 2CH ⟂ 4CH
    assert _in_plane(p3, m["aortic_valve"])                          # LVOT view
    # the 4CH view shows LV and RV, the 2CH view the LV with (almost) no RV
    sax = sax_view(model, [0.0]).planes[0]
    np.testing.assert_allclose(sax.normal, -model.frame.ez, atol=1e-12)


@pytest.fixture(scope="module")
def lax_cases():
    common = dict(preset="tiny", n_frames=2, snr=None, respiration="none")
    return {v: simulate(seed=6, view=v, **common) for v in ("4ch", "3ch")}


def _pixel_from(geometry, point, spacing, matrix, s=0):
    """Fractional (row, col) of a scanner point from a slice geometry dict."""
    ny, nx = matrix
    d = np.asarray(point) - np.asarray(geometry["position_mm"][s])
    return (d @ np.asarray(geometry["phase_dir"][s]) / spacing[0] + ny // 2,
            d @ np.asarray(geometry["read_dir"][s]) / spacing[1] + nx // 2)


def _check_landmarks_on_anatomy(case):
    """The apex lies on the LV myocardium and the mitral valve centre on the LV/LA border."""
    marks = landmarks_in_view(case, 0)
    ext = case.truth["labels_extended"][0, 0]
    r, c = (int(round(v)) for v in marks["lv_apex"]["pixel"])
    near = np.zeros_like(ext, bool)
    near[max(r - 1, 0):r + 2, max(c - 1, 0):c + 2] = True
    assert (case.labels[0, 0][near] == 2).any()
    r, c = (int(round(v)) for v in marks["mitral_valve"]["pixel"])
    border = binary_dilation(ext == 3, iterations=1) & binary_dilation(ext == 7, iterations=1)
    rr, cc = np.nonzero(border)
    assert np.min(np.hypot(rr - r, cc - c)) <= 1.5


@pytest.mark.parametrize("view", ["4ch", "3ch"])
def test_lax_landmarks_round_trip_ismrmrd(tmp_path, lax_cases, view):
    """Acceptance (issue 15): slice positions written by the phantom and read back by the
    ISMRMRD reader put the landmarks at the same pixel (within a pixel)."""
    case = lax_cases[view]
    assert case.meta.series == f"cine_{view}" and case.n_slices == 1
    _check_landmarks_on_anatomy(case)
    back = read_ismrmrd(write_ismrmrd(tmp_path / f"{view}.h5", case))
    geo = back.meta.extra["slice_geometry"]              # rebuilt from acquisition headers
    assert "slice_geometry" not in (back.meta.extra.get("ismrmrd_reader") or {})
    truth = landmarks_in_view(case, 0)
    for name, lm in truth.items():
        got = _pixel_from(geo, lm["scanner_mm"], back.meta.pixel_spacing_mm, back.matrix)
        assert np.hypot(got[0] - lm["pixel"][0], got[1] - lm["pixel"][1]) < 1.0, name
    np.testing.assert_allclose(np.cross(geo["read_dir"][0], geo["phase_dir"][0]),
                               geo["slice_dir"][0], atol=1e-6)


def _write_dicom_series(folder, case):
    """The reference magnitude of every frame as classic MR images, geometry from the Case."""
    g = case.meta.extra["slice_geometry"]
    img = np.abs(case.reference)
    scale = 4000.0 / img.max()
    study, series = generate_uid(), generate_uid()
    folder.mkdir()
    dy, dx = case.meta.pixel_spacing_mm
    for s in range(case.n_slices):
        for f in range(case.n_frames):
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = MRImageStorage
            meta.MediaStorageSOPInstanceUID = generate_uid()
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            path = folder / f"im_{s}_{f}.dcm"
            ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
            ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
            ds.Modality, ds.PatientID = "MR", "phantom"
            ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
            ds.SeriesNumber, ds.SeriesDescription = 3, case.meta.series
            ds.ImagePositionPatient = [f"{v:.6f}" for v in g["image_position_patient_mm"][s]]
            ds.ImageOrientationPatient = [f"{v:.8f}" for v in g["read_dir"][s] + g["phase_dir"][s]]
            ds.PixelSpacing = [dy, dx]
            ds.SliceThickness = case.meta.slice_thickness_mm
            ds.TriggerTime = f"{f * 40.0:.3f}"
            ds.InstanceNumber = 1 + s * case.n_frames + f
            ds.Rows, ds.Columns = img.shape[-2:]
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
            ds.PixelData = np.round(img[s, f] * scale).astype("<u2").tobytes()
            ds.save_as(str(path), enforce_file_format=True)
    return scale


@pytest.mark.parametrize("view", ["4ch"])
def test_lax_landmarks_round_trip_dicom(tmp_path, lax_cases, view):
    """Acceptance (issue 15): a DICOM series written with the phantom's geometry and read back
    by the DICOM reader puts the landmarks at the same pixel (within a pixel)."""
    case = lax_cases[view]
    scale = _write_dicom_series(tmp_path / "dcm", case)
    back = read_dicom_series(tmp_path / "dcm")
    ipp = np.asarray(back.meta.extra["image_position_patient"][0], float)
    iop = np.asarray(back.meta.extra["image_orientation_patient"], float)
    read, phase = iop[:3], iop[3:]
    dy, dx = back.meta.pixel_spacing_mm
    np.testing.assert_allclose(back.reference, np.round(np.abs(case.reference) * scale),
                               atol=0.5)
    for name, lm in landmarks_in_view(case, 0).items():
        d = lm["scanner_mm"] - ipp
        got = (d @ phase / dy, d @ read / dx)
        assert np.hypot(got[0] - lm["pixel"][0], got[1] - lm["pixel"][1]) < 1.0, name


def test_sax_stack_geometry_in_ismrmrd(tmp_path):
    case = simulate(seed=1, preset="tiny", n_frames=2, snr=None, n_slices=3)
    back = read_ismrmrd(write_ismrmrd(tmp_path / "sax.h5", case))
    pos = np.asarray(back.meta.extra["slice_geometry"]["position_mm"])
    normal = np.asarray(back.meta.extra["slice_geometry"]["slice_dir"][0])
    steps = np.diff(pos, axis=0)
    np.testing.assert_allclose(np.linalg.norm(steps, axis=1), case.meta.slice_spacing_mm,
                               atol=1e-3)
    np.testing.assert_allclose(steps @ normal, -case.meta.slice_spacing_mm, atol=1e-3)
    ez = np.asarray(case.truth["frame"]["ez"])
    np.testing.assert_allclose(normal, -ez, atol=1e-6)   # slices step from base to apex

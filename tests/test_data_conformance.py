"""Reader conformance suite (STYLE R11): every reader, the same broken inputs.

Each check asserts the documented CaseReadError subclass, that the message names the file,
and (by the exact ``pytest.raises`` class) that no h5py/nibabel/OSError type escapes.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from suite.case import Case, CaseMeta
from suite.data import (
    CaseReadError,
    CorruptFileError,
    LayoutError,
    UnknownFormatError,
    load,
    read_ismrmrd,
    read_nifti,
    write_image_nifti,
    write_ismrmrd,
    write_labels_nifti,
)
from suite.data.acdc import read_acdc_patient
from suite.data.cmrxrecon import read_cmrxrecon
from suite.data.dicom import read_dicom_series
from suite.data.fastmri import read_fastmri
from suite.data.matv73 import write_mat_v73
from suite.data.mnms import read_mnms_case


def _case():
    k = np.ones((1, 2, 2, 4, 6), np.complex64)
    return Case(kspace=k, mask=np.ones((1, 1, 1, 4, 1), bool), meta=CaseMeta(subject="c"))


def _raises(exc_type, fn, path):
    with pytest.raises(CaseReadError) as info:
        fn()
    assert type(info.value) is exc_type, f"{type(info.value).__name__}: {info.value}"
    assert str(path) in str(info.value) or path.name in str(info.value)
    assert info.value.reason
    return info.value


# ---------------------------------------------------------------------- per reader builders
def _ismrmrd_good(tmp_path):
    return write_ismrmrd(tmp_path / "x.h5", _case())


def _nifti_good(tmp_path):
    return write_image_nifti(tmp_path / "x.nii.gz", np.ones((2, 3, 4, 5), np.float32), (1, 1, 1))


def _acdc_good(tmp_path):
    d = tmp_path / "patient001"
    d.mkdir()
    (d / "Info.cfg").write_text("ED: 1\nES: 2\nGroup: NOR\n")
    for n in (1, 2):
        write_image_nifti(d / f"patient001_frame{n:02d}.nii.gz", np.ones((2, 1, 4, 5), np.float32),
                          (1, 1, 1))
        write_labels_nifti(d / f"patient001_frame{n:02d}_gt.nii.gz",
                           np.ones((2, 1, 4, 5), np.uint8), (1, 1, 1))
    return d / "patient001_frame02_gt.nii.gz"


def _mnms_good(tmp_path):
    d = tmp_path / "A1B2C3"
    d.mkdir()
    write_image_nifti(d / "A1B2C3_sa.nii.gz", np.ones((2, 3, 4, 5), np.float32), (1, 1, 1))
    write_labels_nifti(d / "A1B2C3_sa_gt.nii.gz", np.ones((2, 3, 4, 5), np.uint8), (1, 1, 1))
    return d / "A1B2C3_sa_gt.nii.gz"


def _dicom_good(tmp_path, molli=False):
    """A 2-slice, 2-frame MR series (one file per image); the target is one of its files.
    ``molli``: weighted mapping images, each with its TI in Image Comments."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

    d, series, study = tmp_path / "dcm", generate_uid(), generate_uid()
    d.mkdir()
    for i, (s, f) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = MRImageStorage, \
            generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(str(d / f"im{i}.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.StudyInstanceUID, ds.SeriesInstanceUID = "MR", study, series
        ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, 5 * s], [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.TriggerTime, ds.InstanceNumber = [1, 1], 40 * f, i + 1
        ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = 4, 5, 1, \
            "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = np.full((4, 5), i, "<u2").tobytes()
        if molli:
            ds.ImageComments = f"TI: {100 + 1000 * f + 10 * s}"
        ds.save_as(d / f"im{i}.dcm", enforce_file_format=True)
    return d / "im2.dcm"


def _cmrxrecon_good(tmp_path):
    """A CMRxRecon 2024-style fully sampled cine, MATLAB (kx, ky, kc, kz, t), our v7.3 writer."""
    k = np.ones((6, 4, 2, 1, 2), np.complex64)
    return write_mat_v73(tmp_path / "cine_sax.mat", {"kspace_full": k})


def _cmrxrecon_t1map_good(tmp_path):
    """A CMRxRecon 2023 T1map (kx, ky, kc, kz, w) with its T1map.csv (label column)."""
    k = np.ones((6, 4, 2, 2, 3), np.complex64)
    p = write_mat_v73(tmp_path / "T1map.mat", {"kspace_full": k})
    (tmp_path / "T1map.csv").write_text(",s1,s2\nTI1,100,110\nTI2,180,190\nTI3,1100,1110\n")
    return p


def _fastmri_good(tmp_path):
    """A fastMRI multi-coil volume (slice, coil, height, width), as fastMRI stores it."""
    p = tmp_path / "file1.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("kspace", data=np.ones((2, 2, 6, 4), np.complex64))
        f.create_dataset("reconstruction_rss", data=np.ones((2, 3, 3), np.float32))
    return p


# target file of each reader and how to read "the unit" holding it
READERS = {
    "ismrmrd": (_ismrmrd_good, lambda p: read_ismrmrd(p)),
    "nifti": (_nifti_good, lambda p: read_nifti(p)),
    "acdc": (_acdc_good, lambda p: read_acdc_patient(p.parent)),
    "mnms": (_mnms_good, lambda p: read_mnms_case(p.parent)),
    "dicom": (_dicom_good, lambda p: read_dicom_series(p.parent)),  # the series folder
    "dicom_molli": (lambda t: _dicom_good(t, molli=True), lambda p: read_dicom_series(p.parent)),
    "cmrxrecon": (_cmrxrecon_good, lambda p: read_cmrxrecon(p, year=2024)),
    "cmrxrecon_t1map": (_cmrxrecon_t1map_good, lambda p: read_cmrxrecon(p, year=2023)),
    "fastmri": (_fastmri_good, lambda p: read_fastmri(p)),
}


@pytest.fixture(params=sorted(READERS))
def reader(request, tmp_path):
    build, read = READERS[request.param]
    return request.param, build(tmp_path), read


def test_good_file_reads(reader):
    _, path, read = reader
    read(path)


def test_empty_file(reader):
    _, path, read = reader
    path.write_bytes(b"")
    _raises(CorruptFileError, lambda: read(path), path)


def test_truncated_file(reader):
    _, path, read = reader
    raw = path.read_bytes()
    path.write_bytes(raw[: max(len(raw) // 3, 60)])
    _raises(CorruptFileError, lambda: read(path), path)


def test_wrong_magic(reader):
    _, path, read = reader
    path.write_text("this is a text file, not medical data\n" * 20)
    _raises(CorruptFileError, lambda: read(path), path)


def test_load_sniffs_wrong_magic(tmp_path):
    for name in ("text.h5", "text.nii.gz"):
        p = tmp_path / name
        p.write_text("plain text\n")
        err = _raises(UnknownFormatError, lambda: list(load(p)), p)
        assert "formats tried" in err.reason


def test_load_empty_and_missing(tmp_path):
    p = tmp_path / "empty.h5"
    p.write_bytes(b"")
    _raises(CorruptFileError, lambda: list(load(p)), p)
    missing = tmp_path / "nope.h5"
    _raises(CorruptFileError, lambda: list(load(missing)), missing)


# ---------------------------------------------------------------------- ISMRMRD specifics
def test_hdf5_without_dataset(tmp_path):
    p = tmp_path / "plain.h5"
    with h5py.File(p, "w") as f:
        f["kspace"] = np.zeros(3)
    err = _raises(LayoutError, lambda: read_ismrmrd(p), p)
    assert "/dataset" in err.reason
    _raises(LayoutError, lambda: list(load(p)), p)


def _rewrite_xml(path, edit):
    with h5py.File(path, "r+") as f:
        xml = f["dataset/xml"][0]
        xml = xml.decode() if isinstance(xml, bytes) else xml
        f["dataset/xml"][0] = edit(xml).encode()


def test_header_missing_matrix_size(tmp_path):
    p = _ismrmrd_good(tmp_path)
    import re

    _rewrite_xml(p, lambda x: re.sub(r"<encodedSpace>\s*<matrixSize>.*?</matrixSize>",
                                     "<encodedSpace>", x, count=1, flags=re.S))
    err = _raises(LayoutError, lambda: read_ismrmrd(p), p)
    assert "encoding/encodedSpace/matrixSize" in err.reason


def test_header_missing_receiver_channels(tmp_path):
    p = _ismrmrd_good(tmp_path)
    import re

    _rewrite_xml(p, lambda x: re.sub(r"<receiverChannels>.*?</receiverChannels>", "", x))
    err = _raises(LayoutError, lambda: read_ismrmrd(p), p)
    assert "receiverChannels" in err.reason


def test_header_not_xml(tmp_path):
    p = _ismrmrd_good(tmp_path)
    _rewrite_xml(p, lambda x: "<<<garbage")
    _raises(LayoutError, lambda: read_ismrmrd(p), p)


def test_nan_in_kspace(tmp_path):
    p = _ismrmrd_good(tmp_path)
    with h5py.File(p, "r+") as f:
        row = f["dataset/data"][3]
        row["data"][[0, 5]] = np.nan
        f["dataset/data"][3] = row
    err = _raises(CorruptFileError, lambda: read_ismrmrd(p), p)
    assert err.reason.startswith("2 non-finite")


def test_channels_disagree_with_header(tmp_path):
    p = _ismrmrd_good(tmp_path)
    _rewrite_xml(p, lambda x: x.replace("<receiverChannels>2</receiverChannels>",
                                        "<receiverChannels>8</receiverChannels>"))
    err = _raises(LayoutError, lambda: read_ismrmrd(p), p)
    assert "receiverChannels" in err.reason


def test_samples_disagree_with_acquisition_header(tmp_path):
    p = _ismrmrd_good(tmp_path)
    with h5py.File(p, "r+") as f:
        row = f["dataset/data"][1]
        row["data"] = row["data"][:-4]
        f["dataset/data"][1] = row
    _raises(LayoutError, lambda: read_ismrmrd(p), p)


def test_counters_outside_limits(tmp_path):
    p = _ismrmrd_good(tmp_path)
    import re

    _rewrite_xml(p, lambda x: re.sub(r"(<phase>\s*<minimum>0</minimum>\s*<maximum>)1",
                                     r"\g<1>0", x))
    err = _raises(LayoutError, lambda: read_ismrmrd(p), p)
    assert "phase" in err.reason


# ---------------------------------------------------------------------- NIfTI specifics
def test_nan_in_image(tmp_path):
    import nibabel as nib

    p = tmp_path / "nan.nii.gz"
    arr = np.ones((4, 5, 2), np.float32)
    arr[1, 1, 1] = np.nan
    nib.save(nib.Nifti1Image(arr, np.eye(4)), str(p))
    err = _raises(CorruptFileError, lambda: read_nifti(p), p)
    assert "1 non-finite" in err.reason


def test_wrong_nifti_layout(tmp_path):
    import nibabel as nib

    p = tmp_path / "5d.nii.gz"
    nib.save(nib.Nifti1Image(np.ones((4, 5, 2, 3, 2), np.float32), np.eye(4)), str(p))
    _raises(LayoutError, lambda: read_nifti(p), p)


@pytest.mark.parametrize("name", ["acdc", "mnms"])
def test_labels_outside_convention(name, tmp_path):
    build, read = READERS[name]
    path = build(tmp_path)
    write_labels_nifti(path, np.full((2, 3 if name == "mnms" else 1, 4, 5), 7, np.uint8),
                       (1, 1, 1))
    err = _raises(LayoutError, lambda: read(path), path)
    assert "7" in err.reason


def test_acdc_info_missing_es(tmp_path):
    gt = _acdc_good(tmp_path)
    cfg = gt.parent / "Info.cfg"
    cfg.write_text("ED: 1\nGroup: NOR\n")
    err = _raises(LayoutError, lambda: read_acdc_patient(gt.parent), cfg)
    assert "`ES`" in err.reason

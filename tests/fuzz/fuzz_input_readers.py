"""Fuzz targets of every reader: ISMRMRD, fastMRI, CMRxRecon (.mat v7.3 and v5), DICOM,
NIfTI (.nii.gz and .nii), ACDC and M&Ms folders, the phantom cohort folder.

Each target builds a small valid input, reads it with its reader (``limits=FUZZ_LIMITS``),
with ``suite.data.inspect`` where the input is one file or a DICOM folder, and through
``suite.data.iter_cases(..., on_error="record")``, and lists its mutations: the byte-level
ones of :mod:`fuzz_input_mutations` plus format-aware ones (absurd headers, wrong dtypes and
shapes, NaN/Inf, links out of HDF5 files, bombs), each with what it must produce.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import h5py
import numpy as np

import fuzz_input_mutations as mu
from fuzz_input_harness import ANY, FUZZ_LIMITS, Expect, Target, loader_checked, read_checked
from suite.case import Case, CaseMeta

__all__ = ["READER_TARGETS"]


def _kspace(shape, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


def _case(ns=2, nf=2, nc=2, ny=8, nx=6) -> Case:
    return Case(kspace=_kspace((ns, nf, nc, ny, nx)), mask=np.ones((1, 1, 1, ny, 1), bool),
                meta=CaseMeta(subject="sub-01", pixel_spacing_mm=(1.5, 1.5),
                              slice_thickness_mm=8.0))


def _reader(fn, *, inspect_it: bool = True, loader=lambda u: u) -> callable:
    """A target's read: the reader, then inspect, then the loader (all checked)."""
    def read(unit: Path, root: Path, expect: Expect) -> list[str]:
        from suite.data import inspect

        problems = read_checked(lambda: fn(unit), root, expect)[1]
        if inspect_it:
            problems += [f"inspect: {p}" for p in read_checked(lambda: inspect(unit), root,
                                                                ANY)[1]]
        return problems + loader_checked(loader(unit), root, limits=FUZZ_LIMITS)
    return read


# ====================================================================== ISMRMRD
def _ismrmrd_build(d: Path) -> Path:
    from suite.data import write_ismrmrd

    return write_ismrmrd(d / "raw.h5", _case())


def _patch_xml(path: Path, fn) -> None:
    with h5py.File(path, "r+") as f:
        xml = bytes(f["dataset/xml"][0])
        del f["dataset/xml"]
        f["dataset"].create_dataset("xml", shape=(1,), dtype=h5py.special_dtype(vlen=bytes))
        f["dataset/xml"][0] = fn(xml.decode("ascii", "replace")).encode("utf-8", "replace")


_NUMERIC_ELEMENTS = ("receiverChannels", "x", "y", "z", "maximum", "center", "minimum",
                     "systemFieldStrength_T", "value")
_GARBAGE = ("abc", "-1", "0", "1e30", "", "4294967296", "NaN", "3.5", "99999", "-0", "0x10")


def _ismrmrd_absurd(unit, rng):
    def grow(x):
        for name in ("phase", "slice", "repetition", "kspace_encoding_step_1"):
            if rng.random() < 0.6:
                x = re.sub(rf"(<{name}>\s*<minimum>0</minimum>\s*<maximum>)\d+",
                           rf"\g<1>{int(rng.integers(4000, 65536))}", x)
        return re.sub(r"(<phase>\s*<minimum>0</minimum>\s*<maximum>)\d+", r"\g<1>65535", x)
    _patch_xml(unit, grow)
    return mu.TOO_LARGE


def _ismrmrd_garbage(unit, rng):
    def spoil(x):
        hits = [m for m in re.finditer(r"<(%s)>([^<]*)</\1>" % "|".join(_NUMERIC_ELEMENTS), x)]
        for m in rng.choice(len(hits), size=min(len(hits), int(rng.integers(1, 4))),
                            replace=False):
            h = hits[int(m)]
            bad = _GARBAGE[int(rng.integers(0, len(_GARBAGE)))]
            x = x.replace(h.group(0), f"<{h.group(1)}>{bad}</{h.group(1)}>", 1)
        return x
    _patch_xml(unit, spoil)
    return ANY


def _ismrmrd_doctype(unit, rng):
    _patch_xml(unit, lambda x: x.replace(
        "<ismrmrdHeader", '<!DOCTYPE h [<!ENTITY e "' + "x" * 64 + '">]>\n<ismrmrdHeader', 1))
    return mu.LAYOUT


def _ismrmrd_compound(unit, rng):
    vl = h5py.vlen_dtype(np.float32)
    choice = int(rng.integers(0, 5))
    if choice == 0:
        data = np.zeros(4, [("head", "<u8"), ("data", vl)])
    elif choice == 1:
        data = np.zeros(4, [("head", [("flags", "<u8"), ("number_of_samples", "<u2")]),
                            ("data", vl)])
    elif choice == 2:
        from ismrmrd.hdf5 import acquisition_header_dtype
        data = np.zeros(4, [("head", acquisition_header_dtype),
                            ("data", h5py.vlen_dtype(np.float64))])
    elif choice == 3:
        data = np.zeros((2, 3), np.float32)
    else:
        data = np.zeros(4, [("hd", "<u8"), ("data", vl)])
    for i in range(len(data)) if data.dtype.names and "data" in data.dtype.names else []:
        data["data"][i] = np.ones(24, data.dtype["data"].metadata["vlen"])
    mu.replace_dataset(unit, "dataset/data", data)
    return mu.LAYOUT


def _edit_acquisition(unit: Path, rng, edit) -> None:
    """``edit(acquisitions, i)`` on a random acquisition ``i`` of ``/dataset/data``."""
    with h5py.File(unit, "r+") as f:
        d = f["dataset/data"]
        arr = d[:]
        edit(arr, int(rng.integers(0, len(arr))))
        d[...] = arr


def _ismrmrd_nan(unit, rng):
    def edit(arr, i):
        arr[i]["data"][:] = mu.with_nonfinite(arr[i]["data"], rng)
    _edit_acquisition(unit, rng, edit)
    return mu.CORRUPT


def _ismrmrd_huge(unit, rng):
    with h5py.File(unit, "r") as f:
        dt = f["dataset/data"].dtype
    mu.huge_unallocated(unit, "dataset/data", (int(rng.integers(10**6, 10**9)),), dt)
    return mu.TOO_LARGE


def _ismrmrd_counters(unit, rng):
    field = ["slice", "phase", "kspace_encode_step_1", "set", "kspace_encode_step_2",
             "active_channels", "number_of_samples"][int(rng.integers(0, 7))]

    def edit(arr, i):
        if field in ("active_channels", "number_of_samples"):
            arr["head"][field][i] = [0, 7, 65535][int(rng.integers(0, 3))]
        else:
            arr["head"]["idx"][field][i] = int(rng.integers(50, 65536))
    _edit_acquisition(unit, rng, edit)
    return mu.LAYOUT


def _ismrmrd_links(unit):
    return [(unit, "dataset/xml"), (unit, "dataset/data")]


ISMRMRD = Target("ismrmrd", _ismrmrd_build,
                 _reader(lambda u: _read("ismrmrd", u)),
                 {**mu.byte_mutations(lambda u: [u]), "absurd-header": _ismrmrd_absurd,
                  "header-garbage": _ismrmrd_garbage, "doctype": _ismrmrd_doctype,
                  "compound": _ismrmrd_compound, "nan-inf": _ismrmrd_nan,
                  "huge-declared": _ismrmrd_huge, "counters": _ismrmrd_counters,
                  "link": mu.hdf5_link(_ismrmrd_links)})


def _read(kind: str, unit: Path):
    from suite.data import (read_acdc_patient, read_cmrxrecon, read_fastmri, read_ismrmrd,
                            read_mnms_case, read_nifti)
    from suite.data.dicom import read_dicom_series
    from suite.data.phantom_cohort import read_phantom_subject

    fns = {"ismrmrd": read_ismrmrd, "fastmri": read_fastmri, "cmrxrecon": read_cmrxrecon,
           "nifti": read_nifti, "acdc": read_acdc_patient, "mnms": read_mnms_case,
           "phantom": read_phantom_subject}
    if kind == "dicom":
        return read_dicom_series(unit)
    return fns[kind](unit, limits=FUZZ_LIMITS)


# ====================================================================== fastMRI
def _fastmri_build(d: Path) -> Path:
    from suite.data import ismrmrd_xml as hx

    p = d / "file1.h5"
    head = hx.to_xml(hx.build_header(CaseMeta(subject="x", pixel_spacing_mm=(1.0, 1.0),
                                              slice_thickness_mm=5.0, vendor="fuzz"),
                                     n_slices=2, n_frames=1, n_coils=2, ny=6, nx=8,
                                     oversampling=1, mask_shape=(1, 1, 1, 6, 1)))
    with h5py.File(p, "w") as f:
        f["kspace"] = _kspace((2, 2, 8, 6))
        f["mask"] = np.array([1, 0, 1, 1, 0, 1], np.float32)
        f["reconstruction_rss"] = np.ones((2, 4, 4), np.float32)
        f["ismrmrd_header"] = np.bytes_(head)
        f.attrs["acquisition"] = "CORPD_FBK"
    return p


def _fastmri_dtype(unit, rng):
    data = [np.ones((2, 2, 8, 6), np.float32), np.ones((2, 2, 8, 6), np.int16),
            np.zeros((2, 2, 8, 6), [("r", "<f4"), ("j", "<f4")]),
            np.array([b"kspace"] * 4)][int(rng.integers(0, 4))]
    mu.replace_dataset(unit, "kspace", data)
    return mu.LAYOUT


def _fastmri_shape(unit, rng):
    shape = [(8, 6), (1, 2, 2, 8, 6), (0, 2, 8, 6), (2, 2, 0, 6)][int(rng.integers(0, 4))]
    mu.replace_dataset(unit, "kspace", np.zeros(shape, np.complex64))
    return mu.LAYOUT


def _fastmri_mask(unit, rng):
    choice = int(rng.integers(0, 4))
    if choice == 3:
        mu.huge_unallocated(unit, "mask", (int(rng.integers(10**8, 10**9)),), np.float32)
        return Expect(True, ("LayoutError", "TooLargeError"))
    data = [np.ones(5, np.float32), np.ones((2, 6), np.float32),
            np.array([0, 2, 1, 1, 0, 1], np.float32)][choice]
    mu.replace_dataset(unit, "mask", data)
    return mu.LAYOUT


def _fastmri_nan(unit, rng):
    key = ["kspace", "reconstruction_rss"][int(rng.integers(0, 2))]
    with h5py.File(unit, "r+") as f:
        f[key][...] = mu.with_nonfinite(f[key][...], rng)
    return mu.CORRUPT


def _fastmri_huge(unit, rng):
    mu.huge_unallocated(unit, "kspace", (int(rng.integers(50, 500)), 32, 640, 368),
                        np.complex64)
    return mu.TOO_LARGE


def _fastmri_header(unit, rng):
    choice = int(rng.integers(0, 3))
    with h5py.File(unit, "r+") as f:
        head = bytes(f["ismrmrd_header"][()])
        del f["ismrmrd_header"]
        if choice == 0:
            head = rng.bytes(200)
        elif choice == 1:
            head = head.replace(b"<ismrmrdHeader", b'<!DOCTYPE h [<!ENTITY e "x">]><ismrmrdHeader',
                                1)
        else:
            head = re.sub(rb"<x>\d+</x>", b"<x>abc</x>", head)
        f["ismrmrd_header"] = np.bytes_(head)
    return ANY if choice == 2 else mu.LAYOUT


FASTMRI = Target("fastmri", _fastmri_build, _reader(lambda u: _read("fastmri", u)),
                 {**mu.byte_mutations(lambda u: [u]), "wrong-dtype": _fastmri_dtype,
                  "wrong-shape": _fastmri_shape, "mask": _fastmri_mask,
                  "nan-inf": _fastmri_nan, "huge-declared": _fastmri_huge,
                  "header": _fastmri_header,
                  "link": mu.hdf5_link(lambda u: [(u, "kspace"), (u, "mask"),
                                                  (u, "reconstruction_rss")])})


# ====================================================================== CMRxRecon v7.3
_MASK = np.zeros((8, 6), bool)
_MASK[:, ::2] = True
_MASK[:, 2:4] = True


def _cmrx73_build(d: Path) -> Path:
    from suite.data.matv73 import write_mat_v73

    root = d / "CMRxRecon2024" / "MultiCoil" / "Cine" / "TrainingSet"
    k = _kspace((8, 6, 2, 2, 3))  # MATLAB (kx, ky, kc, kz, t)
    for sub in ("FullSample", "UnderSample_Task1", "Mask_Task1"):
        (root / sub / "P001").mkdir(parents=True)
    write_mat_v73(root / "FullSample" / "P001" / "cine_sax.mat", {"kspace_full": k})
    write_mat_v73(root / "Mask_Task1" / "P001" / "cine_sax_mask_Uniform4.mat", {"mask": _MASK})
    return write_mat_v73(root / "UnderSample_Task1" / "P001" / "cine_sax_kus_Uniform4.mat",
                         {"kus": k * _MASK[:, :, None, None, None]})


def _cmrx_files(unit: Path) -> list[Path]:
    return sorted(unit.parents[3].rglob("*.mat"))


def _cmrx_vars(unit: Path) -> list[tuple[Path, str]]:
    names = {"cine_sax.mat": "kspace_full", "cine_sax_mask_Uniform4.mat": "mask",
             "cine_sax_kus_Uniform4.mat": "kus"}
    return [(p, names[p.name]) for p in _cmrx_files(unit) if p.name in names]


def _cmrx73_dtype(unit, rng):
    path, name = _cmrx_vars(unit)[[0, 2][int(rng.integers(0, 2))]]
    choice = int(rng.integers(0, 3))
    data = [np.ones((3, 2, 2, 6, 8), np.float32), np.ones((3, 2, 2, 6, 8), np.int16),
            np.zeros((3, 2, 2, 6, 8), [("real", "<f4"), ("imaginary", "<f4")])][choice]
    mu.replace_dataset(path, name, data)
    with h5py.File(path, "r+") as f:
        f[name].attrs["MATLAB_class"] = np.bytes_("single")
    return mu.LAYOUT


def _cmrx73_shape(unit, rng):
    choice = int(rng.integers(0, 3))
    if choice == 2:  # the mask disagrees with the k-space
        path, name = _cmrx_vars(unit)[1]
        mu.replace_dataset(path, name, np.ones((7, 9), np.uint8))
        with h5py.File(path, "r+") as f:
            f[name].attrs["MATLAB_class"] = np.bytes_("logical")
        return mu.LAYOUT
    path, name = _cmrx_vars(unit)[2]
    shape = [(2, 3, 2, 2, 6, 8), (3, 2, 0, 6, 8)][choice]
    data = np.zeros(shape, [("real", "<f4"), ("imag", "<f4")])
    mu.replace_dataset(path, name, data)
    with h5py.File(path, "r+") as f:
        f[name].attrs["MATLAB_class"] = np.bytes_("single")
    return mu.LAYOUT


def _cmrx73_nan(unit, rng):
    path, name = _cmrx_vars(unit)[[0, 2][int(rng.integers(0, 2))]]
    with h5py.File(path, "r+") as f:
        a = f[name][...]
        a["real"] = mu.with_nonfinite(a["real"], rng)
        f[name][...] = a
    return mu.CORRUPT


def _cmrx73_huge(unit, rng):
    path, name = _cmrx_vars(unit)[[0, 1, 2][int(rng.integers(0, 3))]]
    with h5py.File(path, "r") as f:
        dt, cls = f[name].dtype, f[name].attrs["MATLAB_class"]
    mu.huge_unallocated(path, name, (int(rng.integers(20, 200)), 12, 16, 512, 512), dt)
    with h5py.File(path, "r+") as f:
        f[name].attrs["MATLAB_class"] = cls
    return mu.TOO_LARGE


def _cmrx_mask_values(unit, rng):
    path, name = _cmrx_vars(unit)[1]
    bad = _MASK.astype(np.float64) * 2
    from suite.data.matv73 import write_mat_v73
    if path.read_bytes()[:6] == b"MATLAB" and b"MATLAB 5.0" in path.read_bytes()[:20]:
        import scipy.io
        scipy.io.savemat(path, {name: bad}, do_compression=True)
    else:
        write_mat_v73(path, {name: bad})
    return mu.LAYOUT


CMRX73 = Target("cmrx-v73", _cmrx73_build,
                _reader(lambda u: _read("cmrxrecon", u), loader=lambda u: u.parents[3]),
                {**mu.byte_mutations(_cmrx_files), "wrong-dtype": _cmrx73_dtype,
                 "wrong-shape": _cmrx73_shape, "nan-inf": _cmrx73_nan,
                 "huge-declared": _cmrx73_huge, "mask-values": _cmrx_mask_values,
                 "link": mu.hdf5_link(_cmrx_vars)})


# ====================================================================== CMRxRecon v5
def _cmrx5_build(d: Path) -> Path:
    import scipy.io

    root = d / "CMRxRecon2024" / "MultiCoil" / "Cine" / "TrainingSet"
    k = _kspace((8, 6, 2, 2, 3))
    for sub in ("FullSample", "UnderSample_Task1", "Mask_Task1"):
        (root / sub / "P001").mkdir(parents=True)
    scipy.io.savemat(root / "FullSample" / "P001" / "cine_sax.mat", {"kspace_full": k},
                     do_compression=True)
    scipy.io.savemat(root / "Mask_Task1" / "P001" / "cine_sax_mask_Uniform4.mat",
                     {"mask": _MASK}, do_compression=True)
    out = root / "UnderSample_Task1" / "P001" / "cine_sax_kus_Uniform4.mat"
    scipy.io.savemat(out, {"kus": k * _MASK[:, :, None, None, None]}, do_compression=False)
    return out


def _cmrx5_absurd(unit, rng):
    path, name = _cmrx_vars(unit)[[0, 2][int(rng.integers(0, 2))]]
    dims = [int(rng.integers(10**3, 10**5)) for _ in range(2)] + [16, 12, 20]
    mu.v5_file(path, [mu.v5_element(name, dims, 7, True, b"\0" * 64,
                                    compress=bool(rng.integers(0, 2)))])
    return mu.TOO_LARGE


def _cmrx5_bomb(unit, rng):
    """Real compressed zeros: 32-96 MiB of doubles behind a ~50 KB element."""
    path, name = _cmrx_vars(unit)[2]
    n = int(rng.integers(2048, 3500))
    mu.v5_file(path, [mu.v5_zero_bomb(name, (n, n))])
    return Expect(True, ("LayoutError", "TooLargeError"))  # real data: never k-space


def _cmrx5_dtype(unit, rng):
    import scipy.io

    path, name = _cmrx_vars(unit)[[0, 2][int(rng.integers(0, 2))]]
    data = [np.ones((8, 6, 2, 2, 3)), np.ones((8, 6, 2, 2, 3), np.int16),
            np.array(["text"]), {"a": 1}][int(rng.integers(0, 4))]
    scipy.io.savemat(path, {name: data}, do_compression=bool(rng.integers(0, 2)))
    return mu.LAYOUT


def _cmrx5_nan(unit, rng):
    import scipy.io

    path, name = _cmrx_vars(unit)[[0, 2][int(rng.integers(0, 2))]]
    k = scipy.io.loadmat(path)[name]
    scipy.io.savemat(path, {name: mu.with_nonfinite(k, rng)}, do_compression=True)
    return mu.CORRUPT


CMRX5 = Target("cmrx-v5", _cmrx5_build,
               _reader(lambda u: _read("cmrxrecon", u), loader=lambda u: u.parents[3]),
               {**mu.byte_mutations(_cmrx_files), "absurd-header": _cmrx5_absurd,
                "bomb": _cmrx5_bomb, "wrong-dtype": _cmrx5_dtype, "nan-inf": _cmrx5_nan,
                "mask-values": _cmrx_mask_values}, cases=2)


# ====================================================================== DICOM
def _dicom_build(d: Path) -> Path:
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage

    folder = d / "dcm"
    folder.mkdir()
    study, series = "1.2.826.0.1.3680043.8.498.1", "1.2.826.0.1.3680043.8.498.2"
    for i, (s, f) in enumerate([(0, 0), (0, 1), (1, 0), (1, 1)]):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = f"1.2.826.0.1.3680043.8.498.3.{i}"
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(str(folder / f"im{i}.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.StudyInstanceUID, ds.SeriesInstanceUID = "MR", study, series
        ds.PatientID = "fuzz"
        ds.ImagePositionPatient, ds.ImageOrientationPatient = [0, 0, 5 * s], [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing, ds.TriggerTime, ds.InstanceNumber = [1, 1], 40 * f, i + 1
        ds.Rows, ds.Columns, ds.SamplesPerPixel = 6, 5, 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.PixelData = np.full((6, 5), i + 1, "<u2").tobytes()
        ds.save_as(folder / f"im{i}.dcm", enforce_file_format=True)
    return folder


def _dicom_edit(unit, rng, edit) -> Path:
    import pydicom
    from pydicom import config

    p = sorted(unit.glob("*.dcm"))[int(rng.integers(0, 4))]
    modes = config.settings.reading_validation_mode, config.settings.writing_validation_mode
    config.settings.reading_validation_mode = config.IGNORE
    config.settings.writing_validation_mode = config.IGNORE
    try:
        ds = pydicom.dcmread(p)
        edit(ds)
        ds.save_as(p)
    finally:
        config.settings.reading_validation_mode, config.settings.writing_validation_mode = modes
    return p


def _dicom_absurd(unit, rng):
    def edit(ds):
        ds.Rows, ds.Columns = int(rng.integers(1000, 65536)), int(rng.integers(1000, 65536))
        if rng.random() < 0.5:
            ds.NumberOfFrames = int(rng.integers(2, 100000))
    _dicom_edit(unit, rng, edit)
    return Expect(True, ("CorruptFileError", "TooLargeError", "LayoutError"))


def _dicom_values(unit, rng):
    def edit(ds):
        choice = int(rng.integers(0, 4))
        if choice == 0:  # a non-number where a DS is due (written with VR LO)
            from pydicom.dataelem import DataElement
            ds.add(DataElement(0x00280030, "LO", ["abc", "1"]))
        elif choice == 1:
            ds.ImagePositionPatient = [0, 0]
        elif choice == 2:
            ds.ImageOrientationPatient = [0, 0, 0, 0, 0, 0]
        else:
            ds.RescaleSlope = "1e308"
            ds.RescaleIntercept = "1e308"
    _dicom_edit(unit, rng, edit)
    return ANY


def _dicom_syntax(unit, rng):
    """The Transfer Syntax UID rewritten in place: RLE Lossless (compressed, but the pixel data
    are raw) or explicit VR big endian (every value read byte-swapped)."""
    p = sorted(unit.glob("*.dcm"))[int(rng.integers(0, 4))]
    new = [b"1.2.840.10008.1.2.5\0", b"1.2.840.10008.1.2.2\0"][int(rng.integers(0, 2))]
    p.write_bytes(p.read_bytes().replace(b"1.2.840.10008.1.2.1\0", new, 1))
    return ANY


def _dicom_pixels(unit, rng):
    def edit(ds):
        ds.PixelData = ds.PixelData[:int(rng.integers(0, len(ds.PixelData)))]
    _dicom_edit(unit, rng, edit)
    return Expect(True, ("CorruptFileError",))


def _dicom_not_dicom(unit, rng):
    (unit / "zz_notes.dcm").write_bytes(rng.bytes(int(rng.integers(1, 400))))
    return ANY


DICOM = Target("dicom", _dicom_build, _reader(lambda u: _read("dicom", u)),
               {**mu.byte_mutations(lambda u: sorted(u.glob("*.dcm"))),
                "absurd-header": _dicom_absurd, "bad-values": _dicom_values,
                "transfer-syntax": _dicom_syntax, "pixel-cut": _dicom_pixels,
                "not-dicom": _dicom_not_dicom})


# ====================================================================== NIfTI
def _nifti_build(name: str):
    def build(d: Path) -> Path:
        from suite.data import write_image_nifti

        return write_image_nifti(d / name, np.random.default_rng(0).random((2, 3, 6, 5)
                                                                          ).astype(np.float32),
                                 (1.5, 1.5, 8.0), temporal_resolution_ms=40.0)
    return build


def _nifti_absurd(unit, rng):
    dims = [4] + [int(rng.integers(2000, 32768)) for _ in range(3)] + [int(rng.integers(1, 50))]
    mu.edit_nifti_header(unit, mu.set_dims(dims))
    return Expect(True, ("TooLargeError", "CorruptFileError"))


def _nifti_bad_dims(unit, rng):
    dims = [[0, 5, 6, 2, 3], [9, 5, 6, 2, 3, 2, 2, 2], [4, 5, -6, 2, 3], [4, 5, 0, 2, 3],
            [-1, 5, 6, 2, 3], [7, 5, 6, 2, 3, 4, 5, 6]][int(rng.integers(0, 6))]
    mu.edit_nifti_header(unit, mu.set_dims(dims))
    return Expect(True, ("LayoutError", "CorruptFileError"))


def _nifti_dtype(unit, rng):
    code = [32, 128, 1792, 2304, 999, 0][int(rng.integers(0, 6))]
    mu.edit_nifti_header(unit, mu.set_field(70, "<h", code))
    return Expect(True, ("LayoutError", "CorruptFileError", "TooLargeError"))


def _nifti_nan(unit, rng):
    img = mu.with_nonfinite(np.random.default_rng(0).random((2, 3, 6, 5)).astype(np.float32),
                            rng)
    mu.write_nifti_unchecked(unit, img)
    return mu.CORRUPT


def _nifti_scaling(unit, rng):
    choice = int(rng.integers(0, 3))
    if choice == 2:
        mu.edit_nifti_header(unit, mu.set_field(108, "<f", float(rng.integers(10**6, 10**9))))
        return Expect(True, ("CorruptFileError", "TooLargeError"))
    value = [np.inf, 3e38][choice]
    mu.edit_nifti_header(unit, mu.set_field(112, "<f", value))
    return ANY


def _nifti_target(name: str, ext: str) -> Target:
    return Target(name, _nifti_build(f"img{ext}"), _reader(lambda u: _read("nifti", u)),
                  {**mu.byte_mutations(lambda u: [u]), "absurd-dims": _nifti_absurd,
                   "bad-dims": _nifti_bad_dims, "dtype": _nifti_dtype, "nan-inf": _nifti_nan,
                   "scaling": _nifti_scaling})


NIFTI_GZ = _nifti_target("nifti-gz", ".nii.gz")
NIFTI = _nifti_target("nifti", ".nii")


# ====================================================================== ACDC
def _acdc_build(d: Path) -> Path:
    from suite.data import write_image_nifti, write_labels_nifti

    p = d / "patient001"
    p.mkdir()
    (p / "Info.cfg").write_text("ED: 1\nES: 2\nGroup: NOR\nHeight: 180\nNbFrame: 2\n"
                                "Weight: 80\n")
    for n in (1, 2):
        write_image_nifti(p / f"patient001_frame{n:02d}.nii.gz",
                          np.full((2, 1, 6, 5), n, np.float32), (1.5, 1.5, 8.0))
        lab = np.zeros((2, 1, 6, 5), np.uint8)
        lab[:, :, 2:4, 1:4] = 3
        write_labels_nifti(p / f"patient001_frame{n:02d}_gt.nii.gz", lab, (1.5, 1.5, 8.0))
    return p


def _acdc_info(unit, rng):
    text = [rng.bytes(64), b"ED: 1\n", b"ED: 0\nES: 2\n", b"ED: 99\nES: 2\n",
            b"ED: abc\nES: 2\n", b"no colon here\n", "ED: 1\nES: 2\nGroup: \udcff".encode(
                "utf-8", "surrogateescape")][int(rng.integers(0, 7))]
    (unit / "Info.cfg").write_bytes(text)
    return ANY


def _acdc_labels(unit, rng):
    lab = np.full((2, 1, 6, 5), int(rng.integers(4, 256)), np.uint8)
    mu.write_nifti_unchecked(unit / "patient001_frame02_gt.nii.gz", lab)
    return mu.LAYOUT


def _acdc_shape(unit, rng):
    from suite.data import write_image_nifti

    write_image_nifti(unit / "patient001_frame02.nii.gz",
                      np.ones((2, 1, int(rng.integers(7, 12)), 5), np.float32), (1.5, 1.5, 8.0))
    return mu.LAYOUT


def _acdc_nan(unit, rng):
    mu.write_nifti_unchecked(unit / "patient001_frame01.nii.gz",
                             mu.with_nonfinite(np.ones((2, 1, 6, 5), np.float32), rng))
    return mu.CORRUPT


ACDC = Target("acdc", _acdc_build, _reader(lambda u: _read("acdc", u), inspect_it=False),
              {**mu.byte_mutations(lambda u: sorted(u.iterdir())), "info": _acdc_info,
               "labels": _acdc_labels, "shape-mismatch": _acdc_shape, "nan-inf": _acdc_nan})


# ====================================================================== M&Ms
def _mnms_build(d: Path) -> Path:
    from suite.data import write_image_nifti, write_labels_nifti

    p = d / "A1B2C3"
    p.mkdir()
    write_image_nifti(p / "A1B2C3_sa.nii.gz", np.ones((2, 3, 6, 5), np.float32),
                      (1.5, 1.5, 8.0))
    lab = np.zeros((2, 3, 6, 5), np.uint8)
    lab[:, 0, 2:4, 1:4] = 1
    lab[:, 2, 2:4, 1:3] = 1
    write_labels_nifti(p / "A1B2C3_sa_gt.nii.gz", lab, (1.5, 1.5, 8.0))
    (d / "mnms_info.csv").write_text("External code,VendorName,Vendor,Centre,ED,ES\n"
                                     "A1B2C3,Siemens,A,1,0,2\n")
    return p


def _mnms_csv(unit, rng):
    text = [rng.bytes(80), b"External code,ED,ES\nA1B2C3,x,2\n",
            b"External code,ED,ES\nA1B2C3,0,99\n", b"External code,VendorName\nA1B2C3,X\n",
            b'External code,ED,ES\n"A1B2C3,0,2\n'][int(rng.integers(0, 5))]
    (unit.parent / "mnms_info.csv").write_bytes(text)
    return ANY


def _mnms_labels(unit, rng):
    mu.write_nifti_unchecked(unit / "A1B2C3_sa_gt.nii.gz",
                             np.full((2, 3, 6, 5), int(rng.integers(4, 256)), np.uint8))
    return mu.LAYOUT


def _mnms_shape(unit, rng):
    from suite.data import write_labels_nifti

    write_labels_nifti(unit / "A1B2C3_sa_gt.nii.gz",
                       np.zeros((2, int(rng.integers(4, 7)), 6, 5), np.uint8), (1.5, 1.5, 8.0))
    return mu.LAYOUT


MNMS = Target("mnms", _mnms_build,
              _reader(lambda u: _read("mnms", u), inspect_it=False, loader=lambda u: u.parent),
              {**mu.byte_mutations(lambda u: sorted(u.parent.rglob("*.*"))),
               "csv": _mnms_csv, "labels": _mnms_labels, "shape-mismatch": _mnms_shape})


# ====================================================================== phantom cohort
def _phantom_build(d: Path) -> Path:
    from suite.data import write_ismrmrd, write_labels_nifti
    from suite.data.phantom_cohort import PHANTOM_TRUTH_COLUMNS

    root = d / "cohort"
    sub = root / "sub-01"
    sub.mkdir(parents=True)
    case = _case(ns=2, nf=2, nc=2, ny=8, nx=6)
    write_ismrmrd(sub / "cine_sax.h5", case)
    write_labels_nifti(sub / "labels.nii.gz", np.zeros((2, 2, 8, 6), np.uint8),
                       (1.5, 1.5, 8.0))
    row = {"subject": "sub-01", "pathology": "normal", "preset": "fuzz",
           "field_strength_t": "1.5", "coils": "2", "ed_frame": "0", "es_frame": "1"}
    values = [row.get(c, "1.0") for c in PHANTOM_TRUTH_COLUMNS]
    (root / "truth.csv").write_text(",".join(PHANTOM_TRUTH_COLUMNS) + "\n" + ",".join(values)
                                    + "\n")
    return root


def _phantom_truth(unit, rng):
    lines = (unit / "truth.csv").read_text().splitlines()
    choice = int(rng.integers(0, 5))
    if choice == 0:
        (unit / "truth.csv").write_bytes(lines[0].encode() + b"\n" + rng.bytes(60))
        return ANY
    row = lines[1].split(",")
    row[[0, 0, 4, 13][choice - 1]] = ["../escape", "/etc", "many", "x"][choice - 1]
    (unit / "truth.csv").write_text(lines[0] + "\n" + ",".join(row) + "\n")
    return Expect(True)


def _phantom_labels(unit, rng):
    from suite.data import write_labels_nifti

    write_labels_nifti(unit / "sub-01" / "labels.nii.gz",
                       np.zeros((2, int(rng.integers(3, 6)), 8, 6), np.uint8), (1.5, 1.5, 8.0))
    return mu.LAYOUT


def _phantom_read(unit: Path, root: Path, expect: Expect) -> list[str]:
    problems = read_checked(lambda: _read("phantom", unit / "sub-01"), root, expect)[1]
    return problems + loader_checked(unit, root, limits=FUZZ_LIMITS)


PHANTOM = Target("phantom", _phantom_build, _phantom_read,
                 {**mu.byte_mutations(lambda u: sorted(p for p in u.rglob("*") if p.is_file())),
                  "truth": _phantom_truth, "labels-mismatch": _phantom_labels,
                  "link": mu.hdf5_link(lambda u: [(u / "sub-01" / "cine_sax.h5",
                                                   "dataset/data")])})

READER_TARGETS = {t.name: t for t in (ISMRMRD, FASTMRI, CMRX73, CMRX5, DICOM, NIFTI_GZ, NIFTI,
                                      ACDC, MNMS, PHANTOM)}

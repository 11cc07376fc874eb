"""DICOM files: content sniffing, header records and pixel reading (one file at a time).

The series logic (grouping, ordering, checks) is in :mod:`suite.data.dicom_series`; the public
entry points are in :mod:`suite.data.dicom`. This module never assembles a Case.

Sniffing (:func:`is_dicom`)
    A file is DICOM when bytes 128-131 are ``b"DICM"`` (PS3.10 §7.1 File Meta Information
    preamble and prefix). Files without that preamble (old ACR-NEMA style or raw data set
    dumps) are accepted only when the first data element has group 0x0002 or 0x0008 (little
    endian) **and** pydicom parses the header into a data set holding ``SOPClassUID`` or
    ``Modality``. ``pydicom.dcmread(force=False)`` alone cannot serve as this fallback: it
    rejects every file without ``DICM`` (``pydicom.filereader.read_preamble``).

Header records (:func:`read_header`)
    Read with ``defer_size`` so that Pixel Data (7FE0,0010) is not loaded; the pixel element's
    declared length and file offset are checked against the file size, so a truncated file
    (pydicom's bundled ``MR_truncated.dcm``) fails **at open** with
    :class:`~suite.data.errors.CorruptFileError`, not on first pixel access (STYLE R7), and
    the decoded size the header implies is checked against the default limits of
    :mod:`suite.data.limits` (a compressed frame cannot expand beyond them).
    Never read: Patient's Name (0010,0010), birth date or any other identifying tag except
    Patient ID (0010,0020).
"""

from __future__ import annotations

import math
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pydicom
from pydicom.tag import Tag

from suite.data.errors import CaseReadError, CorruptFileError, LayoutError
from suite.data.limits import check_declared

__all__ = ["DICOM_MAGIC", "DICOM_SUFFIXES", "DicomHeader", "is_dicom", "read_header",
           "read_headers", "read_pixels", "read_pixel_stack", "DICOMDIR_SOP_CLASS"]

#: Prefix at byte offset 128 of a DICOM Part 10 file.
DICOM_MAGIC = b"DICM"
#: Names that claim to be DICOM: such a file that is not DICOM is an error, not skipped.
DICOM_SUFFIXES = (".dcm", ".dicom", ".ima")
#: Media Storage Directory (DICOMDIR) SOP class: an index, never image data; skipped.
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
_PIXEL_DATA = Tag(0x7FE0, 0x0010)
_DEFER = 1024  # bytes: larger elements (Pixel Data) are not read at open


@dataclass(frozen=True)
class DicomHeader:
    """The tags the suite uses from one DICOM file (no pixel data, no patient name).

    Units: mm (positions, spacing, thickness), ms (trigger time, TR, TE, nominal interval),
    T (field strength), beats/min (heart rate). ``None`` where the tag is absent or empty.

    A header is either one classic single-frame file (``frame_index`` ``None``) or one frame
    of a multi-frame file (``frame_index`` 0-based into its pixel data; geometry, trigger
    time, rescale from the functional groups, :mod:`suite.data.dicom_enhanced`;
    ``temporal_index`` from Frame Content; ``instance_number`` ``None``).
    ``orientation`` is Image Orientation (Patient) (0020,0037): row direction cosines
    (direction of increasing column index) then column direction cosines; ``position`` is
    Image Position (Patient) (0020,0032), the centre of the first transmitted pixel, in the
    patient coordinate system (PS3.3 C.7.6.2.1.1).
    """

    path: Path
    has_magic: bool
    sop_class_uid: str | None
    sop_instance_uid: str | None
    study_uid: str | None
    series_uid: str | None
    series_number: int | None
    series_description: str | None
    protocol_name: str | None
    modality: str | None
    patient_id: str | None
    rows: int | None
    columns: int | None
    samples_per_pixel: int
    n_frames: int
    has_pixels: bool
    orientation: tuple[float, ...] | None
    position: tuple[float, float, float] | None
    pixel_spacing: tuple[float, float] | None
    slice_thickness: float | None
    spacing_between_slices: float | None
    trigger_time: float | None
    instance_number: int | None
    rescale_slope: float
    rescale_intercept: float
    manufacturer: str | None
    model: str | None
    institution: str | None
    field_strength: float | None
    sequence_name: str | None
    scanning_sequence: str | None
    heart_rate: float | None
    nominal_interval: float | None
    tr_ms: float | None
    te_ms: float | None
    flip_angle_deg: float | None
    frame_index: int | None = None
    temporal_index: int | None = None
    inversion_time_ms: float | None = None
    image_comments: str | None = None
    image_type: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """A readable label for messages: ``SeriesDescription`` or ``ProtocolName``."""
        return self.series_description or self.protocol_name or "(no description)"

    @property
    def label(self) -> str:
        """The file name, plus ``frame k`` (from 1, as DICOM counts) for a frame of a
        multi-frame file: what messages call this image."""
        if self.frame_index is None:
            return self.path.name
        return f"{self.path.name} frame {self.frame_index + 1}"


# ====================================================================== sniffing
def _has_magic(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(132)
    return len(head) == 132 and head[128:132] == DICOM_MAGIC


def _looks_preambleless(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(8)
    if len(head) < 8:
        return False
    return int.from_bytes(head[:2], "little") in (0x0002, 0x0008)


def is_dicom(path) -> bool:
    """True when the file's content is DICOM (see the module docstring for the rule).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    bool
        Never raises for unreadable or odd files: those are simply not DICOM here.
    """
    p = Path(path)
    try:
        if not p.is_file() or p.stat().st_size == 0:
            return False
        if _has_magic(p):
            return True
        if not _looks_preambleless(p):
            return False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(p, force=True, stop_before_pixels=True)
        return "SOPClassUID" in ds or "Modality" in ds
    except Exception:  # noqa: BLE001 - any parse failure means "not DICOM"
        return False


# ====================================================================== header
def _str(ds, keyword: str) -> str | None:
    v = ds.get(keyword)
    if v is None:
        return None
    if isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue":
        v = "\\".join(str(x) for x in v)
    s = str(v).strip()
    return s or None


def _float(ds, keyword: str, path: Path) -> float | None:
    v = ds.get(keyword)
    if v is None or v == "":
        return None
    try:
        out = float(v)
    except (TypeError, ValueError):
        raise LayoutError(path, f"{keyword} holds {v!r}, not a number",
                          "fix or remove the tag in the export") from None
    return out if math.isfinite(out) else None


def _optional_float(ds, keyword: str, path: Path) -> float | None:
    """Like :func:`_float` but ``None`` for an unreadable value (a tag only mapping uses must
    not stop a cine series from reading)."""
    try:
        return _float(ds, keyword, path)
    except LayoutError:
        return None


def _strings(ds, keyword: str) -> tuple[str, ...]:
    """A multi-valued string element (e.g. ImageType) as a tuple of upper-case strings."""
    v = ds.get(keyword, None)
    if v is None or v == "":
        return ()
    values = v if isinstance(v, (list, tuple)) or type(v).__name__ == "MultiValue" else [v]
    return tuple(str(x).strip().upper() for x in values)


def _int(ds, keyword: str, path: Path) -> int | None:
    v = _float(ds, keyword, path)
    return None if v is None else int(round(v))


def _floats(ds, keyword: str, n: int, path: Path) -> tuple[float, ...] | None:
    v = ds.get(keyword)
    if v is None or v == "":
        return None
    try:
        vals = tuple(float(x) for x in v)
    except (TypeError, ValueError):
        raise LayoutError(path, f"{keyword} holds {v!r}, not {n} numbers",
                          "fix the tag in the export") from None
    if len(vals) != n or not all(math.isfinite(x) for x in vals):
        raise LayoutError(path, f"{keyword} must hold {n} finite numbers; got {list(vals)}",
                          "fix the tag in the export")
    return vals


def _expected_pixel_bytes(ds, path: Path) -> int | None:
    rows, cols = _int(ds, "Rows", path), _int(ds, "Columns", path)
    bits = _int(ds, "BitsAllocated", path)
    if not rows or not cols or not bits or bits % 8:
        return None
    spp = _int(ds, "SamplesPerPixel", path) or 1
    nf = _int(ds, "NumberOfFrames", path) or 1
    return rows * cols * spp * nf * (bits // 8)


def _check_pixel_data(ds, path: Path, size: int) -> bool:
    """Whether Pixel Data is present; raise CorruptFileError when it is cut short."""
    try:
        raw = ds.get_item(_PIXEL_DATA, keep_deferred=True)
    except TypeError:  # pydicom < 3: no keep_deferred (the value is read instead)
        raw = ds.get_item(_PIXEL_DATA)
    if raw is None:
        return False
    length = getattr(raw, "length", None)
    tell = getattr(raw, "value_tell", None)
    undefined = length == 0xFFFFFFFF
    if length is not None and tell is not None and not undefined and tell + length > size:
        raise CorruptFileError(
            path, f"truncated: Pixel Data (7FE0,0010) declares {length} bytes at offset {tell} "
            f"but the file ends after {size} bytes",
            "the export or copy did not finish; export the image again")
    value = getattr(raw, "value", None)
    ts = getattr(ds.get("file_meta", None), "TransferSyntaxUID", None)
    compressed = bool(getattr(ts, "is_compressed", False)) or undefined
    decoded = _expected_pixel_bytes(ds, path)
    if decoded is not None:  # decoded size from the header, before any pixel is decoded
        check_declared(path, "pixel data (Rows x Columns x samples x frames x "
                       "BitsAllocated/8)", decoded, None, file_bytes=size)
    want = None if compressed else decoded
    have = len(value) if isinstance(value, (bytes, bytearray)) else \
        (None if undefined or length is None else length)
    if want is not None and have is not None and have < want:
        raise CorruptFileError(
            path, f"truncated: Pixel Data (7FE0,0010) holds {have} bytes but Rows x Columns x "
            f"samples x frames x BitsAllocated/8 needs {want}",
            "the export or copy did not finish; export the image again")
    return True


def _decoder_missing(ts: str) -> str | None:
    """``None`` when pydicom can decode ``ts`` here, else the missing plugins (pydicom >= 3)."""
    try:
        from pydicom.pixels.decoders.base import get_decoder
        from pydicom.uid import UID
    except ImportError:  # pydicom < 3: decodability is found when pixels are read
        return None
    uid = UID(ts)
    if not uid.is_compressed:
        return None
    try:
        dec = get_decoder(uid)
    except Exception:  # noqa: BLE001 - no decoder class at all for this syntax
        return "none registered"
    if dec.is_available:
        return None
    return "; ".join(dec.missing_dependencies) or "unavailable"


def read_header(path) -> DicomHeader:
    """Read the file-level header of one DICOM file (pixel data deferred, truncation checked).

    For a multi-frame file this is the top-level record (``n_frames`` > 1, no per-frame
    geometry); :func:`read_headers` gives its frames.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    DicomHeader

    Raises
    ------
    CorruptFileError
        Missing, empty, not DICOM by content (message says which tests failed), header that
        pydicom cannot parse, or Pixel Data shorter than declared / than the image needs.
    LayoutError
        A numeric tag the suite uses holds a non-number (the tag is named), or the pixel
        data are compressed in a transfer syntax no installed pydicom plugin decodes.
    """
    ds, p, size, magic = _open(path)
    with warnings.catch_warnings(), _lazy_errors(p):
        warnings.simplefilter("ignore")
        return _header(ds, p, size, magic)


def read_headers(path) -> tuple[DicomHeader, ...]:
    """The images of one DICOM file: its header, or one header per frame if multi-frame.

    A file with more than one frame, or with Multi-frame Functional Groups (Enhanced MR,
    PS3.3 C.7.6.16 and C.8.13), gives one :class:`DicomHeader` per frame with the frame's
    position, orientation, pixel spacing, trigger time and rescale
    (:func:`suite.data.dicom_enhanced.frame_headers`).

    Returns
    -------
    tuple of DicomHeader
        One element for a classic file; ``NumberOfFrames`` elements (file order) otherwise.

    Raises
    ------
    CorruptFileError, LayoutError
        As :func:`read_header`; and LayoutError naming the file and frame for missing or
        inconsistent functional groups.
    """
    from suite.data.dicom_enhanced import frame_headers, is_multiframe

    ds, p, size, magic = _open(path)
    with warnings.catch_warnings(), _lazy_errors(p):
        warnings.simplefilter("ignore")
        h = _header(ds, p, size, magic)
        if not h.has_pixels or not is_multiframe(ds, h.n_frames):
            return (h,)
        return frame_headers(ds, h, _number)


@contextmanager
def _lazy_errors(p: Path) -> Iterator[None]:
    """pydicom converts raw elements when they are first accessed, so a damaged element (an
    unknown VR, a UID that is not a transfer syntax, ...) raises only then, with whatever
    type pydicom uses: turned into a CorruptFileError naming the file."""
    try:
        yield
    except CaseReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for damaged elements
        raise CorruptFileError(p, f"DICOM header cannot be parsed ({type(exc).__name__}: "
                               f"{exc})", "the file is truncated or damaged; export it "
                               "again") from None


def _number(ds, keyword: str, n: int, path: Path):
    """``n`` = 0: one float or None; else a tuple of ``n`` floats or None (LayoutError if bad)."""
    return _float(ds, keyword, path) if n == 0 else _floats(ds, keyword, n, path)


def _open(path):
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise CorruptFileError(p, f"cannot be opened ({exc.strerror or exc})",
                               "check the path") from None
    if size == 0:
        raise CorruptFileError(p, "file is empty (0 bytes)",
                               "the export or copy did not finish; export it again")
    if not is_dicom(p):
        raise CorruptFileError(
            p, "not a DICOM file: no 'DICM' prefix at byte 128 and no DICOM data elements "
            "at the start", "remove it from the folder or export the image as DICOM Part 10")
    magic = _has_magic(p)
    with warnings.catch_warnings():  # pydicom warns on odd values while converting lazily
        warnings.simplefilter("ignore")
        try:
            ds = pydicom.dcmread(p, defer_size=_DEFER, force=not magic)
        except Exception as exc:  # noqa: BLE001 - pydicom raises many types for damaged files
            raise CorruptFileError(p, f"DICOM header cannot be parsed ({type(exc).__name__}: "
                                   f"{exc})", "the file is truncated or damaged; export it "
                                   "again") from None
    return ds, p, size, magic


def _header(ds, p: Path, size: int, magic: bool) -> DicomHeader:
    has_pixels = _check_pixel_data(ds, p, size)
    fm = ds.get("file_meta", None)
    ts = None if fm is None else _str(fm, "TransferSyntaxUID")
    if has_pixels and ts is not None:
        missing = _decoder_missing(ts)
        if missing:
            raise LayoutError(p, f"pixel data in transfer syntax {ts} cannot be decoded here "
                              f"(no working pydicom decoder plugin: {missing})",
                              "install one of the plugins named, or export uncompressed DICOM")
    sop_class = _str(ds, "SOPClassUID") or (None if fm is None else _str(fm,
                                                                          "MediaStorageSOPClassUID"))
    modality = _str(ds, "Modality")
    if not has_pixels and sop_class != DICOMDIR_SOP_CLASS and modality in (None, "MR"):
        # pydicom stops quietly at the end of a cut file: an MR image without Pixel Data
        # (or a file cut before Modality) is a truncated file, not a layout problem
        raise CorruptFileError(p, "no Pixel Data (7FE0,0010): the file ends before the pixel "
                               "data (truncated) or is not an image",
                               "the export or copy did not finish; export the image again")
    ps = _floats(ds, "PixelSpacing", 2, p)
    slope = _float(ds, "RescaleSlope", p)
    return DicomHeader(
        path=p, has_magic=magic, sop_class_uid=sop_class,
        sop_instance_uid=_str(ds, "SOPInstanceUID"), study_uid=_str(ds, "StudyInstanceUID"),
        series_uid=_str(ds, "SeriesInstanceUID"), series_number=_int(ds, "SeriesNumber", p),
        series_description=_str(ds, "SeriesDescription"),
        protocol_name=_str(ds, "ProtocolName"), modality=modality,
        patient_id=_str(ds, "PatientID"), rows=_int(ds, "Rows", p),
        columns=_int(ds, "Columns", p), samples_per_pixel=_int(ds, "SamplesPerPixel", p) or 1,
        n_frames=_int(ds, "NumberOfFrames", p) or 1, has_pixels=has_pixels,
        orientation=_floats(ds, "ImageOrientationPatient", 6, p),
        position=_floats(ds, "ImagePositionPatient", 3, p),  # type: ignore[arg-type]
        pixel_spacing=ps,  # type: ignore[arg-type]
        slice_thickness=_float(ds, "SliceThickness", p),
        spacing_between_slices=_float(ds, "SpacingBetweenSlices", p),
        trigger_time=_float(ds, "TriggerTime", p),
        instance_number=_int(ds, "InstanceNumber", p),
        rescale_slope=1.0 if slope is None else slope,
        rescale_intercept=_float(ds, "RescaleIntercept", p) or 0.0,
        manufacturer=_str(ds, "Manufacturer"), model=_str(ds, "ManufacturerModelName"),
        institution=_str(ds, "InstitutionName"),
        field_strength=_float(ds, "MagneticFieldStrength", p),
        sequence_name=_str(ds, "SequenceName"), scanning_sequence=_str(ds, "ScanningSequence"),
        heart_rate=_float(ds, "HeartRate", p), nominal_interval=_float(ds, "NominalInterval", p),
        tr_ms=_float(ds, "RepetitionTime", p), te_ms=_float(ds, "EchoTime", p),
        flip_angle_deg=_float(ds, "FlipAngle", p),
        inversion_time_ms=_optional_float(ds, "InversionTime", p),
        image_comments=_str(ds, "ImageComments"),
        image_type=_strings(ds, "ImageType"),
    )


# ====================================================================== pixels
def _decode(header: DicomHeader) -> np.ndarray:
    """All stored frames of ``header``'s file, ``(n_frames, Rows, Columns)``, as stored."""
    p = header.path
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(p, force=not header.has_magic)
            arr = ds.pixel_array
    except (RuntimeError, NotImplementedError) as exc:
        msg = str(exc)
        if "plugin" in msg.lower() or "decod" in msg.lower() or "handler" in msg.lower():
            raise LayoutError(p, f"pixel data cannot be decoded here ({msg.splitlines()[0]})",
                              "install a pydicom decoder (pylibjpeg, pillow or gdcm) or "
                              "export uncompressed DICOM") from None
        raise CorruptFileError(p, f"pixel data cannot be read ({type(exc).__name__}: {msg})",
                               "the file is truncated or damaged; export it again") from None
    except Exception as exc:  # noqa: BLE001 - decoders raise ValueError, EOFError, ...
        raise CorruptFileError(p, f"pixel data cannot be read ({type(exc).__name__}: {exc})",
                               "the file is truncated or damaged; export it again") from None
    want = (header.rows, header.columns)
    if header.frame_index is None:
        if arr.shape != want:
            raise CorruptFileError(p, f"pixel array has shape {arr.shape}; the header says "
                                   f"Rows x Columns = {want}",
                                   "the file is damaged; export it again")
        return arr[None]
    if arr.ndim == 2 and header.n_frames == 1:
        arr = arr[None]
    if arr.shape != (header.n_frames, *want):
        raise CorruptFileError(p, f"pixel array has shape {arr.shape}; the header says "
                               f"NumberOfFrames x Rows x Columns = ({header.n_frames}, "
                               f"{want[0]}, {want[1]})", "the file is damaged; export it again")
    return arr


def _rescale(stored: np.ndarray, header: DicomHeader) -> np.ndarray:
    out = (stored.astype(np.float64) * header.rescale_slope + header.rescale_intercept)
    out = out.astype(np.float32)
    bad = int(np.size(out) - np.count_nonzero(np.isfinite(out)))
    if bad:
        raise CorruptFileError(header.path, f"{bad} non-finite pixel values after rescaling"
                               + ("" if header.frame_index is None
                                  else f" in frame {header.frame_index + 1}"),
                               "check Rescale Slope/Intercept and the pixel data")
    return out


def read_pixels(header: DicomHeader) -> np.ndarray:
    """The rescaled image of one file or one frame, float32 ``(y, x)`` = ``(Rows, Columns)``.

    Stored values are mapped with Rescale Slope (0028,1053) and Rescale Intercept (0028,1052):
    ``value = stored · slope + intercept`` (PS3.3 C.11.1.1.2; default slope 1, intercept 0),
    computed in float64, returned as float32. For a frame of a multi-frame file the slope and
    intercept are the frame's (Pixel Value Transformation functional group, PS3.3
    C.7.6.16.2.9). Photometric interpretation is not applied (MONOCHROME1 values are kept as
    stored). Vendor-private scalings (e.g. Philips (2005,100E)) are not applied.

    Raises
    ------
    CorruptFileError
        The pixel data cannot be decoded, has the wrong size or holds NaN/inf.
    LayoutError
        The transfer syntax needs a decoder plugin that is not installed.
    """
    return read_pixel_stack([header])[0]


def read_pixel_stack(headers) -> np.ndarray:
    """Rescaled images of several headers, float32 ``(n, y, x)``, in the order given.

    Each file is decoded once, however many of its frames are asked for (a multi-frame
    file holding a whole stack is read once, not once per frame). Errors as
    :func:`read_pixels`.
    """
    headers = list(headers)
    decoded: dict[Path, np.ndarray] = {}
    out = []
    for h in headers:
        if h.path not in decoded:
            decoded[h.path] = _decode(h)
        arr = decoded[h.path]
        out.append(_rescale(arr[0 if h.frame_index is None else h.frame_index], h))
    return np.stack(out)


def header_dict(h: DicomHeader) -> dict[str, Any]:
    """JSON-safe view of a header (for ``inspect``)."""
    return {k: (str(v) if isinstance(v, Path) else (list(v) if isinstance(v, tuple) else v))
            for k, v in h.__dict__.items()}

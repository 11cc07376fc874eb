"""ISMRMRD XML header: build it from a :class:`~suite.case.CaseMeta`, parse it back.

The header classes of ``ismrmrd`` 1.15 are keyword-only xsdata dataclasses with required
fields (``ismrmrdHeader`` needs ``experimentalConditions``; ``encodingType`` needs
``encodedSpace``, ``reconSpace``, ``encodingLimits`` and ``trajectory``;
``measurementInformationType`` needs ``patientPosition``): ismrmrd/ismrmrd-python
``ismrmrd/xsd/ismrmrdschema/ismrmrd.py``, generated from the ISMRMRD schema ``ismrmrd.xsd``
(ismrmrd/ismrmrd ``schema/ismrmrd.xsd``, https://github.com/ismrmrd/ismrmrd; Inati et al.,
"ISMRM Raw data format: A proposed standard for MRI raw datasets", Magn Reson Med
2017;77:411-421, doi 10.1002/mrm.26089).

Suite metadata that the ISMRMRD schema has no element for is written as user parameters:

=================================  ======================  ==========================================
name                               type                    meaning
=================================  ======================  ==========================================
``cmrsuite.slice_spacing_mm``      userParameterDouble     centre-to-centre slice distance, mm
``cmrsuite.heart_rate_bpm``        userParameterDouble     heart rate, beats/min
``cmrsuite.temporal_resolution_ms`` userParameterDouble    frame spacing, ms
``cmrsuite.ed_frame``              userParameterLong       0-based end-diastolic frame
``cmrsuite.es_frame``              userParameterLong       0-based end-systolic frame
``cmrsuite.mask_shape``            userParameterString     shape of ``Case.mask`` (JSON list)
``cmrsuite.meta``                  userParameterString     JSON of every other CaseMeta field
                                                           (also the exact pixel spacing and
                                                           slice thickness)
=================================  ======================  ==========================================
"""

from __future__ import annotations

import json
from typing import Any

import ismrmrd.xsd as X
from xsdata.formats.dataclass.context import XmlContext
from xsdata.formats.dataclass.parsers import XmlParser
from xsdata.formats.dataclass.parsers.config import ParserConfig

from suite.case import CaseMeta

#: Gyromagnetic ratio of 1H, Hz/T (CODATA 2018), used for H1resonanceFrequency_Hz.
GAMMA_HZ_PER_T = 42.577478518e6

PREFIX = "cmrsuite."
#: CaseMeta fields carried by explicit header elements or parameters (not in the JSON blob).
_EXPLICIT = {
    "subject", "series", "vendor", "field_strength_t", "site", "slice_spacing_mm", "heart_rate_bpm", "temporal_resolution_ms",
    "ed_frame", "es_frame", "source_file", "source_sha256",
}


def _lim(n: int, center: int = 0) -> "X.limitType":
    return X.limitType(minimum=0, maximum=max(int(n) - 1, 0), center=int(center))


def build_header(meta: CaseMeta, *, n_slices: int, n_frames: int, n_coils: int, ny: int,
                 nx: int, oversampling: int, mask_shape: tuple[int, ...]) -> "X.ismrmrdHeader":
    """The ISMRMRD header of a Case (see :func:`suite.data.ismrmrd_io.write_ismrmrd`)."""
    dy, dx = meta.pixel_spacing_mm if meta.pixel_spacing_mm is not None else (0.0, 0.0)
    dz = float(meta.slice_thickness_mm or 0.0)
    recon = X.encodingSpaceType(
        matrixSize=X.matrixSizeType(x=nx, y=ny, z=1),
        fieldOfView_mm=X.fieldOfViewMm(x=float(nx * dx), y=float(ny * dy), z=dz))
    encoded = X.encodingSpaceType(
        matrixSize=X.matrixSizeType(x=nx * oversampling, y=ny, z=1),
        fieldOfView_mm=X.fieldOfViewMm(x=float(nx * dx * oversampling), y=float(ny * dy), z=dz))
    limits = X.encodingLimitsType(
        kspace_encoding_step_0=_lim(nx * oversampling, nx * oversampling // 2),
        kspace_encoding_step_1=_lim(ny, ny // 2),
        kspace_encoding_step_2=_lim(1), average=_lim(1), contrast=_lim(1),
        slice=_lim(n_slices), phase=_lim(n_frames), repetition=_lim(1), set=_lim(1),
        segment=_lim(1))
    enc = X.encodingType(encodedSpace=encoded, reconSpace=recon, encodingLimits=limits,
                         trajectory=X.trajectoryType.CARTESIAN)
    b0 = meta.field_strength_t
    system = X.acquisitionSystemInformationType(
        systemFieldStrength_T=None if b0 is None else float(b0), receiverChannels=int(n_coils),
        systemVendor=meta.vendor, institutionName=meta.site)
    ex = meta.extra
    seq = None
    if any(k in ex for k in ("tr_ms", "te_ms", "flip_angle_deg")):
        seq = X.sequenceParametersType(
            TR=_floats(ex.get("tr_ms")), TE=_floats(ex.get("te_ms")),
            flipAngle_deg=_floats(ex.get("flip_angle_deg")))
    doubles = [(n, getattr(meta, n)) for n in
               ("slice_spacing_mm", "heart_rate_bpm", "temporal_resolution_ms")]
    longs = [(n, getattr(meta, n)) for n in ("ed_frame", "es_frame")]
    rest = {k: v for k, v in meta.to_dict().items() if k not in _EXPLICIT}
    # the slice geometry travels in the acquisition headers (suite.data.ismrmrd_io)
    rest["extra"] = {k: v for k, v in rest.get("extra", {}).items() if k != "slice_geometry"}
    strings = [("mask_shape", json.dumps(list(mask_shape))),
               ("meta", json.dumps(rest, sort_keys=True, default=str))]
    user = X.userParametersType(
        userParameterDouble=[X.userParameterDoubleType(name=PREFIX + n, value=float(v))
                             for n, v in doubles if v is not None],
        userParameterLong=[X.userParameterLongType(name=PREFIX + n, value=int(v))
                           for n, v in longs if v is not None],
        userParameterString=[X.userParameterStringType(name=PREFIX + n, value=v)
                             for n, v in strings])
    return X.ismrmrdHeader(
        version=2,
        subjectInformation=X.subjectInformationType(patientID=meta.subject),
        measurementInformation=X.measurementInformationType(
            patientPosition=X.patientPositionType.HFS, protocolName=meta.series),
        experimentalConditions=X.experimentalConditionsType(
            H1resonanceFrequency_Hz=int(round(GAMMA_HZ_PER_T * (b0 or 0.0)))),
        acquisitionSystemInformation=system, encoding=[enc], sequenceParameters=seq,
        userParameters=user)


def _floats(v: Any) -> list[float]:
    if v is None:
        return []
    if isinstance(v, (list, tuple)):
        return [float(x) for x in v]
    return [float(v)]


def to_xml(header: "X.ismrmrdHeader") -> bytes:
    """Serialise the header to ASCII XML bytes."""
    text = X.ToXML(header)
    return text.encode("ascii") if isinstance(text, str) else bytes(text)


def parse_xml(raw: bytes | str) -> "X.ismrmrdHeader":
    """Parse header XML; strict schema first, then tolerant of unknown elements.

    Raises ``ValueError`` with the parser's message if neither parse succeeds, and for a
    document type declaration (``<!DOCTYPE``/``<!ENTITY``: ISMRMRD headers never need one,
    and entity expansion is a known XML attack), before any parsing.
    """
    head = raw.encode("utf-8", "replace") if isinstance(raw, str) else bytes(raw)
    if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
        raise ValueError("the XML holds a document type declaration (<!DOCTYPE> or <!ENTITY>), "
                         "which ISMRMRD headers never need; refused (entity expansion)")
    try:
        return _parse(raw, strict=True)
    except Exception:  # noqa: BLE001 - retry tolerant of vendor extensions below
        pass
    try:
        return _parse(raw, strict=False)
    except Exception as exc:  # noqa: BLE001 - converted by the caller into a LayoutError
        raise ValueError(f"{type(exc).__name__}: {exc}") from None


def _parse(raw: bytes | str, *, strict: bool) -> "X.ismrmrdHeader":
    """``raw`` parsed into the schema's classes by xsdata: ``strict`` refuses unknown elements
    (ismrmrd's ``CreateFromDocument``), else they are skipped.

    The parser shares one :class:`~xsdata.formats.dataclass.context.XmlContext`, xsdata's cache
    of the classes' binding metadata; ``CreateFromDocument`` builds a new one per call, which
    was ≈ 0.03 CPU-s of a 0.1 CPU-s read of a demo case (docs/performance.md). The metadata
    depend only on the classes, so the parsed header is the same.
    """
    parser = XmlParser(config=ParserConfig(fail_on_unknown_properties=strict), context=_CONTEXT)
    if isinstance(raw, str):
        return parser.from_string(raw, X.ismrmrdHeader)
    return parser.from_bytes(bytes(raw), X.ismrmrdHeader)


#: xsdata's metadata cache of the header classes, shared by every parse (:func:`_parse`).
_CONTEXT = XmlContext()


def user_parameters(header: "X.ismrmrdHeader") -> dict[str, Any]:
    """All user parameters (Long, Double, String) as ``{name: value}``."""
    out: dict[str, Any] = {}
    up = header.userParameters
    if up is None:
        return out
    for group in (up.userParameterLong, up.userParameterDouble, up.userParameterString):
        for p in group or []:
            out[p.name] = p.value
    return out


def first(values) -> float | None:
    """The first element of an xsdata list field, as float, or None."""
    if not values:
        return None
    return float(values[0])

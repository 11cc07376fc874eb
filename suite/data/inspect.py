"""``inspect(path)``: a JSON-able summary of a data file or folder, reading headers only.

For ISMRMRD it reads the XML header and the acquisition headers (no samples), so it is fast
on a 1 GB file; for NIfTI the header; for ACDC/M&Ms folders the list of case folders. The
CLI (``cmrsuite inspect FILE``) prints this dict.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nibabel as nib

from suite.data.dicom import inspect_dicom
from suite.data.errors import CaseReadError, CorruptFileError
from suite.data.ismrmrd_reader import open_ismrmrd
from suite.data.loader import discover, sniff

__all__ = ["inspect"]


def inspect(path: str | os.PathLike, **options: Any) -> dict[str, Any]:
    """Summarise a file or folder without reading image data.

    Parameters
    ----------
    path : str or path-like
    **options
        ISMRMRD reader options (``repetitions``, ``set_index``) that change the shape.

    Returns
    -------
    dict
        Always ``path`` and ``format``. ISMRMRD: ``dims`` (``slice, frame, coil, ky, kx`` of
        the Case the reader returns), ``coils``, ``slices``, ``frames``, ``matrix``
        ``[ky, kx]``, ``encoded_matrix``, ``fov_mm`` (recon space, ``[x, y, z]``),
        ``pixel_spacing_mm`` ``[dy, dx]``, ``field_strength_t``, ``vendor``, ``site``,
        ``sampling`` (``fraction`` of ``(slice, frame, ky)`` lines acquired,
        ``effective_acceleration`` = 1 / fraction, ``acquired_lines``), ``flags``
        (``noise_scans``, ``oversampled``, ``readout_oversampling``, ``asymmetric_echo``,
        ``averages``, ``repetitions``, ``sets``, ``skipped_acquisitions``). NIfTI: ``dims``
        (NIfTI order), ``zooms``, ``dtype``, ``units``. DICOM file or folder of DICOM files
        (``group_by`` option): see :func:`suite.data.dicom.inspect_dicom`. Other folders:
        ``n_cases`` and ``cases``.

    Raises
    ------
    CaseReadError
        The same errors the readers raise at open (bad file, bad header).
    """
    p = Path(path)
    kind = sniff(p)
    if kind == "ismrmrd":
        return _inspect_ismrmrd(p, **options)
    if kind == "nifti":
        return _inspect_nifti(p)
    group_by = options.get("group_by", "series")
    if kind == "dicom":  # DICOM file or folder of DICOM files: suite.data.dicom.inspect_dicom
        return inspect_dicom(p, group_by=group_by)
    units = discover(p, group_by=group_by)
    if units and all(u.format == "dicom" for u in units):
        return inspect_dicom(p, group_by=group_by)
    return {"path": str(p), "format": kind, "n_cases": len(units),
            "cases": [{"path": str(u.path), "format": u.format} for u in units]}


def _inspect_ismrmrd(p: Path, **options: Any) -> dict[str, Any]:
    src = open_ismrmrd(p, **{k: v for k, v in options.items()
                             if k in ("repetitions", "set_index", "remove_oversampling")})
    lay, meta = src.layout, src.meta
    lines = src.line_mask()
    frac = float(lines.mean()) if lines.size else 0.0
    heads = src.heads[src.image_rows]
    e = src.header.encoding[0]
    fov = (e.reconSpace or e.encodedSpace).fieldOfView_mm
    return {
        "path": str(p), "format": "ismrmrd",
        "dims": list(src.shape), "dims_axes": ["slice", "frame", "coil", "ky", "kx"],
        "coils": lay.n_coils, "slices": lay.n_slices, "frames": src.n_frames,
        "matrix": [lay.ny, lay.nx], "encoded_matrix": list(lay.encoded_matrix),
        "fov_mm": None if fov is None else [float(fov.x), float(fov.y), float(fov.z)],
        "pixel_spacing_mm": None if meta.pixel_spacing_mm is None else list(meta.pixel_spacing_mm),
        "slice_thickness_mm": meta.slice_thickness_mm,
        "field_strength_t": meta.field_strength_t, "vendor": meta.vendor, "site": meta.site,
        "subject": meta.subject, "protocol": meta.series,
        "sequence": {k: meta.extra[k] for k in ("tr_ms", "te_ms", "ti_ms", "flip_angle_deg")
                     if k in meta.extra},
        "sampling": {"fraction": frac,
                     "effective_acceleration": (1.0 / frac) if frac > 0 else None,
                     "acquired_lines": int(lines.sum()), "total_lines": int(lines.size),
                     "unit": "(slice, frame, ky) lines; readout not counted"},
        "flags": {"noise_scans": int(src.noise_rows.size),
                  "oversampled": lay.os > 1, "readout_oversampling": lay.os,
                  "asymmetric_echo": bool((heads["number_of_samples"] < lay.nx_enc).any()),
                  "partial_fourier_ky_offset": lay.ky_offset,
                  "averages": lay.averages, "repetitions": lay.n_reps, "sets": lay.sets,
                  "skipped_acquisitions": dict(src.skipped)},
        "n_acquisitions": int(src.heads.size),
    }


def _inspect_nifti(p: Path) -> dict[str, Any]:
    try:
        img = nib.load(str(p))
        hdr = img.header
        dims = [int(v) for v in img.shape]
        zooms = [float(z) for z in hdr.get_zooms()]
        dtype = str(hdr.get_data_dtype())
        units = list(hdr.get_xyzt_units())
    except CaseReadError:
        raise
    except Exception as exc:  # noqa: BLE001 - nibabel/gzip errors mean a damaged header
        raise CorruptFileError(p, f"NIfTI header cannot be read ({type(exc).__name__}: {exc})",
                               "the file is truncated or damaged; fetch it again") from None
    return {"path": str(p), "format": "nifti", "dims": dims,
            "dims_axes": ["x", "y", "slice", "frame"][:len(dims)], "zooms": zooms,
            "dtype": dtype, "units": units,
            "case_dims": ([dims[2] if len(dims) > 2 else 1, dims[3] if len(dims) > 3 else 1,
                           dims[1], dims[0]]),
            "case_axes": ["slice", "frame", "y", "x"]}

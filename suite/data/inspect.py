"""``inspect(path)``: a JSON-able summary of a data file or folder, reading headers only.

For ISMRMRD it reads the XML header and the acquisition headers (no samples), so it is fast
on a 1 GB file; for NIfTI the header; for fastMRI volumes and MATLAB ``.mat`` files (CMRxRecon)
the dataset and variable headers; for ACDC/M&Ms folders the list of case folders. Every file
format goes through its reader's checks at open, so a file the reader would refuse (damaged,
hostile, absurd header) raises the reader's :class:`~suite.data.errors.CaseReadError` here too
and the CLI (``cmrsuite inspect FILE``) exits non-zero with its one-line message; otherwise the
CLI prints this dict.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from suite.data.dicom import inspect_dicom
from suite.data.fastmri import open_fastmri
from suite.data.ismrmrd_reader import open_ismrmrd
from suite.data.loader import discover, sniff
from suite.data.matv73 import open_mat
from suite.data.nifti_io import read_nifti_header

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
        (NIfTI order), ``zooms``, ``dtype``, ``units``. fastMRI: ``dims`` (the Case's
        ``slice, frame, coil, ky, kx``), ``track``, ``target``. MATLAB ``.mat`` (CMRxRecon):
        ``mat_version`` and ``variables`` (name, MATLAB size, class, complex). DICOM file or
        folder of DICOM files
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
    if kind == "fastmri":
        return _inspect_fastmri(p)
    if kind == "cmrxrecon":
        return _inspect_mat(p)
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
    h = read_nifti_header(p)
    dims = list(h.nifti_shape)
    return {"path": str(p), "format": "nifti", "dims": dims,
            "dims_axes": ["x", "y", "slice", "frame"][:len(dims)], "zooms": list(h.zooms),
            "dtype": str(h.dtype), "units": list(h.units), "case_dims": list(h.shape),
            "case_axes": ["slice", "frame", "y", "x"]}


def _inspect_fastmri(p: Path) -> dict[str, Any]:
    src = open_fastmri(p)
    return {"path": str(p), "format": "fastmri", "dims": list(src.shape),
            "dims_axes": ["slice", "frame", "coil", "ky", "kx"],
            "track": src.meta.extra.get("track"), "target": src.target_key,
            "target_dims": None if src.target_shape is None else list(src.target_shape),
            "mask_source": src.meta.extra.get("mask_source"),
            "vendor": src.meta.vendor, "field_strength_t": src.meta.field_strength_t}


def _inspect_mat(p: Path) -> dict[str, Any]:
    mf = open_mat(p)
    return {"path": str(p), "format": "cmrxrecon", "mat_version": mf.version,
            "variables": [{"name": v.name, "matlab_size": list(v.shape),
                           "class": v.matlab_class, "complex": v.is_complex}
                          for v in mf.variables.values()]}

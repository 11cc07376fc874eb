"""Write a mapping subject: ISMRMRD raw data per series, truth maps (NIfTI), truth table (CSV).

Layout::

    folder/<series>.h5            ISMRMRD, one frame (phase index) per weighted image (cardiac
                                  MRF: per image of consecutive repetitions)
    folder/truth_<map>.nii.gz     truth maps (x, y, 1, 1): t1/t2 native and post (ms), ecv, pd,
                                  purity (fraction of the pixel in its region)
    folder/regions.nii.gz         region codes (suite.phantom.mapping.REGIONS)
    folder/truth.csv              one row per region

Beyond :func:`suite.data.ismrmrd_io.write_ismrmrd` (whose XML header carries the timings in
``meta.timings_ms`` through the ``cmrsuite.meta`` user parameter), each acquisition header
holds its image's timings: ``physiology_time_stamp[0]`` = trigger (R-wave) time in ms
(rounded), ``user_float[0..3]`` = TI, TS, T2-prep duration and trigger time in ms (−1 where not
applicable). The acquisition description of model-based methods
(:class:`suite.mr.sequences.MappingAcquisition`) travels in the header: sequence (protocol)
name, ``sequenceParameters`` TR/TE/flip angle, and in ``meta.extra`` the trigger delay, the
readout and ramp-up pulses and centre line (bSSFP) and the images per block (MRF).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import h5py
import numpy as np

from suite._atomic import atomic_write_text
from suite.data.ismrmrd_io import write_ismrmrd
from suite.data.nifti_io import write_image_nifti, write_labels_nifti

__all__ = ["write_mapping_subject", "TRUTH_MAPS"]

TRUTH_MAPS = ("t1_native_ms", "t2_native_ms", "t1_post_ms", "t2_post_ms", "ecv", "pd", "purity")


def _stamp(path: Path, series) -> None:
    t = series.image_timings
    per_image = np.stack([t["TI"], t["TS"], t["TE"], t["trigger"]], 1)
    per_image = np.where(np.isfinite(per_image), per_image, -1.0).astype(np.float32)
    with h5py.File(path, "r+") as f:
        d = f["dataset/data"]
        arr = d[...]
        frame = arr["head"]["idx"]["phase"].astype(int)
        arr["head"]["user_float"][:, :4] = per_image[frame]
        arr["head"]["physiology_time_stamp"][:, 0] = np.round(t["trigger"][frame]).astype(np.uint32)
        d[...] = arr


def write_mapping_subject(folder: str | os.PathLike, subject) -> dict:
    """Write ``subject`` (a :class:`~suite.phantom.mapping.MappingSubject`) into ``folder``.

    Returns
    -------
    dict
        ``{"series": {name: path}, "truth": {map: path}, "regions": path, "table": path}``.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = {"series": {}, "truth": {}}
    for s in subject.series:
        p = write_ismrmrd(out / f"{s.name}.h5", s.case)
        _stamp(p, s)
        written["series"][s.name] = p
    a = subject.anatomy
    spacing = (a.pixel_spacing_mm, a.pixel_spacing_mm, a.slice_thickness_mm)
    for name in TRUTH_MAPS:
        written["truth"][name] = write_image_nifti(
            out / f"truth_{name}.nii.gz", subject.truth[name][None, None], spacing)
    written["regions"] = write_labels_nifti(out / "regions.nii.gz",
                                            subject.truth["regions"][None, None], spacing)
    rows = subject.truth_table()
    text = io.StringIO(newline="")
    w = csv.DictWriter(text, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    written["table"] = atomic_write_text(out / "truth.csv", text.getvalue())
    return written

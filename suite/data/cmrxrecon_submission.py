"""CMRxRecon submission files: ranked images → MATLAB v7.3 ``img4ranking``.

The challenges take one ``.mat`` per input file, holding the magnitude images that
``run4Ranking`` selects (CmrxRecon/CMRxRecon @ 2cb293a ``CMRxReconDemo/run4Ranking.m`` and
``ChallengeDataFormat/SubmissionFormat_*.txt``; the same format in CmrxRecon/CMRxRecon2024 @
a850753 and CmrxRecon/CMRxRecon2025 @ d3d0b28). The selection itself is a scoring convention
and lives in :func:`suite.metrics.cmrxrecon_profile.prepare_for_ranking`; the reader is
:mod:`suite.data.cmrxrecon`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from suite._validation import check_finite, check_ndim
from suite.data.cmrxrecon import YEARS
from suite.data.matv73 import write_mat_v73

__all__ = ["write_cmrxrecon_submission"]


def write_cmrxrecon_submission(path: str | os.PathLike, images: np.ndarray, *,
                               year: int) -> Path:
    """Write ranked images as a CMRxRecon submission file (MATLAB v7.3, ``img4ranking``).

    Parameters
    ----------
    path : str or path-like
        Output ``.mat`` (the challenge expects the input file's name in the mirrored folder
        tree, e.g. ``MultiCoil/Cine/TestSet/AccFactor04/P001/cine_sax.mat`` for 2023 or
        ``.../TaskN/MultiCoil/Cine/.../P001/cine_sax_kus_Uniform4.mat`` for 2024, see
        ``ChallengeDataFormat/SubmissionFormat_*.txt``; this function writes one file).
    images : ndarray, real or complex, ``(slice, frame, y, x)``
        Usually :func:`suite.metrics.cmrxrecon_profile.prepare_for_ranking` output; the
        magnitude is written (as ``run4Ranking``'s ``abs``), in single precision.
    year : {2023, 2024, 2025}
        Edition; the file format is the same for all three.

    Returns
    -------
    pathlib.Path

    Notes
    -----
    ``img4ranking`` has MATLAB size ``(sx, sy, slices, frames)`` = our
    ``images.transpose(3, 2, 0, 1)``, so h5py (and the challenge's Python loader) sees
    ``(frames, slices, sy, sx)``. Trailing singleton MATLAB axes are dropped as MATLAB does
    (one frame → ``(sx, sy, slices)``, the 2024 BlackBlood shape). ``MATLAB_class`` is
    ``single``; the 512-byte MATLAB header marks v7.3 (:mod:`suite.data.matv73`).
    """
    if int(year) not in YEARS:
        raise ValueError(f"write_cmrxrecon_submission: year must be one of {list(YEARS)}; "
                         f"got {year!r}")
    img = np.abs(np.asarray(images)).astype(np.float32)
    where = "write_cmrxrecon_submission"
    check_ndim(img, (4,), name="images", where=where, axes="(slice, frame, y, x)")
    check_finite(img, name="images", where=where)
    return write_mat_v73(path, {"img4ranking": np.transpose(img, (3, 2, 0, 1))})

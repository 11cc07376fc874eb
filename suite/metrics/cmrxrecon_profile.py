"""The CMRxRecon ranking selection: which slices, frames and pixels the challenges score.

The ``cmrxrecon2023/2024/2025`` profiles of :func:`suite.metrics.image.score` and the
submission files (:func:`suite.data.cmrxrecon_submission.write_cmrxrecon_submission`) share
one selection, reproduced here from the organisers' MATLAB (CmrxRecon/CMRxRecon @ 2cb293a
``CMRxReconDemo/run4Ranking.m``, CmrxRecon/CMRxRecon2024 @ a850753
``CMRxReconDemo/run4Ranking.m``, CmrxRecon/CMRxRecon2025 @ d3d0b28 ``run4Ranking_2025.m``):

* central two slices: MATLAB ``round(ns/2)-1 : round(ns/2)`` (1-based; all slices when
  ns < 3);
* frames by series: the first three for cine-like series, all for mapping series, one for
  black-blood and weighted series (table in :func:`prepare_for_ranking`);
* centre crop to ``round(nx/3)`` along the readout (x) and ``round(ny/2)`` along the phase
  encode (y), with the offsets of Lustig's ``crop.m`` (:func:`lustig_crop_start`);
  MATLAB ``round`` rounds halves away from zero (:func:`matlab_round`).

No I/O: arrays in, arrays out.
"""

from __future__ import annotations

import numpy as np

from suite._validation import check_ndim

__all__ = ["matlab_round", "lustig_crop_start", "cmrxrecon_select", "prepare_for_ranking"]

#: Series (case-insensitive substrings of the file name) whose frames are all ranked, and
#: those ranked on one frame, per edition (``run4Ranking.m`` 2023/2024, ``run4Ranking_2025.m``).
_ALL_FRAMES = {2023: None, 2024: ("t1map", "t2map"),
               2025: ("t1map", "t2map", "t2smap", "t1mappost", "t1rho")}
_ONE_FRAME = {2023: (), 2024: ("blackblood",), 2025: ("blackblood", "t1w", "t2w")}


def matlab_round(x: float) -> int:
    """MATLAB ``round``: halves away from zero (Python's ``round`` rounds halves to even).

    Examples
    --------
    >>> matlab_round(2.5), round(2.5), matlab_round(-2.5)
    (3, 2, -3)
    """
    return int(np.sign(x) * np.floor(abs(x) + 0.5))


def lustig_crop_start(m: int, s: int) -> int:
    """0-based start index of Lustig's ``crop.m`` centre crop of length ``s`` from ``m``.

    ``crop.m`` indexes ``floor(m/2)+1+ceil(-s/2) : floor(m/2)+ceil(s/2)`` (1-based), which
    differs by one pixel from fastMRI's ``(m - s)//2`` when m is even and s is odd.

    Examples
    --------
    >>> lustig_crop_start(256, 85), (256 - 85) // 2
    (86, 85)
    >>> lustig_crop_start(10, 3), (10 - 3) // 2
    (4, 3)
    """
    return m // 2 + int(np.ceil(-s / 2))


def cmrxrecon_select(images: np.ndarray) -> np.ndarray:
    """The CMRxRecon ranking selection of ``(slice, frame, y, x)`` images.

    Central two slices, first three frames, centre crop ``(round(ny/2), round(nx/3))``.
    Returns ``(n_images, y', x')`` (a view or copy of ``images``, which is not modified).
    """
    ns, nf, ny, nx = images.shape
    if ns < 3:
        slices = np.arange(ns)
    else:
        c = matlab_round(ns / 2)
        slices = np.array([c - 2, c - 1])
    frames = np.arange(min(nf, 3))
    cy, cx = matlab_round(ny / 2), matlab_round(nx / 3)
    y0, x0 = lustig_crop_start(ny, cy), lustig_crop_start(nx, cx)
    sel = images[slices][:, frames][..., y0 : y0 + cy, x0 : x0 + cx]
    return sel.reshape(-1, cy, cx)


def prepare_for_ranking(images: np.ndarray, year: int, *, series: str = "cine_sax") -> np.ndarray:
    """The CMRxRecon ``run4Ranking`` selection of coil-combined images.

    Parameters
    ----------
    images : ndarray, complex or real, ``(slice, frame, y, x)``
        Coil-combined reconstruction of one file (y = ky, phase encode; x = kx, readout).
    year : {2023, 2024, 2025}
    series : str, default "cine_sax"
        File type (``cine_sax``, ``T1map``, ``blackblood``...), which decides the frames.

    Returns
    -------
    ndarray, float32, ``(slice', frame', round(ny/2), round(nx/3))``
        Magnitude of the central two slices (all if fewer than 3), the selected frames,
        centre-cropped with Lustig's ``crop.m`` to ``[round(sx/3), round(sy/2)]`` (MATLAB's
        ``sx`` is our x, ``sy`` our y; MATLAB rounding).

    Raises
    ------
    ValueError
        ``year`` is not 2023, 2024 or 2025, or ``images`` is not 4-D.

    Notes
    -----
    Frames: 2023 (CmrxRecon/CMRxRecon ``CMRxReconDemo/run4Ranking.m``): ``cine_lax``/``cine_sax``
    the first 3, every other file (T1map, T2map) all weightings. 2024 (CmrxRecon/CMRxRecon2024
    ``run4Ranking.m``): names containing ``T1map``/``T2map`` all frames, ``blackblood`` one
    frame, the rest the first 3 (and SOS over coils, done before this function). 2025
    (CmrxRecon/CMRxRecon2025 ``run4Ranking_2025.m``): all frames for
    T1map/T2map/T2smap/T1mappost/T1rho, one for BlackBlood/T1w/T2w. Names are matched
    case-insensitively here. The 2023 script indexes ``round(sz/2)-1`` and fails for fewer than
    3 slices; the 2024 rule (all slices) is used. The crop and slice rule are
    :func:`cmrxrecon_select` (applied per frame for "all frames").

    Examples
    --------
    >>> img = np.arange(4 * 5 * 6 * 9, dtype=np.float32).reshape(4, 5, 6, 9)
    >>> prepare_for_ranking(img, 2024).shape   # slices 1-2, frames 0-2, 3 x 3 crop
    (2, 3, 3, 3)
    >>> prepare_for_ranking(img, 2024, series="T1map").shape
    (2, 5, 3, 3)
    """
    if int(year) not in _ONE_FRAME:
        raise ValueError(f"prepare_for_ranking: year must be one of {list(_ONE_FRAME)}; "
                         f"got {year!r}")
    img = np.abs(np.asarray(images))
    check_ndim(img, (4,), name="images", where="prepare_for_ranking", axes="(slice, frame, y, x)")
    ns, nf, ny, nx = img.shape
    s = series.lower()
    year = int(year)
    if any(k in s for k in _ONE_FRAME[year]):
        frames = "one"
    elif year == 2023:
        frames = "first3" if s.startswith("cine") else "all"
    else:
        frames = "all" if any(k in s for k in _ALL_FRAMES[year]) else "first3"
    ns_sel = ns if ns < 3 else 2
    if frames == "first3":
        sel = cmrxrecon_select(img)
        out = sel.reshape(ns_sel, min(nf, 3), *sel.shape[-2:])
    elif frames == "one":
        sel = cmrxrecon_select(img[:, :1])
        out = sel.reshape(ns_sel, 1, *sel.shape[-2:])
    else:
        out = np.stack([cmrxrecon_select(img[:, j:j + 1]) for j in range(nf)], axis=1)
    return np.ascontiguousarray(out, np.float32)

"""Temporal step feature: a small static disc whose intensity switches abruptly (opt-in).

The temporal point-spread metric (:func:`suite.metrics.temporal.step_response_width`) needs a
region whose true intensity changes as an ideal step between two frames. ``simulate(...,
step_feature=True)`` (or a dict of the parameters below) adds one: a disc (a cylinder through
the whole slab, so no through-plane partial volume) in **one** slice, fixed in body
coordinates (the body does not move, so respiration does not move it either), placed by
default in the anterior chest-wall muscle between the heart and the subcutaneous fat, clear of
every position the beating and breathing heart can reach. Coordinates are those of the
short-axis plane (mm, LV axis at the origin, ``x`` image right, ``y`` image down).

Time course (periodic cycle of ``n`` frames): **off** at frames ``0 … step_frame − 1``, **on**
at frames ``step_frame … n − 1``. The off→on step lies between frames ``step_frame − 1`` and
``step_frame``; the cycle also holds the on→off step between frames ``n − 1`` and ``0``.

Signal: on the simulation grid the disc **adds** ``contrast · S_blood`` to whatever static
tissue lies underneath (``S_blood`` = bSSFP signal of blood at the preset's field strength and
timing, :mod:`suite.phantom.signal`), before the background phase, coil modulation, band
limitation to the acquired k-space and noise, exactly like every other structure (no inverse
crime). Labels are not changed (the disc is background, label 0). The noise level is not
changed either: the SNR is measured on the end-diastolic frame 0, where the disc is off.

Truth, ``case.truth["step_feature"]``:

| key | content |
|---|---|
| ``mask`` | bool ``(y, x)`` on the acquired grid: pixels at least half covered by the disc |
| ``slice_index`` | int, the slice holding the disc |
| ``step_frame`` | int, first frame at the "on" level |
| ``radius_mm``, ``centre_mm`` | disc radius and centre ``(x, y)`` in plane coordinates, mm |
| ``contrast`` | amplitude relative to the blood signal |
| ``amplitude`` | added signal ``contrast · S_blood`` (same units as the images) |
| ``on_frames`` | ``[step_frame, n_frames)`` as a list of two ints |

``StepFeature(mask=t["mask"], slice_index=t["slice_index"], step_frame=t["step_frame"])``
(or :func:`step_feature_of`) is the metric's input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from suite._validation import check_option
from suite.phantom.grid import SimGrid

__all__ = ["StepFeatureParams", "STEP_FEATURE_KEYS", "resolve_step_feature",
           "default_feature_centre", "disc_patch", "feature_mask", "check_feature_placement",
           "feature_truth", "step_feature_of"]

#: Keys accepted in the ``step_feature`` dict of :func:`suite.phantom.simulate`.
STEP_FEATURE_KEYS = ("centre_mm", "radius_mm", "contrast", "step_frame", "slice_index")
#: Default disc radius, mm.
DEFAULT_RADIUS_MM = 3.5
#: Default amplitude relative to the blood signal.
DEFAULT_CONTRAST = 1.0
#: Minimal distance kept between the disc and the heart's reachable region, mm.
HEART_CLEARANCE_MM = 3.0


@dataclass(frozen=True)
class StepFeatureParams:
    """Resolved parameters of the step feature.

    Attributes
    ----------
    centre_mm : (float, float) or None
        Disc centre ``(x, y)`` in short-axis plane coordinates, mm; None = default placement
        (:func:`default_feature_centre`).
    radius_mm : float
        Disc radius, mm.
    contrast : float
        Added signal relative to the blood signal (may be negative: a dark step).
    step_frame : int
        First "on" frame, ``1 ≤ step_frame ≤ n_frames − 1``.
    slice_index : int
        Slice holding the disc.
    """

    centre_mm: tuple[float, float] | None
    radius_mm: float
    contrast: float
    step_frame: int
    slice_index: int


def resolve_step_feature(value, n_frames: int, n_slices: int) -> StepFeatureParams | None:
    """Parameters from the ``step_feature`` override (None/False: no feature).

    Parameters
    ----------
    value : None, bool or dict
        ``True`` for the defaults; a dict with any of :data:`STEP_FEATURE_KEYS`:
        ``centre_mm`` (default: anterior chest wall), ``radius_mm`` (3.5), ``contrast`` (1.0),
        ``step_frame`` (``n_frames // 2``), ``slice_index`` (``n_slices // 2``).
    n_frames, n_slices : int

    Raises
    ------
    ValueError
        Unknown key (with a suggestion), non-positive radius, zero or non-finite contrast,
        ``step_frame`` outside ``1 … n_frames − 1`` or ``slice_index`` outside the stack.
    """
    where = "suite.phantom.simulate"
    if value is None or value is False:
        return None
    if value is True:
        value = {}
    if not isinstance(value, dict):
        raise ValueError(f"{where}: step_feature must be True, False/None or a dict with keys "
                         f"{list(STEP_FEATURE_KEYS)}; got {type(value).__name__}")
    for key in value:
        check_option(key, STEP_FEATURE_KEYS, name="step_feature key", where=where)
    centre = value.get("centre_mm")
    if centre is not None:
        centre = tuple(float(v) for v in centre)
        if len(centre) != 2 or not all(math.isfinite(v) for v in centre):
            raise ValueError(f"{where}: step_feature centre_mm must be two finite numbers "
                             f"(x, y) in mm; got {value['centre_mm']!r}")
    radius = float(value.get("radius_mm", DEFAULT_RADIUS_MM))
    if not (math.isfinite(radius) and radius > 0):
        raise ValueError(f"{where}: step_feature radius_mm must be > 0; got {radius!r}")
    contrast = float(value.get("contrast", DEFAULT_CONTRAST))
    if not math.isfinite(contrast) or contrast == 0.0:
        raise ValueError(f"{where}: step_feature contrast must be finite and non-zero (it is "
                         f"the step height relative to blood); got {contrast!r}")
    step = value.get("step_frame", n_frames // 2)
    if not isinstance(step, (int, np.integer)) or not 1 <= step <= n_frames - 1:
        raise ValueError(f"{where}: step_feature step_frame must be an int in 1..{n_frames - 1} "
                         f"(the disc is off at frame 0); got {step!r}")
    sl = value.get("slice_index", n_slices // 2)
    if not isinstance(sl, (int, np.integer)) or not 0 <= sl < n_slices:
        raise ValueError(f"{where}: step_feature slice_index must be an int in 0..{n_slices - 1}; "
                         f"got {sl!r}")
    return StepFeatureParams(centre, radius, contrast, int(step), int(sl))


def default_feature_centre(classify, extent_mm: np.ndarray, shift_max_mm: float
                           ) -> tuple[float, float]:
    """Anterior chest wall straight above the LV axis, in the middle of the muscle layer.

    Walks the ray ``x = 0``, ``y < 0`` (anterior in the short-axis plane, plane coordinates
    with the LV axis at the origin) outwards from the heart's most anterior reachable point
    (``extent(θ = −90°) + shift_max + 3 mm``) to the subcutaneous fat, and returns the middle
    of the last run of muscle before the fat.

    Parameters
    ----------
    classify : callable
        ``classify(x, y) -> codes`` of the static body in the feature's slice plane.
    extent_mm : ndarray (n,)
        The heart's largest radius per direction ``θ = 2πk/n`` (from +x towards +y), mm.
    shift_max_mm : float
    """
    from suite.phantom.tissue import CLASS

    n = extent_mm.size
    reach = float(extent_mm[(3 * n) // 4]) + float(shift_max_mm) + HEART_CLEARANCE_MM
    ys = -reach - np.arange(0.0, 400.0, 0.5)
    codes = np.asarray(classify(np.zeros_like(ys), ys))
    fat = np.flatnonzero(codes == CLASS["fat"])
    if fat.size == 0:
        raise ValueError("suite.phantom.simulate: no chest wall found anterior to the heart for "
                         "the step feature; give step_feature={'centre_mm': (x, y)}")
    end = int(fat[0])
    start = end
    while start > 0 and codes[start - 1] == CLASS["body"]:
        start -= 1
    if start == end:
        raise ValueError("suite.phantom.simulate: no muscle between the heart and the fat for "
                         "the step feature; give step_feature={'centre_mm': (x, y)}")
    return 0.0, float(0.5 * (ys[start] + ys[end - 1]))


def _fine_axis_range(axis, lo_mm: float, hi_mm: float) -> slice:
    fine = axis.fine
    i0 = int(np.searchsorted(fine, lo_mm, side="left"))
    i1 = int(np.searchsorted(fine, hi_mm, side="right"))
    return slice(max(i0, 0), min(i1, fine.size))


def disc_patch(grid: SimGrid, centre_mm, radius_mm: float):
    """Indicator of the disc on the simulation grid, as a box and its content.

    Returns
    -------
    (sy, sx, patch) : slices into the fine ``(q·ny, q·nx)`` grid and a float32 patch of 0/1,
    1 at fine pixels whose centre lies within ``radius_mm`` of ``centre_mm``.
    """
    cx, cy = (float(v) for v in centre_mm)
    sy = _fine_axis_range(grid.y, cy - radius_mm, cy + radius_mm)
    sx = _fine_axis_range(grid.x, cx - radius_mm, cx + radius_mm)
    xx, yy = np.meshgrid(grid.x.fine[sx], grid.y.fine[sy])
    patch = ((xx - cx) ** 2 + (yy - cy) ** 2 <= radius_mm**2).astype(np.float32)
    return sy, sx, patch


def feature_mask(grid: SimGrid, centre_mm, radius_mm: float) -> np.ndarray:
    """Acquired pixels at least half covered by the disc, bool ``(ny, nx)``.

    Coverage = fraction of the pixel's ``q × q`` simulation sub-pixels inside the disc (the
    same sub-pixels as the label majority vote, :mod:`suite.phantom.grid`).
    """
    cx, cy = (float(v) for v in centre_mm)
    q = grid.x.q
    sub_y = (np.arange(q) - q // 2) * (grid.y.spacing / q)
    sub_x = (np.arange(q) - q // 2) * (grid.x.spacing / q)
    py = grid.y.acquired[:, None] + sub_y[None, :] - cy                 # (ny, q)
    px = grid.x.acquired[:, None] + sub_x[None, :] - cx                 # (nx, q)
    inside = (py[:, None, :, None] ** 2 + px[None, :, None, :] ** 2) <= radius_mm**2
    return inside.mean(axis=(2, 3)) >= 0.5


def check_feature_placement(grid: SimGrid, centre_mm, radius_mm: float, heart_centre_mm,
                            extent_mm: np.ndarray, shift_max_mm: float) -> None:
    """Raise ValueError if the disc can touch the heart or leaves the field of view.

    Every fine pixel of the disc must lie farther than ``extent(θ) + shift_max + 3 mm`` from
    the LV axis (``θ`` its direction), and the disc inside the FOV.
    """
    where = "suite.phantom.simulate"
    cx, cy = (float(v) for v in centre_mm)
    for axis, c, name in ((grid.x, cx, "x"), (grid.y, cy, "y")):
        lo = axis.centre - axis.n * axis.spacing / 2.0
        hi = axis.centre + axis.n * axis.spacing / 2.0
        if c - radius_mm < lo or c + radius_mm > hi:
            raise ValueError(f"{where}: step_feature disc (centre {name} = {c:.1f} mm, radius "
                             f"{radius_mm:g} mm) leaves the FOV [{lo:.1f}, {hi:.1f}] mm; move "
                             "centre_mm inward")
    sy, sx, patch = disc_patch(grid, centre_mm, radius_mm)
    if not patch.any():
        raise ValueError(f"{where}: step_feature disc of radius {radius_mm:g} mm covers no "
                         "simulation pixel; enlarge radius_mm")
    xx, yy = np.meshgrid(grid.x.fine[sx], grid.y.fine[sy])
    hx, hy = (float(v) for v in heart_centre_mm)
    dx, dy = xx[patch > 0] - hx, yy[patch > 0] - hy
    n = extent_mm.size
    k = np.round(np.mod(np.arctan2(dy, dx), 2 * np.pi) / (2 * np.pi) * n).astype(np.intp) % n
    reach = extent_mm[k] + shift_max_mm + HEART_CLEARANCE_MM
    if np.any(np.hypot(dx, dy) <= reach):
        raise ValueError(f"{where}: step_feature disc at ({cx:.1f}, {cy:.1f}) mm, radius "
                         f"{radius_mm:g} mm, overlaps the region the heart can reach (its "
                         f"largest extent plus respiratory shift plus {HEART_CLEARANCE_MM:g} "
                         "mm); choose a centre_mm farther from the heart or omit it for the "
                         "default chest-wall position")


def feature_truth(params: StepFeatureParams, centre_mm, mask: np.ndarray, amplitude: float,
                  n_frames: int) -> dict:
    """The ``case.truth["step_feature"]`` entry (see the module docstring)."""
    return {
        "mask": mask, "slice_index": params.slice_index, "step_frame": params.step_frame,
        "radius_mm": params.radius_mm, "contrast": params.contrast,
        "centre_mm": (float(centre_mm[0]), float(centre_mm[1])),
        "amplitude": float(amplitude), "on_frames": [params.step_frame, int(n_frames)],
        "convention": ("disc added to the static tissue on the simulation grid, amplitude = "
                       "contrast x bSSFP blood signal; off at frames 0..step_frame-1, on at "
                       "step_frame..n_frames-1 (periodic); mask = acquired pixels >= 1/2 "
                       "covered"),
    }


def step_feature_of(case):
    """The :class:`suite.metrics.temporal.StepFeature` of a phantom Case with a step feature.

    Raises
    ------
    ValueError
        When the Case was simulated without ``step_feature``.
    """
    from suite.metrics.temporal import StepFeature

    truth = case.truth or {}
    t = truth.get("step_feature")
    if t is None:
        raise ValueError("step_feature_of: case.truth has no 'step_feature'; simulate the case "
                         "with simulate(..., step_feature=True)")
    return StepFeature(mask=t["mask"], slice_index=t["slice_index"], step_frame=t["step_frame"])

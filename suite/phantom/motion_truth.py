"""Motion truth of a simulated series: dense displacement fields and landmarks in the images.

:func:`displacement_field` evaluates the analytic motion of the phantom
(:meth:`suite.phantom.heart.HeartModel.pullback`) at the pixel centres of every slice (slab
centre plane) of a simulated Case. Convention (the one scikit-image's optical flow and most
registration tools use; ``other-stages`` notes §1.2):

* **pull-back**, defined on the grid of the **fixed** frame ``B``: the tissue at pixel ``x`` of
  frame ``B`` sits at ``x + u(x)`` in the **moving** frame ``A``, so warping ``A`` with ``u``
  gives ``B``: ``I_A(x + u(x)) = I_B(x)``;
* **mm**, in scanner (LPS) components and, for convenience, along the slice's ``read_dir``
  (image x, column index), ``phase_dir`` (image y, row index) and normal (through-plane);
* it includes the respiratory displacement of the heart in that slice (breath-hold: constant
  per slice, so it cancels between frames);
* ``valid`` is False outside the heart (the static body: ``u = 0``) and where the tissue has no
  position in the moving frame (blood of the cavity's core ejected in systole); papillary
  muscles, trabeculae, myocardium, RV wall, epicardial fat, pericardium, atria and vessels
  are valid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DisplacementField", "displacement_field", "landmarks_in_view", "pixel_points"]

_CONVENTION = ("pull-back on the fixed frame's grid: I_moving(x + u(x)) = I_fixed(x); mm; "
               "scanner LPS components and (read, phase, normal) components of each slice")


@dataclass(frozen=True)
class DisplacementField:
    """Dense displacement between two frames of a simulated series.

    Attributes
    ----------
    scanner_mm : ndarray, float32, (slice, y, x, 3)
        ``u`` in LPS components, mm.
    plane_mm : ndarray, float32, (slice, 3, y, x)
        ``u`` along the slice's read (x), phase (y) and normal directions, mm.
    valid : ndarray, bool, (slice, y, x)
    moving_frame, fixed_frame : int
    convention : str
    """

    scanner_mm: np.ndarray
    plane_mm: np.ndarray
    valid: np.ndarray
    moving_frame: int
    fixed_frame: int
    convention: str = _CONVENTION

    def to_dict(self) -> dict:
        """JSON-safe summary (no arrays)."""
        return {"moving_frame": self.moving_frame, "fixed_frame": self.fixed_frame,
                "shape": list(self.plane_mm.shape), "valid_fraction": float(self.valid.mean()),
                "max_mm": float(np.abs(self.plane_mm).max()) if self.plane_mm.size else 0.0,
                "convention": self.convention}

    def summary(self) -> str:
        d = self.to_dict()
        return (f"displacement frame {d['moving_frame']} -> grid of frame {d['fixed_frame']}: "
                f"shape {d['shape']}, valid {d['valid_fraction']:.1%}, max |u| "
                f"{d['max_mm']:.1f} mm ({self.convention})")


def _truth(case):
    t = case.truth or {}
    if "model" not in t or "slice_geometry" not in t:
        raise ValueError("suite.phantom.motion_truth: the Case has no phantom model in its truth; "
                         "use a Case made by suite.phantom.simulate (not one read from files)")
    return t


def pixel_points(case, slice_index: int) -> np.ndarray:
    """Scanner positions (LPS, mm) of the pixel centres of a slice, ``(y, x, 3)``."""
    g = _truth(case)["slice_geometry"]
    ny, nx = case.image_shape[2:]
    dy, dx = case.meta.pixel_spacing_mm
    pos = np.asarray(g["position_mm"][slice_index], float)
    read = np.asarray(g["read_dir"][slice_index], float)
    phase = np.asarray(g["phase_dir"][slice_index], float)
    jj, ii = np.meshgrid(np.arange(nx) - nx // 2, np.arange(ny) - ny // 2)
    return pos + (jj * dx)[..., None] * read + (ii * dy)[..., None] * phase


def displacement_field(case, moving_frame: int, fixed_frame: int) -> DisplacementField:
    """Pull-back displacement from ``moving_frame`` onto ``fixed_frame`` of a simulated Case.

    Parameters
    ----------
    case : Case
        From :func:`suite.phantom.simulate` (its ``truth["model"]`` holds the motion).
    moving_frame, fixed_frame : int
        Frame indices of the Case.

    Returns
    -------
    DisplacementField
        See the module docstring for the convention.

    Examples
    --------
    >>> from suite.phantom import simulate
    >>> case = simulate(seed=0, preset="tiny", n_frames=4, snr=None, n_slices=2)
    >>> field = displacement_field(case, 0, 2)
    >>> field.plane_mm.shape
    (2, 3, 60, 72)
    """
    t = _truth(case)
    model, frames, shifts = t["model"], t["model_frames"], t["respiratory_shift_mm"]
    nf = len(frames)
    for name, f in (("moving_frame", moving_frame), ("fixed_frame", fixed_frame)):
        if not 0 <= int(f) < nf:
            raise ValueError(f"displacement_field: {name} must be in 0..{nf - 1}; got {f}")
    g = t["slice_geometry"]
    ns, _, ny, nx = case.image_shape
    scanner = np.zeros((ns, ny, nx, 3), np.float32)
    plane = np.zeros((ns, 3, ny, nx), np.float32)
    valid = np.zeros((ns, ny, nx), bool)
    for s in range(ns):
        pts = model.frame.to_heart(pixel_points(case, s))
        sb = np.array([*shifts[s, fixed_frame], 0.0])
        sa = np.array([*shifts[s, moving_frame], 0.0])
        u, ok = model.heart.pullback(pts - sb, frames[moving_frame], frames[fixed_frame])
        u = np.where(ok[..., None], u + (sa - sb), 0.0)
        us = model.frame.vector_to_scanner(u)
        scanner[s] = us
        for k, key in enumerate(("read_dir", "phase_dir", "slice_dir")):
            plane[s, k] = us @ np.asarray(g[key][s], float)
        valid[s] = ok
    return DisplacementField(scanner, plane, valid, int(moving_frame), int(fixed_frame))


def landmarks_in_view(case, frame: int, slice_index: int = 0) -> dict[str, dict]:
    """Landmarks of a simulated Case at ``frame`` as seen in one slice.

    Returns
    -------
    dict
        ``{name: {"scanner_mm": (3,), "pixel": (row, col), "distance_mm": float}}``: the
        scanner position (respiratory displacement of that slice and frame included), the
        fractional pixel index in the slice's image and the signed distance from the slab
        centre plane along its normal.
    """
    t = _truth(case)
    model, shifts = t["model"], t["respiratory_shift_mm"]
    g = t["slice_geometry"]
    ny, nx = case.image_shape[2:]
    dy, dx = case.meta.pixel_spacing_mm
    shift = model.frame.vector_to_scanner(np.array([*shifts[slice_index, frame], 0.0]))
    pos = np.asarray(g["position_mm"][slice_index], float)
    read = np.asarray(g["read_dir"][slice_index], float)
    phase = np.asarray(g["phase_dir"][slice_index], float)
    normal = np.asarray(g["slice_dir"][slice_index], float)
    out = {}
    for name, arr in t["landmarks_mm"].items():
        p = np.asarray(arr[frame], float) + shift
        d = p - pos
        out[name] = {"scanner_mm": p, "pixel": (float(d @ phase / dy + ny // 2),
                                                float(d @ read / dx + nx // 2)),
                     "distance_mm": float(d @ normal)}
    return out

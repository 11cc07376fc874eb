"""Per-subject random draws: physiology, heart shape and position, body habitus.

All randomness of one subject comes from ``numpy.random.SeedSequence(seed)``: its children
are, in order, anatomy, respiration, background phase and noise (:func:`subject_streams`).
Every draw below happens in a fixed order whatever the pathology or overrides, so changing
an override never changes another quantity of the same subject, and the anatomy does not
depend on the acquisition preset.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from suite._validation import check_option
from suite.phantom.pathology import PATHOLOGIES

__all__ = ["SubjectParams", "draw_subject", "subject_streams", "ANATOMY_OVERRIDES"]

#: Keys that ``simulate(**overrides)`` may set on the drawn subject.
ANATOMY_OVERRIDES = ("heart_rate_bpm", "lv_edv_ml", "lv_ef_pct", "wall_thickness_mm",
                     "rv_edv_ml", "rv_ef_pct")


@dataclass(frozen=True)
class SubjectParams:
    """Drawn parameters of one subject (mm, mL, %, beats/min, radians).

    Body coordinates: ``x`` to the image right (patient left), ``y`` down (posterior), origin
    at the body centre; ``z`` along the LV long axis from the endocardial equator towards the
    apex (the base plane is at ``z = -z_base_mm``).
    """

    pathology: str
    heart_rate_bpm: float
    lv_edv_ml: float
    lv_ef_pct: float
    wall_thickness_mm: float
    rv_edv_ml: float
    rv_ef_pct: float
    lv_length_mm: float          # base plane to endocardial apex
    body_axes_mm: tuple[float, float]   # (x, y) semi-axes of the body ellipse
    fat_mm: float                # subcutaneous fat thickness
    heart_centre_mm: tuple[float, float]
    fov_centre_mm: tuple[float, float]
    rv_angle_rad: float
    rv_halfwidth_rad: float
    rv_wall_mm: float
    rv_length_frac: float        # RV length / LV length
    infarct: dict | None         # centre_rad, halfwidth_rad, z_start_frac, thinning

    def replace(self, **changes) -> "SubjectParams":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """JSON-safe dictionary."""
        out = dataclasses.asdict(self)
        for k in ("body_axes_mm", "heart_centre_mm", "fov_centre_mm"):
            out[k] = [float(v) for v in out[k]]
        return out


def subject_streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators of one subject: anatomy, respiration, phase, noise.

    Examples
    --------
    >>> g = subject_streams(0)
    >>> sorted(g)
    ['anatomy', 'noise', 'phase', 'respiration']
    """
    children = np.random.SeedSequence(int(seed)).spawn(4)
    names = ("anatomy", "respiration", "phase", "noise")
    return {n: np.random.default_rng(c) for n, c in zip(names, children)}


def draw_subject(seed: int, pathology: str) -> SubjectParams:
    """Draw one subject of class ``pathology`` from ``seed``.

    Parameters
    ----------
    seed : int
        Subject seed (``SeedSequence`` entropy).
    pathology : str
        One of :data:`suite.phantom.pathology.PATHOLOGIES`.

    Returns
    -------
    SubjectParams
    """
    check_option(pathology, PATHOLOGIES, name="pathology", where="suite.phantom")
    p = PATHOLOGIES[pathology]
    rng = subject_streams(seed)["anatomy"]
    u = rng.uniform(size=24)  # fixed number and order of draws for every class

    def pick(rng_lohi, x):
        lo, hi = rng_lohi
        return float(lo + (hi - lo) * x)

    lv_edv = pick(p.lv_edv_ml, u[0])
    # LV length grows with the cube root of EDV; dilated hearts are more spherical.
    sphericity = 0.92 if pathology == "dilated" else 1.0
    lv_length = 85.0 * (lv_edv / 130.0) ** (1.0 / 3.0) * pick((0.95, 1.05), u[7]) * sphericity
    infarct = None
    if p.infarct:
        centre = [np.deg2rad(-90.0), 0.0, np.deg2rad(90.0)][int(u[16] * 3) % 3]
        infarct = {
            "centre_rad": float(centre + np.deg2rad(pick((-15, 15), u[17]))),
            "halfwidth_rad": float(np.deg2rad(pick((35, 55), u[18]))),
            "z_start_frac": pick((0.2, 0.45), u[19]),
            "thinning": pick((0.3, 0.45), u[20]),
        }
    return SubjectParams(
        pathology=pathology,
        heart_rate_bpm=pick(p.heart_rate_bpm, u[1]),
        lv_edv_ml=lv_edv,
        lv_ef_pct=pick(p.lv_ef_pct, u[2]),
        wall_thickness_mm=pick(p.wall_thickness_mm, u[3]),
        rv_edv_ml=lv_edv * pick(p.rv_edv_ratio, u[4]),
        rv_ef_pct=pick(p.rv_ef_pct, u[5]),
        lv_length_mm=lv_length,
        body_axes_mm=(pick((145, 165), u[8]), pick((105, 122), u[9])),
        fat_mm=pick((8, 22), u[10]),
        heart_centre_mm=(pick((17, 33), u[11]), pick((-13, 3), u[12])),
        fov_centre_mm=(pick((-6, 6), u[13]), pick((-5, 5), u[14])),
        rv_angle_rad=float(np.deg2rad(200.0 + pick((-12, 12), u[15]))),
        rv_halfwidth_rad=float(np.deg2rad(pick((75, 90), u[21]))),
        rv_wall_mm=pick((3.0, 4.5), u[22]),
        rv_length_frac=pick((0.75, 0.85), u[23]),
        infarct=infarct,
    )

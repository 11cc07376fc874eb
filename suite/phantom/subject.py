"""Per-subject random draws: physiology, heart shape, orientation and position, fine anatomy,
body habitus, flow and field inhomogeneity.

All randomness of one subject comes from ``numpy.random.SeedSequence(seed)``: its children
are, in order, anatomy, respiration, background phase, noise and hardware (coil noise
correlation) (:func:`subject_streams`). Every draw below happens in a fixed order whatever the
pathology or overrides (one block of uniforms, each quantity at a fixed index), so changing
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
                     "rv_edv_ml", "rv_ef_pct", "avpd_mm", "transmurality", "mvo_depth")
_N_UNIFORM = 192


@dataclass(frozen=True)
class SubjectParams:
    """Drawn parameters of one subject (mm, mL, %, beats/min, radians, Hz).

    Scanner coordinates are LPS (:mod:`suite.phantom.orientation`); the body is an elliptic
    cylinder along ``z`` centred on ``x = y = 0``. ``heart_origin_mm`` is the LV equator
    centre (LPS); the long axis points ``long_axis_azimuth_deg`` from anterior towards left
    and ``long_axis_elevation_deg`` below the horizontal. ``fov_offset_mm`` is the jitter of
    the short-axis FOV centre, in-plane ``(x, y)``.
    """

    pathology: str
    heart_rate_bpm: float
    lv_edv_ml: float
    lv_ef_pct: float
    wall_thickness_mm: float
    rv_edv_ml: float
    rv_ef_pct: float
    avpd_mm: float
    lv_length_mm: float          # base plane to endocardial apex
    body_axes_mm: tuple[float, float]   # (x, y) semi-axes of the body ellipse
    fat_mm: float                # subcutaneous fat thickness
    heart_origin_mm: tuple[float, float, float]
    long_axis_azimuth_deg: float
    long_axis_elevation_deg: float
    fov_offset_mm: tuple[float, float]
    rv_angle_rad: float
    rv_halfwidth_rad: float
    rv_wall_mm: float
    rv_length_frac: float        # RV length / LV length
    infarct: dict | None         # centre_rad, halfwidth_rad, z_start_frac, thinning
    transmurality: float         # scar transmurality (infarcted subjects)
    mvo_depth: float             # MVO depth / scar depth; 0 = no MVO
    papillary: dict              # thetas_rad, radius_mm, gap_mm, tip_frac, root_frac
    trabeculation: dict          # lv_mm, rv_mm, lv_u (24), rv_u (24)
    epicardial_fat: dict         # f0_mm, groove_mm, av_mm, pericardium_mm
    base: dict                   # mv_angle_rad, av_offset_rad, atrial_scale, radii, ...
    flow: dict                   # inhomogeneity, jet, fields (wave vectors, phases)
    field: dict                  # hot spot amplitude (Hz at 1.5 T), position, shim terms

    def replace(self, **changes) -> "SubjectParams":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """JSON-safe dictionary."""
        out = dataclasses.asdict(self)

        def clean(v):
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, (list, tuple, np.ndarray)):
                return [clean(x) for x in v]
            if isinstance(v, (np.floating, np.integer)):
                return v.item()
            return v

        return clean(out)


def subject_streams(seed: int) -> dict[str, np.random.Generator]:
    """Independent generators of one subject: anatomy, respiration, phase, noise, hardware.

    Examples
    --------
    >>> g = subject_streams(0)
    >>> sorted(g)
    ['anatomy', 'hardware', 'noise', 'phase', 'respiration']
    """
    children = np.random.SeedSequence(int(seed)).spawn(5)
    names = ("anatomy", "respiration", "phase", "noise", "hardware")
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
    u = rng.uniform(size=_N_UNIFORM)  # fixed number and order of draws for every class

    def pick(lohi, x):
        lo, hi = lohi
        return float(lo + (hi - lo) * x)

    lv_edv = pick(p.lv_edv_ml, u[0])
    # LV length grows with the cube root of EDV; dilated hearts are more spherical.
    sphericity = 0.92 if pathology == "dilated" else 1.0
    size = (lv_edv / 130.0) ** (1.0 / 3.0)
    lv_length = 85.0 * size * pick((0.95, 1.05), u[7]) * sphericity
    infarct = None
    if p.infarct:
        centre = [np.deg2rad(-90.0), 0.0, np.deg2rad(90.0)][int(u[16] * 3) % 3]
        infarct = {
            "centre_rad": float(centre + np.deg2rad(pick((-15, 15), u[17]))),
            "halfwidth_rad": float(np.deg2rad(pick((35, 55), u[18]))),
            "z_start_frac": pick((0.2, 0.45), u[19]),
            "thinning": pick((0.3, 0.45), u[20]),
        }
    dilated_atria = 1.15 if pathology in ("dilated", "infarcted") else 1.0
    rv_scale = 1.2 if pathology == "abnormal-rv" else 1.0
    return SubjectParams(
        pathology=pathology,
        heart_rate_bpm=pick(p.heart_rate_bpm, u[1]),
        lv_edv_ml=lv_edv,
        lv_ef_pct=pick(p.lv_ef_pct, u[2]),
        wall_thickness_mm=pick(p.wall_thickness_mm, u[3]),
        rv_edv_ml=lv_edv * pick(p.rv_edv_ratio, u[4]),
        rv_ef_pct=pick(p.rv_ef_pct, u[5]),
        avpd_mm=pick(p.avpd_mm, u[6]),
        lv_length_mm=lv_length,
        body_axes_mm=(pick((145, 165), u[8]), pick((105, 122), u[9])),
        fat_mm=pick((8, 22), u[10]),
        heart_origin_mm=(pick((25, 45), u[11]), pick((-30, -10), u[12]), 0.0),
        long_axis_azimuth_deg=pick((35, 55), u[24]),
        long_axis_elevation_deg=pick((20, 40), u[25]),
        fov_offset_mm=(pick((-6, 6), u[13]), pick((-5, 5), u[14])),
        rv_angle_rad=float(np.deg2rad(200.0 + pick((-12, 12), u[15]))),
        rv_halfwidth_rad=float(np.deg2rad(pick((75, 90), u[21]))),
        rv_wall_mm=pick((3.0, 4.5), u[22]),
        rv_length_frac=pick((0.75, 0.85), u[23]),
        infarct=infarct,
        transmurality=pick((0.5, 1.0), u[26]),
        mvo_depth=pick((0.3, 0.5), u[28]) if u[27] < 0.5 else 0.0,
        papillary={
            "thetas_rad": [float(np.deg2rad(-35.0 + pick((-10, 10), u[29]))),
                           float(np.deg2rad(110.0 + pick((-10, 10), u[30])))],
            "radius_mm": pick((4.5, 6.5), u[31]) * size,
            "gap_mm": pick((1.0, 2.0), u[32]),
            "tip_frac": pick((0.25, 0.35), u[33]),
            "root_frac": pick((0.68, 0.78), u[34]),
        },
        trabeculation={
            "lv_mm": pick((1.5, 3.0), u[35]) * (1.3 if pathology == "dilated" else 1.0),
            "rv_mm": pick((2.5, 4.5), u[36]),
            "lv_u": [float(v) for v in u[40:64]], "rv_u": [float(v) for v in u[64:88]],
        },
        epicardial_fat={"f0_mm": pick((0.5, 2.0), u[37]), "groove_mm": pick((3.0, 8.0), u[38]),
                        "av_mm": pick((4.0, 10.0), u[39]),
                        "pericardium_mm": pick((1.0, 2.0), u[88])},
        base={
            "mv_angle_rad": float(np.deg2rad(pick((40, 80), u[89]))),
            "av_offset_rad": float(np.deg2rad(pick((-10, 10), u[90]))),
            "atrial_scale": pick((0.9, 1.15), u[91]) * dilated_atria,
            "ra_scale": pick((0.9, 1.15), u[92]) * rv_scale,
            "aorta_radius_mm": pick((12.0, 15.0), u[93]),
            "pa_radius_mm": pick((11.0, 14.0), u[94]),
            "aorta_dir_lps": [pick((-0.45, -0.25), u[95]), pick((-0.35, -0.15), u[96]), 1.0],
            "pa_dir_lps": [pick((0.35, 0.55), u[97]), pick((0.45, 0.65), u[98]), 0.7],
        },
        flow={
            "inhomogeneity": pick((0.05, 0.10), u[99]),
            "jet": pick((0.10, 0.25), u[100]),
            "waves": [[pick((25.0, 60.0), u[101 + 4 * k]), float(2 * np.pi * u[102 + 4 * k]),
                       float(np.arccos(2 * u[103 + 4 * k] - 1)), float(2 * np.pi * u[104 + 4 * k])]
                      for k in range(6)],
        },
        field={
            "hot_hz_1p5t": pick((50.0, 110.0), u[125]),
            "hot_angle_rad": float(np.deg2rad(pick((35.0, 75.0), u[126]))),
            "hot_sd_mm": pick((15.0, 25.0), u[127]),
            "shim_hz_1p5t": [pick((-15.0, 15.0), x) for x in u[128:133]],
        },
    )

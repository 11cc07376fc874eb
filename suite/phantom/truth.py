"""``case.truth`` of a simulated phantom series (everything a real scan would not give).

Volumes are analytic (:mod:`suite.phantom.volumes`), per rendered frame, in mL; the ACDC
cavities (``lv_volume_ml``, ``rv_volume_ml``) are the smooth endocardial envelopes with
papillary muscles and trabeculae inside, the blood pools (``lv_blood_volume_ml``,
``rv_blood_volume_ml``) exclude them. LV mass is myocardial volume × 1.05 g/mL (compact
myocardium, the ACDC convention; ``lv_mass_incl_papillary_g`` adds the papillary muscles and
LV trabeculae). Landmarks are scanner (LPS) coordinates per frame without respiratory
displacement (add ``respiratory_shift_mm`` mapped through the heart axes for a given slice;
:func:`suite.phantom.motion_truth.landmarks_in_view` does it). Full table: docs/phantom.md.
"""

from __future__ import annotations

import numpy as np

from suite.phantom.volumes import chamber_volumes_ml, detail_volumes_ml, quadrature
from suite.phantom.tissue import tissue_properties

__all__ = ["build_truth", "MYOCARDIAL_DENSITY_G_PER_ML", "PHANTOM_VERSION"]

#: Version of the phantom's model (recorded in truth and meta; 2.0: 3-D heart in scanner
#: coordinates with fine anatomy, long-axis views and LGE).
PHANTOM_VERSION = "2.0"

#: Myocardial density used for LV mass, g/mL.
MYOCARDIAL_DENSITY_G_PER_ML = 1.05


def _ef(edv: float, esv: float) -> float:
    return float((edv - esv) / edv * 100.0)


def build_truth(model, acq, preset, seed, geom, frames, shifts, maps_acq, snr, sigma, s_myo,
                body_mask, extended, scar, mvo, noise_covariance, slice_geometry) -> dict:
    """The truth dictionary of one series (see the module docstring and docs/phantom.md)."""
    heart, geo = model.heart, model.heart.geo
    q = quadrature(geo)
    env = np.array([chamber_volumes_ml(geo, f, q) for f in frames])
    det = detail_volumes_ml(heart, list(frames), q)
    lv, myo, rv = env[:, 0], env[:, 1], env[:, 2]
    pm = det["lv_papillary_ml"]
    lv_trab = det["lv_trabeculae_ml"]
    rv_trab = det["rv_trabeculae_ml"]
    lv_blood = lv - pm - lv_trab
    rv_blood = rv - rv_trab
    cine = len(frames) == model.n_frames
    ed = 0
    es = int(model.motion.es_frame) if cine else 0
    rho = MYOCARDIAL_DENSITY_G_PER_ML
    marks = [model.landmarks(f) for f in frames]
    deviation = float(np.degrees(np.arccos(np.clip(abs(
        (marks[0]["lv_apex"] - marks[0]["mitral_valve"])
        / np.linalg.norm(marks[0]["lv_apex"] - marks[0]["mitral_valve"]) @ model.frame.ez),
        -1.0, 1.0))))
    t = {
        "lv_volume_ml": lv, "myo_volume_ml": myo, "rv_volume_ml": rv,
        "lv_blood_volume_ml": lv_blood, "rv_blood_volume_ml": rv_blood,
        "lv_papillary_volume_ml": pm, "lv_trabeculae_volume_ml": float(lv_trab),
        "rv_trabeculae_volume_ml": float(rv_trab),
        "lv_mass_g": float(myo[ed] * rho),
        "lv_mass_incl_papillary_g": float((myo[ed] + pm[ed] + lv_trab) * rho),
        "ed_frame": ed, "es_frame": es,
        "lv_wall_thickness_ed_mm": float(geo.b - geo.a_ed),
        "base_descent_mm": np.array([geo.base_descent_mm(f) for f in frames]),
        "avpd_mm": float(max(geo.base_descent_mm(f) for f in range(model.n_frames))),
        "landmarks_mm": {k: np.stack([m[k] for m in marks]) for k in marks[0]},
        "sax_axis_deviation_deg": deviation,
        "labels_extended": extended, "label_convention": "acdc",
        "scar_mask": scar, "mvo_mask": mvo,
        "scar_volume_ml": float(det["scar_ml"]), "mvo_volume_ml": float(det["mvo_ml"]),
        "pathology": model.subject.pathology, "preset": preset, "seed": int(seed),
        "coil_maps": maps_acq, "coil_normalisation": "mean over body pixels of sum_c |S_c|^2 = 1",
        "noise_covariance": noise_covariance,
        "snr": snr, "noise_sigma": float(sigma), "myocardial_signal": float(s_myo),
        "body_mask": body_mask, "slice_positions_mm": np.asarray(geom.positions_mm, float),
        "slice_geometry": slice_geometry, "view": geom.name,
        "respiratory_shift_mm": shifts, "heart_centre_mm": (0.0, 0.0),
        "fov_centre_mm": tuple(float(v) for v in geom.centre_xy),
        "heart_origin_mm": tuple(float(v) for v in model.frame.origin),
        "frames_phase": np.asarray(model.motion.phases, float)[list(frames)],
        "geometry": geo.to_dict(), "anatomy": heart.to_dict(), "frame": model.frame.to_dict(),
        "body": model.body.to_dict(), "subject": model.subject.to_dict(),
        "tissue": {k: vars(v) for k, v in tissue_properties(acq.field_strength_t).items()},
        "model": model, "model_frames": list(int(f) for f in frames),
        "phantom_version": PHANTOM_VERSION,
    }
    if cine:
        t.update({
            "lv_edv_ml": float(lv[ed]), "lv_esv_ml": float(lv[es]),
            "lv_sv_ml": float(lv[ed] - lv[es]), "lv_ef_pct": _ef(lv[ed], lv[es]),
            "rv_edv_ml": float(rv[ed]), "rv_esv_ml": float(rv[es]),
            "rv_sv_ml": float(rv[ed] - rv[es]), "rv_ef_pct": _ef(rv[ed], rv[es]),
            "lv_edv_excl_papillary_ml": float(lv_blood[ed]),
            "lv_esv_excl_papillary_ml": float(lv_blood[es]),
            "lv_ef_excl_papillary_pct": _ef(lv_blood[ed], lv_blood[es]),
        })
    return t

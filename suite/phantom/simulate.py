"""``simulate``: one phantom subject as a fully sampled multi-coil cine :class:`~suite.case.Case`.

Pipeline (each step in its own module):

1. acquisition preset (:mod:`.presets`) + overrides; subject draw (:mod:`.subject`) + overrides;
2. heart geometry with the LV/RV volume curves solved per frame (:mod:`.volumes`);
3. slice stack from the base plane to past the epicardial apex, respiratory shifts
   (:mod:`.motion`), static body (:mod:`.body`), tissue signals (:mod:`.tissue`, :mod:`.signal`),
   smooth background phase, coil maps (:mod:`.coils`, :mod:`.coilmaps`);
4. per slab and frame: render on the fine grid (:mod:`.render`), multiply by the coil maps,
   FFT and crop to the acquired k-space (:mod:`.kspace`); labels by majority;
5. noise at the preset's SNR (:mod:`.noise`); reference = coil combination of the fully
   sampled noisy coil images with the true maps (complex).
"""

from __future__ import annotations

import math

import numpy as np

from suite._validation import check_option
from suite.case import Case, CaseMeta
from suite.mr.coils import combine_coils
from suite.mr.fft import ifft2c
from suite.phantom.body import BodyLayout
from suite.phantom.coilmaps import coil_maps
from suite.phantom.feature import (
    check_feature_placement, default_feature_centre, disc_patch, feature_mask, feature_truth,
    resolve_step_feature,
)
from suite.phantom.grid import SimGrid
from suite.phantom.kspace import coil_kspace, input_modulation
from suite.phantom.motion import RESPIRATION_MODES, respiratory_shift
from suite.phantom.noise import add_complex_noise, myocardial_signal
from suite.phantom.presets import Preset, get_preset
from suite.phantom.render import heart_polar, render_background, render_heart, slab_planes
from suite.phantom.signal import bssfp_signal
from suite.phantom.subject import ANATOMY_OVERRIDES, draw_subject, subject_streams
from suite.phantom.tissue import CLASS_NAMES, CLASS_TISSUE, tissue_properties
from suite.phantom.volumes import build_heart, chamber_volumes_ml, quadrature

__all__ = ["simulate", "OVERRIDES", "PHANTOM_VERSION"]

PHANTOM_VERSION = "1.0"
_ACQ_OVERRIDES = ("field_strength_t", "n_coils", "matrix", "pixel_spacing_mm",
                  "slice_thickness_mm", "slice_spacing_mm", "n_frames", "tr_ms", "te_ms",
                  "flip_angle_deg", "snr", "oversample", "n_sub_planes")
#: Keyword overrides accepted by :func:`simulate`.
OVERRIDES = _ACQ_OVERRIDES + ANATOMY_OVERRIDES + ("n_slices", "respiration", "subject",
                                                  "step_feature")
_CHUNK_BYTES = 96 * 2**20


def simulate(seed: int = 0, preset: str = "siemens-1.5t", pathology: str = "normal",
             **overrides) -> Case:
    """Simulate one phantom subject: fully sampled multi-coil bSSFP short-axis cine.

    Parameters
    ----------
    seed : int
        Subject seed; the same seed gives byte-identical output, different seeds different
        anatomy. Anatomy does not depend on ``preset`` (same heart, other scanner).
    preset : str
        Acquisition preset, one of :data:`suite.phantom.PRESETS`.
    pathology : str
        ``"normal"``, ``"dilated"``, ``"hypertrophic"``, ``"infarcted"`` or ``"abnormal-rv"``.
    **overrides
        Any of :data:`OVERRIDES`: preset fields (``n_frames``, ``n_coils``, ``matrix``,
        ``snr`` — None for noise-free — ...), subject quantities (``lv_ef_pct``,
        ``lv_edv_ml``, ``wall_thickness_mm``, ``heart_rate_bpm``, ``rv_edv_ml``,
        ``rv_ef_pct``), ``n_slices`` (default: enough to cover base to apex),
        ``respiration`` (``"breath-hold"`` default, ``"free-breathing"``, ``"none"``),
        ``subject`` (id, default ``"phantom-seed<seed>"``), ``step_feature`` (``True`` or a
        dict, default off: a static disc in one slice whose intensity steps on at
        ``step_frame``, for the temporal point-spread metric; :mod:`suite.phantom.feature`).

    Returns
    -------
    Case
        ``kspace`` complex64 ``(slice, frame, coil, ky, kx)`` fully sampled with noise;
        ``mask`` all True ``(1, 1, 1, ky, 1)``; ``reference`` complex64
        ``(slice, frame, y, x)``, the noisy coil images combined with the true maps
        (``Σ conj(S_c) x_c / Σ |S_c|²``, background phase kept); ``labels`` uint8
        ``(slice, frame, y, x)`` ACDC convention, every frame annotated; ``coil_maps`` None
        (methods estimate maps); ``truth`` (analytic volumes per frame in mL, EDV/ESV/SV/EF,
        LV mass in g, RV volumes, ED/ES frames, true ``coil_maps`` ``(slice, coil, y, x)``,
        ``snr``, ``noise_sigma``, ``seed``, ... see docs/phantom.md; with ``step_feature``
        also ``truth["step_feature"]``: ``mask`` bool ``(y, x)``, ``slice_index``,
        ``step_frame``, ``radius_mm``, ``contrast``, ...); ``meta`` filled.

    Raises
    ------
    ValueError
        Unknown preset, pathology or override key (with a suggestion), a FOV too small for
        the body, or an unreachable volume target.

    Notes
    -----
    Volumes in ``truth`` are analytic (quadrature of the closed-form geometry, independent of
    the image grid); EDV/ESV are the volumes at the ED (0) and ES frames. Voxel-counted
    volumes from ``labels`` (count × pixel spacing² × slice spacing) agree with them within
    the tolerances stated in docs/phantom.md.

    Examples
    --------
    >>> case = simulate(seed=1, preset="tiny", n_frames=4, snr=None)
    >>> case.kspace.shape[1:], case.labels.dtype.name
    ((4, 4, 60, 72), 'uint8')
    """
    where = "suite.phantom.simulate"
    for key in overrides:
        check_option(key, OVERRIDES, name="override", where=where)
    acq = get_preset(preset)
    acq = acq.replace(**{k: overrides[k] for k in _ACQ_OVERRIDES if k in overrides})
    if acq.matrix is not None:
        acq = acq.replace(matrix=tuple(int(v) for v in acq.matrix))
    subject = draw_subject(seed, pathology)
    subject = subject.replace(**{k: float(overrides[k]) for k in ANATOMY_OVERRIDES
                                 if k in overrides})
    respiration = overrides.get("respiration", "breath-hold")
    check_option(respiration, RESPIRATION_MODES, name="respiration", where=where)
    subject_id = str(overrides.get("subject", f"phantom-seed{seed}"))
    streams = subject_streams(seed)

    motion = build_heart(subject, int(acq.n_frames))
    geo = motion.geometry
    nf = int(acq.n_frames)
    ns = overrides.get("n_slices")
    ns = int(math.ceil((geo.z_base + geo.M) / acq.slice_spacing_mm)) if ns is None else int(ns)
    if ns < 1:
        raise ValueError(f"{where}: n_slices must be >= 1; got {ns}")
    z_slices = -geo.z_base + acq.slice_spacing_mm * (np.arange(ns) + 0.5)
    shifts = respiratory_shift(respiration, ns, nf, motion.rr_ms, streams["respiration"])

    grid = SimGrid.make(acq.matrix, acq.pixel_spacing_mm, subject.fov_centre_mm, acq.oversample)
    _check_fov(grid, subject.body_axes_mm, where)
    extent = _heart_extent(geo, nf)
    shift_max = float(np.abs(shifts).max()) if shifts.size else 0.0
    hx, hy = subject.heart_centre_mm
    layout = BodyLayout(subject.body_axes_mm, subject.fat_mm, (hx, hy),
                        extent + 6.0 + shift_max, -geo.z_base, geo.M)
    r_box = float(extent.max()) + shift_max + 2.0 * acq.pixel_spacing_mm
    iy0, iy1 = grid.y.pixel_range(hy - r_box, hy + r_box)
    ix0, ix1 = grid.x.pixel_range(hx - r_box, hx + r_box)
    fy, fx = grid.y.fine_range(iy0, iy1), grid.x.fine_range(ix0, ix1)

    lut = _signal_lut(acq)
    feature = resolve_step_feature(overrides.get("step_feature"), nf, ns)
    if feature is not None:
        f_centre = feature.centre_mm
        if f_centre is None:
            f_centre = default_feature_centre((hx, hy), extent, shift_max,
                                              subject.body_axes_mm, subject.fat_mm)
        check_feature_placement(grid, f_centre, feature.radius_mm, (hx, hy), extent, shift_max)
        f_sy, f_sx, f_patch = disc_patch(grid, f_centre, feature.radius_mm)
        f_amp = feature.contrast * float(lut[CLASS_NAMES.index("lv_blood")])
    maps_acq, maps_int, body_mask = coil_maps(acq, grid, layout, subject, z_slices)
    phase_rng = streams["phase"]
    phase_coef = phase_rng.normal(size=4) * np.array([0.6, 0.6, 0.4, 0.4])
    phase_offsets = phase_rng.uniform(-np.pi, np.pi, size=128)
    xx, yy = np.meshgrid((grid.x.fine - grid.x.centre) / 150.0,
                         (grid.y.fine - grid.y.centre) / 150.0)
    smooth_phase = (phase_coef[0] * xx + phase_coef[1] * yy
                    + phase_coef[2] * (xx**2 - yy**2) + phase_coef[3] * xx * yy)
    modulation = input_modulation(grid.y.n_fine)[:, None] * input_modulation(grid.x.n_fine)[None]

    ny, nx = grid.y.n, grid.x.n
    nc = int(acq.n_coils)
    kspace = np.zeros((ns, nf, nc, ny, nx), np.complex64)
    labels = np.zeros((ns, nf, ny, nx), np.uint8)
    hi, wi = maps_int.shape[-2:]
    per_frame = 8 * (grid.y.n_fine * grid.x.n_fine * 3 + nc * hi * wi * 3)
    chunk = max(1, int(_CHUNK_BYTES // per_frame))
    bbox = (iy0, iy1, ix0, ix1)
    myo_sum, myo_n = 0.0, 0
    for s in range(ns):
        planes = slab_planes(float(z_slices[s]), acq.slice_thickness_mm, acq.n_sub_planes)
        bg_signal, bg_codes = render_background(grid, layout, planes, lut)
        bg_box = np.ascontiguousarray(bg_codes[:, fy, fx])
        phase = (np.exp(1j * (smooth_phase + phase_offsets[s])) * modulation).astype(np.complex64)
        polar_key, polar = None, None
        for f0 in range(0, nf, chunk):
            frames = range(f0, min(f0 + chunk, nf))
            imgs = np.repeat(bg_signal[None], len(frames), axis=0)
            for i, f in enumerate(frames):
                centre = (hx + shifts[s, f, 0], hy + shifts[s, f, 1])
                if centre != polar_key:
                    polar_key, polar = centre, heart_polar(grid, geo, centre, bbox)
                sig, lab = render_heart(grid, geo, f, planes, polar, bg_box, lut)
                imgs[i, fy, fx] = sig
                labels[s, f, iy0:iy1, ix0:ix1] = lab
                if feature is not None and s == feature.slice_index and f >= feature.step_frame:
                    imgs[i, f_sy, f_sx] += np.float32(f_amp) * f_patch
            kspace[s, f0:f0 + len(frames)] = coil_kspace(imgs * phase[None], maps_int[s],
                                                         (ny, nx), premodulated=True)
        ds, dn = myocardial_signal(ifft2c(kspace[s, 0]), labels[s, 0])
        myo_sum, myo_n = myo_sum + ds, myo_n + dn

    snr = None if acq.snr is None else float(acq.snr)
    s_myo = myo_sum / myo_n if myo_n else float("nan")
    sigma = 0.0 if snr is None else s_myo / snr
    if snr is not None and not np.isfinite(sigma):
        raise ValueError(f"{where}: no myocardium on the ED frame, SNR undefined; "
                         "check n_slices/matrix")
    noise_rng = streams["noise"]
    reference = np.empty((ns, nf, ny, nx), np.complex64)
    for s in range(ns):
        add_complex_noise(kspace[s], sigma, noise_rng)
        reference[s] = combine_coils(ifft2c(kspace[s]), maps_acq[s]).astype(np.complex64)

    truth = _truth(geo, motion, subject, acq, preset, seed, maps_acq, snr, sigma, s_myo,
                   body_mask, z_slices, shifts)
    if feature is not None:
        truth["step_feature"] = feature_truth(
            feature, f_centre, feature_mask(grid, f_centre, feature.radius_mm), f_amp, nf)
    meta = CaseMeta(
        subject=subject_id, dataset="phantom", series="cine_sax", vendor=acq.vendor,
        field_strength_t=float(acq.field_strength_t), site=acq.site, sequence="bSSFP cine",
        pixel_spacing_mm=(float(acq.pixel_spacing_mm), float(acq.pixel_spacing_mm)),
        slice_thickness_mm=float(acq.slice_thickness_mm),
        slice_spacing_mm=float(acq.slice_spacing_mm),
        temporal_resolution_ms=float(motion.rr_ms / nf),
        heart_rate_bpm=float(subject.heart_rate_bpm), ed_frame=0, es_frame=int(motion.es_frame),
        annotated_frames=tuple(range(nf)),
        strata={"vendor": acq.vendor, "field_strength_t": float(acq.field_strength_t),
                "pathology": pathology, "preset": preset},
        extra={"tr_ms": float(acq.tr_ms), "te_ms": float(acq.te_ms),
               "flip_angle_deg": float(acq.flip_angle_deg),
               "fov_mm": [float(v) for v in acq.fov_mm], "matrix": [ny, nx],
               "n_coils": nc, "oversample": int(acq.oversample),
               "n_sub_planes": int(acq.n_sub_planes), "respiration": respiration,
               "snr": snr, "seed": int(seed), "phantom_version": PHANTOM_VERSION,
               "reference": "noisy coil images combined with the true coil maps (complex)",
               "slice_positions_mm": [float(z) for z in z_slices],
               **({} if feature is None else {"step_feature": {
                   k: v for k, v in truth["step_feature"].items() if k != "mask"}})},
    )
    return Case(kspace=kspace, mask=np.ones((1, 1, 1, ny, 1), bool), reference=reference,
                labels=labels, coil_maps=None, truth=truth, meta=meta)


def _check_fov(grid: SimGrid, axes, where: str) -> None:
    bx, by = axes
    half_x = grid.x.n * grid.x.spacing / 2.0 - abs(grid.x.centre)
    half_y = grid.y.n * grid.y.spacing / 2.0 - abs(grid.y.centre)
    if bx + 2.0 > half_x or by + 2.0 > half_y:
        raise ValueError(
            f"{where}: the FOV (matrix × pixel spacing) is too small for the body "
            f"(semi-axes {bx:.0f} × {by:.0f} mm, FOV half-widths {half_x:.0f} × {half_y:.0f} "
            "mm after centring); enlarge matrix or pixel_spacing_mm")


def _heart_extent(geo, n_frames: int, n_theta: int = 360) -> np.ndarray:
    """Largest radius of the heart (LV, RV, RV wall) per direction over frames and z, mm."""
    q = quadrature(geo)
    theta = np.arange(n_theta) * (2 * np.pi / n_theta)
    z = np.concatenate([q.z, [-geo.z_base]])[:, None]
    out = np.zeros(n_theta)
    for f in range(n_frames):
        _, r_out, h = geo.radii(theta[None, :], z, f)
        wall = geo.rv_wall * np.clip(h / geo.rv_wall, 0.0, 1.0)
        out = np.maximum(out, (r_out + h + wall).max(axis=0))
    return out


def _signal_lut(acq: Preset) -> np.ndarray:
    props = tissue_properties(acq.field_strength_t)
    lut = np.zeros(len(CLASS_TISSUE), np.float32)
    for code, tissue in enumerate(CLASS_TISSUE):
        p = props[tissue]
        if p.pd > 0:
            lut[code] = bssfp_signal(p.pd, p.t1_ms, p.t2_ms, acq.tr_ms, acq.te_ms,
                                     acq.flip_angle_deg)
    return lut


def _truth(geo, motion, subject, acq, preset, seed, maps_acq, snr, sigma, s_myo, body_mask,
           z_slices, shifts) -> dict:
    q = quadrature(geo)
    vols = np.array([chamber_volumes_ml(geo, f, q) for f in range(len(motion.phases))])
    lv, myo, rv = vols[:, 0], vols[:, 1], vols[:, 2]
    ed, es = 0, int(motion.es_frame)
    return {
        "lv_volume_ml": lv, "myo_volume_ml": myo, "rv_volume_ml": rv,
        "lv_edv_ml": float(lv[ed]), "lv_esv_ml": float(lv[es]),
        "lv_sv_ml": float(lv[ed] - lv[es]), "lv_ef_pct": float((lv[ed] - lv[es]) / lv[ed] * 100),
        "lv_mass_g": float(myo[ed] * 1.05),
        "rv_edv_ml": float(rv[ed]), "rv_esv_ml": float(rv[es]),
        "rv_sv_ml": float(rv[ed] - rv[es]), "rv_ef_pct": float((rv[ed] - rv[es]) / rv[ed] * 100),
        "ed_frame": ed, "es_frame": es,
        "lv_wall_thickness_ed_mm": float(geo.b - geo.a_ed),
        "pathology": subject.pathology, "preset": preset, "seed": int(seed),
        "coil_maps": maps_acq, "coil_normalisation": "mean over body pixels of sum_c |S_c|^2 = 1",
        "snr": snr, "noise_sigma": float(sigma), "myocardial_signal": float(s_myo),
        "body_mask": body_mask, "slice_positions_mm": np.asarray(z_slices, float),
        "respiratory_shift_mm": shifts, "heart_centre_mm": tuple(subject.heart_centre_mm),
        "geometry": geo.to_dict(), "subject": subject.to_dict(),
        "tissue": {k: vars(v) for k, v in tissue_properties(acq.field_strength_t).items()},
        "phantom_version": PHANTOM_VERSION,
    }

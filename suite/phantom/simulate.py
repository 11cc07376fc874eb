"""``simulate``: one phantom series as a fully sampled multi-coil :class:`~suite.case.Case`.

Pipeline (each step in its own module):

1. acquisition preset (:mod:`.presets`) + overrides; subject draw (:mod:`.subject`) + overrides;
2. the subject's 3-D heart in scanner coordinates with its motion solved, fine anatomy, body
   (:mod:`.model`);
3. the view's planes (:mod:`.views`: short-axis stack or a long-axis view planned from the
   landmarks), respiratory displacements (:mod:`.motion`), contrast (:mod:`.contrast`,
   :mod:`.lge`), smooth background phase, coil maps (:mod:`.coils`, :mod:`.coilmaps`);
4. per slab and frame: render on the fine grid (:mod:`.render`), multiply by the coil maps,
   FFT and crop to the acquired k-space (:mod:`.kspace`); labels by majority;
5. coil-correlated noise at the preset's SNR (:mod:`.noise`); reference = coil combination of
   the fully sampled noisy coil images with the true maps (complex); truth (:mod:`.truth`).
"""

from __future__ import annotations

import math

import numpy as np

from suite._validation import check_option
from suite.case import Case, CaseMeta
from suite.mr.coils import combine_coils
from suite.mr.fft import ifft2c
from suite.phantom.body import classify_body
from suite.phantom.coilmaps import coil_maps
from suite.phantom.coils import coil_layout
from suite.phantom.contrast import cine_contrast
from suite.phantom.feature import (
    check_feature_placement, default_feature_centre, disc_patch, feature_mask, feature_truth,
    resolve_step_feature,
)
from suite.phantom.grid import SimGrid
from suite.phantom.kspace import coil_kspace, input_modulation
from suite.phantom.lge import LGE_PHASE, lge_contrast
from suite.phantom.model import build_model
from suite.phantom.motion import RESPIRATION_MODES, respiratory_shift
from suite.phantom.noise import add_complex_noise, coil_noise_covariance, myocardial_signal
from suite.phantom.presets import get_preset
from suite.phantom.render import SlabRenderer
from suite.phantom.subject import ANATOMY_OVERRIDES, draw_subject, subject_streams
from suite.phantom.tissue import CLASS
from suite.phantom.truth import PHANTOM_VERSION, build_truth
from suite.phantom.views import VIEWS, plan_view

__all__ = ["simulate", "simulate_views", "OVERRIDES", "PHANTOM_VERSION", "CONTRASTS"]

#: Contrasts accepted by :func:`simulate`.
CONTRASTS = ("cine", "lge")
_ACQ_OVERRIDES = ("field_strength_t", "n_coils", "matrix", "pixel_spacing_mm",
                  "slice_thickness_mm", "slice_spacing_mm", "n_frames", "tr_ms", "te_ms",
                  "flip_angle_deg", "snr", "oversample", "n_sub_planes")
#: Keyword overrides accepted by :func:`simulate`.
OVERRIDES = _ACQ_OVERRIDES + ANATOMY_OVERRIDES + ("n_slices", "respiration", "subject",
                                                  "step_feature", "ti_ms")
_CHUNK_BYTES = 96 * 2**20


def simulate(seed: int = 0, preset: str = "siemens-1.5t", pathology: str = "normal",
             view: str = "sax", contrast: str = "cine", **overrides) -> Case:
    """Simulate one phantom series: a fully sampled multi-coil cine (or LGE) of one view.

    Parameters
    ----------
    seed : int
        Subject seed; the same seed gives byte-identical output, different seeds different
        anatomy. Anatomy does not depend on ``preset``, ``view`` or ``contrast`` (same heart,
        other scanner, other view).
    preset : str
        Acquisition preset, one of :data:`suite.phantom.PRESETS`.
    pathology : str
        ``"normal"``, ``"dilated"``, ``"hypertrophic"``, ``"infarcted"`` or ``"abnormal-rv"``.
    view : str
        ``"sax"`` (short-axis stack, default), ``"2ch"``, ``"3ch"`` or ``"4ch"`` (one
        long-axis slice planned from the phantom's landmarks, :mod:`suite.phantom.views`).
    contrast : str
        ``"cine"`` (bSSFP, default) or ``"lge"`` (one mid-diastolic inversion-recovery
        gradient-echo frame, :mod:`suite.phantom.lge`).
    **overrides
        Any of :data:`OVERRIDES`: preset fields (``n_frames``, ``n_coils``, ``matrix``,
        ``snr`` — None for noise-free — ...), subject quantities (``lv_ef_pct``,
        ``lv_edv_ml``, ``wall_thickness_mm``, ``heart_rate_bpm``, ``rv_edv_ml``,
        ``rv_ef_pct``, ``avpd_mm``, ``transmurality``, ``mvo_depth``), ``n_slices`` (short
        axis; default: enough to cover base to apex), ``respiration`` (``"breath-hold"``
        default, ``"free-breathing"``, ``"none"``), ``subject`` (id, default
        ``"phantom-seed<seed>"``), ``step_feature`` (short axis only; ``True`` or a dict,
        default off, :mod:`suite.phantom.feature`), ``ti_ms`` (LGE inversion time; default
        nulls remote myocardium).

    Returns
    -------
    Case
        ``kspace`` complex64 ``(slice, frame, coil, ky, kx)`` fully sampled with noise;
        ``mask`` all True ``(1, 1, 1, ky, 1)``; ``reference`` complex64
        ``(slice, frame, y, x)``, the noisy coil images combined with the true maps
        (``Σ conj(S_c) x_c / Σ |S_c|²``, background phase kept); ``labels`` uint8
        ``(slice, frame, y, x)`` in the ACDC convention (papillary muscles and trabeculae in
        the cavities; every frame annotated); ``coil_maps`` None (methods estimate maps);
        ``truth``: analytic volumes with and without papillary muscles, EF, mass, extended
        labels, landmarks per frame, base descent, scar/MVO masks and volumes, true coil maps,
        noise covariance, the :class:`~suite.phantom.model.PhantomModel` (``truth["model"]``,
        for displacement fields) ... (docs/phantom.md); ``meta`` filled, with the slices'
        scanner geometry in ``meta.extra["slice_geometry"]``.

    Raises
    ------
    ValueError
        Unknown preset, pathology, view, contrast or override key (with a suggestion), a
        FOV too small for the heart, or an unreachable volume target.

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
    # One BLAS thread: the generator's matrix products are small, and multi-threaded
    # OpenBLAS spin-waits when the cores are busy (measured: the coil-map interpolation took
    # 0.3-0.8 s per slice with 2 threads on a loaded 2-core machine, 0.002 s with one).
    from suite.mr import native_thread_limits

    with native_thread_limits(1, user_api="blas"):
        return _simulate(seed, preset, pathology, view, contrast, overrides)


def _simulate(seed, preset, pathology, view, contrast, overrides: dict) -> Case:
    """:func:`simulate` (arguments checked here)."""
    where = "suite.phantom.simulate"
    check_option(view, VIEWS, name="view", where=where)
    check_option(contrast, CONTRASTS, name="contrast", where=where)
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
    lge = contrast == "lge"
    if lge and overrides.get("step_feature"):
        raise ValueError(f"{where}: step_feature is a cine feature; not available with contrast='lge'")
    if view != "sax" and overrides.get("step_feature"):
        raise ValueError(f"{where}: step_feature is placed in the short-axis stack; use view='sax'")

    n_cine = int(acq.n_frames)
    if lge:
        model = build_model(subject, n_cine, phases=(0.0, LGE_PHASE))
        render_frames = [1]
    else:
        model = build_model(subject, n_cine)
        render_frames = list(range(n_cine))
    geo = model.heart.geo
    nf = len(render_frames)

    if view == "sax":
        ns = overrides.get("n_slices")
        ns = int(math.ceil((geo.z_base + geo.M) / acq.slice_spacing_mm)) if ns is None else int(ns)
        if ns < 1:
            raise ValueError(f"{where}: n_slices must be >= 1; got {ns}")
        positions = -geo.z_base + acq.slice_spacing_mm * (np.arange(ns) + 0.5)
        geom = plan_view(model, "sax", positions)
    else:
        geom = plan_view(model, view)
        ns = 1
    resp_rng = streams["respiration"] if view == "sax" else np.random.default_rng(
        np.random.SeedSequence([int(seed) % 2**63, 7000 + VIEWS.index(view)]))
    shifts = respiratory_shift(respiration, ns, nf, model.motion.rr_ms, resp_rng)
    shift_max = float(np.abs(shifts).max()) if shifts.size else 0.0

    grid = SimGrid.make(acq.matrix, acq.pixel_spacing_mm, geom.centre_xy, acq.oversample)
    if view == "sax":
        _check_heart_in_fov(grid, float(model.extent.max()) + shift_max, where)
    if lge:
        cmodel, ti_ms = lge_contrast(acq.field_strength_t, model.motion.rr_ms,
                                     overrides.get("ti_ms"))
    else:
        cmodel, ti_ms = cine_contrast(acq.field_strength_t, acq.tr_ms, acq.te_ms,
                                      acq.flip_angle_deg), None

    feature = resolve_step_feature(overrides.get("step_feature"), nf, ns)
    if feature is not None:
        f_centre = feature.centre_mm
        f_plane = geom.planes[feature.slice_index]
        if f_centre is None:
            f_centre = default_feature_centre(
                lambda x, y: classify_body(model.body, f_plane.to_scanner(x, y)),
                model.extent, shift_max)
        check_feature_placement(grid, f_centre, feature.radius_mm, (0.0, 0.0), model.extent,
                                shift_max)
        f_sy, f_sx, f_patch = disc_patch(grid, f_centre, feature.radius_mm)
        f_amp = feature.contrast * cmodel.on_resonance(CLASS["lv_blood"])

    coils = coil_layout(int(acq.n_coils), model.body.axes_mm, float(model.frame.origin[2]))
    maps_acq, maps_int, body_mask = coil_maps(coils, grid, geom.planes, model.body)
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
    extended = np.zeros((ns, nf, ny, nx), np.uint8)
    scar = np.zeros((ns, nf, ny, nx), bool)
    mvo = np.zeros((ns, nf, ny, nx), bool)
    hi, wi = maps_int.shape[-2:]
    per_frame = 8 * (grid.y.n_fine * grid.x.n_fine * 3 + nc * hi * wi * 3)
    chunk = max(1, int(_CHUNK_BYTES // per_frame))
    myo_sum, myo_n = 0.0, 0
    for s in range(ns):
        slab = SlabRenderer(model, grid, geom.planes[s], acq.slice_thickness_mm,
                            int(acq.n_sub_planes), cmodel, acq.field_strength_t, shift_max)
        phase = (np.exp(1j * (smooth_phase + phase_offsets[s])) * modulation).astype(np.complex64)
        if feature is not None and s == feature.slice_index:
            under = slab.background[f_sy, f_sx]           # the disc adds in phase with the tissue
            f_add = (np.float32(f_amp) * f_patch * under / np.maximum(np.abs(under), 1e-12)
                     ).astype(np.complex64)
        for i0 in range(0, nf, chunk):
            idx = range(i0, min(i0 + chunk, nf))
            imgs = np.repeat(slab.background[None], len(idx), axis=0)
            for j, i in enumerate(idx):
                res = slab.frame(render_frames[i], shifts[s, i])
                if res is not None:
                    iy0, iy1, ix0, ix1 = slab.box
                    fy, fx = slab.fine_box
                    imgs[j, fy, fx] = res.signal
                    labels[s, i, iy0:iy1, ix0:ix1] = res.labels
                    extended[s, i, iy0:iy1, ix0:ix1] = res.extended
                    scar[s, i, iy0:iy1, ix0:ix1] = res.scar
                    mvo[s, i, iy0:iy1, ix0:ix1] = res.mvo
                if feature is not None and s == feature.slice_index and i >= feature.step_frame:
                    imgs[j, f_sy, f_sx] += f_add
            kspace[s, i0:i0 + len(idx)] = coil_kspace(imgs * phase[None], maps_int[s], (ny, nx),
                                                      premodulated=True)
        ds, dn = myocardial_signal(ifft2c(kspace[s, 0]), labels[s, 0])
        myo_sum, myo_n = myo_sum + ds, myo_n + dn

    snr = None if acq.snr is None else float(acq.snr)
    s_myo = myo_sum / myo_n if myo_n else float("nan")
    sigma = 0.0 if snr is None else s_myo / snr
    if snr is not None and not np.isfinite(sigma):
        raise ValueError(f"{where}: no myocardium on the first frame, SNR undefined; "
                         "check n_slices/matrix/view")
    psi = coil_noise_covariance(coils.centres, streams["hardware"])
    noise_rng = streams["noise"]
    reference = np.empty((ns, nf, ny, nx), np.complex64)
    for s in range(ns):
        add_complex_noise(kspace[s], sigma, noise_rng, covariance=psi)
        reference[s] = combine_coils(ifft2c(kspace[s]), maps_acq[s]).astype(np.complex64)

    slice_geometry = geom.geometry((ny, nx), float(acq.pixel_spacing_mm))
    truth = build_truth(model, acq, preset, seed, geom, render_frames, shifts, maps_acq, snr,
                        sigma, s_myo, body_mask, extended, scar, mvo, psi, slice_geometry)
    if feature is not None:
        truth["step_feature"] = feature_truth(
            feature, f_centre, feature_mask(grid, f_centre, feature.radius_mm), f_amp, nf)
    es_frame = int(model.motion.es_frame) if not lge else 0
    series = geom.series if not lge else geom.series.replace("cine_", "lge_")
    rr = model.motion.rr_ms
    meta = CaseMeta(
        subject=subject_id, dataset="phantom", series=series, vendor=acq.vendor,
        field_strength_t=float(acq.field_strength_t), site=acq.site,
        sequence="bSSFP cine" if not lge else "IR-GRE LGE",
        pixel_spacing_mm=(float(acq.pixel_spacing_mm), float(acq.pixel_spacing_mm)),
        slice_thickness_mm=float(acq.slice_thickness_mm),
        slice_spacing_mm=float(acq.slice_spacing_mm),
        temporal_resolution_ms=float(rr / n_cine) if not lge else None,
        heart_rate_bpm=float(subject.heart_rate_bpm), ed_frame=0, es_frame=es_frame,
        annotated_frames=tuple(range(nf)),
        strata={"vendor": acq.vendor, "field_strength_t": float(acq.field_strength_t),
                "pathology": pathology, "preset": preset},
        extra={"tr_ms": float(acq.tr_ms) if not lge else float(cmodel.tr_ms),
               "te_ms": float(acq.te_ms) if not lge else float(cmodel.te_ms),
               "flip_angle_deg": float(acq.flip_angle_deg) if not lge
               else float(cmodel.flip_angle_deg),
               "fov_mm": [float(v) for v in acq.fov_mm], "matrix": [ny, nx],
               "n_coils": nc, "oversample": int(acq.oversample),
               "n_sub_planes": int(acq.n_sub_planes), "respiration": respiration,
               "snr": snr, "seed": int(seed), "phantom_version": PHANTOM_VERSION,
               "view": view, "contrast": contrast, "label_convention": "acdc",
               "reference": "noisy coil images combined with the true coil maps (complex)",
               "slice_positions_mm": [float(z) for z in geom.positions_mm],
               "slice_geometry": slice_geometry,
               **({} if ti_ms is None else {"ti_ms": float(ti_ms),
                                             "rr_phase": float(LGE_PHASE)}),
               **({} if feature is None else {"step_feature": {
                   k: v for k, v in truth["step_feature"].items() if k != "mask"}})},
    )
    return Case(kspace=kspace, mask=np.ones((1, 1, 1, ny, 1), bool), reference=reference,
                labels=labels, coil_maps=None, truth=truth, meta=meta)


def simulate_views(seed: int = 0, preset: str = "siemens-1.5t", pathology: str = "normal",
                   views=VIEWS, contrast: str = "cine", **overrides) -> dict[str, Case]:
    """:func:`simulate` for several views of one subject: ``{view: Case}``."""
    return {v: simulate(seed, preset, pathology, view=v, contrast=contrast, **overrides)
            for v in views}


def _check_heart_in_fov(grid: SimGrid, reach_mm: float, where: str) -> None:
    for axis, name in ((grid.x, "x"), (grid.y, "y")):
        half = axis.n * axis.spacing / 2.0
        if abs(axis.centre) + reach_mm > half:
            raise ValueError(
                f"{where}: the FOV (matrix × pixel spacing, half-width {half:.0f} mm along "
                f"{name}) does not hold the heart (reach {reach_mm:.0f} mm from the LV axis, "
                f"which lies {abs(axis.centre):.0f} mm from the FOV centre); enlarge matrix or "
                "pixel_spacing_mm")

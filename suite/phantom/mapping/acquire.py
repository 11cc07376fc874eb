"""Mapping acquisitions of the phantom: weighted images rendered on the fine grid, multi-coil
k-space on the reconstruction grid, noise, exact truth maps.

Per series: every fine-grid pixel gets its tissue's truth (:mod:`.relaxation`) and the
imperfections (B1 scale and gradient, inversion efficiency, off-resonance and gradient), the
sequence (:mod:`suite.mr.sequences`) is simulated for the unique parameter sets (B1 and
off-resonance rounded to :data:`B1_STEP` and :data:`OFF_RESONANCE_STEP_HZ`; M0 enters
linearly) with the series' RR intervals (EPG; cardiac MRF in single precision), the complex k-space-centre signals form one weighted image per
contrast, which is multiplied by the true coil maps, Fourier transformed (centred,
orthonormal) on the fine grid and cropped to the reconstruction matrix (band limit, scaled by
``1/q`` so that image amplitudes are kept); complex Gaussian noise with
``σ = S_myo / snr`` is added, ``S_myo`` being the largest mean myocardial magnitude over the
noise-free weighted images.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from suite.case import Case, CaseMeta
from suite.mr.fft import fft2c, ifft2c
from suite.mr.sequences import (
    SASHA, BSSFPReadout, CardiacMRF, T2PrepBSSFP, Tissue, molli_3_3_3_3_5, molli_4_1_3_1_2,
    molli_5_3_3, shmolli, simulate_epg, window_matrix,
)
from suite.phantom.mapping.anatomy import REGIONS, MappingAnatomy
from suite.phantom.mapping.relaxation import RelaxationMaps
from suite.phantom.noise import add_complex_noise

__all__ = ["SEQUENCES", "Imperfections", "MappingSeries", "acquire_series", "truth_maps",
           "majority_regions", "region_purity", "MRF_IMAGES_PER_BLOCK"]

#: Sequence names of the mapping phantom → factories of :mod:`suite.mr.sequences`.
SEQUENCES = {
    "molli-5(3)3": molli_5_3_3, "molli-4(1)3(1)2": molli_4_1_3_1_2,
    "molli-3(3)3(3)5": molli_3_3_3_3_5, "shmolli": shmolli, "sasha": SASHA,
    "t2prep-bssfp": T2PrepBSSFP, "cardiac-mrf": CardiacMRF,
}
#: Timing keys of each sequence's images (an MRF series maps T1 and T2: TI and T2-prep TE).
_TIMING_KEYS = {"molli-5(3)3": ("TI",), "molli-4(1)3(1)2": ("TI",), "molli-3(3)3(3)5": ("TI",),
                "shmolli": ("TI",), "sasha": ("TS",), "t2prep-bssfp": ("TE",),
                "cardiac-mrf": ("TI", "TE")}
#: Images per block of the cardiac MRF series: each image is the mean of consecutive
#: repetitions (16, 16 and 15 of a block's 47), like a reconstruction from segments of the
#: train; 45 images instead of 705 keep the raw data small.
MRF_IMAGES_PER_BLOCK = 3


def _image_timings(seq, timings) -> dict[str, np.ndarray]:
    """Per image: TI, TS, TE (T2-prep), trigger (R-wave) time and beat; an MRF image takes its
    window's mean TI and its block's values."""
    cols = {"TI": timings.ti_ms, "TS": timings.ts_ms, "TE": timings.t2prep_ms,
            "trigger": timings.trigger_ms, "beat": timings.beat.astype(np.float64)}
    if not isinstance(seq, CardiacMRF):
        return cols
    windows = seq.image_windows(MRF_IMAGES_PER_BLOCK)
    out = {k: np.array([v[w[0]] for w in windows]) for k, v in cols.items()}
    out["TI"] = np.array([timings.ti_ms[list(w)].mean() for w in windows])
    return out


@dataclass(frozen=True)
class Imperfections:
    """System imperfections of an acquisition.

    Attributes
    ----------
    b1_scale : float
        Flip-angle scale at the FOV centre.
    b1_gradient : float
        Change of the B1 scale across the FOV along x (linear, ``±b1_gradient/2`` at the edges).
    inversion_efficiency : float
        ``η``: ``Mz → −η·Mz`` (Kellman et al., MRM 2014, doi 10.1002/mrm.24793: ≈ 0.96).
    off_resonance_hz, off_resonance_gradient_hz : float
        Off-resonance at the centre and its change across the FOV along y (linear).
    """

    b1_scale: float = 1.0
    b1_gradient: float = 0.0
    inversion_efficiency: float = 1.0
    off_resonance_hz: float = 0.0
    off_resonance_gradient_hz: float = 0.0

    def fields(self, shape) -> tuple[np.ndarray, np.ndarray]:
        """Per-pixel B1 scale and off-resonance (Hz) on a grid ``shape`` ``(y, x)``."""
        ny, nx = shape
        x = (np.arange(nx) + 0.5) / nx - 0.5
        y = (np.arange(ny) + 0.5) / ny - 0.5
        b1 = self.b1_scale + self.b1_gradient * np.broadcast_to(x[None, :], shape)
        df = self.off_resonance_hz + self.off_resonance_gradient_hz * np.broadcast_to(
            y[:, None], shape)
        return b1, df


@dataclass(frozen=True, eq=False)
class MappingSeries:
    """One simulated series.

    Attributes
    ----------
    name : str
        ``<sequence>_<contrast>``, e.g. ``"molli-5(3)3_native"``.
    sequence, contrast : str
    case : Case
        ``kspace`` complex64 ``(1, n_images, coil, ny, nx)`` (one frame per image), all-True
        ``mask``, ``meta.timings_ms`` ``{"TI"|"TS"|"TE": [[...]], "trigger": [[...]]}`` (per
        slice, per image; None for a SASHA image without saturation) and ``meta.extra``
        (sequence, RR intervals, imperfections, SNR, noise σ).
    images : ndarray, complex128, ``(n_images, ny, nx)``
        Noise-free band-limited weighted images (coil-independent).
    timings : suite.mr.sequences.Timings
        One row per recorded sample (an MRF series: per repetition, 705).
    rr_ms : ndarray ``(n_beats,)``
    image_timings : dict of ndarray ``(n_images,)``
        Per weighted image: ``TI``, ``TS``, ``TE`` (T2-prep duration, 0 if none), ``trigger``
        (R-wave time) in ms (NaN where not applicable) and ``beat``.
    """

    name: str
    sequence: str
    contrast: str
    case: Case
    images: np.ndarray
    timings: object
    rr_ms: np.ndarray
    extra: dict = field(default_factory=dict)
    image_timings: dict = field(default_factory=dict)


def majority_regions(fine: np.ndarray, q: int) -> np.ndarray:
    """Most frequent region code over each ``q × q`` block (ties: lower code), ``(ny, nx)``."""
    h, w = fine.shape
    blocks = fine.reshape(h // q, q, w // q, q)
    counts = np.stack([(blocks == c).sum(axis=(1, 3)) for c in range(len(REGIONS))])
    return np.argmax(counts, axis=0).astype(np.uint8)


def region_purity(fine: np.ndarray, q: int) -> np.ndarray:
    """Fraction of each ``q × q`` block's fine sub-pixels that belong to the block's majority
    region (:func:`majority_regions`), float64 ``(ny, nx)`` in ``(0, 1]``; 1 = a pure pixel,
    free of partial volume."""
    h, w = fine.shape
    blocks = fine.reshape(h // q, q, w // q, q)
    major = majority_regions(fine, q)
    return (blocks == major[:, None, :, None]).mean(axis=(1, 3))


def truth_maps(anatomy: MappingAnatomy, relax: RelaxationMaps) -> dict[str, np.ndarray]:
    """Truth maps on the reconstruction grid ``(ny, nx)`` (region of the majority of each
    pixel's fine sub-pixels): regions, their purity (:func:`region_purity`), PD, native/post
    T1 and T2 (ms), ECV (fraction).

    A pixel on a tissue boundary holds a mixture of tissues whose apparent T1/T2 is none of
    them: the truth value of its majority region is not its truth. Scoring therefore uses pure
    pixels by default (``purity == 1``; :mod:`suite.stages.mapping.scoring`), as a myocardial
    ROI drawn conservatively inside the wall does (Messroghli et al., JCMR 2017,
    doi 10.1186/s12968-017-0389-8: ROIs avoid the blood-pool boundary)."""
    reg = majority_regions(anatomy.regions, anatomy.upsample)
    out = {"regions": reg, "purity": region_purity(anatomy.regions, anatomy.upsample)}
    for name in ("pd", "t1_native_ms", "t2_native_ms", "t1_post_ms", "t2_post_ms", "ecv"):
        out[name] = getattr(relax, name)[reg]
    return out


#: Steps to which the B1 scale and the off-resonance (Hz) of a pixel are rounded before the
#: simulation, so that pixels share simulations (effect on the signal below 0.1 %).
B1_STEP, OFF_RESONANCE_STEP_HZ = 1e-3, 0.5


def _signals(seq, rr_ms, t1, t2, pd, b1, df, eta):
    b1 = np.round(b1 / B1_STEP) * B1_STEP
    df = np.round(df / OFF_RESONANCE_STEP_HZ) * OFF_RESONANCE_STEP_HZ
    rows = np.stack([t1, t2, b1, df], 1)
    uniq, inv = np.unique(rows, axis=0, return_inverse=True)
    mrf = isinstance(seq, CardiacMRF)
    sim = simulate_epg(seq.program(rr_ms), Tissue(uniq[:, 0], uniq[:, 1], b1=uniq[:, 2],
                                                  off_resonance_hz=uniq[:, 3],
                                                  inversion_efficiency=eta),
                       n_states=20 if mrf else 1, dtype=torch.float32 if mrf else torch.float64)
    return sim.signal.numpy().astype(np.complex128)[inv.reshape(-1)] * pd[:, None], sim.timings


def acquire_series(anatomy: MappingAnatomy, relax: RelaxationMaps, sequence: str,
                   contrast: str, rr_ms, rng: np.random.Generator, *,
                   imperfections: Imperfections = Imperfections(), snr: float | None = 50.0,
                   subject: str = "phantom") -> MappingSeries:
    """Simulate one series (see the module docstring).

    Parameters
    ----------
    anatomy : MappingAnatomy
    relax : RelaxationMaps
    sequence : str
        A key of :data:`SEQUENCES`.
    contrast : str
        ``"native"`` or ``"post"`` (post-contrast T1/T2 of ``relax``).
    rr_ms : array-like ``(n_beats,)``
        RR intervals (enough beats for the sequence; triggers may be skipped).
    rng : numpy.random.Generator
        Noise stream.
    imperfections : Imperfections
    snr : float or None
        Myocardial SNR of the brightest weighted image; None = no noise.
    subject : str
    """
    if sequence not in SEQUENCES:
        raise ValueError(f"acquire_series: unknown sequence {sequence!r}; one of {list(SEQUENCES)}")
    if contrast not in ("native", "post"):
        raise ValueError(f"acquire_series: contrast must be 'native' or 'post'; got {contrast!r}")
    seq = SEQUENCES[sequence]()
    rr = np.asarray(rr_ms, dtype=np.float64)
    reg = anatomy.regions
    hf, wf = reg.shape
    b1, df = imperfections.fields(reg.shape)
    t1 = (relax.t1_native_ms if contrast == "native" else relax.t1_post_ms)[reg]
    t2 = (relax.t2_native_ms if contrast == "native" else relax.t2_post_ms)[reg]
    on = reg > 0
    sig, timings = _signals(seq, rr, t1[on], t2[on], relax.pd[reg][on], b1[on], df[on],
                            imperfections.inversion_efficiency)
    per_image = _image_timings(seq, timings)
    if isinstance(seq, CardiacMRF):
        sig = sig @ window_matrix(seq.image_windows(MRF_IMAGES_PER_BLOCK), seq.n_samples).T
    n_img = sig.shape[1]
    fine = np.zeros((n_img, hf, wf), np.complex128)
    fine[:, on] = sig.T
    q = anatomy.upsample
    ny, nx = anatomy.matrix
    y0, x0 = hf // 2 - ny // 2, wf // 2 - nx // 2
    k_img = fft2c(fine)[:, y0:y0 + ny, x0:x0 + nx] / q
    images = ifft2c(k_img)
    coil = fine[:, None] * anatomy.coil_maps[None]
    kspace = (fft2c(coil)[..., y0:y0 + ny, x0:x0 + nx] / q).astype(np.complex64)
    myo = majority_regions(reg, q) == REGIONS.index("myocardium")
    s_myo = float(np.abs(images[:, myo]).mean(axis=1).max()) if myo.any() else float("nan")
    sigma = 0.0 if snr is None else s_myo / float(snr)
    if snr is not None and not np.isfinite(sigma):
        raise ValueError("acquire_series: no myocardium in the slice, SNR undefined")
    add_complex_noise(kspace, sigma, rng)
    timing = {key: [[None if not np.isfinite(v) else float(v) for v in per_image[key]]]
              for key in _TIMING_KEYS[sequence]}
    timing["trigger"] = [[float(v) for v in per_image["trigger"]]]
    extra = {"sequence": sequence, "contrast": contrast, "rr_ms": [float(v) for v in rr],
             "imperfections": vars(imperfections).copy(), "snr": snr, "noise_sigma": sigma,
             "beat": [int(b) for b in per_image["beat"]], "upsample": q,
             "trigger_delay_ms": float(timings.time_ms[0] - timings.trigger_ms[0])}
    ro = getattr(seq, "readout", None)
    if isinstance(ro, BSSFPReadout):
        extra.update(tr_ms=ro.tr_ms, te_ms=ro.tr_ms / 2, flip_angle_deg=ro.flip_deg,
                     readout_pulses=ro.n_lines, centre_line=ro.centre_line,
                     ramp_up_pulses=ro.n_ramp)
    elif isinstance(seq, CardiacMRF):
        extra.update(tr_ms=seq.tr_ms, te_ms=seq.te_ms, images_per_block=MRF_IMAGES_PER_BLOCK)
    name = f"{sequence}_{contrast}"
    meta = CaseMeta(subject=subject, dataset="phantom-mapping", series=name,
                    field_strength_t=relax.field_strength_t, sequence=sequence,
                    pixel_spacing_mm=(anatomy.pixel_spacing_mm, anatomy.pixel_spacing_mm),
                    slice_thickness_mm=anatomy.slice_thickness_mm,
                    heart_rate_bpm=float(60000.0 / rr.mean()), timings_ms=timing,
                    strata={"sequence": sequence, "contrast": contrast,
                            "field_strength_t": relax.field_strength_t},
                    extra=extra)
    case = Case(kspace=kspace[None], mask=np.ones((1, 1, 1, ny, 1), bool), meta=meta,
                truth={"regions": majority_regions(reg, q)})
    return MappingSeries(name, sequence, contrast, case, images, timings, rr, extra, per_image)

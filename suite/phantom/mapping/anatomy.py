"""The one adapter between the mapping acquisitions and the rest of the phantom.

Everything the mapping package needs from the cine phantom goes through
:func:`mapping_anatomy`, which calls the public :func:`suite.phantom.simulate` once (noise-free,
two frames, no respiration) on a grid ``upsample`` times finer than the reconstruction grid and
keeps only: the ACDC labels of one slice at one cardiac frame, the body mask, the true coil
maps and the infarct sector of the subject. A rewrite of the cine phantom only has to keep
these Case/truth fields.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MappingAnatomy", "mapping_anatomy", "REGIONS"]

#: Mapping region codes (index = code) used by the relaxation maps and the truth table.
REGIONS = ("air", "body", "lv_blood", "rv_blood", "myocardium", "scar")


@dataclass(frozen=True, eq=False)
class MappingAnatomy:
    """Regions and coil maps of one slice on the fine (rendering) grid.

    Attributes
    ----------
    regions : ndarray, uint8, ``(q·ny, q·nx)``
        Codes into :data:`REGIONS` (scar only for ``pathology="infarcted"``, inside the
        subject's infarct sector).
    coil_maps : ndarray, complex64, ``(coil, q·ny, q·nx)``
        True coil sensitivities on the fine grid.
    upsample : int
        ``q``, fine pixels per reconstruction pixel along each axis.
    matrix : (int, int)
        Reconstruction matrix ``(ny, nx)``.
    pixel_spacing_mm : float
        Reconstruction pixel spacing (fine spacing × q).
    slice_thickness_mm : float
    heart_rate_bpm : float
        The cine subject's heart rate (mean of the mapping RR series by default).
    field_strength_t : float
    source : dict
        Seed, preset, pathology, slice and frame used.
    """

    regions: np.ndarray
    coil_maps: np.ndarray
    upsample: int
    matrix: tuple
    pixel_spacing_mm: float
    slice_thickness_mm: float
    heart_rate_bpm: float
    field_strength_t: float
    source: dict


def mapping_anatomy(seed: int, pathology: str = "normal", *, preset: str = "tiny",
                    upsample: int = 2, slice_index: int = 3, frame: int = 0,
                    n_frames: int = 2) -> MappingAnatomy:
    """Regions of slice ``slice_index`` (0 = base) at cine frame ``frame`` of phantom ``seed``.

    ``frame`` of ``n_frames`` sets the cardiac phase (``frame / n_frames`` of the RR interval;
    0 = end-diastole).
    """
    from suite.phantom import PRESETS, simulate

    if upsample < 1 or not 0 <= frame < n_frames:
        raise ValueError(f"mapping_anatomy: need upsample >= 1 and 0 <= frame < n_frames; got "
                         f"upsample={upsample}, frame={frame}, n_frames={n_frames}")
    if preset not in PRESETS:
        raise ValueError(f"mapping_anatomy: unknown preset {preset!r}; one of {sorted(PRESETS)}")
    acq = PRESETS[preset]
    ny, nx = acq.matrix
    case = simulate(seed, preset, pathology, n_frames=n_frames, snr=None,
                    matrix=(upsample * ny, upsample * nx),
                    pixel_spacing_mm=acq.pixel_spacing_mm / upsample, respiration="none",
                    n_slices=slice_index + 1)
    lab = case.labels[slice_index, frame]
    body = case.truth["body_mask"][slice_index]
    regions = np.where(body, 1, 0).astype(np.uint8)
    regions[lab == 3] = 2
    regions[lab == 1] = 3
    regions[lab == 2] = 4
    infarct = case.truth["subject"].get("infarct")
    if infarct is not None and (lab == 2).any():
        yy, xx = np.nonzero(lab == 3) if (lab == 3).any() else np.nonzero(lab == 2)
        cy, cx = yy.mean(), xx.mean()
        my, mx = np.nonzero(lab == 2)
        theta = np.arctan2(my - cy, mx - cx)          # image x right, y down (phantom convention)
        d = np.angle(np.exp(1j * (theta - infarct["centre_rad"])))
        inside = np.abs(d) <= infarct["halfwidth_rad"]
        regions[my[inside], mx[inside]] = 5
    return MappingAnatomy(
        regions=regions, coil_maps=np.asarray(case.truth["coil_maps"][slice_index], np.complex64),
        upsample=int(upsample), matrix=(int(ny), int(nx)),
        pixel_spacing_mm=float(acq.pixel_spacing_mm), slice_thickness_mm=float(acq.slice_thickness_mm),
        heart_rate_bpm=float(case.meta.heart_rate_bpm), field_strength_t=float(acq.field_strength_t),
        source={"seed": int(seed), "preset": preset, "pathology": pathology,
                "slice_index": int(slice_index), "frame": int(frame), "n_frames": int(n_frames)})

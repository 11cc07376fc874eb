"""Rendering one slab of a view on the simulation grid: signal, labels, truth masks.

A slab of thickness ``T`` about a :class:`~suite.phantom.orientation.SlicePlane` is sampled on
``n_sub_planes`` planes at offsets ``−T/2 + (p + ½) T / n_sub_planes`` along its normal (a
rectangular slice profile). Every simulation-grid pixel of every plane gets a class: the static
body (:mod:`.body`, computed once per slab on the whole grid) overwritten, inside a box that
holds every position the heart can take, by the heart at the frame (:mod:`.heart`, after
removing the respiratory displacement). The complex signal of each class at the local
off-resonance (:mod:`.contrast`, :mod:`.offres`), blood modulated by flow (:mod:`.flow`), is
averaged over the planes (through-plane partial volume).

Labels on the acquired grid: each acquired pixel is covered by ``q × q`` simulation pixels on
each plane; its label is the most frequent one (:func:`suite.phantom.labels.majority_labels`),
separately for the ACDC and the extended label sets; scar and MVO masks mark acquired pixels
at least half covered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suite.phantom.body import classify_body
from suite.phantom.envelope import GROOVE_BAND_MM
from suite.phantom.flow import blood_modulation
from suite.phantom.grid import SimGrid
from suite.phantom.labels import EXTENDED_LABELS, majority_labels
from suite.phantom.model import LUNG_MARGIN_MM
from suite.phantom.offres import field_map_hz
from suite.phantom.tissue import ACDC_LABEL, CLASS, EXTENDED_LABEL

__all__ = ["slab_offsets", "SlabRenderer", "HeartFrameResult", "HEART_BLOOD_CODES"]

#: Blood classes of the heart (flow-modulated); the static descending aorta is not.
HEART_BLOOD_CODES = np.array([CLASS[k] for k in ("lv_blood", "rv_blood", "la_blood", "ra_blood",
                                                   "aorta_blood", "pa_blood")])


def slab_offsets(thickness: float, n_sub: int) -> np.ndarray:
    """Offsets of the ``n_sub`` sample planes from the slab centre along its normal, mm."""
    return -thickness / 2.0 + (np.arange(n_sub) + 0.5) * (thickness / n_sub)


@dataclass(frozen=True)
class HeartFrameResult:
    """Output of :meth:`SlabRenderer.frame` inside the heart box.

    ``signal`` complex64 ``(Hb, Wb)`` (fine), ``labels`` / ``extended`` uint8 ``(hb, wb)``
    (acquired), ``scar`` / ``mvo`` bool ``(hb, wb)``.
    """

    signal: np.ndarray
    labels: np.ndarray
    extended: np.ndarray
    scar: np.ndarray
    mvo: np.ndarray


class SlabRenderer:
    """Static part of one slab (computed at construction) and the heart at any frame.

    Parameters
    ----------
    model : PhantomModel
    grid : SimGrid
        In-plane grid (plane coordinates).
    plane : SlicePlane
        Slab centre.
    thickness : float
        Slab thickness, mm.
    n_sub : int
        Sample planes through the slab.
    contrast : ContrastModel
    field_strength_t : float
        For the off-resonance map.
    shift_max : float
        Largest respiratory displacement of the heart, mm (box and lung clearance).
    """

    def __init__(self, model, grid: SimGrid, plane, thickness: float, n_sub: int, contrast,
                 field_strength_t: float, shift_max: float):
        self.model, self.grid, self.plane, self.contrast = model, grid, plane, contrast
        self.offsets = slab_offsets(thickness, n_sub)
        xx, yy = np.meshgrid(grid.x.fine.astype(np.float32), grid.y.fine.astype(np.float32))
        centre = plane.to_scanner(xx, yy)                                    # (Hf, Wf, 3)
        margin = LUNG_MARGIN_MM + shift_max
        # the static body and the (smooth) field on the slab's centre plane
        codes = classify_body(model.body, centre, lambda p: model.mediastinum(p, margin))
        self.body_codes = codes
        self.df = field_map_hz(model, centre, field_strength_t).astype(np.float32)
        self.background = contrast.signal(codes, self.df)
        self.box = self._heart_box(thickness, shift_max)
        self._polar: dict = {}
        if self.box is not None:
            iy0, iy1, ix0, ix1 = self.box
            fy, fx = grid.y.fine_range(iy0, iy1), grid.x.fine_range(ix0, ix1)
            self.fine_box = (fy, fx)
            hb = model.frame.to_heart(centre[fy, fx])                          # (Hb, Wb, 3)
            step = model.frame.vector_to_heart(plane.normal)
            self.heart_points = np.stack([hb + o * step for o in self.offsets])  # (P, Hb, Wb, 3)
            self.same_xy = bool(np.hypot(step[0], step[1]) < 1e-9)           # short axis
            self.box_codes = np.ascontiguousarray(codes[fy, fx])
            self.box_df = np.ascontiguousarray(self.df[fy, fx])

    def _heart_box(self, thickness: float, shift_max: float):
        """Acquired-pixel box ``(iy0, iy1, ix0, ix1)`` holding every heart position, or None."""
        m = self.model
        geo = m.heart.geo
        theta = np.arange(72) * (2 * np.pi / 72)
        ext = np.interp(theta, np.arange(m.extent.size) * (2 * np.pi / m.extent.size),
                        m.extent, period=2 * np.pi)
        z = np.linspace(-geo.z_base - GROOVE_BAND_MM, geo.M + 12.0, 25)
        tt, zz = np.meshgrid(theta, z)
        ee = np.interp(tt, theta, ext, period=2 * np.pi)
        pts = [np.stack([ee * np.cos(tt), ee * np.sin(tt), zz], -1).reshape(-1, 3)]
        dirs = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)
                         if (i, j, k) != (0, 0, 0)], float)
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        for centre, radius in m.heart.base.bounding_spheres():
            pts.append(centre + radius * dirs)
            pts.append(centre[None])
        local = self.plane.to_plane(m.frame.to_scanner(np.concatenate(pts)))
        descent = max(geo.base_descent_mm(f) for f in range(m.n_frames))
        near = np.abs(local[:, 2]) <= thickness / 2.0 + descent + 15.0
        if not near.any():
            return None
        pad = shift_max + 2.0 * self.grid.x.spacing
        g = self.grid
        iy0, iy1 = g.y.pixel_range(local[near, 1].min() - pad, local[near, 1].max() + pad)
        ix0, ix1 = g.x.pixel_range(local[near, 0].min() - pad, local[near, 0].max() + pad)
        if iy1 <= iy0 or ix1 <= ix0:
            return None
        return iy0, iy1, ix0, ix1

    def _polar_of(self, p: int, shift, points):
        """Angular profiles of the box points of sub-plane ``p`` (cached per shift; shared by
        all sub-planes of a short-axis slab)."""
        key = (0 if self.same_xy else p, float(shift[0]), float(shift[1]))
        polar = self._polar.get(key)
        if polar is None:
            polar = self.model.heart.polar(points[..., 0], points[..., 1])
            self._polar = {k: v for k, v in self._polar.items() if k[1:] == key[1:]}
            self._polar[key] = polar
        return polar

    def frame(self, f: int, shift) -> HeartFrameResult | None:
        """The heart at frame ``f`` displaced by ``shift`` (heart x, y, mm), inside the box."""
        if self.box is None:
            return None
        m = self.model
        h = self.heart_points - np.array([shift[0], shift[1], 0.0])
        heart = np.stack([m.heart.classify(h[p, ..., 0], h[p, ..., 1], h[p, ..., 2], f,
                                           polar=self._polar_of(p, shift, h[p]))
                          for p in range(h.shape[0])])
        codes = np.where(heart > 0, heart, self.box_codes[None])
        sig = self.contrast.signal(codes, np.broadcast_to(self.box_df, codes.shape))
        blood = np.isin(heart, HEART_BLOOD_CODES)
        if blood.any():
            sig[blood] *= blood_modulation(m, h[blood], f)
        q = self.grid.x.q
        scar_codes = (heart == CLASS["scar"]) | (heart == CLASS["mvo"])
        return HeartFrameResult(
            signal=sig.mean(axis=0).astype(np.complex64),
            labels=majority_labels(ACDC_LABEL[heart], q),
            extended=majority_labels(EXTENDED_LABEL[heart], q, len(EXTENDED_LABELS)),
            scar=_coverage(scar_codes, q) >= 0.5,
            mvo=_coverage(heart == CLASS["mvo"], q) >= 0.5)


def _coverage(mask: np.ndarray, q: int) -> np.ndarray:
    """Fraction of each acquired pixel's fine samples (all planes) where ``mask`` holds."""
    n, h, w = mask.shape
    return mask.reshape(n, h // q, q, w // q, q).mean(axis=(0, 2, 4))


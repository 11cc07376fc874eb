"""Image contrast of a phantom series: the complex signal of every tissue class at a point.

A :class:`ContrastModel` turns rendering class codes and the local off-resonance ``Δf`` into
the complex transverse signal on the simulation grid:

* ``"cine"`` (balanced SSFP): ``S = S_0(class) · F(β)`` with ``S_0`` the on-resonance signal
  (:func:`suite.phantom.signal.bssfp_signal`) and ``F`` the off-resonance factor
  (:func:`suite.phantom.signal.bssfp_offres_factor`), ``β = 2π Δf TR``: dark bands where
  ``|Δf|`` nears ``1/(2 TR)``;
* ``"lge"`` (inversion-recovery gradient echo, :mod:`suite.phantom.lge`): the signed IR signal
  ``S_0(class)`` times the gradient-echo phase ``exp(2πi Δf TE)`` (no banding).

The tissue properties come from :mod:`suite.phantom.tissue` (native) or the post-contrast
table of :mod:`suite.phantom.lge`; other contrasts (e.g. the mapping sequences) can be added
as further constructors over the same class table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suite.phantom.signal import bssfp_signal
from suite.phantom.tissue import CLASS_TISSUE, tissue_properties

__all__ = ["ContrastModel", "cine_contrast"]

#: Entries of the bSSFP off-resonance table per class.
_N_BETA = 16384


@dataclass(frozen=True)
class ContrastModel:
    """Per-class signal model of one series.

    Attributes
    ----------
    kind : str
        ``"cine"`` or ``"lge"``.
    s0 : ndarray (n_classes,), float64
        On-resonance (cine) or signed IR (LGE) signal of every class.
    e1, e2 : ndarray (n_classes,)
        ``exp(−TR/T1)``, ``exp(−TR/T2)`` (cine; used by the off-resonance factor).
    tr_ms, te_ms, flip_angle_deg : float
    """

    kind: str
    s0: np.ndarray
    e1: np.ndarray
    e2: np.ndarray
    tr_ms: float
    te_ms: float
    flip_angle_deg: float

    def signal(self, codes: np.ndarray, df_hz: np.ndarray) -> np.ndarray:
        """Complex signal (complex64) of class ``codes`` at off-resonance ``df_hz``.

        bSSFP uses a table of the off-resonance factor per class on :data:`_N_BETA` values of
        ``β`` over ``[−2π, 2π]`` (nearest entry: phase error below 4e-4 rad); fields beyond
        ``±1/TR`` are clipped to the table's ends.
        """
        if self.kind == "lge":
            s0 = self.s0[codes]
            return (s0 * np.exp(2j * np.pi * df_hz * self.te_ms * 1e-3)).astype(np.complex64)
        table = self._table()
        beta = (2 * np.pi * 1e-3 * self.tr_ms) * np.asarray(df_hz, dtype=np.float32)
        idx = np.rint((beta + 2 * np.pi) * ((_N_BETA - 1) / (4 * np.pi))).astype(np.intp)
        np.clip(idx, 0, _N_BETA - 1, out=idx)
        return table[codes, idx]

    def _table(self) -> np.ndarray:
        cached = self.__dict__.get("_lut")
        if cached is None:
            from suite.phantom.signal import bssfp_offres_factor

            beta = np.linspace(-2 * np.pi, 2 * np.pi, _N_BETA)
            t1 = -self.tr_ms / np.log(np.clip(self.e1, 1e-300, 1 - 1e-15))
            t2 = -self.tr_ms / np.log(np.clip(self.e2, 1e-300, 1 - 1e-15))
            f = bssfp_offres_factor(t1[:, None], t2[:, None], self.tr_ms, self.flip_angle_deg,
                                    beta[None, :])
            cached = (self.s0[:, None] * f).astype(np.complex64)
            object.__setattr__(self, "_lut", cached)
        return cached

    def on_resonance(self, code: int) -> float:
        return float(self.s0[code])


def cine_contrast(field_strength_t: float, tr_ms: float, te_ms: float,
                  flip_angle_deg: float) -> ContrastModel:
    """bSSFP cine contrast of the tissue table at ``field_strength_t``."""
    props = tissue_properties(field_strength_t)
    n = len(CLASS_TISSUE)
    s0, e1, e2 = np.zeros(n), np.zeros(n), np.zeros(n)
    for code, tissue in enumerate(CLASS_TISSUE):
        p = props[tissue]
        e1[code], e2[code] = np.exp(-tr_ms / p.t1_ms), np.exp(-tr_ms / p.t2_ms)
        if p.pd > 0:
            s0[code] = bssfp_signal(p.pd, p.t1_ms, p.t2_ms, tr_ms, te_ms, flip_angle_deg)
    return ContrastModel("cine", s0, e1, e2, float(tr_ms), float(te_ms), float(flip_angle_deg))

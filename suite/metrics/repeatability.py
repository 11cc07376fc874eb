"""QIBA repeatability of repeated measurements: wSD, repeatability coefficient, wCV.

Terminology and estimators of the Quantitative Imaging Biomarkers Alliance (Raunig et al.,
Stat Methods Med Res 2015;24:27, doi 10.1177/0962280214537344): ``values`` ``(n_units,
n_repeats)`` hold each unit's repeated measurements (a unit is a case, subject, ROI or segment
measured ``n_repeats`` times under the same conditions),

* within-unit SD ``wSD = sqrt(mean_i s_i²)``, ``s_i²`` the unit's variance (ddof 1; for two
  repeats ``s_i² = d_i²/2``),
* repeatability coefficient ``RC = 1.96·√2·wSD ≈ 2.77·wSD`` (the difference two repeated
  measurements stay within with 95 % probability),
* within-unit coefficient of variation ``wCV = 100·wSD / grand mean`` (%).

The estimators assume an error that does not depend on the value's magnitude; otherwise a
precision profile (wSD against the mean) is needed. Any scalar metric qualifies; no I/O.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Repeatability", "repeatability", "REPEATABILITY_FACTOR"]

#: ``1.96·√2`` (QIBA repeatability coefficient factor, ≈ 2.77).
REPEATABILITY_FACTOR = 1.96 * math.sqrt(2.0)


@dataclass(frozen=True)
class Repeatability:
    """QIBA repeatability of repeated measurements (see the module docstring)."""

    wsd: float
    rc: float
    wcv_pct: float
    mean: float
    n_units: int
    n_repeats: int

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return (f"wSD {self.wsd:.4g}, RC {self.rc:.4g}, wCV {self.wcv_pct:.2f} % "
                f"({self.n_units} units x {self.n_repeats} repeats)")


def repeatability(values) -> Repeatability:
    """wSD, repeatability coefficient and wCV of ``values`` ``(n_units, n_repeats)``.

    Examples
    --------
    Two repeats: ``wSD² = mean(d²/2)``; d = (10, 20) gives wSD² = (50 + 200)/2 = 125.

    >>> r = repeatability([[1000.0, 1010.0], [1200.0, 1220.0]])
    >>> round(r.wsd ** 2, 9), round(r.rc / r.wsd, 4)
    (125.0, 2.7719)
    """
    v = np.asarray(values, dtype=float)
    if v.ndim != 2 or v.shape[1] < 2 or v.shape[0] < 1:
        raise ValueError("repeatability: `values` must be (n_units, n_repeats) with at least 2 "
                         f"repeats; got shape {v.shape}")
    if not np.isfinite(v).all():
        raise ValueError("repeatability: `values` hold NaN or inf (drop failed repeats first)")
    wsd = float(np.sqrt(np.mean(np.var(v, axis=1, ddof=1))))
    mean = float(v.mean())
    return Repeatability(wsd=wsd, rc=REPEATABILITY_FACTOR * wsd,
                         wcv_pct=100.0 * wsd / mean if mean != 0 else float("nan"), mean=mean,
                         n_units=v.shape[0], n_repeats=v.shape[1])

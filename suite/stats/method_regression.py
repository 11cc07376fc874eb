"""Result object shared by the method-comparison regressions (Deming, Passing-Bablok).

Both fit ``test = intercept + slope · reference``; slope 1 and intercept 0 mean no
proportional and no constant difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from suite._serialise import jsonable
from suite._table import SummaryTable, fmt, fmt_interval

__all__ = ["MethodRegressionResult"]


@dataclass(frozen=True)
class MethodRegressionResult:
    """Straight-line fit ``test = intercept + slope · reference`` with ``1 − alpha`` CIs.

    Attributes
    ----------
    method : str
        ``"deming"`` or ``"passing_bablok"``.
    slope, intercept : float
        Estimates (intercept in the unit of the data, slope unitless).
    slope_ci, intercept_ci : tuple of float
        Two-sided ``1 − alpha`` CIs by ``ci_method``.
    n : int
        Number of pairs.
    details : dict
        Method-specific choices (Deming: ``error_ratio``; Passing-Bablok: ``K``, ``n_slopes``).
    reference, test : ndarray (n,), float64
        The data (read-only, for plots; excluded from ``to_dict``).
    """

    method: str
    slope: float
    slope_ci: tuple[float, float]
    intercept: float
    intercept_ci: tuple[float, float]
    n: int
    alpha: float
    ci_method: str
    details: dict = field(default_factory=dict, compare=False)
    reference: np.ndarray = field(default=None, repr=False, compare=False)
    test: np.ndarray = field(default=None, repr=False, compare=False)

    def conf_int(self, alpha: float | None = None) -> dict[str, tuple[float, float]]:
        """Stored CIs of slope and intercept; other levels need a refit (``alpha=`` of the fit).

        Raises
        ------
        ValueError
            If ``alpha`` differs from the level of the fit.
        """
        if alpha is not None and alpha != self.alpha:
            raise ValueError(f"MethodRegressionResult.conf_int: intervals were computed at "
                             f"alpha = {self.alpha}; refit with alpha={alpha} instead")
        return {"slope": self.slope_ci, "intercept": self.intercept_ci}

    def to_dict(self) -> dict:
        """JSON-safe dict at full precision (data arrays excluded)."""
        skip = ("reference", "test")
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in skip}
        out["model"] = "test = intercept + slope * reference"
        return jsonable(out)

    def summary(self, format: str = "text") -> str:
        """Slope and intercept table with numbered notes."""
        pct = f"{100 * (1 - self.alpha):g} % CI"
        rows = (("slope", fmt(self.slope), fmt_interval(self.slope_ci)),
                ("intercept", fmt(self.intercept), fmt_interval(self.intercept_ci)),
                ("n", str(self.n), ""))
        extra = ", ".join(f"{k} = {fmt(v) if isinstance(v, float) else v}"
                          for k, v in self.details.items())
        notes = ("Model: test = intercept + slope · reference; slope 1 and intercept 0 mean "
                 "no proportional and no constant difference.",
                 f"CI: {self.ci_method}." + (f" ({extra})" if extra else ""))
        title = {"deming": "Deming regression",
                 "passing_bablok": "Passing-Bablok regression"}.get(self.method, self.method)
        return SummaryTable(title, ("parameter", "estimate", pct), rows, notes).render(format)

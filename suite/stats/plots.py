"""Plots of agreement results. They draw what a result holds and compute no statistics.

matplotlib is used through the object API on a Figure created without pyplot (Agg canvas), so
nothing is shown and no global figure state is touched; every function returns the Figure.
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from suite.stats.bland_altman import BlandAltmanResult
from suite.stats.bland_altman_repeated import BlandAltmanRepeatedResult
from suite.stats.bland_altman_variants import BlandAltmanRatioResult
from suite.stats.method_regression import MethodRegressionResult

__all__ = ["bland_altman_plot", "regression_plot"]

_YLABEL = {"difference": "test − reference", "percent": "(test − reference) / mean, %",
           "log_ratio": "test / reference"}


def _new_axes(ax, figsize):
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def bland_altman_plot(result, *, ax=None, title: str | None = None, figsize=(6.0, 4.5)):
    """Draw a Bland-Altman plot from a result: differences vs means, bias, limits, CI bands.

    Parameters
    ----------
    result : BlandAltmanResult, BlandAltmanRatioResult or BlandAltmanRepeatedResult
        Holds the per-pair differences and means it was computed from.
    ax : matplotlib.axes.Axes, optional
        Draw into this Axes; otherwise a new Figure (Agg canvas) is created.
    title : str, optional
    figsize : tuple of float, default (6, 4.5)
        Size in inches of a new Figure.

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    Solid line: bias; dashed lines: limits of agreement; shaded bands: the confidence
    intervals of the bias and of each limit (absent for the repeated-measurements result, which
    has none). For a ratio result the y axis shows test/reference on a log scale.
    """
    if isinstance(result, BlandAltmanRatioResult):
        base = result.log_result
        y = np.exp(base.differences)
        lines = (result.ratio_bias, result.ratio_loa_lower, result.ratio_loa_upper)
        bands = (result.ratio_bias_ci, result.ratio_loa_lower_ci, result.ratio_loa_upper_ci)
        ylabel, mult = _YLABEL["log_ratio"], base.multiplier
    elif isinstance(result, BlandAltmanResult):
        base = result
        y = result.differences
        lines = (result.bias, result.loa_lower, result.loa_upper)
        bands = (result.bias_ci, result.loa_lower_ci, result.loa_upper_ci)
        ylabel, mult = _YLABEL[result.scale], result.multiplier
    elif isinstance(result, BlandAltmanRepeatedResult):
        base = result
        y = result.differences
        lines = (result.bias, result.loa_lower, result.loa_upper)
        bands = (None, None, None)
        ylabel, mult = _YLABEL["difference"], result.multiplier
    else:
        raise ValueError("bland_altman_plot: `result` must be a Bland-Altman result; got "
                         f"{type(result).__name__}")
    fig, ax = _new_axes(ax, figsize)
    ax.scatter(base.means, y, s=14, color="0.2", alpha=0.8, label="pairs")
    names = ("bias", f"bias − {mult:g} SD", f"bias + {mult:g} SD")
    for value, band, name, style in zip(lines, bands, names, ("-", "--", "--")):
        ax.axhline(value, color="C0", linestyle=style, linewidth=1.2, label=name)
        if band is not None:
            ax.axhspan(band[0], band[1], color="C0", alpha=0.15, linewidth=0)
    if isinstance(result, BlandAltmanRatioResult):
        ax.set_yscale("log")
    ax.set_xlabel("mean of test and reference")
    ax.set_ylabel(ylabel)
    ax.set_title(title or "Bland-Altman plot (bands: confidence intervals)")
    ax.legend(fontsize="small", loc="best")
    return fig


def regression_plot(result: MethodRegressionResult, *, ax=None, title: str | None = None,
                    figsize=(5.0, 5.0)):
    """Scatter of test vs reference with the identity line and the fitted method-comparison line.

    Parameters
    ----------
    result : MethodRegressionResult
        From :func:`~suite.stats.deming.deming` or :func:`~suite.stats.passing_bablok.passing_bablok`.
    ax : matplotlib.axes.Axes, optional
    title : str, optional
    figsize : tuple of float, default (5, 5)

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(result, MethodRegressionResult):
        raise ValueError("regression_plot: `result` must be a MethodRegressionResult; got "
                         f"{type(result).__name__}")
    fig, ax = _new_axes(ax, figsize)
    x, y = result.reference, result.test
    lo = float(min(x.min(), y.min()))
    hi = float(max(x.max(), y.max()))
    grid = np.array([lo, hi])
    ax.scatter(x, y, s=14, color="0.2", alpha=0.8, label="pairs")
    ax.plot(grid, grid, color="0.5", linestyle=":", label="identity")
    ax.plot(grid, result.intercept + result.slope * grid, color="C1",
            label=f"{result.method}: {result.intercept:.3g} + {result.slope:.3g}·x")
    ax.set_xlabel("reference")
    ax.set_ylabel("test")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(title or "Method comparison")
    ax.legend(fontsize="small", loc="best")
    return fig

"""Drawing primitives shared by the evidence figures and the run summary's figures.

They draw values a result object or an analysis table holds and compute no statistic:
error-bar series with a distinct (colour, marker) pair each (:mod:`suite.report.style`), a
Bland-Altman panel of an :class:`~suite.analysis.agreement.AgreementResult` (usable pairs
only, with the excluded values named in the panel), saving as PNG and SVG.
"""

from __future__ import annotations

import gc
import os
import re
import sys
import tempfile
import weakref
from pathlib import Path

import pandas as pd

from suite._process import die_with_parent
from suite.report.style import series_styles

__all__ = ["pyplot", "slug", "save_figure", "tight_layout", "background_figures",
           "wait_for_figures", "errorbar_series", "bland_altman_panel", "excluded_text",
           "axis_label", "method_label", "series_legend", "bland_altman_legend",
           "BLAND_ALTMAN_LEGEND_IN"]


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def slug(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_")


def save_figure(fig, out_dir: Path, name: str, *, dpi=None) -> Path:
    """Save ``fig`` as ``out_dir/name.png`` and ``.svg`` (cropped to what is drawn, legends
    beside the axes included), close it, return the PNG path. No metadata dates: the same
    figure gives the same PNG file.

    Inside :class:`background_figures` a forked child process writes both files from its
    copy of the figure while this process goes on; :func:`wait_for_figures` waits for them.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    layout = _LAYOUT.pop(fig, None)
    writer = _BACKGROUND[-1] if _BACKGROUND else None
    if writer is not None and writer.forks:
        writer.render(fig, out_dir, name, dpi, layout)
    else:
        _write(fig, out_dir, name, dpi, layout)
    pyplot().close(fig)
    return out_dir / f"{name}.png"


#: Figures waiting for their tight layout (:func:`tight_layout`), with its arguments.
_LAYOUT: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def tight_layout(fig, **kw) -> None:
    """``fig.tight_layout(**kw)``, done when the figure is saved (:func:`save_figure`), in the
    process that renders it: the layout measures every text of the figure, a large part of
    the cost of a figure, so inside :class:`background_figures` it runs in a figure process.
    Nothing may change the figure between this call and :func:`save_figure`."""
    _LAYOUT[fig] = dict(kw)


def _write(fig, out_dir: Path, name: str, dpi, layout=None) -> None:
    if layout is not None:
        fig.tight_layout(**layout)
    for ext in ("png", "svg"):
        fig.savefig(out_dir / f"{name}.{ext}", dpi=dpi if ext == "png" else None,
                    bbox_inches="tight",
                    metadata={"Date": None} if ext == "svg" else None)


#: The active :class:`background_figures` blocks (innermost last).
_BACKGROUND: list = []


class background_figures:
    """Within this block, :func:`save_figure` writes each figure in a child process forked
    for it (at most ``workers`` at a time; default: the CPUs this process may use), so
    drawing the next figure, the tables and the documents overlaps with rendering PNG and SVG
    (matplotlib's text layout and rasterising: most of a report's time).

    The child renders its copy-on-write copy of the figure, so the figures are the same (PNG
    files byte-identical to rendering in this process) and nothing is serialised or
    unpickled on the way. Leaving the block waits for every figure and raises the first
    error of a child. A nested block uses the outer block's children. Where ``os.fork`` does
    not exist (Windows) figures are written in this process.

    Examples
    --------
    >>> with background_figures():            # doctest: +SKIP
    ...     evaluate_run(run_dir); build_report(run_dir)
    """

    def __init__(self, workers: int | None = None):
        self.workers = workers
        self.forks = hasattr(os, "fork")
        self._children: dict[int, tuple[str, Path]] = {}  # pid -> (figure name, error file)
        self._errors: list[str] = []
        self._nested = False
        self._tmp = None

    def __enter__(self):
        if _BACKGROUND:
            self._nested = True
            return _BACKGROUND[-1]
        n = self.workers
        if not n:
            n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
                else (os.cpu_count() or 1)
        self.workers = max(1, int(n))
        self._tmp = tempfile.TemporaryDirectory(prefix="cmrsuite-figures-")
        _BACKGROUND.append(self)
        return self

    def render(self, fig, out_dir: Path, name: str, dpi, layout=None) -> None:
        """Write ``fig`` in a forked child (waiting first while ``workers`` children run)."""
        while len(self._children) >= self.workers:
            self._reap(next(iter(self._children)))
        error_file = Path(self._tmp.name) / f"{len(self._errors)}-{os.urandom(6).hex()}"
        sys.stdout.flush()
        sys.stderr.flush()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the child: render, report an error in the file, never return
            code = 0
            try:
                # the objects inherited from this process are never garbage of the child's:
                # its collections skip them (and leave their pages shared)
                gc.freeze()
                die_with_parent(parent)
                _write(fig, out_dir, name, dpi, layout)
            except BaseException as exc:  # noqa: BLE001 - reported to the parent
                code = 1
                try:
                    error_file.write_text(f"{type(exc).__name__}: {exc}")
                except BaseException:  # noqa: BLE001
                    pass
            finally:
                os._exit(code)
        self._children[pid] = (name, error_file)

    def _reap(self, pid: int) -> None:
        name, error_file = self._children.pop(pid)
        _, status = os.waitpid(pid, 0)
        if status:
            why = (error_file.read_text() if error_file.is_file()
                   else f"figure process ended with status {status}")
            self._errors.append(f"figure {name!r}: {why}")

    def wait(self) -> None:
        """Wait until every figure submitted so far is written (raises a child's error)."""
        for pid in list(self._children):
            self._reap(pid)
        if self._errors:
            errors, self._errors = self._errors, []
            raise RuntimeError("; ".join(errors))

    def __exit__(self, exc_type, exc, tb):
        if self._nested:
            return False
        _BACKGROUND.remove(self)
        try:
            if exc_type is None:
                self.wait()
            else:
                for pid in list(self._children):
                    self._reap(pid)
        finally:
            self._tmp.cleanup()
        return False


def wait_for_figures() -> None:
    """Wait for the figures being written in the background (no-op outside
    :class:`background_figures`), e.g. before reading a PNG back."""
    if _BACKGROUND:
        _BACKGROUND[-1].wait()


def method_label(rec: dict, methods) -> str:
    """The method chain of a table row: its non-empty method columns joined by `` + ``."""
    return " + ".join(str(rec[m]) for m in methods if m in rec and rec[m] not in ("", None)
                      and rec[m] == rec[m]) or "reference"


def axis_label(what: str, unit) -> str:
    """``what`` with the unit read from the rows (none for dimensionless ``"1"``)."""
    unit = "" if unit is None or unit != unit else str(unit)
    return f"{what} ({unit})" if unit and unit != "1" else what


def excluded_text(frame: pd.DataFrame, where: str = "condition") -> str:
    """Excluded values of the rows of a summary table, e.g. ``"R3: 2 implausible"``: the
    ``excluded`` cell (by reason) of every row with ``n_excluded > 0``, labelled by ``where``."""
    if "n_excluded" not in frame or "excluded" not in frame:
        return ""
    rows = frame[frame["n_excluded"].fillna(0) > 0]
    return "; ".join(f"{r[where]}: {r['excluded']}" if where in r else str(r["excluded"])
                     for _, r in rows.iterrows())


def errorbar_series(ax, frame: pd.DataFrame, *, x: str, series: list[str], y: str = "mean",
                    low: str = "ci_low", high: str = "ci_high", label=None, offset: float = 0.0,
                    linestyle=None) -> int:
    """One error-bar line per group of ``series`` columns, each with its own style.

    Parameters
    ----------
    frame : DataFrame
        Rows with ``x``, ``y``, ``low`` and ``high`` (the interval drawn around ``y``).
    series : list of str
        Columns whose values make one series.
    label : callable, optional
        ``label(key, rows) -> str``; default: the non-empty key values joined by spaces.
    offset : float
        Horizontal shift of series ``k`` by ``k * offset`` (so overlapping bars stay visible).
    linestyle : callable, optional
        ``linestyle(key, rows) -> str`` overriding the style's line style.

    Returns
    -------
    int
        Number of series drawn.
    """
    frame = frame.dropna(subset=[x])
    groups = [(k if isinstance(k, tuple) else (k,), g)
              for k, g in frame.groupby(series, sort=True, dropna=False)]
    groups = [(k, g) for k, g in groups if g[y].notna().any()]
    for k, ((key, g), style) in enumerate(zip(groups, series_styles(len(groups)))):
        g = g.sort_values(x)
        lo = (g[y] - g[low]).clip(lower=0).fillna(0)
        hi = (g[high] - g[y]).clip(lower=0).fillna(0)
        kw = style.kwargs()
        if linestyle is not None:
            kw["linestyle"] = linestyle(key, g)
        text = label(key, g) if label else " ".join(str(v) for v in key if v not in ("", None))
        ax.errorbar(g[x].astype(float) + k * offset, g[y], yerr=[lo, hi], capsize=3,
                    label=text, **kw)
    return len(groups)


def series_legend(fig, ax, n_series: int, *, fontsize: int = 6) -> None:
    """A legend that never covers the data: inside the axes for up to 4 series, else beside
    them (the figure is widened to make room)."""
    if n_series <= 0:
        return
    if n_series <= 4:
        ax.legend(fontsize=fontsize)
        return
    w, h = fig.get_size_inches()
    fig.set_size_inches(w + 3.4, max(h, 0.5 + 0.16 * n_series))
    ax.legend(fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)


def bland_altman_panel(ax, result, *, title: str, legend: bool = True) -> bool:
    """Bland-Altman panel of an :class:`~suite.analysis.agreement.AgreementResult`.

    Points: pair means against differences (test − reference) of the usable pairs the result
    was computed on; solid line the bias, dashed lines the limits of agreement, shaded bands
    their confidence intervals. The values the analysis left out (by reason) are named in the
    panel, never drawn, so they cannot stretch the axes. With fewer than 3 pairs the panel
    says so. ``legend=False`` leaves the legend to the caller (one legend for a grid of
    panels, :func:`bland_altman_legend`). Returns whether the panel drew the statistics.
    """
    excl = ", ".join(f"{n} {reason}" for reason, n in sorted(result.excluded_by.items()))
    note = f"excluded: {excl}" if excl else "no value excluded"
    ba = result.bland_altman
    ax.set_title(title, fontsize=9)
    if ba is None:
        ax.text(0.5, 0.5, f"{result.n} usable pair(s): fewer than 3,\nno agreement statistics\n"
                f"{note}", ha="center", va="center", transform=ax.transAxes, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        return False
    ax.scatter(ba.means, ba.differences, s=14, color="0.2", alpha=0.8, label="pairs")
    names = ("bias", f"bias − {ba.multiplier:g} SD", f"bias + {ba.multiplier:g} SD")
    lines = (ba.bias, ba.loa_lower, ba.loa_upper)
    bands = (ba.bias_ci, ba.loa_lower_ci, ba.loa_upper_ci)
    for value, band, name, style in zip(lines, bands, names, ("-", "--", "--")):
        ax.axhline(value, color="C0", linestyle=style, linewidth=1.2, label=name)
        if band is not None:
            ax.axhspan(band[0], band[1], color="C0", alpha=0.15, linewidth=0)
    ax.set_xlabel(axis_label("mean of test and reference", result.unit), fontsize=8)
    ax.set_ylabel(axis_label("test − reference", result.unit), fontsize=8)
    ax.text(0.02, 0.02, f"n = {result.n}; {note}", transform=ax.transAxes, fontsize=7,
            va="bottom", ha="left", color="0.25")
    if legend:
        ax.legend(fontsize=6, loc="upper right")
    return True


#: Height of the strip below a grid of Bland-Altman panels that holds their one legend (in).
BLAND_ALTMAN_LEGEND_IN = 0.35


def bland_altman_legend(fig, ax) -> None:
    """One legend for a figure of Bland-Altman panels, centred in the strip of
    :data:`BLAND_ALTMAN_LEGEND_IN` inches at the bottom of the figure, from the entries of the
    panel ``ax`` (the same four in every panel: pairs, bias, the two limits of agreement).
    Drawing it once instead of in each panel keeps the panels' data uncovered and saves
    laying out a legend per panel."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=7,
               frameon=False)

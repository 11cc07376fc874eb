"""Figures of a run's ``summary.md`` (PNG and SVG beside it), drawn from a
:class:`~suite.analysis.run_summary.RunSummary`.

* ``ssim_vs_acceleration``: SSIM (mean, CI) against nominal acceleration per method and profile;
* ``ba_lv_ef_<condition>_<methods>``: Bland-Altman of LV EF per method chain (primary analysis:
  usable pairs only, the excluded values named in the panel);
* robustness (with a ``robustness`` section): output deviation, SSIM and LV Dice against the
  budget, |LV EF − truth| against the budget, and the worst-case example of each attacked
  method.

Nothing here computes a statistic; every function returns ``{"figure_<name>": png path}``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from suite.report.draw import (axis_label, bland_altman_panel, errorbar_series, method_label,
                               pyplot, save_figure, series_legend, tight_layout)

__all__ = ["summary_figures", "robustness_figures"]


def _ci(settings: dict) -> str:
    return f"{100 * (1 - settings['alpha']):g}% CI"


def _save(fig, out: Path, name: str) -> dict:
    return {f"figure_{name}": str(save_figure(fig, out, name))}


def summary_figures(summary, out: Path) -> dict:
    """SSIM against acceleration and the LV EF Bland-Altman figures (module docstring)."""
    files: dict = {}
    plt = pyplot()
    metrics = summary.by_acceleration
    methods = list(summary.method_stages)
    if not metrics.empty:
        ssim = metrics[(metrics["stage"] == "recon") & (metrics["metric"] == "ssim")]
        if not ssim.empty and ssim["nominal_acceleration"].notna().any():
            fig, ax = plt.subplots(figsize=(6, 4))
            n = errorbar_series(ax, ssim, x="nominal_acceleration", series=["recon", "profile"],
                                label=lambda key, g: f"{key[0]} ({key[1]})")
            ax.set_xlabel("nominal acceleration R")
            ax.set_ylabel(axis_label(f"SSIM (mean over subjects, {_ci(summary.settings)})",
                                     ssim["unit"].iloc[0]))
            series_legend(fig, ax, n, fontsize=7)
            tight_layout(fig)
            files.update(_save(fig, out, "ssim_vs_acceleration"))
    for r in summary.primary_agreement:
        if r.keys["metric"] != "lv_ef_pct" or (r.bland_altman is None and not r.n_excluded):
            continue
        chain = method_label(r.keys, methods)
        fig, ax = plt.subplots(figsize=(6.0, 4.5))
        bland_altman_panel(ax, r, title=f"LV EF: {chain} ({r.keys['condition']})")
        tight_layout(fig)
        parts = [r.keys["condition"], *(str(r.keys[m]) for m in methods if r.keys.get(m))]
        name = "_".join(["ba_lv_ef", *parts]).replace("/", "_").replace(":", "_")
        files.update(_save(fig, out, name))
    return files


def _curve_plot(sel, ylabel: str, out: Path, name: str, group_cols: list[str]) -> dict:
    if sel.empty:
        return {}
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    n = errorbar_series(ax, sel, x="budget", series=group_cols,
                        label=lambda key, g: " ".join(str(k) for k in key if k),
                        linestyle=lambda key, g: "--" if "random" in str(g["attack"].iloc[0])
                        else "-")
    ax.set_xlabel("budget ε")
    ax.set_ylabel(axis_label(ylabel, sel["unit"].iloc[0]))
    series_legend(fig, ax, n)
    tight_layout(fig)
    return _save(fig, out, name)


_TITLES = {"reference": "reference", "clean": "clean", "difference": "|adversarial − clean|",
           "random": "random, same norm", "image": "image", "clean_labels": "clean labels",
           "reference_labels": "reference labels"}


def robustness_figures(rob, out: Path) -> dict:
    """Robustness curves and worst-case examples of a
    :class:`~suite.analysis.run_summary.RobustnessSummary`."""
    files: dict = {}
    curves, ef = rob.curves, rob.ef_error
    if not curves.empty:
        dev = curves[curves["metric"] == "deviation"]
        files.update(_curve_plot(dev, "output deviation ‖f(y+e) − f(y)‖/‖f(y)‖", out,
                                 "robustness_recon_deviation", ["recon", "condition", "attack"]))
        ssim = rob.anchored("ssim")
        files.update(_curve_plot(ssim, "SSIM against the reference", out,
                                 "robustness_recon_ssim", ["recon", "condition", "attack"]))
        dice = rob.anchored("dice", structure="LV", phase="ED")
        files.update(_curve_plot(dice, "LV Dice at ED", out, "robustness_seg_dice",
                                 ["segmentation", "recon", "attack"]))
    if not ef.empty:
        files.update(_curve_plot(ef.rename(columns={"mean_abs_error": "mean"}),
                                 "|LV EF − truth|", out, "robustness_ef_error",
                                 ["recon", "segmentation", "attack"]))
    plt = pyplot()
    for ex in rob.examples:
        panels = [(f"{ex.attack} ε={ex.budget:g}" if n.startswith("adversarial")
                   else _TITLES.get(n, n), a) for n, a in ex.arrays]
        fig, axes = plt.subplots(1, len(panels), figsize=(2.4 * len(panels), 2.6))
        for ax, (title, img) in zip(np.atleast_1d(axes), panels):
            ax.imshow(img, cmap="gray" if ex.kind == "recon" or title == "image" else "viridis")
            ax.set_title(title, fontsize=7)
            ax.axis("off")
        fig.suptitle(f"worst case: {ex.method} (deviation {ex.deviation:.3g}, job "
                     f"{ex.job_id[:8]})", fontsize=8)
        tight_layout(fig)
        name = f"worst_case_{ex.kind}_{ex.method}".replace("/", "_").replace(":", "_")
        files.update(_save(fig, out, name))
    return files

"""Figures of the evidence reports (matplotlib, Agg backend), each written as PNG and SVG.

Plots draw values the analysis computed (``suite.analysis.summary`` frames, Bland-Altman results
of ``suite.stats``); they compute no statistic of their own. Each function returns a list of
figure records ``{"id", "title", "png", "svg"}`` with paths relative to the report folder.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["flow_diagram", "metric_vs_acceleration", "bland_altman_figures", "forest_plots",
           "ef_bias_vs_acceleration", "robustness_curves", "example_cases"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_")


def _save(fig, out_dir: Path, name: str, title: str) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    name = _slug(name)
    for ext in ("png", "svg"):
        fig.savefig(out_dir / f"{name}.{ext}", dpi=110 if ext == "png" else None)
    _plt().close(fig)
    rel = f"{out_dir.name}/{name}"
    return {"id": name, "title": title, "png": f"{rel}.png", "svg": f"{rel}.svg"}


def flow_diagram(flow: dict, out_dir: Path, draw: bool = True) -> list[dict]:
    """Boxes and arrows: inputs → not read / evaluated → failed / incomplete / included."""
    if not draw:
        return []
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    ax.set_axis_off()
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 7)
    n_cases = len(flow["cases"])

    def box(x, y, text, colour):
        ax.text(x, y, text, ha="center", va="center", fontsize=9,
                bbox=dict(boxstyle="round,pad=0.4", fc=colour, ec="0.3"))

    def arrow(x0, y0, x1, y1):
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(arrowstyle="->", color="0.3"))

    box(3.5, 6.3, f"inputs found\nn = {n_cases + len(flow['not_read'])}", "#eef3fb")
    box(8.0, 6.3, f"excluded: not readable\nn = {len(flow['not_read'])}", "#fbeaea")
    arrow(4.9, 6.3, 6.6, 6.3)
    box(3.5, 4.4, f"cases evaluated\nn = {n_cases}", "#eef3fb")
    arrow(3.5, 5.8, 3.5, 4.9)
    box(1.6, 2.0, f"included\n(every job done)\nn = {len(flow['included'])}", "#e8f6e8")
    box(5.0, 2.0, f"failed\n(at least one job failed)\nn = {len(flow['failed'])}\n"
                  f"no output at all: {len(flow['all_failed'])}", "#fbeaea")
    box(8.4, 2.0, f"incomplete\n(jobs not run)\nn = {len(flow['pending'])}", "#fdf5e0")
    for x in (1.6, 5.0, 8.4):
        arrow(3.5, 3.9, x, 2.75)
    ax.set_title("Flow of cases")
    fig.tight_layout()
    return [_save(fig, out_dir, "flow_diagram", "Flow of cases: included, excluded and failed")]


def metric_vs_acceleration(run, out_dir: Path, draw: bool = True) -> list[dict]:
    """Mean (95 % subject-bootstrap CI) of each image metric against nominal acceleration, one
    line per reconstruction method, one figure per (metric, profile)."""
    if not draw:
        return []
    from suite.analysis.summary import metric_summary

    r = run.results
    recon = r[r["stage"] == "recon"]
    accel = r[(r["stage"] == "condition") & (r["metric"] == "nominal_acceleration")]
    r_of = accel.groupby("condition")["value"].first().to_dict()
    if recon.empty or not r_of:
        return []
    summ = metric_summary(recon, **run.bootstrap)
    plt = _plt()
    out = []
    for (metric, prof), g in summ.groupby(["metric", "profile"], sort=True):
        fig, ax = plt.subplots(figsize=(6, 4))
        for rec, h in g.groupby("recon", sort=True):
            h = h.assign(R=h["condition"].map(r_of)).dropna(subset=["R"]).sort_values("R")
            ax.errorbar(h["R"], h["mean"], yerr=[(h["mean"] - h["ci_low"]).clip(lower=0).fillna(0),
                                                 (h["ci_high"] - h["mean"]).clip(lower=0).fillna(0)],
                        marker="o", capsize=3, label=rec)
        ax.set_xlabel("nominal acceleration R")
        ax.set_ylabel(f"{metric} ({prof} profile), mean with 95% CI")
        ax.legend(fontsize=7)
        fig.tight_layout()
        out.append(_save(fig, out_dir, f"{metric}_{prof}_vs_acceleration",
                         f"{metric.upper()} ({prof} profile) against acceleration"))
    return out


def bland_altman_figures(run, clin, out_dir: Path, draw: bool = True) -> list[dict]:
    """One figure per (parameter, segmentation method): a Bland-Altman panel per (condition,
    reconstruction) with at least 3 subjects (``suite.stats.plots.bland_altman_plot``)."""
    if not draw:
        return []
    import math

    from suite.stats import bland_altman
    from suite.stats.plots import bland_altman_plot

    plt = _plt()
    out = []
    for (metric, seg), g in clin.groupby(["metric", "segmentation"], sort=True):
        groups = [(k, h.sort_values("subject")) for k, h in g.groupby(["condition", "recon"], sort=True)
                  if len(h) >= 3]
        if not groups:
            continue
        ncol = min(3, len(groups))
        nrow = math.ceil(len(groups) / ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.4 * nrow), squeeze=False)
        unit = g["unit"].iloc[0]
        for ax, ((cond, rec), h) in zip(axes.flat, groups):
            ba = bland_altman(h["value"].to_numpy(float), h["reference_value"].to_numpy(float), unit=unit)
            bland_altman_plot(ba, ax=ax, title=f"{rec} ({cond})")
        for ax in list(axes.flat)[len(groups):]:
            ax.set_axis_off()
        fig.suptitle(f"{metric}: {seg} against the reference (test - reference)")
        fig.tight_layout(rect=(0, 0, 1, 0.97))
        out.append(_save(fig, out_dir, f"bland_altman_{metric}_{seg}",
                         f"Bland-Altman: {metric}, segmentation {seg}"))
    return out


def forest_plots(run, summaries: dict, out_dir: Path, draw: bool = True) -> list[dict]:
    """Forest plot per stratum and headline metric: mean and 95 % CI per stratum level, one row
    per method (reference input for segmentation, the highest acceleration for image metrics)."""
    if not draw:
        return []
    plt = _plt()
    out = []
    accel = run.results[(run.results["stage"] == "condition")
                        & (run.results["metric"] == "nominal_acceleration")]
    r_of = accel.groupby("condition")["value"].first().to_dict()
    for stratum, summ in summaries.items():
        if summ.empty or summ[stratum].nunique() < 2:
            continue
        for (stage, metric, structure, phase), g in summ.groupby(
                ["stage", "metric", "structure", "phase"], sort=True):
            if stage == "recon" and r_of:
                top = max(r_of, key=r_of.get)
                g = g[g["condition"] == top]
            elif stage == "segmentation":
                g = g[g["recon"] == "reference"] if (g["recon"] == "reference").any() else g
            if g.empty:
                continue
            labels = sorted({(rec, seg) for rec, seg in zip(g["recon"], g["segmentation"])})
            levels = sorted(g[stratum].unique())
            fig, ax = plt.subplots(figsize=(6.2, 0.5 + 0.32 * len(labels) * len(levels)))
            y, ticks, names = 0, [], []
            for rec, seg in labels:
                for j, lev in enumerate(levels):
                    row = g[(g["recon"] == rec) & (g["segmentation"] == seg) & (g[stratum] == lev)]
                    if not row.empty:
                        m, lo, hi = (float(row[c].iloc[0]) for c in ("mean", "ci_low", "ci_high"))
                        ax.errorbar([m], [y], xerr=[[max(m - lo, 0) if lo == lo else 0],
                                                    [max(hi - m, 0) if hi == hi else 0]],
                                    fmt="o", color=f"C{j}", capsize=3)
                    ticks.append(y)
                    names.append(f"{rec}{' + ' + seg if seg else ''} | {stratum}={lev}")
                    y -= 1
            ax.set_yticks(ticks)
            ax.set_yticklabels(names, fontsize=7)
            what = f"{metric} {structure} {phase}".strip()
            ax.set_xlabel(f"{what}: mean over subjects, 95% CI")
            fig.tight_layout()
            out.append(_save(fig, out_dir, f"forest_{stratum}_{what}",
                             f"Forest plot: {what} by {stratum}"))
    return out


def ef_bias_vs_acceleration(prop, out_dir: Path, draw: bool = True) -> list[dict]:
    """LV EF bias and limits of agreement (``error_propagation``) against acceleration."""
    if not draw:
        return []
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for k, ((seg, rec), g) in enumerate(prop.groupby(["segmentation", "recon"], sort=True)):
        g = g.sort_values("nominal_acceleration")
        if "bias" not in g or g["bias"].isna().all():
            continue
        ax.errorbar(g["nominal_acceleration"] + 0.04 * k, g["bias"],
                    yerr=[(g["bias"] - g["loa_lower"]).fillna(0), (g["loa_upper"] - g["bias"]).fillna(0)],
                    marker="o", capsize=3, label=f"{rec} + {seg}")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xlabel("nominal acceleration R")
    ax.set_ylabel("LV EF bias (%), bars: limits of agreement")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6)
    fig.tight_layout()
    return [_save(fig, out_dir, "ef_bias_vs_acceleration", "LV EF error against acceleration")]


def robustness_curves(summ, out_dir: Path, draw: bool = True) -> list[dict]:
    """Metric (mean, 95 % CI) against perturbation budget, one line per attack and method."""
    if not draw:
        return []
    plt = _plt()
    out = []
    num = summ[summ["budget"].map(lambda b: isinstance(b, (int, float)) and b == b)]
    for (metric, structure, phase, prof), g in num.groupby(["metric", "structure", "phase", "profile"],
                                                         sort=True):
        fig, ax = plt.subplots(figsize=(6, 4))
        for (attack, rec, seg), h in g.groupby(["attack", "recon", "segmentation"], sort=True):
            h = h.sort_values("budget")
            ax.errorbar(h["budget"].astype(float), h["mean"],
                        yerr=[(h["mean"] - h["ci_low"]).clip(lower=0).fillna(0),
                              (h["ci_high"] - h["mean"]).clip(lower=0).fillna(0)],
                        marker="o", capsize=3, label=f"{attack}: {rec}{' + ' + seg if seg else ''}")
        ax.set_xlabel("perturbation budget")
        label = " ".join(str(x) for x in (metric, structure, phase) if x)
        ax.set_ylabel(f"{label}, mean with 95% CI")
        ax.legend(fontsize=7)
        fig.tight_layout()
        what = "_".join(str(x) for x in (metric, structure, phase, prof) if x)
        out.append(_save(fig, out_dir, f"robustness_{what}", f"Robustness curve: {label} ({prof})"))
    return out


def example_cases(panels, condition: str, out_dir: Path, draw: bool = True) -> list[dict]:
    """One row per method: reference, reconstruction, |error| (middle slice, first frame) and
    x-t profiles (vertical line through the image centre) of reference and reconstruction.

    ``panels``: list of (method, case_id, images, reference), arrays ``(slice, frame, y, x)``.
    Reference and reconstruction share one grey scale (the reference's 99.5th percentile).
    """
    if not draw or not panels:
        return []
    import numpy as np

    plt = _plt()
    fig, axes = plt.subplots(len(panels), 5, figsize=(12, 2.5 * len(panels)), squeeze=False)
    for row, (method, case_id, img, ref) in zip(axes, panels):
        s = ref.shape[0] // 2
        x = ref.shape[-1] // 2
        vmax = float(np.percentile(ref[s], 99.5)) or 1.0
        err = np.abs(img[s, 0] - ref[s, 0])
        shown = [(ref[s, 0], f"reference ({case_id})", "gray", vmax),
                 (img[s, 0], f"{method}", "gray", vmax),
                 (err, "|reconstruction - reference|", "magma", vmax / 4),
                 (ref[s, :, :, x].T, "x-t profile, reference", "gray", vmax),
                 (img[s, :, :, x].T, f"x-t profile, {method}", "gray", vmax)]
        for ax, (a, title, cmap, top) in zip(row, shown):
            ax.imshow(a, cmap=cmap, vmin=0, vmax=top, aspect="auto" if "x-t" in title else "equal")
            ax.set_title(title, fontsize=7)
            ax.set_axis_off()
    fig.suptitle(f"Example cases at {condition}: median SSIM case per method "
                 "(middle slice, first frame; x-t: frame along x)", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return [_save(fig, out_dir, f"examples_{condition}", f"Example cases at {condition}")]

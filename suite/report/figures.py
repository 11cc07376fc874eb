"""Figures of the evidence reports (matplotlib, Agg backend), each written as PNG and SVG.

Every function draws a result object or a table the analysis computed
(:mod:`suite.analysis`): summary frames, :class:`~suite.analysis.agreement.AgreementResult`
objects, :class:`~suite.analysis.failures.CaseFlow`, :class:`~suite.analysis.examples.ExampleSet`;
none computes a statistic. Units come from the tables' ``unit`` columns; each series of a
figure gets its own (colour, marker) pair (:mod:`suite.report.style`); values the analysis
excluded are named in the panel or legend, never plotted. Each function returns a list of
figure records ``{"id", "title", "png", "svg"}`` with paths relative to the report folder.
"""

from __future__ import annotations

import math
from pathlib import Path

from suite.report.draw import (BLAND_ALTMAN_LEGEND_IN, axis_label, bland_altman_legend,
                               bland_altman_panel, errorbar_series, excluded_text,
                               method_label, pyplot, save_figure, series_legend, slug,
                               tight_layout)
from suite.report.style import series_styles

__all__ = ["flow_diagram", "metric_vs_acceleration", "bland_altman_figures", "forest_plots",
           "ef_bias_vs_acceleration", "robustness_curves", "example_cases"]


def _save(fig, out_dir: Path, name: str, title: str) -> dict:
    name = slug(name)
    save_figure(fig, out_dir, name, dpi=110)
    rel = f"{Path(out_dir).name}/{name}"
    return {"id": name, "title": title, "png": f"{rel}.png", "svg": f"{rel}.svg"}


def flow_diagram(flow, out_dir: Path, draw: bool = True) -> list[dict]:
    """Boxes and arrows of a :class:`~suite.analysis.failures.CaseFlow`: inputs → not read /
    evaluated → failed / incomplete / included."""
    if not draw:
        return []
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    ax.set_axis_off()
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 7)
    n_cases = len(flow.cases)

    def box(x, y, text, colour):
        ax.text(x, y, text, ha="center", va="center", fontsize=9,
                bbox=dict(boxstyle="round,pad=0.4", fc=colour, ec="0.3"))

    def arrow(x0, y0, x1, y1):
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(arrowstyle="->", color="0.3"))

    box(3.5, 6.3, f"inputs found\nn = {flow.n_inputs}", "#eef3fb")
    box(8.0, 6.3, f"excluded: not readable\nn = {len(flow.not_read)}", "#fbeaea")
    arrow(4.9, 6.3, 6.6, 6.3)
    box(3.5, 4.4, f"cases evaluated\nn = {n_cases}", "#eef3fb")
    arrow(3.5, 5.8, 3.5, 4.9)
    box(1.6, 2.0, f"included\n(every job done)\nn = {len(flow.included)}", "#e8f6e8")
    box(5.0, 2.0, f"failed\n(at least one job failed)\nn = {len(flow.failed)}\n"
                  f"no output at all: {len(flow.all_failed)}", "#fbeaea")
    box(8.4, 2.0, f"incomplete\n(jobs not run)\nn = {len(flow.pending)}", "#fdf5e0")
    for x in (1.6, 5.0, 8.4):
        arrow(3.5, 3.9, x, 2.75)
    ax.set_title("Flow of cases")
    tight_layout(fig)
    return [_save(fig, out_dir, "flow_diagram", "Flow of cases: included, excluded and failed")]


def metric_vs_acceleration(summ, out_dir: Path, draw: bool = True, *,
                           ci_label: str = "95% CI") -> list[dict]:
    """Mean (CI) of each image metric against nominal acceleration, one line per
    reconstruction method, one figure per (metric, profile).

    ``summ``: :func:`~suite.analysis.summary.metric_summary` rows of the ``recon`` stage with
    ``nominal_acceleration`` (:func:`~suite.analysis.agreement.with_acceleration`).
    """
    if not draw or summ.empty:
        return []
    summ = summ.dropna(subset=["nominal_acceleration"])
    plt = pyplot()
    out = []
    for (metric, prof), g in summ.groupby(["metric", "profile"], sort=True):
        fig, ax = plt.subplots(figsize=(6, 4))
        n = errorbar_series(ax, g, x="nominal_acceleration", series=["recon"],
                            label=lambda key, h: _with_excluded(str(key[0]), h))
        ax.set_xlabel("nominal acceleration R")
        ax.set_ylabel(axis_label(f"{metric} ({prof} profile), mean with {ci_label}",
                                 g["unit"].iloc[0]))
        series_legend(fig, ax, n, fontsize=7)
        tight_layout(fig)
        out.append(_save(fig, out_dir, f"{metric}_{prof}_vs_acceleration",
                         f"{metric.upper()} ({prof} profile) against acceleration"))
    return out


def _with_excluded(label: str, rows, where: str = "condition") -> str:
    excl = excluded_text(rows, where)
    return f"{label} (excluded: {excl})" if excl else label


def bland_altman_figures(results, methods, out_dir: Path, draw: bool = True) -> list[dict]:
    """Bland-Altman figures of agreement results (primary analyses).

    One figure per (parameter, region/segments where set, reference, method of every stage
    after reconstruction), one panel per (condition, reconstruction) (:func:`suite.report.draw.bland_altman_panel`:
    usable pairs only, excluded values named in the panel).

    Parameters
    ----------
    results : sequence of AgreementResult
        Primary analyses (:func:`suite.analysis.agreement.agreement_results`).
    methods : list of str
        The run's method columns (:attr:`suite.store.RunView.method_stages`).
    """
    if not draw:
        return []
    later = [m for m in methods if m != "recon"]
    figures: dict[tuple, list] = {}
    for r in results:
        part = " ".join(str(r.keys[c]) for c in ("stage", "structure", "convention", "segment")
                        if r.keys.get(c))  # mapping values: region, AHA segments
        key = (r.keys["metric"], part, r.keys.get("reference", ""),
               *(r.keys.get(m, "") for m in later))
        figures.setdefault(key, []).append(r)
    plt = pyplot()
    out = []
    for key, rs in sorted(figures.items()):
        metric = f"{key[0]} ({key[1]})" if key[1] else key[0]
        ref, chain = key[2], [str(v) for v in key[3:] if v]
        rs = sorted(rs, key=lambda r: (str(r.keys.get("condition")), str(r.keys.get("recon"))))
        ncol = min(3, len(rs))
        nrow = math.ceil(len(rs) / ncol)
        height = 3.4 * nrow + BLAND_ALTMAN_LEGEND_IN
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, height), squeeze=False)
        drawn = [ax for ax, r in zip(axes.flat, rs)
                 if bland_altman_panel(ax, r, legend=False,
                                       title=f"{r.keys.get('recon') or 'reference'} "
                                             f"({r.keys.get('condition')})")]
        for ax in list(axes.flat)[len(rs):]:
            ax.set_axis_off()
        if drawn:
            bland_altman_legend(fig, drawn[0])
        what = " + ".join(chain) or "reference input"
        fig.suptitle(f"{metric}: {what} against the {ref} (test - reference)")
        tight_layout(fig, rect=(0, BLAND_ALTMAN_LEGEND_IN / height, 1, 0.97))
        out.append(_save(fig, out_dir, "_".join(["bland_altman", key[0], *key[1].split(),
                                                 *chain, ref]),
                         f"Bland-Altman: {metric}, {what} ({ref})"))
    return out


def forest_plots(summaries: dict, methods, out_dir: Path, draw: bool = True, *,
                 ci_label: str = "95% CI") -> list[dict]:
    """Forest plot per stratum and metric: mean and CI per stratum level, one row per method
    chain (reference input for segmentation, the highest acceleration for image metrics).

    ``summaries``: stratum → :func:`~suite.analysis.summary.stratum_summary` frame with
    ``nominal_acceleration``; ``methods``: the run's method columns.
    """
    if not draw:
        return []
    plt = pyplot()
    out = []
    for stratum, summ in summaries.items():
        if summ.empty or summ[stratum].nunique() < 2:
            continue
        for (stage, metric, structure, phase), g in summ.groupby(
                ["stage", "metric", "structure", "phase"], sort=True):
            if stage == "recon" and g["nominal_acceleration"].notna().any():
                g = g[g["nominal_acceleration"] == g["nominal_acceleration"].max()]
            elif stage == "segmentation":
                g = g[g["recon"] == "reference"] if (g["recon"] == "reference").any() else g
            if g.empty:
                continue
            cols = [m for m in methods if m in g.columns]
            chains = sorted({tuple(r) for r in g[cols].itertuples(index=False)})
            levels = sorted(g[stratum].unique())
            styles = series_styles(len(levels))
            fig, ax = plt.subplots(figsize=(6.2, 0.5 + 0.32 * len(chains) * len(levels)))
            y, ticks, names = 0, [], []
            for chain in chains:
                in_chain = (g[cols] == list(chain)).all(axis=1)
                for lev, style in zip(levels, styles):
                    row = g[in_chain & (g[stratum] == lev)]
                    if not row.empty:
                        m, lo, hi = (float(row[c].iloc[0]) for c in ("mean", "ci_low", "ci_high"))
                        ax.errorbar([m], [y], xerr=[[max(m - lo, 0) if lo == lo else 0],
                                                    [max(hi - m, 0) if hi == hi else 0]],
                                    fmt=style.marker, color=style.color, capsize=3)
                    ticks.append(y)
                    names.append(f"{method_label(dict(zip(cols, chain)), cols)} | "
                                 f"{stratum}={lev}")
                    y -= 1
            ax.set_yticks(ticks)
            ax.set_yticklabels(names, fontsize=7)
            what = f"{metric} {structure} {phase}".strip()
            ax.set_xlabel(axis_label(f"{what}: mean over subjects, {ci_label}",
                                     g["unit"].iloc[0]))
            tight_layout(fig)
            out.append(_save(fig, out_dir, f"forest_{stratum}_{what}",
                             f"Forest plot: {what} by {stratum}"))
    return out


def ef_bias_vs_acceleration(prop, methods, out_dir: Path, draw: bool = True) -> list[dict]:
    """Bias and limits of agreement of a clinical parameter against acceleration.

    ``prop``: :func:`~suite.analysis.agreement.error_propagation` (primary analysis: usable
    values only); the values it excluded are named per series in the legend, never plotted.
    """
    if not draw or prop.empty or prop["bias"].isna().all():
        return []
    cols = [m for m in methods if m in prop.columns]
    series = list(reversed(cols))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    n = errorbar_series(
        ax, prop, x="nominal_acceleration", series=series, y="bias", low="loa_lower",
        high="loa_upper", offset=0.04,
        label=lambda key, g: _with_excluded(method_label(dict(zip(series, key)), cols), g))
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xlabel("nominal acceleration R")
    ax.set_ylabel(axis_label("LV EF bias, bars: limits of agreement", prop["unit"].iloc[0]))
    series_legend(fig, ax, n)
    tight_layout(fig)
    return [_save(fig, out_dir, "ef_bias_vs_acceleration", "LV EF error against acceleration")]


def robustness_curves(summ, out_dir: Path, draw: bool = True, *,
                      ci_label: str = "95% CI") -> list[dict]:
    """Metric (mean, CI) against perturbation budget, one line per attack and method.

    ``summ``: :func:`~suite.analysis.robustness.robustness_curves`.
    """
    if not draw or summ.empty:
        return []
    plt = pyplot()
    out = []
    num = summ[summ["budget"].map(lambda b: isinstance(b, (int, float)) and b == b)]
    for (metric, structure, phase, prof), g in num.groupby(["metric", "structure", "phase", "profile"],
                                                         sort=True):
        fig, ax = plt.subplots(figsize=(6, 4))
        n = errorbar_series(ax, g, x="budget", series=["attack", "recon", "segmentation"],
                            label=lambda key, h: f"{key[0]}: {key[1]}"
                                                 f"{' + ' + key[2] if key[2] else ''}")
        ax.set_xlabel("perturbation budget")
        label = " ".join(str(x) for x in (metric, structure, phase) if x)
        ax.set_ylabel(axis_label(f"{label}, mean with {ci_label}", g["unit"].iloc[0]))
        series_legend(fig, ax, n, fontsize=7)
        tight_layout(fig)
        what = "_".join(str(x) for x in (metric, structure, phase, prof) if x)
        out.append(_save(fig, out_dir, f"robustness_{what}", f"Robustness curve: {label} ({prof})"))
    return out


def example_cases(examples, out_dir: Path, draw: bool = True) -> list[dict]:
    """One row per method of an :class:`~suite.analysis.examples.ExampleSet`: reference,
    reconstruction, |error| (middle slice, first frame) and x-t profiles (vertical line through
    the image centre) of reference and reconstruction.

    Reference and reconstruction share one grey window (0 to the reference's 99.5th
    percentile, a display setting); the error map is shown on a quarter of it.
    """
    if not draw or not examples.cases:
        return []
    import numpy as np

    plt = pyplot()
    cases = examples.cases
    fig, axes = plt.subplots(len(cases), 5, figsize=(12, 2.5 * len(cases)), squeeze=False)
    for row, c in zip(axes, cases):
        img, ref = c.images, c.reference
        s = ref.shape[0] // 2
        x = ref.shape[-1] // 2
        vmax = float(np.percentile(ref[s], 99.5)) or 1.0
        shown = [(ref[s, 0], f"reference ({c.case_id})", "gray", vmax),
                 (img[s, 0], f"{c.method}", "gray", vmax),
                 (c.error[s, 0], "|reconstruction - reference|", "magma", vmax / 4),
                 (ref[s, :, :, x].T, "x-t profile, reference", "gray", vmax),
                 (img[s, :, :, x].T, f"x-t profile, {c.method}", "gray", vmax)]
        for ax, (a, title, cmap, top) in zip(row, shown):
            ax.imshow(a, cmap=cmap, vmin=0, vmax=top, aspect="auto" if "x-t" in title else "equal")
            ax.set_title(title, fontsize=7)
            ax.set_axis_off()
    fig.suptitle(f"Example cases at {examples.condition}: median SSIM case per method "
                 "(middle slice, first frame; x-t: frame along x)", fontsize=9)
    tight_layout(fig, rect=(0, 0, 1, 0.97))
    return [_save(fig, out_dir, f"examples_{examples.condition}",
                  f"Example cases at {examples.condition}")]

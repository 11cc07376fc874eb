"""The static leaderboard site: one self-contained ``index.html`` (inline CSS, inline JS for
sorting, inline SVG plots; no network, no external files) plus ``leaderboard.csv``,
``leaderboard.json`` and ``scores.csv``.

Plots follow challengeR's report: the **blob plot** draws, for each team (x, ordered by the
full-data rank), a disc at every rank it obtained in the bootstrap (area ∝ frequency), its
median bootstrap rank (black dot) and the 2.5–97.5 % rank interval (black line); the
**significance map** colours cell (row i, column j) when team i is significantly better than
team j (one-sided Wilcoxon, adjusted p < α); the **methods plot** joins each team's ranks under
the three ranking methods.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import numpy as np

__all__ = ["write_site", "blob_plot_svg", "significance_map_svg", "methods_plot_svg"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;max-width:72rem;color:#222}
h1{font-size:1.6rem}h2{margin-top:2.2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.8rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}
th{background:#f2f2f2;cursor:pointer;user-select:none}
th.sorted-asc::after{content:" ▲"}th.sorted-desc::after{content:" ▼"}
td.l,th.l{text-align:left}.status-rejected{color:#b00020}.status-incomplete{color:#a05a00}
.plots{display:flex;flex-wrap:wrap;gap:2rem}.note{color:#555;font-size:.85rem}
"""

_JS = """
document.querySelectorAll('table.sortable').forEach(function(t){
  t.querySelectorAll('th').forEach(function(th,i){
    th.addEventListener('click',function(){
      var asc=!th.classList.contains('sorted-asc');
      t.querySelectorAll('th').forEach(function(h){h.classList.remove('sorted-asc','sorted-desc')});
      th.classList.add(asc?'sorted-asc':'sorted-desc');
      var body=t.tBodies[0],rows=Array.prototype.slice.call(body.rows);
      rows.sort(function(a,b){
        var x=a.cells[i].getAttribute('data-v')||a.cells[i].textContent,
            y=b.cells[i].getAttribute('data-v')||b.cells[i].textContent,
            fx=parseFloat(x),fy=parseFloat(y),c;
        if(!isNaN(fx)&&!isNaN(fy)){c=fx-fy}else{c=x.localeCompare(y)}
        return asc?c:-c});
      rows.forEach(function(r){body.appendChild(r)});
    })})});
"""


def _e(x) -> str:
    return html.escape(str(x), quote=True)


def _num(v, digits=4) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if isinstance(v, (int, np.integer)) or float(v).is_integer() and abs(v) < 1e6:
        return f"{int(v)}" if float(v).is_integer() else f"{v:.{digits}g}"
    return f"{float(v):.{digits}g}"


def _table(headers, rows, *, left=(0,), cls="sortable") -> str:
    h = "".join(f"<th class='{'l' if i in left else ''}'>{_e(str(x).replace('_', ' '))}</th>"
                for i, x in enumerate(headers))
    body = []
    for r in rows:
        cells = []
        for i, x in enumerate(r):
            val = "" if isinstance(x, str) else (f" data-v='{float(x)!r}'" if x is not None and
                                                 math.isfinite(float(x)) else " data-v='inf'")
            cells.append(f"<td class='{'l' if i in left else ''}'{val}>"
                         f"{_e(x) if isinstance(x, str) else _num(x)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f"<table class='{cls}'><thead><tr>{h}</tr></thead><tbody>" + "".join(body)
            + "</tbody></table>")


def blob_plot_svg(teams, full_rank, boot, title: str) -> str:
    """SVG blob plot of bootstrap ranks (module docstring); ``boot`` is a BootstrapRanks."""
    n = len(teams)
    order = sorted(range(n), key=lambda t: (full_rank[t], teams[t]))
    left, top, step_x, step_y = 60, 40, 70, 34
    w, h = max(left + step_x * n + 20, 380), top + step_y * n + 90
    total = max(1, boot.n_bootstrap)
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' role='img' "
             f"aria-label='{_e(title)}'>",
             f"<text x='{w / 2}' y='18' text-anchor='middle' font-size='13'>{_e(title)}</text>"]
    for r in range(1, n + 1):
        y = top + (r - 0.5) * step_y
        parts.append(f"<line x1='{left}' x2='{w - 20}' y1='{y}' y2='{y}' stroke='#eee'/>")
        parts.append(f"<text x='{left - 8}' y='{y + 4}' text-anchor='end' font-size='11'>{r}</text>")
    parts.append(f"<text x='14' y='{top + n * step_y / 2}' font-size='11' transform='rotate(-90 14 "
                 f"{top + n * step_y / 2})' text-anchor='middle'>bootstrap rank</text>")
    for k, t in enumerate(order):
        x = left + (k + 0.5) * step_x
        for r in range(1, n + 1):
            c = int(boot.rank_counts[t, r - 1])
            if c:
                rad = 3 + 12 * math.sqrt(c / total)
                parts.append(f"<circle cx='{x}' cy='{top + (r - 0.5) * step_y}' r='{rad:.2f}' "
                             f"fill='#3b6fb6' fill-opacity='0.55'><title>{_e(teams[t])}: rank {r} "
                             f"in {c} of {total} resamples</title></circle>")
        y_lo = top + (boot.rank_low[t] - 0.5) * step_y
        y_hi = top + (boot.rank_high[t] - 0.5) * step_y
        parts.append(f"<line x1='{x}' x2='{x}' y1='{y_lo}' y2='{y_hi}' stroke='#000' "
                     "stroke-width='2'/>")
        parts.append(f"<circle cx='{x}' cy='{top + (boot.median_rank[t] - 0.5) * step_y}' r='3' "
                     "fill='#000'/>")
        parts.append(f"<text x='{x}' y='{top + n * step_y + 16}' font-size='11' text-anchor='end' "
                     f"transform='rotate(-35 {x} {top + n * step_y + 16})'>{_e(teams[t])}</text>")
    parts.append("</svg>")
    return "".join(parts)


def significance_map_svg(teams, full_rank, significant, alpha: float, title: str) -> str:
    """SVG significance map: cell (i, j) dark when team i is significantly better than j."""
    n = len(teams)
    order = sorted(range(n), key=lambda t: (full_rank[t], teams[t]))
    left, top, cell = 110, 40, 30
    w, h = max(left + cell * n + 20, 380), top + cell * n + 100
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' role='img' "
             f"aria-label='{_e(title)}'>",
             f"<text x='{w / 2}' y='18' text-anchor='middle' font-size='13'>{_e(title)}</text>"]
    for a, i in enumerate(order):
        y = top + a * cell
        parts.append(f"<text x='{left - 6}' y='{y + cell / 2 + 4}' text-anchor='end' "
                     f"font-size='11'>{_e(teams[i])}</text>")
        for b, j in enumerate(order):
            x = left + b * cell
            if i == j:
                fill, tip = "#bbb", ""
            elif significant[i, j]:
                fill, tip = "#1f4e8c", f"{teams[i]} significantly better than {teams[j]}"
            else:
                fill, tip = "#e8eef7", f"{teams[i]} not significantly better than {teams[j]}"
            parts.append(f"<rect x='{x}' y='{y}' width='{cell - 1}' height='{cell - 1}' "
                         f"fill='{fill}'>{f'<title>{_e(tip)}</title>' if tip else ''}</rect>")
    for b, j in enumerate(order):
        x = left + b * cell + cell / 2
        parts.append(f"<text x='{x}' y='{top + n * cell + 14}' font-size='11' text-anchor='end' "
                     f"transform='rotate(-35 {x} {top + n * cell + 14})'>{_e(teams[j])}</text>")
    parts.append(f"<text x='{left}' y='{h - 8}' font-size='10'>row better than column at "
                 f"adjusted p &lt; {alpha:g} (dark)</text></svg>")
    return "".join(parts)


def methods_plot_svg(teams, rankings: dict, title: str) -> str:
    """SVG line plot of each team's rank under each ranking method (challengeR's
    ``methodsplot``): x = method, y = rank (1 at the top), one polyline per team."""
    names = list(rankings)
    n = len(teams)
    left, top, step_x, step_y = 60, 40, 150, 30
    w, h = left + step_x * (len(names) - 1) + 140, top + step_y * n + 60
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' role='img' "
             f"aria-label='{_e(title)}'>",
             f"<text x='{w / 2}' y='18' text-anchor='middle' font-size='13'>{_e(title)}</text>"]
    for r in range(1, n + 1):
        y = top + (r - 0.5) * step_y
        parts.append(f"<text x='{left - 10}' y='{y + 4}' text-anchor='end' font-size='11'>{r}</text>")
    for k, m in enumerate(names):
        x = left + k * step_x
        parts.append(f"<line x1='{x}' x2='{x}' y1='{top}' y2='{top + n * step_y}' stroke='#ddd'/>")
        parts.append(f"<text x='{x}' y='{top + n * step_y + 18}' text-anchor='middle' "
                     f"font-size='11'>{_e(m)}</text>")
    palette = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b",
               "#e377c2", "#7f7f7f", "#bcbd22")
    for t, team in enumerate(teams):
        pts = [(left + k * step_x, top + (rankings[m].rank[t] - 0.5) * step_y)
               for k, m in enumerate(names)]
        col = palette[t % len(palette)]
        parts.append(f"<polyline fill='none' stroke='{col}' stroke-width='2' points='"
                     + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + f"'><title>{_e(team)}"
                     "</title></polyline>")
        x, y = pts[-1]
        parts.append(f"<text x='{x + 8}' y='{y + 4 + (t % 3 - 1) * 3}' font-size='11' "
                     f"fill='{col}'>{_e(team)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def write_site(result, out_dir, scores) -> dict:
    """Write ``index.html``, ``leaderboard.csv``, ``leaderboard.json`` and ``scores.csv``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ch = result.challenge
    paths = {k: out / v for k, v in (("html", "index.html"), ("csv", "leaderboard.csv"),
                                      ("json", "leaderboard.json"), ("scores", "scores.csv"))}
    import pandas as pd

    tables = [t.table() for t in result.tasks]
    (pd.concat(tables) if tables else pd.DataFrame()).to_csv(paths["csv"], index=False)
    public = scores[scores["task"].isin([t.name for t in ch.tasks if t.kind != "clinical"])]
    public.to_csv(paths["scores"], index=False)
    paths["json"].write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    body = [f"<h1>{_e(ch.name)} leaderboard</h1>"]
    if ch.description:
        body.append(f"<p>{_e(ch.description)}</p>")
    body.append(f"<p class='note'>Built {_e(result.created)} by cmrsuite; {len(result.reports)} "
                f"submission(s), {len(result.ranked_teams)} ranked. Primary ranking: "
                f"{_e(ch.ranking.primary)} ({_e(ch.ranking.aggregate)}). Click a column header "
                "to sort.</p>")
    if len(result.tasks) > 1 and not result.consensus.empty:
        body.append("<h2>Overall (consensus: mean of the primary ranks across tasks)</h2>")
        cols = list(result.consensus.columns)
        body.append(_table(cols, result.consensus.itertuples(index=False, name=None)))
    for t in result.tasks:
        df = t.table()
        body.append(f"<h2>Task {_e(t.task.name)}: {_e(t.task.metric_label)}, "
                    f"{'higher' if t.task.direction == 'higher' else 'lower'} is better</h2>")
        cols = ["rank", "team", "aggregate", "rank_aggregate_then_rank", "mean_case_rank",
                "rank_rank_then_aggregate", "significant_wins", "rank_test_then_rank",
                "bootstrap_median_rank", "bootstrap_rank_low", "bootstrap_rank_high",
                "n_scored", "n_cases"]
        cols = [c for c in cols if c in df.columns]
        body.append(_table(cols, df[cols].itertuples(index=False, name=None), left=(1,)))
        plots = []
        if t.bootstrap is not None:
            plots.append(blob_plot_svg(t.teams, t.primary.rank, t.bootstrap,
                                       f"Bootstrap ranks ({t.bootstrap.n_bootstrap} resamples, "
                                       f"{t.bootstrap.method})"))
        ttr = t.rankings["test-then-rank"]
        if len(t.teams) > 1:
            plots.append(significance_map_svg(t.teams, t.primary.rank, ttr.significant,
                                              ch.ranking.alpha, "Significance map (one-sided "
                                              f"Wilcoxon, {ch.ranking.p_adjust})"))
        if len(t.teams) > 1:
            plots.append(methods_plot_svg(t.teams, {k.split(" (")[0]: v for k, v in
                                                    zip(t.rankings, t.rankings.values())},
                                          "Ranks across ranking methods"))
        body.append("<div class='plots'>" + "".join(plots) + "</div>")
        if t.bootstrap is not None:
            bd = t.bootstrap.to_dict()
            body.append(f"<p class='note'>Ranking stability: Kendall's τ between the full and "
                        f"the bootstrap rankings, median {_num(bd['kendall_tau_median'], 3)} "
                        f"(2.5–97.5 %: {_num(bd['kendall_tau_q025'], 3)} to "
                        f"{_num(bd['kendall_tau_q975'], 3)}).</p>")
        if t.method_tau:
            body.append("<p class='note'>Agreement of ranking methods (Kendall's τ): " + "; ".join(
                f"{_e(k)} {_num(v, 3)}" for k, v in t.method_tau.items()) + "</p>")
    body.append("<h2>Submissions</h2>")
    rows = [(r.team, r.source, r.status,
             ", ".join(f"{k} {r.n_scored.get(k, 0)}/{n}" for k, n in r.n_expected.items()),
             len(r.problems)) for r in result.reports]
    body.append(_table(["team", "source", "status", "cases scored", "problems"], rows,
                       left=(0, 1, 2, 3)))
    for r in result.reports:
        if r.problems:
            items = "".join(f"<li>[{_e(p.severity)}] {_e(p.task or '-')} {_e(p.case)} "
                            f"<code>{_e(p.file)}</code>: {_e(p.problem)}. <em>Fix:</em> "
                            f"{_e(p.hint)}</li>" for p in r.problems)
            body.append(f"<h3 class='status-{_e(r.status)}'>{_e(r.team)}: {_e(r.status)}</h3>"
                        f"<ul>{items}</ul>")
    if result.discovery_problems:
        body.append("<h3>Ignored entries</h3><ul>" + "".join(
            f"<li><code>{_e(p.file)}</code>: {_e(p.problem)}</li>"
            for p in result.discovery_problems) + "</ul>")
    body.append("<h2>Methods</h2><ol class='note'>"
                "<li>Aggregate-then-rank: the mean (or median) over cases per team, ranked; a "
                "missing case takes the worst value any team obtained on it.</li>"
                "<li>Rank-then-aggregate: teams ranked within each case (ties share the "
                "smallest rank, a missing case takes the worst rank), the ranks averaged, then "
                "ranked.</li><li>Test-then-rank: one-sided paired Wilcoxon signed-rank tests "
                "for every ordered pair of teams (normal approximation with continuity "
                f"correction), {_e(ch.ranking.p_adjust)}-adjusted, α = {ch.ranking.alpha:g}; "
                "rank by the number of significant wins.</li><li>Bootstrap: cases resampled "
                "with replacement, the primary ranking recomputed (Wiesenfarth et al., Sci Rep "
                "11:2369, 2021; challengeR).</li></ol>")
    doc = ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
           f"<title>{_e(ch.name)} leaderboard</title><style>{_CSS}</style></head><body>"
           + "\n".join(body) + f"<script>{_JS}</script></body></html>\n")
    paths["html"].write_text(doc, encoding="utf-8")
    return paths

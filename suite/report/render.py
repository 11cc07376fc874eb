"""``build_report``: guideline documents of a run, with figures and ``evidence.json``.

Layout written into ``RUN_DIR/report/``::

    figures/                 PNG + SVG of every figure (shared by the documents)
    <guideline>/report.md    Markdown document
    <guideline>/report.html  self-contained HTML (figures embedded as data URIs, no scripts)
    <guideline>/report.pdf   PDF through WeasyPrint (optional extra `pdf`)
    <guideline>/evidence.json  every item's status, every evidence key's query, computation,
                             tables with the store rows each row cites, and those rows

Item status, in order: *measured* when any of its evidence keys is measured on this run;
*declared* when the sponsor file declares one of its ``sponsor.*`` fields or answers the item;
*not applicable* when the sponsor gives a reason or every evidence key is not applicable to this
run; otherwise *sponsor to complete*, listing why the measurable keys were unavailable.
Templates print only values of evidence tables and sponsor fields; no number is typed into a
template.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from suite._process import fewer_collections
from suite._serialise import jsonable
from suite._validation import near
from suite.case import STRATA_COLUMNS
from suite.report.draw import wait_for_figures
from suite.report.evidence import RunData
from suite.report.keys import compute_evidence
from suite.report.guidelines import GUIDELINES, Guideline, load_guideline, reports_dir
from suite.report.sponsor import SponsorMetadata, load_sponsor

__all__ = ["build_report", "ReportResult", "resolve_items", "FORMATS", "ITEM_STATUSES"]

FORMATS = ("md", "html", "pdf")
ITEM_STATUSES = ("measured", "declared", "sponsor-to-complete", "not-applicable")
STATUS_LABELS = {"measured": "measured", "declared": "declared by the sponsor (not verified)",
                 "sponsor-to-complete": "SPONSOR TO COMPLETE", "not-applicable": "not applicable"}


@dataclass
class ReportResult:
    """What :func:`build_report` wrote: per guideline the documents and the status counts."""

    run_dir: Path
    documents: dict = field(default_factory=dict)
    status_counts: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"run_dir": str(self.run_dir),
                "documents": {g: [str(p) for p in ps] for g, ps in self.documents.items()},
                "status_counts": self.status_counts, "skipped": self.skipped}

    def summary(self) -> str:
        lines = [f"reports of {self.run_dir}:"]
        for g, paths in self.documents.items():
            counts = ", ".join(f"{n} {s}" for s, n in self.status_counts[g].items() if n)
            lines.append(f"  {g}: {counts}")
            lines += [f"    {p}" for p in paths]
        lines += [f"  skipped: {s}" for s in self.skipped]
        return "\n".join(lines)


def _sponsor_for(run: RunData, sponsor) -> SponsorMetadata | None:
    if sponsor is not None:
        return load_sponsor(sponsor)
    rel = run.protocol.get("sponsor")
    if not rel:
        return None
    p = Path(rel).expanduser()
    if not p.is_absolute():
        base = Path(run.protocol_source).parent if run.protocol_source else run.run_dir
        p = base / p
    return load_sponsor(p)


def check_sponsor_refs(sponsor: SponsorMetadata | None) -> None:
    """Every ``answers`` / ``not_applicable`` key must name an existing guideline item."""
    if sponsor is None:
        return
    ids = {g: {it.id for it in load_guideline(g).items} for g in GUIDELINES}
    for name in ("answers", "not_applicable"):
        for ref in getattr(sponsor, name):
            gid, _, item = ref.partition(":")
            known = [f"{g}:{i}" for g in ids for i in sorted(ids[g])]
            if gid not in ids or item not in ids[gid]:
                raise ValueError(f"{sponsor.source}: `{name}` names {ref!r}, which is not a "
                                 f"guideline item{near(ref, known)}; guidelines are "
                                 f"{list(GUIDELINES)}")


def resolve_items(guideline: Guideline, evidence: dict, sponsor: SponsorMetadata | None) -> list[dict]:
    """Status and content of every item (see module docstring for the rules)."""
    out = []
    for item in guideline.items:
        ref = f"{guideline.id}:{item.id}"
        measured = [k for k in item.evidence if k in evidence and evidence[k].measured]
        other = [k for k in item.evidence if k in evidence and not evidence[k].measured]
        declared = []
        if sponsor is not None:
            for k in item.evidence:
                if k.startswith("sponsor.") and sponsor.declared(k) is not None:
                    declared.append({"field": k.removeprefix("sponsor."), "value": _text(sponsor.declared(k))})
            if ref in sponsor.answers:
                declared.append({"field": "answer", "value": sponsor.answers[ref]})
        na_reason = (sponsor.not_applicable.get(ref) if sponsor is not None else None)
        if measured:
            status, reason = "measured", ""
        elif declared:
            status, reason = "declared", ""
        elif na_reason:
            status, reason = "not-applicable", f"declared by the sponsor: {na_reason}"
        elif other and all(evidence[k].status == "not_applicable" for k in other):
            status, reason = "not-applicable", "; ".join(evidence[k].reason for k in other)
        else:
            status = "sponsor-to-complete"
            reason = "; ".join(f"{k}: {evidence[k].reason}" for k in other)
        out.append({**item.to_dict(), "ref": ref, "status": status, "reason": reason,
                    "measured": measured, "unavailable": [{"key": k, "status": evidence[k].status,
                                                          "reason": evidence[k].reason} for k in other],
                    "declared": declared})
    return out


def _text(v) -> str:
    import yaml

    if isinstance(v, str):
        return v.strip()
    return yaml.safe_dump(v, sort_keys=False, allow_unicode=True).strip()


def _num(v) -> str:
    """Render a value: floats to 4 significant digits, None as n/a (rounding only here)."""
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v:
            return "n/a"
        return f"{v:.4g}"
    return str(v)


def _env():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(reports_dir() / "templates")),
                             autoescape=jinja2.select_autoescape(["html", "html.j2"]),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = _num
    env.filters["mdcell"] = lambda v: _num(v).replace("|", "\\|").replace("\n", " ")
    env.filters["anchor"] = lambda k: "ev-" + k.replace(".", "-")
    return env


def _store_rows(run: RunData, evidence: dict, memo: dict | None = None) -> dict:
    """The store rows cited by the evidence keys (results and failures by rowid, jobs and cases
    by id), so an auditor can recompute each table row from ``evidence.json`` alone.

    ``memo`` (a dict kept across the guidelines of one report) holds the results rows already
    converted, so a row cited by several documents is converted once."""
    memo = {} if memo is None else memo
    cited: dict[str, set] = {}
    for ev in evidence.values():
        for t, ids in ev.sources().items():
            cited.setdefault(t, set()).update(ids)
    out = {}
    if cited.get("results"):
        if "results_by_id" not in memo:
            memo["results_by_id"] = run.results.set_index("row_id")
            memo["results_rows"] = {}
        res, known = memo["results_by_id"], memo["results_rows"]
        ids = sorted(cited["results"])
        new = [i for i in ids if i not in known]
        if new:
            cols = [c for c in res.columns if c not in STRATA_COLUMNS]
            sub = res.loc[new, cols]
            known.update((i, jsonable(r)) for i, r in zip(sub.index, sub.to_dict("records")))
        out["results"] = {str(i): known[i] for i in ids}
    if cited.get("failures"):
        f = run.failures.set_index("row_id").loc[sorted(cited["failures"])]
        out["failures"] = {str(i): jsonable(r) for i, r in zip(f.index, f.to_dict("records"))}
    if cited.get("jobs"):
        j = run.jobs.set_index("job_id").loc[sorted(cited["jobs"])].drop(columns=["spec"])
        out["jobs"] = {str(i): jsonable(r) for i, r in zip(j.index, j.to_dict("records"))}
    if cited.get("cases"):
        c = run.cases.set_index("case_id").loc[sorted(cited["cases"])].drop(columns=["meta", "truth"])
        out["cases"] = {str(i): jsonable(r) for i, r in zip(c.index, c.to_dict("records"))}
    return out


def _embed(report_dir: Path, figures: list[dict]) -> dict:
    wait_for_figures()  # written in the background inside `background_figures`
    out = {}
    for f in figures:
        png = report_dir / f["png"]
        if png.is_file():
            out[f["id"]] = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()
    return out


@fewer_collections()  # the documents build many objects: fewer garbage-collector passes
def build_report(run_dir, guidelines="all", formats=("md", "html"), *, sponsor=None,
                 figures: bool = True) -> ReportResult:
    """Write the guideline documents of a run into ``RUN_DIR/report/<guideline>/``.

    Parameters
    ----------
    run_dir : path
        A run folder (``results.sqlite``, ``manifest.json``).
    guidelines : "all" | str | sequence of str
        Ids from :data:`suite.report.guidelines.GUIDELINES`.
    formats : sequence of {"md", "html", "pdf"}
        ``pdf`` needs WeasyPrint (``pip install 'cmrsuite[pdf]'``); without it the PDF is
        skipped and listed in ``ReportResult.skipped``.
    sponsor : path, optional
        Sponsor metadata YAML; default: the protocol's ``sponsor`` key (relative to the
        protocol file).
    figures : bool, default True
        False skips drawing (faster; documents then show no figure).

    Raises
    ------
    FileNotFoundError
        ``run_dir`` is not a run folder.
    ValueError
        Unknown guideline or format, or an invalid sponsor or guideline file.
    """
    names = list(GUIDELINES) if guidelines in ("all", None) else (
        [guidelines] if isinstance(guidelines, str) else list(guidelines))
    for n in names:
        if n not in GUIDELINES:
            raise ValueError(f"unknown guideline {n!r}; choose from {list(GUIDELINES)} or 'all'")
    for f in formats:
        if f not in FORMATS:
            raise ValueError(f"unknown format {f!r}; choose from {list(FORMATS)}")
    run_dir = Path(run_dir)
    report_dir = run_dir / "report"
    run = RunData(run_dir, figure_dir=report_dir / "figures", figures=figures)
    run.sponsor = _sponsor_for(run, sponsor)
    check_sponsor_refs(run.sponsor)
    evidence = compute_evidence(run)
    store_sha = hashlib.sha256(run.db_path.read_bytes()).hexdigest()
    env = _env()
    result = ReportResult(run_dir=run_dir)
    from suite import __version__

    rows_memo: dict = {}  # store rows converted once for every guideline (_store_rows)
    ev_dicts: dict = {}  # Evidence.to_dict of each key, once for every guideline
    provenance = evidence["run.provenance"]
    protocol = evidence["run.protocol"]
    for name in names:
        g = load_guideline(name)
        items = resolve_items(g, evidence, run.sponsor)
        used = sorted({k for it in items for k in it["measured"]}
                      | {"run.provenance", "run.protocol"})
        evs = {k: evidence[k] for k in used}
        figures = [f for k in used for f in evidence[k].figures]
        counts = {s: sum(1 for it in items if it["status"] == s) for s in ITEM_STATUSES}
        sections: list[tuple[str, list]] = []
        for it in items:
            if not sections or sections[-1][0] != it["section"]:
                sections.append((it["section"], []))
            sections[-1][1].append(it)
        ctx = {"g": g, "items": items, "sections": sections, "evidence": evs, "counts": counts,
               "provenance": provenance, "protocol": protocol, "sponsor": run.sponsor,
               "store_sha256": store_sha, "suite_version": __version__, "run_dir": str(run_dir),
               "statuses": ITEM_STATUSES, "status_label": STATUS_LABELS}
        out = report_dir / name
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for k in evs.keys() - ev_dicts.keys():
            ev_dicts[k] = evs[k].to_dict()
        doc = {"guideline": g.to_dict(), "run_dir": str(run_dir), "store": str(run.db_path),
               "store_sha256": store_sha, "suite_version": __version__,
               "sponsor": run.sponsor.to_dict() if run.sponsor else None,
               "status_counts": counts, "items": items,
               "evidence": {k: ev_dicts[k] for k in evs},
               "store_rows": _store_rows(run, evs, rows_memo)}
        (out / "evidence.json").write_text(json.dumps(doc, allow_nan=False) + "\n")
        written.append(out / "evidence.json")
        if "md" in formats:
            (out / "report.md").write_text(env.get_template("report.md.j2").render(**ctx, fig_prefix="../"))
            written.append(out / "report.md")
        html = None
        if "html" in formats or "pdf" in formats:
            html = env.get_template("report.html.j2").render(**ctx, images=_embed(report_dir, figures))
        if "html" in formats:
            (out / "report.html").write_text(html)
            written.append(out / "report.html")
        if "pdf" in formats:
            try:
                import weasyprint
            except ImportError:
                result.skipped.append(f"{name}: PDF needs WeasyPrint (pip install 'cmrsuite[pdf]')")
            else:
                weasyprint.HTML(string=html, base_url=str(out)).write_pdf(str(out / "report.pdf"))
                written.append(out / "report.pdf")
        result.documents[name] = written
        result.status_counts[name] = counts
    return result

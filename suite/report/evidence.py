"""Named evidence keys: the registry, and the types every key returns.

An evidence key (``"performance.image"``, ``"data.flow"``, ...) is a function of a
:class:`RunData` registered with :func:`evidence_key` (the key modules in
:mod:`suite.report.keys` do so; :func:`suite.report.keys.compute_evidence` evaluates them). It
returns an :class:`Evidence`: a status (``measured``, ``unavailable`` with the reason, or
``not_applicable`` with the reason), the query it read, the computation applied (named suite
function and its settings), and tables whose every row carries ``sources`` — references to the
store rows it was computed from (``results`` by SQLite ``rowid``, ``jobs``/``cases`` by id,
``failures`` by ``rowid``, ``manifest`` by JSON path). Reports print only cells of these
tables, so every number in a document can be traced to, and recomputed from, the rows listed
in ``evidence.json``. Every number comes from :mod:`suite.analysis`; a key selects rows,
calls the analysis and lays its results out as tables and figures.

Keys starting with ``sponsor.`` are not registered here: they are fields of the sponsor
metadata file (:mod:`suite.report.sponsor`) and are shown as *declared*, never as measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from suite._serialise import jsonable
from suite.store import RunView

__all__ = ["Evidence", "Table", "RunData", "evidence_key", "EVIDENCE_KEYS", "STATUSES",
           "sources_by_group", "lookup", "group_key", "frame_rows", "title_of",
           "unavailable", "not_applicable"]

#: Status of an evidence key in one run.
STATUSES = ("measured", "unavailable", "not_applicable")

#: Registry: evidence key → (title, function).
EVIDENCE_KEYS: dict[str, tuple[str, Callable]] = {}


@dataclass(frozen=True)
class Table:
    """A table of an evidence key.

    ``columns`` are (name, label) pairs; ``rows`` are dicts holding those columns plus
    ``sources`` (``{"results": [rowid, ...], "jobs": [...], "cases": [...], ...}``).
    """

    name: str
    title: str
    columns: tuple[tuple[str, str], ...]
    rows: tuple[dict, ...]
    note: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "title": self.title,
                "columns": [{"name": c, "label": lab} for c, lab in self.columns],
                "rows": [jsonable(r) for r in self.rows], "note": self.note}


@dataclass(frozen=True)
class Evidence:
    """Result of one evidence key on one run (see module docstring)."""

    key: str
    title: str
    status: str
    reason: str = ""
    query: str = ""
    computation: str = ""
    tables: tuple[Table, ...] = ()
    figures: tuple[dict, ...] = ()
    facts: tuple[tuple[str, Any], ...] = ()

    @property
    def measured(self) -> bool:
        return self.status == "measured"

    def sources(self) -> dict[str, set]:
        """Union of the store rows cited by every table row, per table."""
        out: dict[str, set] = {}
        for t in self.tables:
            for r in t.rows:
                for table, ids in (r.get("sources") or {}).items():
                    out.setdefault(table, set()).update(ids)
        return out

    def to_dict(self) -> dict:
        return {"key": self.key, "title": self.title, "status": self.status,
                "reason": self.reason, "query": self.query, "computation": self.computation,
                "facts": [{"name": k, "value": jsonable(v)} for k, v in self.facts],
                "tables": [t.to_dict() for t in self.tables], "figures": list(self.figures)}

    def summary(self) -> str:
        n = sum(len(t.rows) for t in self.tables)
        extra = f": {self.reason}" if self.reason else ""
        return f"{self.key} [{self.status}] {len(self.tables)} table(s), {n} row(s){extra}"


def evidence_key(key: str, title: str):
    """Register ``fn(run: RunData) -> Evidence`` under ``key``."""
    def deco(fn):
        if key in EVIDENCE_KEYS:
            raise ValueError(f"evidence key {key!r} registered twice")
        EVIDENCE_KEYS[key] = (title, fn)
        return fn
    return deco


class RunData(RunView):
    """A run as the reports read it: the store-backed :class:`~suite.store.RunView` (the one
    reader of a run; the report reads a run through nothing else) plus where figures go.

    Parameters
    ----------
    run_dir : path
        Folder made by ``cmrsuite run`` (``results.sqlite``, ``manifest.json``).
    figure_dir : path, optional
        Where evidence keys write figures (default ``run_dir/report/figures``).
    figures : bool, default True
        False: evidence keys draw no figure (tables and values are unchanged).
    """

    def __init__(self, run_dir, figure_dir=None, figures: bool = True):
        super().__init__(run_dir)
        self.figure_dir = Path(figure_dir) if figure_dir else self.run_dir / "report" / "figures"
        self.draw = bool(figures)
        self.sponsor = None  # set by the renderer (suite.report.sponsor.SponsorMetadata)
        self.results.attrs["method_stages"] = list(self.method_stages)


# ---------------------------------------------------------------------- helpers for keys
def group_key(values) -> tuple:
    """A hashable group key with NaN/None normalised to None (NaN never equals itself)."""
    return tuple(None if (v is None or (isinstance(v, float) and math.isnan(v))) else v
                 for v in values)


def sources_by_group(df: pd.DataFrame, keys: list[str]) -> dict[tuple, list[int]]:
    """``row_id`` lists of ``df`` grouped by ``keys`` (:func:`group_key` → sorted ids)."""
    if df.empty:
        return {}
    return {group_key(k if isinstance(k, tuple) else (k,)): sorted(int(i) for i in g["row_id"])
            for k, g in df.groupby(keys, sort=True, dropna=False)}


def lookup(src: dict, rec: dict, keys: list[str]) -> list[int]:
    """Row ids of the group of a summary record ``rec`` (see :func:`sources_by_group`)."""
    return src.get(group_key(rec.get(k) for k in keys), [])


def frame_rows(frame: pd.DataFrame, columns: list[str], sources: Callable[[dict], dict]) -> tuple:
    """Rows of a summary frame as dicts of ``columns`` plus ``sources`` from a callback."""
    rows = []
    for rec in frame.to_dict("records"):
        row = {c: jsonable(rec.get(c)) for c in columns}
        row["sources"] = sources(rec)
        rows.append(row)
    return tuple(rows)


def title_of(key: str) -> str:
    """The registered title of an evidence key."""
    return EVIDENCE_KEYS[key][0]


def unavailable(key: str, reason: str) -> Evidence:
    return Evidence(key=key, title=EVIDENCE_KEYS[key][0], status="unavailable", reason=reason)


def not_applicable(key: str, reason: str) -> Evidence:
    return Evidence(key=key, title=EVIDENCE_KEYS[key][0], status="not_applicable", reason=reason)

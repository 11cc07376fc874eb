"""Guideline definitions: one YAML file per guideline in ``reports/guidelines/``.

Each file gives the guideline's id, title, version, reference and DOI, the expected ``counts``
(``items``, and ``subitems`` where the guideline numbers sub-items, e.g. TRIPOD+AI 27/52) and the
``items``: ``id``, ``section``, a short ``topic`` in cmrsuite's own words (never the
guideline's wording) and ``evidence``, the named evidence keys that can support it
(:mod:`suite.report.evidence`, or ``sponsor.<field>`` from :mod:`suite.report.sponsor`).

Where the files are found: ``$CMRSUITE_REPORTS_DIR`` if set, otherwise the ``reports/``
folder of the source tree next to the ``suite`` package (a checkout or ``pip install -e .``,
which is what ``make`` does). Loading validates counts, unique ids and every evidence key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["Guideline", "Item", "GUIDELINES", "load_guideline", "reports_dir", "GuidelineError"]

#: Guideline ids, in the order of ``--guideline all``.
GUIDELINES = ("claim", "tripod-ai", "minimar", "prime", "fda-performance", "model-card")


class GuidelineError(ValueError):
    """A guideline definition that does not validate (names the file and the fix)."""


@dataclass(frozen=True)
class Item:
    id: str
    section: str
    topic: str
    evidence: tuple[str, ...]
    item: str = ""
    applies: str = ""

    def to_dict(self) -> dict:
        return {"id": self.id, "item": self.item or self.id, "section": self.section,
                "topic": self.topic, "evidence": list(self.evidence), "applies": self.applies}


@dataclass(frozen=True)
class Guideline:
    id: str
    title: str
    version: str
    reference: str
    doi: str
    url: str
    wording: str
    counts: dict
    items: tuple[Item, ...]
    source: str

    def to_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "version": self.version,
                "reference": self.reference, "doi": self.doi, "url": self.url,
                "wording": self.wording, "counts": self.counts, "source": self.source,
                "items": [i.to_dict() for i in self.items]}

    def summary(self) -> str:
        return f"{self.id}: {self.title} ({len(self.items)} entries, counts {self.counts})"


def reports_dir() -> Path:
    """Folder holding ``guidelines/`` and ``templates/`` (see module docstring)."""
    env = os.environ.get("CMRSUITE_REPORTS_DIR")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2] / "reports")
    for c in candidates:
        if (c / "guidelines").is_dir() and (c / "templates").is_dir():
            return c
    raise GuidelineError(f"no reports folder with guidelines/ and templates/ found (looked in "
                         f"{[str(c) for c in candidates]}); install cmrsuite from its source tree "
                         "(`pip install -e .`) or set CMRSUITE_REPORTS_DIR to the `reports` folder")


def load_guideline(name: str, *, known_keys=None) -> Guideline:
    """Load and validate ``reports/guidelines/<name>.yaml``.

    Parameters
    ----------
    name : str
        One of :data:`GUIDELINES` (or another file name in the folder).
    known_keys : collection of str, optional
        Registered evidence keys; default :data:`suite.report.evidence.EVIDENCE_KEYS`.
    """
    from suite.report.sponsor import SPONSOR_FIELDS

    if known_keys is None:
        from suite.report.keys import registered_keys

        known_keys = registered_keys()
    path = reports_dir() / "guidelines" / f"{name}.yaml"
    if not path.is_file():
        raise GuidelineError(f"{path}: no such guideline definition; available: "
                             f"{sorted(p.stem for p in path.parent.glob('*.yaml'))}")
    raw = yaml.safe_load(path.read_text())
    for k in ("id", "title", "counts", "items"):
        if k not in raw:
            raise GuidelineError(f"{path}: `{k}` is required")
    items, seen = [], set()
    for i, it in enumerate(raw["items"]):
        for k in ("id", "section", "topic", "evidence"):
            if k not in it:
                raise GuidelineError(f"{path}: items[{i}] lacks `{k}`")
        if it["id"] in seen:
            raise GuidelineError(f"{path}: item id {it['id']!r} repeats; ids must be unique")
        seen.add(it["id"])
        for key in it["evidence"]:
            ok = key in known_keys or (key.startswith("sponsor.")
                                        and key.removeprefix("sponsor.") in SPONSOR_FIELDS)
            if not ok:
                raise GuidelineError(f"{path}: item {it['id']!r} names unknown evidence key "
                                     f"{key!r}; known keys: {sorted(known_keys)} and sponsor.<field> "
                                     f"for fields {sorted(SPONSOR_FIELDS)}")
        items.append(Item(id=str(it["id"]), section=it["section"], topic=it["topic"],
                          evidence=tuple(it["evidence"]), item=str(it.get("item", "")),
                          applies=str(it.get("applies", ""))))
    counts = raw["counts"]
    n_main = len({i.item or i.id for i in items})
    if "subitems" in counts:
        if len(items) != counts["subitems"] or n_main != counts["items"]:
            raise GuidelineError(f"{path}: {n_main} items / {len(items)} entries; the file states "
                                 f"{counts['items']} / {counts['subitems']}")
    elif len(items) != counts["items"]:
        raise GuidelineError(f"{path}: {len(items)} items; the file states {counts['items']}")
    return Guideline(id=raw["id"], title=raw["title"], version=str(raw.get("version", "")),
                     reference=raw.get("reference", ""), doi=str(raw.get("doi", "")),
                     url=raw.get("url", ""), wording=raw.get("wording", ""), counts=dict(counts),
                     items=tuple(items), source=str(path))

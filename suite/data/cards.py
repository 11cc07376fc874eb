"""Dataset cards (``datasets/*.yaml``): load, validate, verify a local copy, pin a manifest.

A card states what a dataset is and how the suite reads it. Keys (all required unless marked):

===============  ==========================================================================
key              content
===============  ==========================================================================
name             identifier, equal to the file stem (``acdc`` for ``acdc.yaml``)
title            one line
citation         mapping: ``text`` (reference), ``doi``
licence          licence name or terms, in words
obtain           how to get the data, in words (the suite never downloads at run time)
format           reader: one of ``ismrmrd``, ``nifti``, ``acdc``, ``mnms``, ``phantom``,
                 ``fastmri``, ``cmrxrecon``
layout           mapping: ``description`` (optional) and ``patterns`` (list of globs
                 relative to the dataset root, each expected to match at least one file)
labels           mapping: ``convention`` (``acdc``, ``mnms`` or ``none``) and
                 ``mapping_to_acdc`` (``{source label: ACDC label}``, may be empty)
strata           list of CaseMeta fields used as strata (e.g. vendor, field_strength_t, site)
manifest         mapping ``{relative path: sha256 hex}``; ``{}`` when files are not pinned
reader_options   (optional) mapping passed to :func:`suite.data.load`
notes            (optional) free text
===============  ==========================================================================

Where cards live: ``$CMRSUITE_DATASETS`` if set, else ``datasets/`` of the repository the
package is installed from (editable install), else ``./datasets``.

``verify`` with an empty manifest checks the layout only and says so ("no manifest:
integrity not verified"); pin your own copy with :func:`write_manifest`.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from suite.data.hashing import sha256_file

__all__ = ["DatasetCard", "CardError", "VerifyReport", "cards_dir", "list_cards", "load_card",
           "verify", "write_manifest", "READERS"]

#: Readers a card may name (``fastmri``, ``cmrxrecon``: suite.data.fastmri / .cmrxrecon).
READERS = ("ismrmrd", "nifti", "acdc", "mnms", "phantom", "fastmri", "cmrxrecon", "dicom")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_REQUIRED = ("name", "title", "citation", "licence", "obtain", "format", "layout", "labels",
             "strata", "manifest")


class CardError(ValueError):
    """A dataset card is malformed; ``key`` names the offending key (dotted path)."""

    def __init__(self, path, key: str, reason: str, hint: str = ""):
        self.path, self.key, self.reason, self.hint = Path(path), key, reason, hint
        msg = f"{self.path}: key `{key}` {reason}"
        super().__init__(msg + (f"; {hint}" if hint else ""))


@dataclass(frozen=True)
class DatasetCard:
    """A validated dataset card (see the module docstring for the keys)."""

    name: str
    title: str
    citation: Mapping[str, str]
    licence: str
    obtain: str
    format: str
    patterns: tuple[str, ...]
    layout_description: str
    label_convention: str
    mapping_to_acdc: Mapping[int, int]
    strata: tuple[str, ...]
    manifest: Mapping[str, str]
    reader_options: Mapping[str, Any] = field(default_factory=dict)
    notes: str = ""
    path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary, in card key order."""
        return {"name": self.name, "title": self.title, "citation": dict(self.citation),
                "licence": self.licence, "obtain": self.obtain, "format": self.format,
                "layout": {"description": self.layout_description,
                           "patterns": list(self.patterns)},
                "labels": {"convention": self.label_convention,
                           "mapping_to_acdc": {str(k): v for k, v in self.mapping_to_acdc.items()}},
                "strata": list(self.strata), "manifest": dict(self.manifest),
                "reader_options": dict(self.reader_options), "notes": self.notes,
                "path": None if self.path is None else str(self.path)}


# ====================================================================== locating and loading
def cards_dir() -> Path:
    """Folder holding the cards (``$CMRSUITE_DATASETS``, the repository's, or ``./datasets``)."""
    env = os.environ.get("CMRSUITE_DATASETS")
    if env:
        return Path(env)
    import suite

    repo = Path(suite.__file__).resolve().parents[1] / "datasets"
    if repo.is_dir():
        return repo
    return Path.cwd() / "datasets"


def list_cards() -> list[DatasetCard]:
    """Every ``*.yaml`` card in :func:`cards_dir`, validated, sorted by name."""
    return [load_card(p) for p in sorted(cards_dir().glob("*.yaml"))]


def load_card(name_or_path: str | os.PathLike) -> DatasetCard:
    """Load and validate a card by name (``"acdc"``) or path.

    Raises
    ------
    FileNotFoundError
        No such card (the message lists the available names).
    CardError
        Not YAML, not a mapping, or a key missing or malformed (the key is named).
    """
    p = Path(name_or_path)
    if p.suffix not in (".yaml", ".yml"):
        p = cards_dir() / f"{name_or_path}.yaml"
    if not p.is_file():
        names = sorted(q.stem for q in cards_dir().glob("*.yaml"))
        raise FileNotFoundError(f"{p}: no such dataset card; available: {names}")
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CardError(p, "(document)", f"is not valid YAML ({exc})") from None
    return _validate(p, doc)


def _validate(p: Path, doc: Any) -> DatasetCard:
    if not isinstance(doc, Mapping):
        raise CardError(p, "(document)", "must be a mapping of card keys",
                        f"expected keys {list(_REQUIRED)}")
    for key in _REQUIRED:
        if key not in doc:
            raise CardError(p, key, "is missing", f"every card needs {list(_REQUIRED)}")

    def text(key: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise CardError(p, key, f"must be a non-empty string; got {value!r}")
        return value.strip()

    name = text("name", doc["name"])
    if name != p.stem:
        raise CardError(p, "name", f"is {name!r} but the file is {p.name}",
                        "name must equal the file stem")
    cit = doc["citation"]
    if not isinstance(cit, Mapping):
        raise CardError(p, "citation", "must be a mapping with `text` and `doi`")
    for sub in ("text", "doi"):
        text(f"citation.{sub}", cit.get(sub))
    fmt = text("format", doc["format"])
    if fmt not in READERS:
        raise CardError(p, "format", f"is {fmt!r}; allowed readers {list(READERS)}")
    lay = doc["layout"]
    if not isinstance(lay, Mapping) or "patterns" not in lay:
        raise CardError(p, "layout.patterns", "is missing", "give a list of glob patterns")
    pats = lay["patterns"]
    if not isinstance(pats, list) or not pats or not all(isinstance(s, str) for s in pats):
        raise CardError(p, "layout.patterns", f"must be a non-empty list of globs; got {pats!r}")
    lab = doc["labels"]
    if not isinstance(lab, Mapping) or "convention" not in lab:
        raise CardError(p, "labels.convention", "is missing", "acdc, mnms or none")
    conv = lab["convention"]
    if conv not in ("acdc", "mnms", "none"):
        raise CardError(p, "labels.convention", f"is {conv!r}; allowed acdc, mnms, none")
    mapping = lab.get("mapping_to_acdc") or {}
    if not isinstance(mapping, Mapping) or not all(
            _is_int(k) and _is_int(v) and 0 <= int(v) <= 3 for k, v in mapping.items()):
        raise CardError(p, "labels.mapping_to_acdc",
                        f"must map integer labels to ACDC labels 0..3; got {mapping!r}")
    strata = doc["strata"]
    if not isinstance(strata, list) or not all(isinstance(s, str) for s in strata):
        raise CardError(p, "strata", f"must be a list of CaseMeta field names; got {strata!r}")
    man = doc["manifest"] if doc["manifest"] is not None else {}
    if not isinstance(man, Mapping):
        raise CardError(p, "manifest", "must be a mapping {relative path: sha256}")
    for rel, digest in man.items():
        if not isinstance(digest, str) or not _HEX64.match(digest):
            raise CardError(p, f"manifest.{rel}", f"must be 64 lowercase hex digits; got {digest!r}")
    opts = doc.get("reader_options") or {}
    if not isinstance(opts, Mapping):
        raise CardError(p, "reader_options", "must be a mapping")
    return DatasetCard(
        name=name, title=text("title", doc["title"]), citation=dict(cit),
        licence=text("licence", doc["licence"]), obtain=text("obtain", doc["obtain"]),
        format=fmt, patterns=tuple(pats), layout_description=str(lay.get("description", "")),
        label_convention=conv, mapping_to_acdc={int(k): int(v) for k, v in mapping.items()},
        strata=tuple(strata), manifest=dict(man), reader_options=dict(opts),
        notes=str(doc.get("notes", "") or ""), path=p)


def _is_int(v: Any) -> bool:
    try:
        return int(v) == float(v)
    except (TypeError, ValueError):
        return False


# ====================================================================== verify
@dataclass(frozen=True)
class VerifyReport:
    """Result of :func:`verify`.

    Attributes
    ----------
    missing : tuple of str
        Manifest files absent from the root, or (no manifest) layout patterns that matched
        nothing, written ``pattern:<glob>``.
    extra : tuple of str
        Files present but not in the manifest (or, without one, matching no pattern).
    corrupted : tuple of str
        Manifest files whose SHA-256 differs.
    integrity_verified : bool
        False when the card has no manifest (only the layout was checked).
    """

    dataset: str
    root: str
    n_files: int
    missing: tuple[str, ...]
    extra: tuple[str, ...]
    corrupted: tuple[str, ...]
    integrity_verified: bool
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """No missing and no corrupted files (extra files are reported, not failures)."""
        return not self.missing and not self.corrupted

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "root": self.root, "ok": self.ok,
                "n_files": self.n_files, "missing": list(self.missing),
                "extra": list(self.extra), "corrupted": list(self.corrupted),
                "integrity_verified": self.integrity_verified, "notes": list(self.notes)}

    def summary(self) -> str:
        """Plain-text report, one finding per line."""
        status = "OK" if self.ok else "PROBLEMS"
        lines = [f"dataset {self.dataset} at {self.root}: {status} ({self.n_files} files)"]
        for label, items in (("missing", self.missing), ("corrupted (hash mismatch)",
                                                         self.corrupted), ("extra", self.extra)):
            lines.append(f"  {label}: {len(items)}")
            lines += [f"    {i}" for i in items[:20]]
            if len(items) > 20:
                lines.append(f"    ... {len(items) - 20} more")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and not any(part.startswith(".") for part in
                                             p.relative_to(root).parts))


def _matches(rel: str, pattern: str) -> bool:
    if fnmatch.fnmatchcase(rel, pattern):
        return True
    if pattern.startswith("**/"):
        return _matches(rel, pattern[3:]) or fnmatch.fnmatchcase(rel, "*/" + pattern[3:])
    return False


def verify(name_or_card: str | DatasetCard, root: str | os.PathLike) -> VerifyReport:
    """Check a local copy of a dataset against its card.

    With a manifest: every manifest file must exist and match its SHA-256; files not in
    the manifest are ``extra``. Without one: every layout pattern must match at least one
    file (``missing`` lists the patterns that match nothing), files matching no pattern are
    ``extra``, and the report notes "no manifest: integrity not verified".

    Raises
    ------
    FileNotFoundError
        ``root`` is not a folder.
    """
    card = name_or_card if isinstance(name_or_card, DatasetCard) else load_card(name_or_card)
    r = Path(root)
    if not r.is_dir():
        raise FileNotFoundError(f"{r}: dataset root is not a folder")
    files = _files(r)
    notes: list[str] = []
    if card.manifest:
        present = set(files)
        missing = tuple(sorted(k for k in card.manifest if k not in present))
        corrupted = tuple(sorted(k for k, v in card.manifest.items()
                                 if k in present and sha256_file(r / k) != v))
        extra = tuple(f for f in files if f not in card.manifest)
        verified = True
    else:
        missing = tuple(f"pattern:{pat}" for pat in card.patterns
                        if not any(_matches(f, pat) for f in files))
        extra = tuple(f for f in files if not any(_matches(f, pat) for pat in card.patterns))
        corrupted = ()
        verified = False
        notes.append("no manifest: integrity not verified (layout checked only; pin your "
                     "copy with suite.data.cards.write_manifest)")
    return VerifyReport(dataset=card.name, root=str(r), n_files=len(files), missing=missing,
                        extra=extra, corrupted=corrupted, integrity_verified=verified,
                        notes=tuple(notes))


def write_manifest(root: str | os.PathLike, patterns: Iterable[str] = ("**/*",)) -> dict[str, str]:
    """``{relative posix path: sha256}`` of the files under ``root`` matching any pattern.

    Paste the result under ``manifest:`` of a card (or a copy of it) to pin a local copy;
    hidden files (names starting with ``.``) are skipped. Sorted by path.
    """
    r = Path(root)
    if not r.is_dir():
        raise FileNotFoundError(f"{r}: dataset root is not a folder")
    pats = list(patterns)
    return {f: sha256_file(r / f) for f in _files(r)
            if any(_matches(f, pat) or pat == "**/*" for pat in pats)}

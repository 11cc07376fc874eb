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
                 ``fastmri``, ``cmrxrecon``, ``dicom`` (:data:`READERS`)
layout           mapping: ``description`` (optional) and ``patterns`` (list of globs
                 relative to the dataset root, each expected to match at least one file)
labels           mapping: ``convention`` (``acdc``, ``mnms`` or ``none``) and
                 ``mapping_to_acdc`` (``{source label: ACDC label}``, may be empty)
strata           list of CaseMeta fields used as strata (e.g. vendor, field_strength_t, site)
manifest         mapping ``{relative path: sha256 hex}``; ``{}`` when files are not pinned
reader_options   (optional) mapping passed to :func:`suite.data.load`
notes            (optional) free text
===============  ==========================================================================

Other keys are refused. A card that does not validate raises :class:`CardError`, naming the
file, the key path, what was expected and what was found (``acdc.yaml: `labels.convention` is
'acdcc'; expected one of ['acdc', 'mnms', 'none'] (did you mean 'acdc'?)``).

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

from suite._schema import KeyPathValidator
from suite._validation import KeyPathError, read_yaml_file
from suite.data.hashing import sha256_file

__all__ = ["DatasetCard", "CardError", "VerifyReport", "cards_dir", "list_cards", "load_card",
           "verify", "write_manifest", "READERS"]

#: Readers a card may name (``fastmri``, ``cmrxrecon``: suite.data.fastmri / .cmrxrecon).
READERS = ("ismrmrd", "nifti", "acdc", "mnms", "phantom", "fastmri", "cmrxrecon", "dicom")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_KEYS = {"name", "title", "citation", "licence", "obtain", "format", "layout", "labels", "strata",
         "manifest", "reader_options", "notes"}


class CardError(KeyPathError):
    """A dataset card that does not validate; names the file and the key path (``key``)."""


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
    doc, p = read_yaml_file(p, CardError, "a dataset card (see datasets/acdc.yaml)")
    return _validate(p, doc)


def _validate(p: Path, doc: Any) -> DatasetCard:
    v = KeyPathValidator(p, CardError)
    v.mapping(doc, "(top level)")
    v.unknown_keys(doc, _KEYS)

    def text(d: dict, key: str, prefix: str = "") -> str:
        return v.string(d, key, required=True, non_empty=True, prefix=prefix).strip()

    name = text(doc, "name")
    if name != p.stem:
        v.fail("name", f"must equal the file stem {p.stem!r}; got {name!r}")
    title, licence, obtain = text(doc, "title"), text(doc, "licence"), text(doc, "obtain")
    cit = v.section(doc, "citation", {"text", "doi"}, required=True)
    for sub in ("text", "doi"):
        text(cit, sub, "citation")
    fmt = v.option(doc, "format", READERS, required=True)
    lay = v.section(doc, "layout", {"description", "patterns"}, required=True)
    pats = v.list_of_strings(lay, "patterns", required=True, non_empty=True, prefix="layout")
    lab = v.section(doc, "labels", {"convention", "mapping_to_acdc"}, required=True)
    conv = v.option(lab, "convention", ("acdc", "mnms", "none"), required=True, prefix="labels")
    mapping = v.section(lab, "mapping_to_acdc", prefix="labels")
    for k, acdc in mapping.items():
        if not (_is_int(k) and _is_int(acdc) and 0 <= int(acdc) <= 3):
            v.fail(f"labels.mapping_to_acdc.{k}", "must map an integer label to an ACDC label "
                   f"0..3; got {k!r}: {acdc!r}")
    strata = v.list_of_strings(doc, "strata", required=True)
    if "manifest" not in doc:  # required, but `manifest:` (null) means {} (not pinned)
        v.fail("manifest", "is required: expected a mapping {relative path: sha256}, or {} when "
               "files are not pinned; got nothing")
    man = v.section(doc, "manifest")
    for rel, digest in man.items():
        if not isinstance(digest, str) or not _HEX64.match(digest):
            v.fail(f"manifest.{rel}", "must be a SHA-256 (64 lowercase hex digits); got "
                   f"{digest!r}")
    return DatasetCard(
        name=name, title=title, citation=dict(cit), licence=licence, obtain=obtain,
        format=fmt, patterns=tuple(pats),
        layout_description=v.string(lay, "description", default="", prefix="layout"),
        label_convention=conv, mapping_to_acdc={int(k): int(a) for k, a in mapping.items()},
        strata=tuple(strata), manifest=dict(man),
        reader_options=dict(v.section(doc, "reader_options")),
        notes=v.string(doc, "notes", default=""), path=p)


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

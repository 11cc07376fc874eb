"""Kinds of phantom cohort a protocol dataset can generate (``phantom: {kind: ..., ...}``).

Each kind declares how its protocol entry is validated and how the cohort is written into a
folder that the suite's readers (:mod:`suite.data.loader`) then read like real data. The runner
and the protocol validator dispatch on the entry's ``kind`` and know no kind:

``cine`` (default)
    The cine cohort (:func:`suite.phantom.cohort`, :mod:`suite.phantom.writer`): ISMRMRD raw
    data, NIfTI labels and ``truth.csv`` per subject; read as the ``phantom`` format.
``mapping``
    Mapping acquisitions with exact truth maps (:mod:`suite.phantom.mapping.cohort`); read as
    the ``phantom-mapping`` format, one Case per series.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

__all__ = ["PhantomKind", "PHANTOM_KINDS", "phantom_kind", "validate_phantom_entry",
           "write_phantom_cohort", "write_cine_cohort", "write_cine_subject",
           "validate_cine_entry", "phantom_strata"]


@dataclass(frozen=True)
class PhantomKind:
    """A kind of phantom cohort.

    Attributes
    ----------
    name : str
        The value of the protocol's ``phantom.kind``.
    validate : callable(validator, entry, key)
        Checks the protocol entry (raises the validator's error with the key path).
    write : callable(entry, folder, *, map) -> None
        Writes the cohort into ``folder`` (created by the caller); ``map(fn, items)`` may run
        independent pieces (subjects) side by side (the builtin ``map`` runs them in turn).
    description : str
    strata : callable(entry) -> tuple of str, optional
        Keys the cohort's cases record in ``meta.strata`` beyond the store's fixed strata
        columns (:data:`suite.case.STRATA_COLUMNS`); a protocol may name them in
        ``analyses.strata`` and ``robustness.shift.strata``.
    """

    name: str
    validate: Callable[[Any, Mapping, str], None]
    write: Callable[[Mapping, Path], None]
    description: str = ""
    strata: Callable[[Mapping], tuple] | None = None


def validate_cine_entry(v, ph: Mapping, key: str) -> None:
    """Validate a cine ``phantom`` entry: subjects, seed, presets, pathologies, overrides."""
    from suite._validation import near
    from suite.phantom import OVERRIDES, PATHOLOGIES, PRESETS

    v.unknown_keys(ph, {"kind", "subjects", "seed", "presets", "pathologies", "overrides"}, key)
    v.integer(ph, "subjects", minimum=1, required=True, prefix=key)
    v.integer(ph, "seed", minimum=0, prefix=key)
    for field_name, allowed in (("presets", PRESETS), ("pathologies", PATHOLOGIES)):
        values = ph.get(field_name, [])
        if not isinstance(values, list):
            v.fail(f"{key}.{field_name}", "must be a list of names")
        for j, name in enumerate(values):
            v.choice(name, sorted(allowed), f"{key}.{field_name}[{j}]")
    ov = ph.get("overrides", {}) or {}
    v.mapping(ov, f"{key}.overrides")
    for name in ov:
        if name not in OVERRIDES:
            v.fail(f"{key}.overrides.{name}", f"is not a phantom override; expected one of "
                   f"{sorted(OVERRIDES)}{near(name, OVERRIDES)}")


def write_cine_cohort(ph: Mapping, out: Path, *, map: Callable = map) -> None:
    """Write the cine cohort of a ``phantom`` entry into ``out`` (subjects ``phantom-NNN``,
    one :func:`suite.phantom.cohort` draw per preset with seed ``seed + 1000·preset index``).

    ``map(fn, items)`` simulates and writes the subjects (default: one after the other; the
    runner passes its executor's, so the subjects are simulated side by side). Each subject
    depends only on its own specification, so the files are the same either way."""
    from suite.phantom import cohort as cohort_specs
    from suite.phantom.writer import write_truth_table

    presets = ph.get("presets") or [None]
    subjects = []
    for p_i, preset in enumerate(presets):
        specs = cohort_specs(ph["subjects"], seed=ph.get("seed", 0) + 1000 * p_i, preset=preset,
                             pathology=ph.get("pathologies") or None)
        for spec in specs:
            subject = f"phantom-{len(subjects):03d}"
            subjects.append((dataclasses.replace(spec, subject=subject),
                             dict(ph.get("overrides") or {}), str(out / subject)))
    rows = list(map(write_cine_subject, subjects))
    write_truth_table(out / "truth.csv", rows)


def write_cine_subject(job: tuple) -> dict:
    """Simulate one subject ``(spec, overrides, folder)`` of a cine cohort and write it;
    returns its truth row (:func:`suite.phantom.writer.write_subject`)."""
    from suite.phantom.writer import write_subject

    spec, overrides, folder = job
    return write_subject(Path(folder), spec.simulate(**overrides))


def _mapping_kind() -> PhantomKind:
    from suite.phantom.mapping.cohort import (mapping_strata, validate_mapping_entry,
                                              write_mapping_cohort)

    return PhantomKind("mapping", validate_mapping_entry, write_mapping_cohort,
                       "mapping series (MOLLI, ShMOLLI, SASHA, T2-prep) with truth maps",
                       mapping_strata)


#: Phantom kinds by name (``mapping`` is built on first use: it imports the sequence engines).
PHANTOM_KINDS: dict[str, PhantomKind | Callable[[], PhantomKind]] = {
    "cine": PhantomKind("cine", validate_cine_entry, write_cine_cohort,
                        "cine short-axis stacks with labels and analytic volumes"),
    "mapping": _mapping_kind,
}


def phantom_kind(entry: Mapping) -> PhantomKind:
    """The :class:`PhantomKind` of a protocol ``phantom`` entry (``kind``, default ``cine``).

    Raises
    ------
    ValueError
        An unknown kind (the message lists the kinds).
    """
    name = entry.get("kind", "cine") if isinstance(entry, Mapping) else "cine"
    kind = PHANTOM_KINDS.get(name)
    if kind is None:
        raise ValueError(f"unknown phantom kind {name!r}; kinds: {sorted(PHANTOM_KINDS)}")
    return kind if isinstance(kind, PhantomKind) else kind()


def phantom_strata(entry: Mapping) -> tuple[str, ...]:
    """The strata keys the cases of a protocol ``phantom`` entry record beyond the store's
    fixed strata columns (its kind's ``strata``; () for a kind without)."""
    kind = phantom_kind(entry)
    return tuple(kind.strata(entry)) if kind.strata else ()


def validate_phantom_entry(v, entry: Any, key: str) -> None:
    """Validate a protocol ``phantom`` entry with its kind's rules."""
    v.mapping(entry, key)
    if "kind" in entry:
        v.choice(entry["kind"], sorted(PHANTOM_KINDS), f"{key}.kind")
    phantom_kind(entry).validate(v, entry, key)


def write_phantom_cohort(entry: Mapping, out: Path, *, cache=True, map: Callable = map) -> Path:
    """Write the cohort of a protocol ``phantom`` entry into ``out`` (once: a finished cohort,
    marked by ``out/.complete``, is reused, e.g. on resume).

    With ``cache=True`` the cohort is taken from the user's cohort cache when it holds one of
    the same entry and generator code, every file checked against its recorded SHA-256
    (:mod:`suite.phantom.cache`); otherwise it is simulated and then stored in the cache.
    ``cache`` may also be a :class:`~suite.phantom.cache.PhantomCache`, or False. ``map`` is
    passed to the kind's writer (see :class:`PhantomKind`)."""
    from suite.phantom.cache import PhantomCache, phantom_cache

    out = Path(out)
    done = out / ".complete"
    if done.exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    store = cache if isinstance(cache, PhantomCache) else (phantom_cache() if cache else None)
    if store is None or not store.restore(entry, out):
        phantom_kind(entry).write(entry, out, map=map)
        if store is not None:
            store.store(entry, out)
    done.write_text("ok\n")
    return out

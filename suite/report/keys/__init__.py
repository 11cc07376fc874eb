"""The evidence keys, one module per family, and their evaluation on a run.

Importing this package registers every key (:mod:`suite.report.keys.data`, ``performance``,
``clinical``, ``stages``, ``robustness``, ``examples``) in
:data:`suite.report.evidence.EVIDENCE_KEYS`; the key modules import only the registry
(:mod:`suite.report.evidence`), the shared layout helpers (:mod:`suite.report.keys.common`),
the figures and :mod:`suite.analysis`.
"""

from __future__ import annotations

from suite.report.evidence import EVIDENCE_KEYS, STATUSES, Evidence, RunData
from suite.report.keys import (clinical, data, examples, performance,  # noqa: F401
                               robustness, stages)

__all__ = ["compute_evidence", "registered_keys"]


def registered_keys() -> set[str]:
    """Every registered evidence key."""
    return set(EVIDENCE_KEYS)


def compute_evidence(run: RunData, keys=None) -> dict[str, Evidence]:
    """Evaluate evidence keys (default: all registered) on a run."""
    out = {}
    for key in (keys or sorted(EVIDENCE_KEYS)):
        if key not in EVIDENCE_KEYS:
            raise ValueError(f"unknown evidence key {key!r}; known keys: {sorted(EVIDENCE_KEYS)}")
        title, fn = EVIDENCE_KEYS[key]
        ev = fn(run)
        if ev.status not in STATUSES:
            raise ValueError(f"evidence key {key!r} returned status {ev.status!r}; expected one "
                             f"of {STATUSES}")
        out[key] = ev
    return out

"""The strata a protocol may name: the store's fixed columns and what its datasets declare.

``analyses.strata`` and ``robustness.shift.strata`` name case strata. Every run has the store's
fixed strata columns (:data:`suite.case.STRATA_COLUMNS`); a dataset may declare more, which
its cases record in ``meta.strata`` (or ``meta``) and :class:`suite.store.RunView` joins into
the results when the protocol names them:

* a phantom cohort through its kind (:func:`suite.phantom.kinds.phantom_strata`; e.g. a
  mapping cohort's ``sequence``, ``contrast`` and ``sweep_<factor>`` shift factors);
* a dataset card (``card:`` of the entry, else the card named like the dataset) through its
  ``strata`` fields (e.g. ACDC ``group``).

A name outside these is refused when the protocol is loaded, not after the run.
"""

from __future__ import annotations

from typing import Any

from suite.case import STRATA_COLUMNS

__all__ = ["declared_strata"]


def _card_strata(ds: dict) -> tuple[str, ...]:
    from suite.data.cards import load_card

    try:
        return tuple(load_card(ds.get("card") or ds.get("name") or "").strata)
    except (FileNotFoundError, ValueError, OSError):
        return ()


def declared_strata(raw: dict[str, Any]) -> tuple[str, ...]:
    """:data:`~suite.case.STRATA_COLUMNS`, then the strata the protocol's datasets declare (in
    dataset order, without repeats)."""
    from suite.phantom.kinds import phantom_strata

    names = list(STRATA_COLUMNS)
    for ds in raw.get("datasets") or []:
        if not isinstance(ds, dict):
            continue
        try:
            extra = phantom_strata(ds["phantom"]) if isinstance(ds.get("phantom"), dict) \
                else _card_strata(ds)
        except ValueError:  # an unknown kind: refused by the dataset validation
            extra = ()
        names += [n for n in extra if n not in names]
    return tuple(names)

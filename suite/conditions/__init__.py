"""Conditions: named, seeded transformations of a Case before a method sees it.

Each condition is an object with ``apply(case, rng) -> (case, info)``
(:class:`~suite.conditions.base.Condition`); the generator follows the public seeding rule of
:mod:`suite.conditions.seeding`, so that a user scoring a folder of predictions can regenerate
exactly the inputs the other methods saw (``cmrsuite conditions export``,
:mod:`suite.runner.conditions_export`).

==================  ===========================================================  ==============
type                what it does                                                 module
==================  ===========================================================  ==============
``fully-sampled``   nothing (the reference condition)                            sampling
``as-acquired``     nothing; the Case's own mask (e.g. a challenge's file)       sampling
``undersample``     a sampling pattern at a nominal acceleration (+ noise)       sampling
``noise``           complex Gaussian noise relative to the k-space RMS          sampling
``crime``           k-space synthesised from processed images (Shimron 2022)    crimes
``features``        small features of known contrast inserted (Antun 2020)      features
==================  ===========================================================  ==============

The first four are the protocol's ``conditions:``; ``noise`` and ``undersample`` accept
``repeats: N`` (N re-draws, :mod:`suite.conditions.repeats`); crimes and feature insertion are applied by
robustness experiments before the acquisition condition. Adversarial perturbations act on the
method call, not on the Case: :mod:`suite.robustness`.
"""

from __future__ import annotations

from typing import Any, Mapping

from suite.conditions.base import Condition
from suite.conditions.crimes import CRIMES, DataCrime, commit_crime
from suite.conditions.fingerprint import input_fingerprint
from suite.conditions.features import FeatureInsertion
from suite.conditions.sampling import AsAcquired, FullySampled, Noise, Undersample
from suite.conditions.repeats import REPEATABLE_TYPES, expand_repeats, repeat_index
from suite.conditions.seeding import condition_rng, stable_int

__all__ = ["input_fingerprint", "Condition", "FullySampled", "AsAcquired", "Undersample", "Noise", "DataCrime",
           "FeatureInsertion", "commit_crime", "CRIMES", "CONDITION_TYPES", "make_condition",
           "condition_rng", "stable_int", "expand_repeats", "repeat_index", "REPEATABLE_TYPES"]

#: Condition types a protocol's ``conditions:`` list may name.
CONDITION_TYPES: Mapping[str, type[Condition]] = {
    FullySampled.type: FullySampled, AsAcquired.type: AsAcquired,
    Undersample.type: Undersample, Noise.type: Noise,
}


def make_condition(entry: Mapping[str, Any]) -> Condition:
    """The condition object of a (validated) protocol entry ``{name, type, ...settings}``.

    Examples
    --------
    >>> make_condition({"name": "R4", "type": "undersample", "pattern": "equispaced",
    ...                 "acceleration": 4, "acs_lines": 12})
    Undersample(name='R4', pattern='equispaced', acceleration=4, acs_lines=12)
    """
    settings = {k: v for k, v in entry.items()
                if k not in ("name", "type", "repeat_of", "repeat", "repeats")}
    kind = entry["type"]
    if kind not in CONDITION_TYPES:
        raise ValueError(f"make_condition: unknown condition type {kind!r}; expected one of "
                         f"{list(CONDITION_TYPES)}")
    cond = CONDITION_TYPES[kind](entry["name"], **settings)
    if "repeat" in entry:  # one repeat of a `repeats: N` entry (suite.conditions.repeats)
        cond.repeat_of, cond.repeat = str(entry["repeat_of"]), int(entry["repeat"])
    return cond

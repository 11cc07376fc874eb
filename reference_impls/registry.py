"""Registry of reference methods: ``reference_impls.get(stage, name)``.

A method is a callable object with ``name``, ``version`` and ``stage`` attributes and a
stage-specific call signature (DESIGN.md, "Stage method"); reconstruction methods are called as
``method(case) -> complex images (slice, frame, y, x)``. User plugins satisfy the same protocol,
so a reference method is a peer of a user's.
"""

from __future__ import annotations

import difflib
from typing import Callable

__all__ = ["register", "get", "available", "STAGES"]

STAGES = ("recon", "segmentation", "motion", "mapping", "qc", "planning", "diagnosis")

_REGISTRY: dict[str, dict[str, Callable[..., object]]] = {stage: {} for stage in STAGES}


def register(stage: str, name: str):
    """Class decorator: register a method factory under ``(stage, name)``."""
    if stage not in _REGISTRY:
        raise ValueError(f"register: unknown stage {stage!r}; expected one of {list(STAGES)}")

    def deco(factory):
        _REGISTRY[stage][name] = factory
        return factory

    return deco


def available(stage: str | None = None) -> dict[str, list[str]] | list[str]:
    """Names of the registered methods, for one stage or all."""
    if stage is None:
        return {s: sorted(m) for s, m in _REGISTRY.items()}
    if stage not in _REGISTRY:
        raise ValueError(f"available: unknown stage {stage!r}; expected one of {list(STAGES)}")
    return sorted(_REGISTRY[stage])


def get(stage: str, name: str, **params):
    """Instantiate the reference method ``name`` of ``stage`` with ``params``.

    Raises
    ------
    ValueError
        For an unknown stage or name, listing what exists and the nearest match.
    """
    if stage not in _REGISTRY:
        raise ValueError(f"get: unknown stage {stage!r}; expected one of {list(STAGES)}")
    methods = _REGISTRY[stage]
    if name not in methods:
        close = difflib.get_close_matches(name, list(methods), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"get: no {stage} method named {name!r}{hint}; available: {sorted(methods)}"
        )
    return methods[name](**params)

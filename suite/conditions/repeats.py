"""Repeated draws of a condition: ``repeats: N`` re-draws its randomness N times.

A protocol condition of a type with randomness (``noise``, ``undersample``) may say
``repeats: N`` (N ≥ 2). It stands for N conditions, ``<name>#1`` … ``<name>#N``, identical but
for their name, hence — by the public seeding rule (:mod:`suite.conditions.seeding`: one
generator per protocol seed, case and condition **name**) — for their random draws: each repeat
adds a new noise realisation (and, for a random sampling pattern, draws a new mask; a
deterministic pattern such as ``equispaced`` keeps its mask). Every method sees the same draw
of a repeat. Each repeat entry records what it repeats (``repeat_of``) and its index
(``repeat``, 1-based), which its jobs store as the condition row ``repeat_index``;
``cmrsuite conditions export`` writes each repeat with its seeding inputs.

The repeated measurements of any scalar metric give its QIBA repeatability (wSD, RC, wCV;
:mod:`suite.metrics.repeatability`) per case, region and segment:
:func:`suite.analysis.repeat_draws.repeat_draw_repeatability`.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

__all__ = ["REPEATABLE_TYPES", "REPEAT_KEYS", "expand_repeats", "repeat_name", "repeat_index"]

#: Condition types whose ``apply`` draws randomness (a ``repeats`` key makes sense only there).
REPEATABLE_TYPES = ("noise", "undersample")
#: Keys an expanded repeat entry carries beside the condition's own settings.
REPEAT_KEYS = ("repeat_of", "repeat")


def repeat_name(name: str, k: int) -> str:
    """The name of repeat ``k`` (1-based) of condition ``name``: ``"<name>#<k>"``."""
    return f"{name}#{int(k)}"


def expand_repeats(entries: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Protocol condition entries with every ``repeats: N`` entry replaced by its N repeats
    (module docstring); other entries unchanged, order kept.

    Examples
    --------
    >>> [c["name"] for c in expand_repeats([{"name": "full", "type": "fully-sampled"},
    ...     {"name": "snr", "type": "noise", "relative_sigma": 0.01, "repeats": 2}])]
    ['full', 'snr#1', 'snr#2']
    """
    out = []
    for entry in entries:
        entry = dict(entry)
        n = entry.pop("repeats", None)
        if n is None:
            out.append(entry)
            continue
        for k in range(1, int(n) + 1):
            out.append({**entry, "name": repeat_name(entry["name"], k),
                        "repeat_of": entry["name"], "repeat": k})
    return out


def repeat_index(entries: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str, int]]:
    """``{condition name: (repeated condition, repeat index)}`` of the repeat entries among
    ``entries`` (expanded or not: unexpanded entries are expanded first)."""
    return {e["name"]: (e["repeat_of"], int(e["repeat"])) for e in expand_repeats(entries)
            if "repeat_of" in e}

"""Shift factors of a mapping cohort: acquisitions swept one factor at a time, as case strata.

A ``phantom: {kind: mapping}`` entry may hold, besides its nominal acquisition, a ``sweep``::

    heart_rate_bpm: 60                  # the nominal acquisition (entry values)
    sweep:                              # levels per factor, one factor varied at a time
      heart_rate_bpm: [60, 90, 120]
      b1_scale: [0.8, 1.0, 1.2]
      inversion_efficiency: [1.0, 0.96, 0.9]
      arrhythmia: [none, ectopic, af]
      snr: [50, 20]
      field_strength_t: [1.5, 3.0]

Every subject is acquired once at the nominal values and once per level of each swept factor
that differs from the nominal value, with the same seed (same anatomy, RR-interval draws and
noise streams), so the strata of a factor are **paired by subject** and differ only in that
factor. Each series records its level in the Case's strata under ``sweep_<factor>`` (e.g.
``sweep_heart_rate_bpm``): the nominal series in every swept factor's stratum (its level is the
nominal value), a swept series only in its own factor's stratum (it is not a level of the
others). The shift analysis (``robustness.shift``) and ``analyses.strata`` may then name these
strata. The prefix keeps a sweep stratum apart from a store column of the same quantity:
``field_strength_t`` holds every case's field strength (all sweeps), ``sweep_field_strength_t``
only the nominal series and the field-strength sweep, so its strata differ in nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

__all__ = ["SHIFT_FACTORS", "SweepPoint", "sweep_points", "validate_sweep", "sweep_strata",
           "NOMINAL_DEFAULTS", "stratum_key"]

#: Factors a mapping cohort can sweep (``sweep`` keys; also entry keys for the nominal value).
SHIFT_FACTORS = ("heart_rate_bpm", "arrhythmia", "b1_scale", "inversion_efficiency", "snr",
                 "field_strength_t")

#: Nominal value of a factor the entry does not set (None for heart rate: each subject's own;
#: for field strength: the anatomy preset's).
NOMINAL_DEFAULTS = {"heart_rate_bpm": None, "arrhythmia": "none", "b1_scale": 1.0,
                    "inversion_efficiency": 1.0, "snr": 50.0, "field_strength_t": None}


@dataclass(frozen=True)
class SweepPoint:
    """One acquisition of the cohort.

    Attributes
    ----------
    factor : str or None
        The swept factor (None: the nominal acquisition).
    values : dict
        The value of every factor of :data:`SHIFT_FACTORS` for this acquisition.
    strata : dict
        Case strata it records (``sweep_<factor>`` → level).
    suffix : str
        Appended to the series name (``""`` for the nominal acquisition).
    """

    factor: str | None
    values: dict
    strata: dict
    suffix: str


def stratum_key(factor: str) -> str:
    """The case-strata key of a swept factor: ``sweep_<factor>``."""
    return f"sweep_{factor}"


def _nominal(entry: Mapping[str, Any]) -> dict:
    return {f: entry.get(f, NOMINAL_DEFAULTS[f]) for f in SHIFT_FACTORS}


def _same(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return float(a) == float(b)
    return a == b


def _label(level) -> str:
    return f"{level:g}" if isinstance(level, float) else str(level)


def sweep_points(entry: Mapping[str, Any]) -> list[SweepPoint]:
    """The acquisitions of an entry: the nominal one first, then each swept level that differs
    from the nominal value, factor by factor in the entry's order."""
    nominal = _nominal(entry)
    sweep = entry.get("sweep") or {}
    nominal_strata = {stratum_key(f): nominal[f] for f in sweep
                      if any(_same(nominal[f], lv) for lv in sweep[f])}
    points = [SweepPoint(None, nominal, nominal_strata, "")]
    for factor, levels in sweep.items():
        for level in levels:
            if _same(level, nominal[factor]):
                continue
            points.append(SweepPoint(factor, {**nominal, factor: level},
                                     {stratum_key(factor): level},
                                     f"__{factor}-{_label(level)}"))
    return points


def sweep_strata(entry: Mapping[str, Any]) -> tuple[str, ...]:
    """The strata keys the entry's cases record (``sweep_<factor>`` per swept factor)."""
    return tuple(stratum_key(f) for f in entry.get("sweep") or {})


def validate_sweep(v, entry: Mapping[str, Any], key: str) -> None:
    """Check the nominal factor values and ``sweep`` of a mapping entry with the protocol's
    validator ``v``."""
    from suite.phantom.mapping.rr import ARRHYTHMIAS

    def check(d, name, prefix):
        if name == "arrhythmia":
            v.option(d, name, ARRHYTHMIAS, prefix=prefix)
        elif name == "heart_rate_bpm":
            v.number(d, name, minimum=20.0, maximum=220.0, prefix=prefix)
        elif name == "snr":
            if d.get(name) is not None:  # null: noise-free
                v.number(d, name, positive=True, prefix=prefix)
        elif name == "field_strength_t":
            v.option(d, name, (1.5, 3.0), prefix=prefix)
        elif name == "b1_scale":
            v.number(d, name, minimum=0.3, maximum=2.0, prefix=prefix)
        else:  # inversion_efficiency
            v.number(d, name, minimum=0.0, maximum=1.0, prefix=prefix)

    for name in SHIFT_FACTORS:
        if name in entry:
            check(entry, name, key)
    sweep = entry.get("sweep")
    if sweep is None:
        return
    where = f"{key}.sweep"
    v.mapping(sweep, where)
    v.unknown_keys(sweep, set(SHIFT_FACTORS), where)
    for name, levels in sweep.items():
        if not isinstance(levels, list) or len(levels) < 2:
            v.fail(f"{where}.{name}", "must be a list of at least two levels")
        for level in levels:
            check({name: level}, name, where)
        if len({_label(lv) for lv in levels}) != len(levels):
            v.fail(f"{where}.{name}", f"repeats a level: {levels}")
        if NOMINAL_DEFAULTS[name] is None and entry.get(name) is None:
            v.fail(f"{key}.{name}", f"is required when `sweep` varies it: the nominal value "
                   f"of the other acquisitions (e.g. one of {levels})")

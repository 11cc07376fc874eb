"""The metric contract: one declaration type, one direction vocabulary, one row type.

Every number the suite stores is a :class:`MetricRow` of a metric declared once as a
:class:`MetricSpec` in the module that computes it (STYLE R3, R14). The runner, the analysis,
the gate, the leaderboard and the reports read units, directions and conventions from the
rows (which carry them from the declaration); nothing downstream declares a unit or guesses a
direction from a metric's name.

Directions (:data:`DIRECTIONS`)
-------------------------------
``"higher is better"``
    e.g. SSIM, Dice.
``"lower is better"``
    e.g. NMSE, Hausdorff distance.
``"closer is better"``
    the value is compared with a target: the row's ``reference_value`` (the truth of a clinical
    parameter, or a declared constant such as 1 for a ratio and 0 for a signed difference, see
    :attr:`MetricSpec.target`); the error is ``|value − reference_value|``.
``"no direction"``
    descriptive values (settings actually used, counts, gains, audit flags).

Statuses (:data:`STATUSES`) and exclusions
------------------------------------------
A row's ``status`` says what the value means: ``ok``; the segmentation empty-mask statuses
``reference_empty``, ``prediction_empty``, ``both_empty`` (their values follow the empty-mask
policy named in ``profile``); ``undefined`` (no value could be computed: NaN input, 0/0);
``implausible`` (a value outside the physiological range the metric declares, e.g. an ejection
fraction of −42 %). Whether a value enters an average is decided once, when the row is made,
and stored as the row's ``exclusion`` (``None`` when the value counts):

==============  =====================================================================
exclusion       when
==============  =====================================================================
``missing``     the value is ``None`` or NaN
``sentinel``    the value is a sentinel of the row's profile (e.g. −1 of the M&Ms
                organisers' script for a missed structure, :attr:`MetricSpec.sentinels`)
``implausible`` the status is ``implausible``
==============  =====================================================================

:func:`suite.metrics.reduce.reduce_subjects`, the one subject-level reduction, never averages a
row whose ``exclusion`` is set; it counts such rows by reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from suite._validation import check_option, near

__all__ = [
    "DIRECTIONS", "HIGHER", "LOWER", "CLOSER", "NONE", "STATUSES", "EXCLUSIONS",
    "Plausible", "MetricSpec", "MetricRow", "MetricFamily", "register_metric",
    "register_family", "metric_spec", "metric_row", "registered_metrics", "registered_families",
    "exclusion_of", "direction_word",
]

HIGHER = "higher is better"
LOWER = "lower is better"
CLOSER = "closer is better"
NONE = "no direction"
#: The one direction vocabulary of the suite.
DIRECTIONS = (HIGHER, LOWER, CLOSER, NONE)

#: Row statuses (see the module docstring).
STATUSES = ("ok", "reference_empty", "prediction_empty", "both_empty", "undefined", "implausible")
#: Exclusion reasons of a row (``None``: the value counts).
EXCLUSIONS = ("missing", "sentinel", "implausible")


@dataclass(frozen=True)
class Plausible:
    """A physiologically plausible interval ``low (<|<=) value (<|<=) high``.

    Examples
    --------
    >>> ef = Plausible(0.0, 100.0)
    >>> 55.0 in ef, -42.0 in ef, ef.describe()
    (True, False, '0 <= value <= 100')
    >>> Plausible(0.0, low_open=True).describe()
    '0 < value'
    """

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        v = float(value)
        above = v > self.low if self.low_open else v >= self.low
        below = v < self.high if self.high_open else v <= self.high
        return above and below

    def describe(self) -> str:
        parts = []
        if math.isfinite(self.low):
            parts.append(f"{self.low:g} {'<' if self.low_open else '<='} ")
        parts.append("value")
        if math.isfinite(self.high):
            parts.append(f" {'<' if self.high_open else '<='} {self.high:g}")
        return "".join(parts)


@dataclass(frozen=True)
class MetricSpec:
    """Declaration of one stored metric (one name, one meaning across the suite).

    Attributes
    ----------
    name : str
        The ``metric`` column value, e.g. ``"ssim"``, ``"lv_ef_pct"``.
    unit : str
        ``"1"`` for dimensionless values; ``"mm"``, ``"mL"``, ``"%"``, ``"dB"``, ``"ms"``, ...
    direction : str
        One of :data:`DIRECTIONS`.
    description : str
        One line: what the value is.
    family : str
        The module family that computes it (``image``, ``segmentation``, ``clinical``, ...).
    definition : str
        Formula or rule, with its source.
    target : float, optional
        For ``"closer is better"`` metrics compared with a constant (1 for a ratio, 0 for a
        signed difference); stored as the row's ``reference_value``. ``None`` when the
        reference is per case (clinical parameters against the truth).
    optimum : float, optional
        The value of a perfect prediction (prediction = reference); property tests check it.
    symmetric : bool
        ``f(a, b) == f(b, a)``; property tests check it where claimed.
    plausible : Plausible, optional
        Values outside are stored with status ``implausible`` and excluded from averages.
    sentinels : mapping, profile → tuple of float
        Values that mean "missing" under a profile that reproduces another tool's convention.
    """

    name: str
    unit: str
    direction: str
    description: str
    family: str
    definition: str = ""
    target: float | None = None
    optimum: float | None = None
    symmetric: bool = False
    plausible: Plausible | None = None
    sentinels: Mapping[str, tuple[float, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_option(self.direction, DIRECTIONS, name="direction", where=f"MetricSpec({self.name!r})")
        if not self.unit:
            raise ValueError(f"MetricSpec({self.name!r}): `unit` must be declared ('1' when "
                             "dimensionless)")

    @property
    def direction_text(self) -> str:
        """The direction in words, with the target of a closer-is-better metric."""
        if self.direction == CLOSER and self.target is not None:
            return f"closer to {self.target:g} is better"
        return self.direction

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "unit": self.unit, "direction": self.direction,
                "description": self.description, "family": self.family,
                "definition": self.definition, "target": self.target, "optimum": self.optimum,
                "symmetric": self.symmetric,
                "plausible": None if self.plausible is None else self.plausible.describe(),
                "sentinels": {k: list(v) for k, v in self.sentinels.items()}}


@dataclass(frozen=True)
class MetricRow:
    """One value of one metric for one case, as the store keeps it.

    Built with :func:`metric_row`, which fills ``unit``, ``direction`` and the default
    ``convention`` from the declaration and decides ``exclusion``.
    """

    metric: str
    value: float | None
    unit: str
    direction: str
    status: str = "ok"
    exclusion: str | None = None
    profile: str | None = None
    convention: str | None = None
    structure: str | None = None
    phase: str | None = None
    frame: int | None = None
    segment: str | None = None
    reference_value: float | None = None
    stage: str | None = None  # set by the stage that stores the row

    def to_dict(self) -> dict[str, Any]:
        """The store columns of the row (``None`` where not applicable)."""
        return {"metric": self.metric, "value": self.value, "unit": self.unit,
                "direction": self.direction, "status": self.status, "exclusion": self.exclusion,
                "profile": self.profile, "convention": self.convention,
                "structure": self.structure, "phase": self.phase, "frame": self.frame,
                "segment": self.segment, "reference_value": self.reference_value,
                "stage": self.stage}


@dataclass(frozen=True)
class MetricFamily:
    """A set of metrics computed together from (reference, prediction).

    ``rows(reference, prediction, **settings)`` returns :class:`MetricRow` s; ``example(rng)``
    returns ``(reference, prediction, settings)`` for the registry's property tests (a
    realistic pair where the prediction differs from the reference). Families whose values do
    not come from such a pair (robustness deviations, condition settings) register their
    metrics with :func:`register_metric` only.
    """

    name: str
    metrics: tuple[str, ...]
    rows: Callable[..., list[MetricRow]]
    example: Callable[..., tuple] | None = None


_METRICS: dict[str, MetricSpec] = {}
_FAMILIES: dict[str, MetricFamily] = {}


def register_metric(spec: MetricSpec) -> MetricSpec:
    """Declare a metric; registering the same name again with another declaration raises."""
    old = _METRICS.get(spec.name)
    if old is not None and old != spec:
        raise ValueError(f"register_metric: {spec.name!r} is already declared by family "
                         f"{old.family!r} as {old.unit!r}, {old.direction!r}; one name has one "
                         "meaning")
    _METRICS[spec.name] = spec
    return spec


def register_family(family: MetricFamily) -> MetricFamily:
    """Register a family of metrics for the registry's property tests."""
    missing = [m for m in family.metrics if m not in _METRICS]
    if missing:
        raise ValueError(f"register_family({family.name!r}): undeclared metrics {missing}")
    _FAMILIES[family.name] = family
    return family


def metric_spec(name: str) -> MetricSpec:
    """The declaration of ``name``.

    Raises
    ------
    KeyError
        Undeclared name (with the nearest declared one).
    """
    if name not in _METRICS:
        import suite.metrics  # noqa: F401  (declares every built-in metric on first use)
    try:
        return _METRICS[name]
    except KeyError:
        raise KeyError(f"metric {name!r} is not declared{near(name, _METRICS)}; declare it "
                       "with suite.metrics.contract.register_metric") from None


def registered_metrics() -> dict[str, MetricSpec]:
    """All declared metrics (name → spec), after importing the metric modules."""
    return dict(_METRICS)


def registered_families() -> dict[str, MetricFamily]:
    return dict(_FAMILIES)


def _number(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return float(value)
    v = float(value)
    return None if math.isnan(v) else v


def exclusion_of(spec: MetricSpec, value: float | None, status: str,
                 profile: str | None) -> str | None:
    """Why a value does not enter an average (see the module docstring), or ``None``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    if status == "implausible":
        return "implausible"
    if profile is not None and float(value) in spec.sentinels.get(profile, ()):
        return "sentinel"
    return None


def metric_row(name: str, value, *, status: str = "ok", profile: str | None = None,
               convention: str | None = None, structure: str | None = None,
               phase: str | None = None, frame: int | None = None, segment: str | None = None,
               reference_value=None, stage: str | None = None) -> MetricRow:
    """A :class:`MetricRow` of the declared metric ``name``.

    ``value`` NaN/None gives ``value=None`` (status ``undefined`` unless another status is
    given); a value outside the metric's :attr:`~MetricSpec.plausible` range gets status
    ``implausible``; a closer-is-better metric with a constant target gets that target as
    ``reference_value``.

    Examples
    --------
    >>> _ = register_metric(MetricSpec("demo_ef", "%", CLOSER, "demo EF", "demo",
    ...                                plausible=Plausible(0, 100)))
    >>> r = metric_row("demo_ef", -42.0, reference_value=55.0)
    >>> r.status, r.exclusion, r.unit
    ('implausible', 'implausible', '%')
    >>> metric_row("demo_ef", float("nan")).status
    'undefined'
    """
    spec = metric_spec(name)
    check_option(status, STATUSES, name="status", where=f"metric_row({name!r})")
    v = _number(value)
    if v is None and status == "ok":
        status = "undefined"
    if v is not None and spec.plausible is not None and status == "ok" and v not in spec.plausible:
        status = "implausible"
    ref = _number(reference_value)
    if ref is None and spec.target is not None:
        ref = float(spec.target)
    return MetricRow(metric=name, value=v, unit=spec.unit, direction=spec.direction,
                     status=status, exclusion=exclusion_of(spec, v, status, profile),
                     profile=profile, convention=convention,
                     structure=structure, phase=phase, frame=frame, segment=segment,
                     reference_value=ref, stage=stage)


def direction_word(direction: str) -> str:
    """``"higher"``, ``"lower"``, ``"closer"`` or ``"none"`` for a direction of the vocabulary.

    Raises ``ValueError`` for anything else (stores written before the one vocabulary are
    migrated on read, see :mod:`suite.store`).
    """
    check_option(direction, DIRECTIONS, name="direction", where="direction_word")
    return {HIGHER: "higher", LOWER: "lower", CLOSER: "closer", NONE: "none"}[direction]

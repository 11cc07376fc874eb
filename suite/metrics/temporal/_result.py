"""Shared result machinery of the temporal-fidelity metrics: declared quantities, JSON, tables.

Every temporal result is a frozen dataclass that declares, for each named scalar, its unit and
direction (STYLE R3) in a class-level ``QUANTITIES`` table, and the rule it follows in
``CONVENTION``. :class:`TemporalResult` turns that declaration into ``to_dict()`` (JSON-safe,
full precision, with units, directions and the convention) and ``summary()`` (one table with
numbered notes, a :class:`~suite._table.SummaryTable`). Rounding happens only in ``summary()``.
"""

from __future__ import annotations

from dataclasses import fields
from typing import ClassVar

from suite._serialise import jsonable
from suite._table import SummaryTable, fmt
from suite.metrics import contract
from suite.metrics.contract import MetricSpec

#: Directions of the one vocabulary (:mod:`suite.metrics.contract`) and two markers that
#: :func:`declare` resolves to "closer is better" with a target (1 for a ratio, 0 for a signed
#: difference test − reference).
LOWER = contract.LOWER
HIGHER = contract.HIGHER
DESCRIPTIVE = contract.NONE
TARGET_ONE = "closer to 1"
SIGNED = "closer to 0"
_TARGETS = {TARGET_ONE: 1.0, SIGNED: 0.0}

#: Header of every temporal summary table.
HEADER = ("quantity", "value", "unit", "direction")


def declare(*entries: tuple[str, str, str, str]) -> dict[str, MetricSpec]:
    """Declare the scalars of a temporal result: ``(name, unit, direction, description)``.

    Registers one :class:`~suite.metrics.contract.MetricSpec` per scalar (family
    ``"temporal"``) and returns them by name, the class-level ``QUANTITIES`` table.
    """
    out = {}
    for name, unit, direction, description in entries:
        target = _TARGETS.get(direction)
        spec = MetricSpec(name, unit, contract.CLOSER if target is not None else direction,
                          description, "temporal", target=target,
                          optimum=target if target is not None else
                          (0.0 if direction == LOWER else None))
        out[name] = contract.register_metric(spec)
    return out


class TemporalResult:
    """Mixin for the frozen result dataclasses of :mod:`suite.metrics.temporal`.

    Subclasses set ``METRIC`` (name), ``CONVENTION`` (the stated rule, one paragraph),
    ``QUANTITIES`` (scalar name → :class:`~suite.metrics.contract.MetricSpec`, from :func:`declare`) and ``HEADLINE`` (the scalar a ranking
    uses by default). Fields not in ``QUANTITIES`` are context (settings) or per-frame arrays.
    """

    METRIC: ClassVar[str] = ""
    CONVENTION: ClassVar[str] = ""
    HEADLINE: ClassVar[str] = ""
    QUANTITIES: ClassVar[dict[str, MetricSpec]] = {}

    @property
    def direction(self) -> str:
        """Direction of the headline scalar (STYLE R3)."""
        return self.QUANTITIES[self.HEADLINE].direction

    @property
    def unit(self) -> str:
        """Unit of the headline scalar."""
        return self.QUANTITIES[self.HEADLINE].unit

    def scalars(self) -> dict[str, float]:
        """The declared scalars by name (full precision, not rounded)."""
        return {name: getattr(self, name) for name in self.QUANTITIES}

    def to_dict(self) -> dict:
        """JSON-safe dict: every field (arrays as lists, NaN/inf as ``None``) plus metadata.

        Keys ``metric``, ``headline``, ``convention``, ``units`` and ``directions`` record what
        was computed and how to read it (STYLE R14).
        """
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["metric"] = self.METRIC
        out["headline"] = self.HEADLINE
        out["convention"] = self.CONVENTION
        out["units"] = {k: q.unit for k, q in self.QUANTITIES.items()}
        out["directions"] = {k: q.direction for k, q in self.QUANTITIES.items()}
        out["targets"] = {k: q.target for k, q in self.QUANTITIES.items() if q.target is not None}
        return jsonable(out)

    def _rows(self) -> list[tuple[str, str, str, str]]:
        return [(k, fmt(getattr(self, k)), q.unit, q.direction_text)
                for k, q in self.QUANTITIES.items()]

    def _notes(self) -> list[str]:
        return [self.CONVENTION]

    def summary(self, format: str = "text") -> str:
        """One table of the declared scalars with the stated convention as a numbered note.

        Parameters
        ----------
        format : {"text", "markdown", "html"}
        """
        return SummaryTable(self.METRIC, HEADER, tuple(self._rows()),
                            tuple(self._notes())).render(format)

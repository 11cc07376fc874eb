"""Shared result machinery of the temporal-fidelity metrics: declared quantities, JSON, tables.

Every temporal result is a frozen dataclass that declares, for each named scalar, its unit and
direction (STYLE R3) in a class-level ``QUANTITIES`` table, and the rule it follows in
``CONVENTION``. :class:`TemporalResult` turns that declaration into ``to_dict()`` (JSON-safe,
full precision, with units, directions and the convention) and ``summary()`` (one table with
numbered notes, rendered as text or Markdown). Rounding happens only in ``summary()``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from suite._serialise import jsonable  # noqa: F401  (re-exported)

from suite._validation import check_option
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

FORMATS = ("text", "markdown")


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


def readonly(a, dtype=np.float64) -> np.ndarray:
    """A read-only copy of ``a`` (results are frozen, their arrays too)."""
    out = np.array(a, dtype=dtype, copy=True)
    out.setflags(write=False)
    return out


def fmt(x, digits: int = 4) -> str:
    """Format one number for a summary table (the only place that rounds)."""
    if x is None:
        return "n/a"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def render_table(title: str, rows: list[tuple[str, str, str, str]], notes: list[str],
                 format: str = "text") -> str:
    """Render ``(quantity, value, unit, direction)`` rows and numbered notes."""
    check_option(format, FORMATS, name="format", where="summary")
    header = ("quantity", "value", "unit", "direction")
    if format == "markdown":
        out = [f"**{title}**", "", "| " + " | ".join(header) + " |", "|---|---|---|---|"]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
        if notes:
            out += [""] + [f"{i}. {n}" for i, n in enumerate(notes, 1)]
        return "\n".join(out)
    cols = list(zip(header, *rows))
    widths = [max(len(c) for c in col) for col in cols]

    def line(cells):
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    out = [title, "=" * max(len(title), len(rule)), line(header), rule] + [line(r) for r in rows]
    if notes:
        out += ["", "Notes:"] + [f"[{i}] {n}" for i, n in enumerate(notes, 1)]
    return "\n".join(out)


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
        format : {"text", "markdown"}
        """
        return render_table(self.METRIC, self._rows(), self._notes(), format)

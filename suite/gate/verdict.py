"""The gate's results: one :class:`Verdict` per criterion and stratum, and the
:class:`GateResult` that holds them, with their text, Markdown, JSON and JUnit renderings.

Numbers are kept at full precision; :func:`format_value` rounds (4 significant digits) only when
rendering, and prints NaN as "n/a" and infinities as "∞" / "−∞".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from suite._serialise import jsonable
from suite.protocol.gate_criteria import GateSettings

__all__ = ["Verdict", "GateResult", "verdict_name", "format_value", "format_unit"]


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """The outcome of one criterion in one stratum (one JUnit test case).

    Attributes
    ----------
    name : str
        Criterion name, plus ``[column=value, ...]`` for a stratum and `` · limit`` for an
        agreement limit.
    criterion, kind, metric, quantity : str
        ``quantity`` says what ``estimate`` measures (e.g. "mean difference candidate −
        baseline", "LoA half-width").
    stratum : dict
        Column → value of the stratum (empty for all cases).
    estimate : float
        Point estimate in ``unit``.
    ci : tuple of float
        One-sided ``1 − alpha`` interval (the open side is ±inf), or NaN when not computed.
    limit : float
        The bound the criterion applies; ``comparison`` is ">=", "<=", ">" or "<".
    passed : bool
    method : str
        Test or interval method.
    p_value : float or None
    n_cases, n_subjects : int
    unit, direction : str
    alpha : float
        One-sided level: ``ci`` is a ``1 − alpha`` interval.
    message : str
        Why it passed or failed, in words.

    All fields are keyword-only.
    """

    name: str
    criterion: str
    kind: str
    metric: str
    quantity: str
    stratum: dict
    estimate: float
    ci: tuple
    limit: float
    comparison: str
    passed: bool
    method: str
    p_value: float | None
    n_cases: int
    n_subjects: int
    unit: str
    direction: str
    alpha: float
    message: str

    def to_dict(self) -> dict:
        """Every field, JSON-safe, at full precision."""
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})

    def summary(self) -> str:
        """One line: PASS/FAIL, name, estimate, CI, requirement, method, counts, message."""
        return (f"{'PASS' if self.passed else 'FAIL'} {self.name}: {self.quantity} "
                f"{format_value(self.estimate)}{format_unit(self.unit)}, "
                f"{_ci(self.ci, self.alpha)}; required {self.comparison} "
                f"{format_value(self.limit)} ({self.method}; {self.n_subjects} subjects, "
                f"{self.n_cases} cases). {self.message}")


def verdict_name(criterion: str, stratum: dict, suffix: str = "") -> str:
    """``criterion [column=value, ...] · suffix`` (stratum and suffix only when given).

    Examples
    --------
    >>> verdict_name("ef", {"vendor": "Philips"}, "|bias|")
    'ef [vendor=Philips] · |bias|'
    """
    s = f"{criterion}" + (f" [{', '.join(f'{k}={v}' for k, v in stratum.items())}]"
                          if stratum else "")
    return s + (f" · {suffix}" if suffix else "")


def format_value(v) -> str:
    """A number for a message or table: 4 significant digits, "n/a" for None/NaN, "±∞".

    Examples
    --------
    >>> [format_value(x) for x in (0.123456, -0.0, float("nan"), float("-inf"))]
    ['0.1235', '0', 'n/a', '−∞']
    """
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, float) and math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return f"{v + 0.0:.4g}"  # + 0.0: no "-0"


def format_unit(unit: str) -> str:
    """``" unit"`` to append to a number, or ``""`` for unitless ("" or "1")."""
    return "" if unit in ("", "1") else f" {unit}"


def _ci(ci, alpha) -> str:
    lo, hi = ci
    if all(isinstance(x, float) and math.isnan(x) for x in (lo, hi)):
        return "no CI"
    return f"one-sided {100 * (1 - alpha):g} % CI [{format_value(lo)}, {format_value(hi)}]"


@dataclass
class GateResult:
    """Verdicts of a gate, with what was compared; ``exit_code`` 0 (all pass) or 1."""

    candidate: str
    baseline: str
    basis: str
    candidate_protocol_sha256: str
    baseline_protocol_sha256: str
    evaluation_sha256: str
    method_mapping: dict
    settings: GateSettings
    criteria: list
    verdicts: list = field(default_factory=list)
    created: str = ""

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    @property
    def n_failed(self) -> int:
        return sum(not v.passed for v in self.verdicts)

    def to_dict(self) -> dict:
        return jsonable({
            "candidate": self.candidate, "baseline": self.baseline, "basis": self.basis,
            "candidate_protocol_sha256": self.candidate_protocol_sha256,
            "baseline_protocol_sha256": self.baseline_protocol_sha256,
            "evaluation_sha256": self.evaluation_sha256, "method_mapping": self.method_mapping,
            "settings": self.settings.to_dict(), "criteria": [c.to_dict() for c in self.criteria],
            "verdicts": [v.to_dict() for v in self.verdicts], "passed": self.passed,
            "n_failed": self.n_failed, "exit_code": self.exit_code, "created": self.created})

    def summary(self, format: str = "markdown") -> str:
        """Markdown (default) or plain-text table of every verdict with numbered notes."""
        if format not in ("markdown", "text"):
            raise ValueError(f"GateResult.summary: `format` must be 'markdown' or 'text'; got "
                             f"{format!r}")
        head = "PASSED" if self.passed else f"FAILED ({self.n_failed} of {len(self.verdicts)})"
        lines = [f"# Release gate: {head}", "",
                 f"- candidate: `{self.candidate}` (protocol sha256 "
                 f"{self.candidate_protocol_sha256[:12]})",
                 f"- baseline: `{self.baseline}` (protocol sha256 "
                 f"{self.baseline_protocol_sha256[:12]})",
                 f"- comparable by: {self.basis} (evaluation plan sha256 "
                 f"{self.evaluation_sha256[:12]})"]
        if self.method_mapping:
            lines.append("- method mapping (baseline → candidate): " + ", ".join(
                f"{st}: {b} → {c}" for st, (b, c) in sorted(self.method_mapping.items())))
        lines.append("")
        if format == "text":
            lines += [v.summary() for v in self.verdicts]
        else:
            lines += ["| verdict | criterion | quantity | estimate | one-sided CI | required | "
                      "n subjects (cases) | method |", "|---|---|---|---|---|---|---|---|"]
            for v in self.verdicts:
                ci = ("—" if all(math.isnan(x) for x in v.ci)
                      else f"[{format_value(v.ci[0])}, {format_value(v.ci[1])}]")
                lines.append(f"| {'✅ pass' if v.passed else '❌ FAIL'} | {v.name} | "
                             f"{v.quantity} ({v.unit or 'unitless'}) | "
                             f"{format_value(v.estimate)} | {ci} | "
                             f"{v.comparison} {format_value(v.limit)} | "
                             f"{v.n_subjects} ({v.n_cases}) | {v.method} |")
            failed = [v for v in self.verdicts if not v.passed]
            if failed:
                lines += ["", "## Failed criteria", ""] + [f"- **{v.name}**: {v.message}"
                                                           for v in failed]
        a = self.settings.alpha
        lines += ["", "Notes:",
                  f"1. One-sided confidence level {100 * (1 - a):g} % (alpha {a:g}); differences "
                  "are candidate − baseline, paired by case.",
                  "2. Subject-level analysis: the bootstrap resamples subjects "
                  f"({self.settings.n_resamples} resamples, seed {self.settings.seed}); t and "
                  "Wilcoxon tests use one subject-mean difference per subject.",
                  "3. Clinical parameters ('closer is better') are gated on the absolute error "
                  "|value − reference|; agreement limits use the signed difference (test − "
                  "reference), SD ddof = 1, half-width 1.96·SD."]
        return "\n".join(lines) + "\n"

    def to_junit(self) -> str:
        """JUnit XML (one test case per verdict); see :mod:`suite.gate.junit`."""
        from suite.gate.junit import verdicts_to_junit

        return verdicts_to_junit(self)

    def write(self, out_dir) -> dict:
        """Write ``gate.md``, ``gate.xml`` (JUnit) and ``gate.json`` into ``out_dir``."""
        import json

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"markdown": out / "gate.md", "junit": out / "gate.xml", "json": out / "gate.json"}
        paths["markdown"].write_text(self.summary("markdown"))
        paths["junit"].write_text(self.to_junit())
        paths["json"].write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return paths


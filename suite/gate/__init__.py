"""Release gating: compare a candidate run with a baseline run of the same evaluation plan,
case by case, and give CI a verdict (exit code 0 pass, 1 fail, 2 not comparable).

| module | holds |
|---|---|
| :mod:`suite.protocol.gate_criteria` | the criteria YAML schema and its validation (re-exported) |
| :mod:`suite.gate.runs` | runs as the gate reads them (from ``suite.store.RunView``), comparability |
| :mod:`suite.gate.inference` | one-sided bounds on paired differences (bootstrap, t, Wilcoxon) |
| :mod:`suite.gate.evaluate` | :func:`run_gate` (row selection, strata, method mapping) |
| :mod:`suite.gate.floor` | ``floor`` criteria (absolute bound on the candidate) |
| :mod:`suite.gate.noninferiority` | ``noninferiority`` criteria (paired differences, margin) |
| :mod:`suite.gate.agreement` | ``agreement`` criteria (Bland–Altman limits) |
| :mod:`suite.gate.scores` | per-case scores, why a value is undefined, subject-level statistics |
| :mod:`suite.gate.verdict` | :class:`Verdict`, :class:`GateResult` and their renderings |
| :mod:`suite.gate.junit` | JUnit XML output |

``docs/gate.md`` is the user guide ("Gate your model in CI").
"""

from suite.protocol.gate_criteria import (
    Criterion, GateCriteriaError, GateSettings, load_criteria, parse_criteria,
)
from suite.gate.evaluate import criteria_from_acceptance, run_gate
from suite.gate.junit import not_comparable_junit, verdicts_to_junit
from suite.gate.runs import (
    EVALUATION_KEYS, GateNotComparable, RunData, check_comparable, evaluation_hash, load_run,
)
from suite.gate.verdict import GateResult, Verdict

__all__ = ["run_gate", "GateResult", "Verdict", "Criterion", "GateSettings", "GateCriteriaError",
           "GateNotComparable", "load_criteria", "parse_criteria", "criteria_from_acceptance",
           "load_run", "RunData", "check_comparable", "evaluation_hash", "EVALUATION_KEYS",
           "verdicts_to_junit", "not_comparable_junit"]

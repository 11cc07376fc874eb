"""``run_gate``: compare a candidate run with a baseline run, criterion by criterion.

Per-case values
---------------
A criterion selects rows of the results table by ``metric`` and ``where`` (rows of stage
``robustness`` only when ``where`` or ``per`` names ``stage``, ``attack`` or ``budget``); within
one stratum every case must then have exactly one row (otherwise the criterion is ambiguous and
the error names the columns that still vary, to add to ``where`` or ``per``). For metrics whose
``direction`` is "closer is better" (clinical parameters), the gate works on the absolute error
``|value − reference_value|`` (lower is better); ``agreement`` criteria use the signed
difference ``value − reference_value`` (test − reference). Directions are read from the rows
(:data:`suite.metrics.contract.DIRECTIONS`, mapped with
:func:`~suite.metrics.contract.direction_word`); a descriptive metric ("no direction") cannot
be gated. A row with an ``exclusion`` (missing value, a profile's sentinel, an implausible
value) is undefined for the gate, never a number: every average goes through
:func:`suite.metrics.reduce.reduce_subjects` (:mod:`suite.gate.scores`) and each verdict's
message says how many values were left out and why.

The columns that identify a measurement (:func:`suite.gate.runs.key_columns`) and the stages
a method mapping may name are the runs' own method stages (``RunView.method_stages``), so a
gate works on a pipeline with any method stages.

Kinds
-----
One module per criterion kind, each with one function giving the verdicts of one stratum:
:func:`~suite.gate.floor.evaluate_floor` (the candidate against an absolute bound),
:func:`~suite.gate.noninferiority.evaluate_noninferiority` (paired differences candidate −
baseline against a margin) and :func:`~suite.gate.agreement.evaluate_agreement`
(Bland–Altman limits against the reference). The verdicts and their renderings are in
:mod:`suite.gate.verdict`.
"""

from __future__ import annotations

import datetime as _dt
import math

import numpy as np
import pandas as pd

from suite._validation import check_option, near
from suite.analysis.selection import whole_rows
from suite.case import STRATA_COLUMNS
from suite.gate.agreement import evaluate_agreement
from suite.gate.floor import evaluate_floor
from suite.gate.noninferiority import evaluate_noninferiority
from suite.gate.runs import RunData, check_comparable, load_run
from suite.gate.verdict import GateResult, Verdict
from suite.metrics.contract import DIRECTIONS, direction_word
from suite.protocol.gate_criteria import Criterion, GateCriteriaError, GateSettings

__all__ = ["run_gate", "criteria_from_acceptance"]

#: Method labels that do not name a method under test: "" (no method of that stage) and the
#: recon label of the fully sampled reference images.
_METHOD_FREE = ("", "reference")


# ---------------------------------------------------------------------- helpers
def _norm_value(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, (int, float)):
        return repr(float(v))
    return str(v)


def _col_as_str(s: pd.Series) -> pd.Series:
    return s.map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v))
                 else _norm_value(v))


def _select(df: pd.DataFrame, crit: Criterion, keys) -> pd.DataFrame:
    sel = df[df["metric"] == crit.metric]
    if not {"stage", "attack", "budget"} & (set(crit.where) | set(crit.per)):
        sel = sel[sel["stage"] != "robustness"]  # attacked rows only when a criterion asks
    available = sorted(set(keys) | set(STRATA_COLUMNS))
    for col, key in [*((c, f"where.{c}") for c in crit.where),
                     *((c, f"per[{j}]") for j, c in enumerate(crit.per))]:
        if col not in sel.columns:  # e.g. a method stage these runs do not have
            raise GateCriteriaError("criteria", f"{crit.name}.{key}",
                                    f"names a column the runs lack; available: "
                                    f"{available}{near(col, available)}")
    for col, val in crit.where.items():
        sel = sel[_col_as_str(sel[col]) == _norm_value(val)]
    return whole_rows(sel, [*crit.where, *crit.per])  # no `segment`: the region rows


def _direction(rows: pd.DataFrame, crit: Criterion) -> str:
    """"higher", "lower" or "closer" (:func:`suite.metrics.contract.direction_word`) of the
    one direction the selected rows carry."""
    dirs = {str(d) for d in rows["direction"].dropna().unique() if str(d)}
    if len(dirs) != 1:
        raise GateCriteriaError("criteria", crit.name,
                                f"selects rows with directions {sorted(dirs) or 'none'}; a "
                                "criterion must select one metric with one direction")
    d = dirs.pop()
    try:
        word = direction_word(d)
    except ValueError:
        raise GateCriteriaError("criteria", crit.name, f"metric direction {d!r} is not one of "
                                f"{list(DIRECTIONS)}") from None
    if word == "none":
        raise GateCriteriaError("criteria", crit.name, f"{crit.metric!r} is descriptive "
                                f"({d!r}); a criterion needs a metric with a direction")
    return word


def _one_row_per_case(rows: pd.DataFrame, crit: Criterion, who: str, keys) -> pd.DataFrame:
    dup = rows["case_id"].duplicated(keep=False)
    if dup.any():
        d = rows[dup]
        varying = [c for c in keys if c in d.columns
                   and (d.groupby("case_id")[c].nunique() > 1).any()]
        detail = "; ".join(f"`{c}` takes {sorted(d[c].astype(str).unique())[:6]}"
                           for c in varying) or "duplicate rows"
        raise GateCriteriaError(
            "criteria", crit.name,
            f"selects several {who} rows per case for metric {crit.metric!r} ({detail}); add "
            "these columns to `where` (one value) or to `per` (one verdict per value)")
    return rows.set_index("case_id")


def _strata(crit: Criterion, cand: pd.DataFrame, base: pd.DataFrame):
    out = []
    if crit.overall or not crit.per:
        out.append(({}, None))
    if crit.per:
        both = pd.concat([cand[list(crit.per)], base[list(crit.per)]]).astype(str)
        for key in sorted(set(map(tuple, both.to_numpy().tolist()))):
            out.append((dict(zip(crit.per, key)), key))
    return out


def _in_stratum(df: pd.DataFrame, crit: Criterion, key) -> pd.DataFrame:
    if key is None:
        return df
    mask = np.ones(len(df), bool)
    for col, val in zip(crit.per, key):
        mask &= (df[col].astype(str) == val).to_numpy()
    return df[mask]


# ---------------------------------------------------------------------- entry point
def criteria_from_acceptance(protocol: dict) -> list[Criterion]:
    """The protocol's ``acceptance`` entries as floor criteria on the candidate (every column
    key of an entry — stage, condition, structure, phase, segment, convention, profile, any
    method stage — becomes a ``where`` filter)."""
    out = []
    for i, acc in enumerate(protocol.get("acceptance") or []):
        where = {k: v for k, v in acc.items() if k not in ("metric", "statistic", "min", "max")}
        params = {b: float(acc[b]) for b in ("min", "max") if b in acc}
        params |= {"statistic": acc.get("statistic", "mean"), "use": "estimate"}
        out.append(Criterion(name=f"acceptance-{i}-{acc['metric']}", metric=acc["metric"],
                             kind="floor", params=params, where=where))
    return out


def _check_stages(mapping: dict, run: RunData, who: str) -> None:
    for stage in mapping:
        if stage not in run.method_stages:
            check_option(stage, run.method_stages, name="method stage",
                         where=f"method mapping: the {who} run {run.path}")


def _apply_mapping(base: pd.DataFrame, cand_map: dict, base_map: dict) -> tuple[pd.DataFrame, dict]:
    if set(cand_map) != set(base_map):
        raise ValueError("method mapping: give --candidate-method and --baseline-method for the "
                         f"same stages; got candidate {cand_map or '{}'} and baseline "
                         f"{base_map or '{}'} (e.g. --candidate-method recon=my-net "
                         "--baseline-method recon=cg-sense)")
    mapping = {}
    base = base.copy()
    for stage, c_label in cand_map.items():
        b_label = base_map[stage]
        if not (base[stage] == b_label).any():
            raise ValueError(f"method mapping: the baseline run has no {stage} method "
                             f"{b_label!r}; it has {sorted(set(base[stage]) - {''})}")
        base = base[base[stage].isin([b_label, *_METHOD_FREE])].copy()
        base.loc[base[stage] == b_label, stage] = c_label
        mapping[stage] = (b_label, c_label)
    return base, mapping


def _keep_mapped(cand: pd.DataFrame, cand_map: dict) -> pd.DataFrame:
    for stage, label in cand_map.items():
        if not (cand[stage] == label).any():
            raise ValueError(f"method mapping: the candidate run has no {stage} method {label!r}; "
                             f"it has {sorted(set(cand[stage]) - {''})}")
        cand = cand[cand[stage].isin([label, *_METHOD_FREE])]
    return cand


def run_gate(candidate, baseline, criteria: list[Criterion] | None = None, *,
             settings: GateSettings | None = None, candidate_method: dict | None = None,
             baseline_method: dict | None = None) -> GateResult:
    """Compare a candidate run with a baseline run.

    Parameters
    ----------
    candidate, baseline : path or RunData
        Run folders (``cmrsuite run --out``) or loaded runs.
    criteria : list of Criterion, optional
        From :func:`suite.gate.load_criteria`; default: the baseline protocol's ``acceptance``
        entries as floors on the candidate.
    settings : GateSettings, optional
    candidate_method, baseline_method : dict, optional
        ``{stage: label}`` for any method stage of the runs (``recon``, ``segmentation``, a
        plugin stage, ...); override ``settings``.

    Returns
    -------
    GateResult

    Raises
    ------
    GateNotComparable
        Different evaluation plans or cases missing from either run (exit code 2).
    GateCriteriaError
        A criterion that is ambiguous on these runs (exit code 2).
    ValueError
        A method mapping that names a stage the runs lack (with the nearest stage) or a label
        a run lacks.
    """
    settings = settings or GateSettings()
    cand = candidate if isinstance(candidate, RunData) else load_run(candidate)
    base = baseline if isinstance(baseline, RunData) else load_run(baseline)
    basis = check_comparable(cand, base)
    if criteria is None:
        criteria = criteria_from_acceptance(base.protocol)
        if not criteria:
            raise ValueError(f"no criteria: the baseline protocol {base.protocol.get('name')!r} "
                             "has no `acceptance` entries; give --criteria FILE.yaml "
                             "(docs/gate.md)")
    cmap = dict(settings.candidate_method) | dict(candidate_method or {})
    bmap = dict(settings.baseline_method) | dict(baseline_method or {})
    _check_stages(cmap, cand, "candidate")
    _check_stages(bmap, base, "baseline")
    keys = tuple(dict.fromkeys([*cand.key_columns, *base.key_columns]))
    base_res, mapping = _apply_mapping(base.results, cmap, bmap)
    cand_res = _keep_mapped(cand.results, cmap)
    verdicts: list[Verdict] = []
    for crit in criteria:
        c_sel, b_sel = _select(cand_res, crit, keys), _select(base_res, crit, keys)
        if c_sel.empty and b_sel.empty:
            raise GateCriteriaError(
                "criteria", crit.name,
                f"selects no rows in either run (metric {crit.metric!r}, where {crit.where}); "
                f"metrics in the runs: {sorted(set(cand_res['metric']))[:30]}")
        direction = _direction(pd.concat([c_sel, b_sel]), crit)
        for stratum, key in _strata(crit, c_sel, b_sel):
            c_rows = _one_row_per_case(_in_stratum(c_sel, crit, key), crit, "candidate", keys)
            b_rows = _one_row_per_case(_in_stratum(b_sel, crit, key), crit, "baseline", keys)
            if crit.kind == "floor":
                verdicts += evaluate_floor(crit, stratum, c_rows, direction, settings)
            elif crit.kind == "noninferiority":
                verdicts += evaluate_noninferiority(crit, stratum, c_rows, b_rows, direction,
                                                    settings)
            else:
                verdicts += evaluate_agreement(crit, stratum, c_rows, b_rows, direction,
                                               settings)
    return GateResult(candidate=str(cand.path), baseline=str(base.path), basis=basis,
                      candidate_protocol_sha256=cand.protocol_sha256,
                      baseline_protocol_sha256=base.protocol_sha256,
                      evaluation_sha256=base.evaluation_sha256, method_mapping=mapping,
                      settings=settings, criteria=list(criteria), verdicts=verdicts,
                      created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))

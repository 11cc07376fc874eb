"""Runs as the gate reads them (from :class:`suite.store.RunView`, the one reader of a run
folder) and whether two runs are comparable.

Comparability (exit code 2 of ``cmrsuite gate`` when it fails)
----------------------------------------------------------------
A candidate and a baseline usually differ in the method under test, so their protocol hashes
differ. Two runs are comparable when their **evaluation plans** are identical: the SHA-256 of
the canonical JSON of the protocol keys that decide *what is measured on which data* —
``datasets``, ``conditions``, ``metrics``, ``seed`` and (when present) ``robustness``,
``pipeline`` (the stages each dataset runs, in order) and ``stages`` (the plugin stages, which
decide what those stages compute) — which excludes ``methods`` (what is under test),
``acceptance``, ``analyses`` (how a report summarises), ``name``, ``description``,
``version``, ``plugin_paths`` and ``failure_tolerance``. Runs made by one protocol (same full
hash) are comparable trivially; runs of different pipelines are not.

On top of the plan, both runs must hold the same cases: a case (``case_id``) present in one
run's ``cases`` table and absent from the other is reported by name, and so is a case whose
rows a criterion needs in one run but not in the other (a job that failed).

Method mapping: rows are paired by case within the rows a criterion selects. When the method
under test has a different label in the two runs (``candidate_method={"recon": "my-net"}``,
``baseline_method={"recon": "cg-sense"}``; any method stage of the runs, e.g. a plugin stage
``{"toy": "frame-means"}``), only that method's rows take part (plus rows that belong to no
method of that stage: the fully sampled ``reference`` images and their segmentations), and the
baseline's label is renamed to the candidate's, so criteria name methods by their *candidate*
label. Without a mapping, rows pair on equal method labels.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from suite.analysis.summary import subject_keys
from suite.store import RunView

__all__ = ["RunData", "load_run", "key_columns", "evaluation_plan", "evaluation_hash",
           "GateNotComparable", "check_comparable", "EVALUATION_KEYS"]

#: Protocol keys that define the evaluation plan (see the module docstring).
EVALUATION_KEYS = ("datasets", "conditions", "metrics", "seed", "robustness", "pipeline",
                   "stages")


def key_columns(method_stages) -> tuple[str, ...]:
    """Result columns that identify one measurement of one case: the run's grouping columns
    (:func:`suite.store.group_columns`, with one column per method stage of the run) and
    ``budget``."""
    from suite.store import group_columns

    return (*group_columns(method_stages), "budget")


class GateNotComparable(ValueError):
    """The candidate and baseline runs cannot be compared; ``reasons`` lists why."""

    def __init__(self, reasons: list[str]):
        self.reasons = list(reasons)
        super().__init__("runs are not comparable: " + "; ".join(self.reasons))


@dataclass(frozen=True)
class RunData:
    """A run as the gate compares it, made from its :class:`~suite.store.RunView`.

    Attributes
    ----------
    view : RunView
        The run (the one reader of a run folder).
    results : pandas.DataFrame
        ``view.results`` with ``subject`` as ``dataset/subject`` (the resampling cluster: the
        same subject id in two datasets is two people) and the :attr:`key_columns` as strings
        (``""`` where not applicable; ``budget`` as ``repr(float)``). ``exclusion`` says which
        rows are undefined for the gate (missing, a sentinel, implausible).
    failed_jobs : tuple of dict
        Jobs whose status is ``failed`` (job, case, condition, method of each stage, error,
        message).
    """

    view: RunView
    results: pd.DataFrame
    failed_jobs: tuple = ()

    @property
    def path(self) -> Path:
        """The folder holding ``results.sqlite``."""
        return self.view.run_dir

    @property
    def protocol(self) -> dict:
        """The canonical protocol the run executed."""
        return self.view.protocol

    @property
    def protocol_sha256(self) -> str:
        return self.view.protocol_sha256

    @property
    def cases(self) -> pd.DataFrame:
        """The ``cases`` table (without the meta/truth JSON)."""
        return self.view.cases.drop(columns=["meta", "truth"], errors="ignore")

    @property
    def method_stages(self) -> list[str]:
        """The run's method columns (``recon``, ``segmentation`` and any other stage)."""
        return list(self.view.method_stages)

    @property
    def key_columns(self) -> tuple[str, ...]:
        """:func:`key_columns` of this run's method stages."""
        return key_columns(self.view.method_stages)

    @property
    def evaluation_sha256(self) -> str:
        return evaluation_hash(self.protocol)


def evaluation_plan(protocol: dict) -> dict:
    """The part of a protocol that decides what is measured (:data:`EVALUATION_KEYS`)."""
    return {k: protocol[k] for k in EVALUATION_KEYS if k in protocol}


def evaluation_hash(protocol: dict) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces) of :func:`evaluation_plan`."""
    text = json.dumps(evaluation_plan(protocol), sort_keys=True, separators=(",", ":"),
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _as_key(v) -> str:
    return v if isinstance(v, str) else repr(float(v))


def load_run(run) -> RunData:
    """A run folder (or an open :class:`~suite.store.RunView`) as the gate reads it.

    Raises
    ------
    FileNotFoundError
        No run folder / no ``results.sqlite``.
    ValueError
        The run does not record the protocol it executed (no ``protocol.json``, no manifest),
        so its evaluation plan is unknown; or the folder holds several runs.
    """
    view = run if isinstance(run, RunView) else RunView(run)
    if not view.protocol or not view.protocol_sha256:
        raise ValueError(f"{view.run_dir}: no protocol.json, so the evaluation plan of this run "
                         "is unknown; the gate compares folders written by `cmrsuite run`")
    res = view.results.copy()
    res["subject"] = subject_keys(res)
    for col in key_columns(view.method_stages):
        if col not in res.columns:
            res[col] = ""
        res[col] = res[col].astype(object).where(res[col].notna(), "").map(_as_key)
    res.attrs["method_stages"] = list(view.method_stages)
    jobs = view.jobs
    cols = [c for c in ("job_id", "case_id", "condition", *view.method_stages, "error",
                        "message") if c in jobs.columns]
    failed = tuple(jobs.loc[jobs["status"] == "failed", cols].to_dict(orient="records"))
    return RunData(view=view, results=res, failed_jobs=failed)


def _diff_keys(a: dict, b: dict) -> list[str]:
    keys = sorted(set(evaluation_plan(a)) | set(evaluation_plan(b)))
    return [k for k in keys if json.dumps(a.get(k), sort_keys=True, default=str)
            != json.dumps(b.get(k), sort_keys=True, default=str)]


def check_comparable(candidate: RunData, baseline: RunData) -> str:
    """Return the basis of comparability (``"same protocol"`` or ``"same evaluation plan"``).

    Raises
    ------
    GateNotComparable
        Different evaluation plans (the differing protocol keys are named) or cases present in
        one run only (named, up to 10 each).
    """
    reasons = []
    if candidate.protocol_sha256 == baseline.protocol_sha256:
        basis = "same protocol"
    elif candidate.evaluation_sha256 == baseline.evaluation_sha256:
        basis = "same evaluation plan"
    else:
        diff = _diff_keys(candidate.protocol, baseline.protocol)
        reasons.append(
            f"different evaluation plans: candidate {candidate.path} was made by protocol "
            f"{candidate.protocol.get('name')!r} (sha256 {candidate.protocol_sha256[:12]}), "
            f"baseline {baseline.path} by {baseline.protocol.get('name')!r} "
            f"(sha256 {baseline.protocol_sha256[:12]}), and they differ in "
            f"{', '.join(f'`{k}`' for k in diff)}; run both with one protocol (only `methods` "
            "may differ)")
        basis = ""
    c_cases, b_cases = set(candidate.cases["case_id"]), set(baseline.cases["case_id"])
    for who, only in (("candidate", c_cases - b_cases), ("baseline", b_cases - c_cases)):
        if only:
            names = sorted(only)
            reasons.append(f"{len(names)} case(s) only in the {who} run: "
                           f"{', '.join(names[:10])}{' …' if len(names) > 10 else ''}")
    if reasons:
        raise GateNotComparable(reasons)
    return basis

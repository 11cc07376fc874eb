"""Loading run folders for the gate and deciding whether two runs are comparable.

Comparability (exit code 2 of ``cmrsuite gate`` when it fails)
----------------------------------------------------------------
A candidate and a baseline usually differ in the method under test, so their protocol hashes
differ. Two runs are comparable when their **evaluation plans** are identical: the SHA-256 of
the canonical JSON of the protocol keys that decide *what is measured on which data* —
``datasets``, ``conditions``, ``metrics``, ``seed`` and (when present) ``robustness`` — which
excludes ``methods`` (what is under test), ``acceptance``, ``analyses`` (how a report
summarises), ``name``, ``description``, ``version``, ``plugin_paths`` and
``failure_tolerance``. Runs made by one protocol (same full hash) are comparable trivially.

On top of the plan, both runs must hold the same cases: a case (``case_id``) present in one
run's ``cases`` table and absent from the other is reported by name, and so is a case whose
rows a criterion needs in one run but not in the other (a job that failed).

Method mapping: rows are paired by case within the rows a criterion selects. When the method
under test has a different label in the two runs (``candidate_method={"recon": "my-net"}``,
``baseline_method={"recon": "cg-sense"}``), only that method's rows take part (plus rows that
belong to no method of that stage: the fully sampled ``reference`` images and their
segmentations), and the baseline's label is renamed to the candidate's, so criteria name
methods by their *candidate* label. Without a mapping, rows pair on equal method labels.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

__all__ = ["RunData", "load_run", "resolve_run_dir", "evaluation_plan", "evaluation_hash",
           "GateNotComparable", "check_comparable", "EVALUATION_KEYS", "KEY_COLUMNS"]

#: Protocol keys that define the evaluation plan (see the module docstring).
EVALUATION_KEYS = ("datasets", "conditions", "metrics", "seed", "robustness")
#: Result columns that identify one measurement of one case.
KEY_COLUMNS = ("condition", "recon", "segmentation", "stage", "metric", "structure", "phase",
               "profile", "attack", "budget")


class GateNotComparable(ValueError):
    """The candidate and baseline runs cannot be compared; ``reasons`` lists why."""

    def __init__(self, reasons: list[str]):
        self.reasons = list(reasons)
        super().__init__("runs are not comparable: " + "; ".join(self.reasons))


@dataclass
class RunData:
    """A run folder read for the gate.

    Attributes
    ----------
    path : Path
        The folder holding ``results.sqlite``.
    protocol : dict
        The canonical protocol (``protocol.json``'s ``protocol``).
    protocol_sha256 : str
    results : pandas.DataFrame
        One row per stored value joined with case strata (``suite.analysis.summary.load_results``);
        ``subject`` is ``dataset/subject`` (the resampling cluster).
    cases : pandas.DataFrame
        The ``cases`` table (without meta/truth JSON).
    failed_jobs : list of dict
        Jobs whose status is ``failed`` (case, condition, methods, error).
    """

    path: Path
    protocol: dict
    protocol_sha256: str
    results: pd.DataFrame
    cases: pd.DataFrame
    failed_jobs: list = field(default_factory=list)

    @property
    def evaluation_sha256(self) -> str:
        return evaluation_hash(self.protocol)


def resolve_run_dir(path) -> Path:
    """The folder holding ``results.sqlite``: ``path`` itself, or its only sub-folder that holds
    one (``cmrsuite demo --out DIR`` writes ``DIR/<protocol sha256[:12]>/``)."""
    p = Path(path)
    if (p / "results.sqlite").is_file():
        return p
    if not p.is_dir():
        raise FileNotFoundError(f"{p}: no such run folder; give the folder that `cmrsuite run "
                                "--out` wrote")
    subs = sorted(d for d in p.iterdir() if (d / "results.sqlite").is_file())
    if len(subs) == 1:
        return subs[0]
    if not subs:
        raise FileNotFoundError(f"{p}: holds no results.sqlite (nor does any sub-folder); is this "
                                "a run folder?")
    raise ValueError(f"{p}: holds {len(subs)} runs ({', '.join(d.name for d in subs)}); give one "
                     "of them")


def evaluation_plan(protocol: dict) -> dict:
    """The part of a protocol that decides what is measured (:data:`EVALUATION_KEYS`)."""
    return {k: protocol[k] for k in EVALUATION_KEYS if k in protocol}


def evaluation_hash(protocol: dict) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces) of :func:`evaluation_plan`."""
    text = json.dumps(evaluation_plan(protocol), sort_keys=True, separators=(",", ":"),
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def load_run(path) -> RunData:
    """Read a run folder (results, cases, failed jobs and the protocol it was made by).

    Raises
    ------
    FileNotFoundError
        No run folder / no ``results.sqlite``.
    ValueError
        The folder lacks ``protocol.json`` (not written by ``cmrsuite run``).
    """
    from suite.analysis.summary import load_results
    from suite.store import ResultStore

    run = resolve_run_dir(path)
    pj = run / "protocol.json"
    if not pj.is_file():
        raise ValueError(f"{run}: no protocol.json, so the evaluation plan of this run is unknown; "
                         "the gate compares folders written by `cmrsuite run`")
    meta = json.loads(pj.read_text())
    with ResultStore(run / "results.sqlite") as store:
        res = load_results(store)
        cases = store.frame("cases").drop(columns=["meta", "truth"], errors="ignore")
        failed = [dict(zip(("job_id", "case_id", "condition", "recon", "segmentation", "error",
                            "message"), r))
                  for r in store.query("SELECT job_id, case_id, condition, recon, segmentation, "
                                       "error, message FROM jobs WHERE status='failed' "
                                       "ORDER BY job_id")]
    # subjects are clusters within a dataset: the same subject id in two datasets is two people
    res["subject"] = res["dataset"].astype(str) + "/" + res["subject"].astype(str)
    for col in KEY_COLUMNS:
        if col not in res.columns:
            res[col] = ""
        res[col] = res[col].astype(object).where(res[col].notna(), "")
        res[col] = res[col].map(lambda v: v if isinstance(v, str) else repr(float(v)))
    return RunData(path=run, protocol=meta["protocol"], protocol_sha256=meta["sha256"],
                   results=res, cases=cases, failed_jobs=failed)


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

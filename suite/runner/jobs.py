"""Expanding a protocol into independent jobs, phase by phase, from each dataset's pipeline.

A dataset's pipeline is an ordered list of stages (:mod:`suite.stages`). Its method stages are
the run's phases, in pipeline order; derived stages are evaluated inside the job of the stage
they consume. For every case and condition the stage accepts, the expansion walks the pipeline
depth first: one job per (case, condition, method chain), e.g. for ``[recon, segmentation,
clinical]`` a ``recon`` job per reconstruction method, then a ``segmentation`` job per
(reconstruction, segmentation method), whose job also stores the clinical parameters. A job of
a later stage reads its upstream outputs from the content-addressed cache (recomputing them
if absent), so jobs inside a phase are independent of each other.

A dataset with ``split: slice`` (:meth:`suite.protocol.Protocol.split`) also gets, for every job
of the first method stage of its pipeline, one **slice job** per slice of the case
(:attr:`JobSpec.slice`): it runs the job's method on that slice of the conditioned case and
caches the slice's output. The runner runs a phase's slice jobs before its other jobs; the
case's own job then assembles the output from the cached slices (computing any that is
missing) and scores the whole case as before, so the values are those of an unsplit run for a
method that treats slices independently (``slice_separable = True``, e.g. every reference
reconstruction). A method that does not declare it runs on the whole case in the case's job;
its slice jobs store nothing.

With a ``robustness`` section, a last phase holds the stages' robustness experiments
(:meth:`suite.stages.Stage.expand_experiments`): attacks on reconstructions and segmentations,
small features, data crimes.

Job ids are SHA-256 hashes of the job's canonical description (phase, case, condition, the
method entry of each stage of the chain, the experiment; protocol hash excluded), so the same
job keeps its id across runs and resumes. The description names ``recon`` and
``segmentation`` always (``null`` when not in the chain) and other stages only when present,
so ids of runs made before other stages existed stay valid.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from suite.data.loader import KSPACE_FORMATS
from suite.protocol import method_label

__all__ = ["CaseRef", "JobSpec", "expand_jobs", "expand_robustness_jobs", "phases",
           "slice_counts"]


@dataclass(frozen=True)
class CaseRef:
    """Where a case comes from: a reader unit of a dataset."""

    dataset: str
    key: str  # unit path relative to the dataset root (stable across machines)
    path: str  # absolute path of the unit
    format: str
    reader_options: dict = field(default_factory=dict)
    files: tuple[str, ...] = ()
    tags: dict = field(default_factory=dict)  # what discovery knows (suite.data.loader.Unit)

    @property
    def case_id(self) -> str:
        return f"{self.dataset}/{self.key}"

    @property
    def has_kspace(self) -> bool:
        return self.format in KSPACE_FORMATS


@dataclass(frozen=True)
class JobSpec:
    """One independent unit of work (see the module docstring).

    Attributes
    ----------
    phase : str
        The stage whose method the job runs, or ``"robustness"``.
    case : CaseRef
    condition : dict
        The protocol's condition entry.
    methods : tuple of (stage, entry)
        The method chain in pipeline order, ending with the job's own stage (an entry may be
        ``None``, e.g. no segmentation for a reconstruction attack without a clinical curve).
    experiment : dict, optional
        The robustness experiment (``kind`` and its settings).
    audit : bool
        Run the data-crime audit on this job's case (one job per case).
    companions : tuple of (role, CaseRef)
        Other cases the derived stages of the job's stage read
        (:meth:`suite.stages.Stage.companions`), sorted by role.
    slice : int, optional
        A slice job of a ``split: slice`` dataset: the index of the slice it computes (module
        docstring); None for the case's job.
    """

    phase: str
    case: CaseRef
    condition: dict
    methods: tuple = ()
    experiment: dict | None = None
    audit: bool = False
    companions: tuple = ()
    slice: int | None = None

    @property
    def case_id(self) -> str:
        return self.case.case_id

    @property
    def condition_name(self) -> str:
        return self.condition["name"]

    def entry(self, stage: str) -> dict | None:
        """The chain's method entry of ``stage`` (None when absent)."""
        return dict(self.methods).get(stage)

    def labels(self) -> dict[str, str]:
        """Method label per stage of the chain (stages without an entry are left out)."""
        return {s: method_label(e) for s, e in self.methods if e is not None}

    @property
    def recon(self) -> dict | None:
        return self.entry("recon")

    @property
    def segmentation(self) -> dict | None:
        return self.entry("segmentation")

    @property
    def recon_label(self) -> str | None:
        return self.labels().get("recon")

    @property
    def seg_label(self) -> str | None:
        return self.labels().get("segmentation")

    def description(self) -> dict:
        """What the job id hashes (module docstring)."""
        desc = {"phase": self.phase, "case": self.case_id, "condition": self.condition,
                "recon": self.entry("recon"), "segmentation": self.entry("segmentation")}
        for stage, entry in self.methods:
            if stage not in desc:
                desc[stage] = entry
        if self.experiment is not None:  # absent otherwise: earlier job ids stay valid
            desc["robustness"] = self.experiment
        if self.companions:  # likewise
            desc["companions"] = {role: ref.case_id for role, ref in self.companions}
        if self.slice is not None:  # likewise
            desc["slice"] = self.slice
        return desc

    @property
    def job_id(self) -> str:
        payload = json.dumps(self.description(), sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:24]

    def to_dict(self) -> dict:
        case = _ref_dict(self.case)
        out = {"phase": self.phase, "case": case, "condition": self.condition,
               "methods": [[s, e] for s, e in self.methods], "robustness": self.experiment,
               "audit": self.audit}
        if self.companions:
            out["companions"] = [[role, _ref_dict(ref)] for role, ref in self.companions]
        if self.slice is not None:
            out["slice"] = self.slice
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "JobSpec":
        """A spec from :meth:`to_dict` (or from a store written before method chains: keys
        ``recon``/``segmentation``)."""
        case = _ref_of(d["case"])
        if "methods" in d:
            methods = tuple((s, e) for s, e in d["methods"])
        else:
            methods = (("recon", d.get("recon")),)
            if d.get("segmentation") is not None or d.get("phase") == "robustness":
                methods += (("segmentation", d.get("segmentation")),)
        return cls(phase=d["phase"], case=case, condition=d["condition"],
                   methods=methods, experiment=d.get("robustness"),
                   audit=bool(d.get("audit", False)),
                   companions=tuple((role, _ref_of(r)) for role, r in d.get("companions", ())),
                   slice=None if d.get("slice") is None else int(d["slice"]))


def _ref_dict(ref: CaseRef) -> dict:
    out = dict(ref.__dict__)
    out["files"] = list(ref.files)
    return out


def _ref_of(d: dict) -> CaseRef:
    case = dict(d)
    case["files"] = tuple(case.get("files", ()))
    return CaseRef(**case)


def phases(protocol) -> list[str]:
    """The run's phases: method stages in pipeline order, then ``robustness``."""
    return [*protocol.method_stages(), "robustness"]


def expand_jobs(protocol, case_refs: list[CaseRef],
                slice_counts: dict[str, int] | None = None) -> list[JobSpec]:
    """All jobs of the protocol for the given cases, in a deterministic order.

    ``slice_counts`` (case id → number of slices, :func:`slice_counts`) gives the slice jobs
    of the cases of ``split: slice`` datasets, listed before the job of the first method stage
    they belong to; a case missing from it (one that could not be read) gets none, so its own
    job runs the whole case and reports the reader's error."""
    stages = protocol.stages()
    slice_counts = slice_counts or {}
    metrics = protocol.raw.get("metrics") or {}
    jobs: list[JobSpec] = []
    for ref in case_refs:
        pipeline = [stages[n] for n in protocol.pipeline(ref.dataset)]
        method_stages = [s for s in pipeline if s.has_methods]
        first = [True]  # the first job of a case audits it (suite.data.audit)
        n_slices = (int(slice_counts.get(ref.case_id, 0))
                    if protocol.split(ref.dataset) == "slice" else 0)
        companions = {s.name: _companions(s, pipeline, metrics, ref, case_refs)
                      for s in method_stages}

        def walk(i: int, cond: dict, chain: tuple) -> None:
            if i == len(method_stages):
                return
            stage = method_stages[i]
            for entry in stage.method_entries(protocol.methods(stage.name, ref.dataset), ref,
                                               cond):
                link = chain + ((stage.name, entry),)
                if i == 0:
                    jobs.extend(JobSpec(stage.name, ref, cond, link, slice=s)
                                for s in range(n_slices))
                jobs.append(JobSpec(stage.name, ref, cond, link, audit=first[0],
                                    companions=companions[stage.name]))
                first[0] = False
                walk(i + 1, cond, link)

        for cond in protocol.conditions_of(ref.dataset):
            if method_stages and method_stages[0].accepts(ref, cond):
                walk(0, cond, ())
    jobs += expand_robustness_jobs(protocol, case_refs)
    return jobs


def slice_counts(protocol, case_refs: list[CaseRef], read_case) -> dict[str, int]:
    """Number of slices of each case of the ``split: slice`` datasets, read with
    ``read_case(ref) -> Case`` (the runner's reader: each such case is read once by the main
    process to plan its slice jobs). A case that cannot be read is left out (see
    :func:`expand_jobs`)."""
    counts = {}
    for ref in case_refs:
        if protocol.split(ref.dataset) == "slice":
            try:
                counts[ref.case_id] = read_case(ref).n_slices
            except Exception:  # noqa: BLE001 - the case's own job reports it
                continue
    return counts


def _companions(stage, pipeline, metrics, ref: CaseRef, case_refs) -> tuple:
    """``(role, CaseRef)`` pairs the derived stages consuming ``stage`` ask for on ``ref``
    (:meth:`suite.stages.Stage.companions`), among the cases of ``ref``'s dataset."""
    same = [r for r in case_refs if r.dataset == ref.dataset and r.key != ref.key]
    out: dict = {}
    for d in pipeline:
        if not d.has_methods and stage.name in d.consumes and d.enabled(metrics):
            out.update(d.companions(ref, same))
    return tuple(sorted(out.items()))


def expand_robustness_jobs(protocol, case_refs: list[CaseRef]) -> list[JobSpec]:
    """Jobs of the protocol's ``robustness`` section (schema: :mod:`suite.protocol.robustness`),
    each stage expanding its own experiments (:meth:`suite.stages.Stage.expand_experiments`)."""
    rob = protocol.raw.get("robustness") or {}
    if not rob:
        return []
    stages = protocol.stages()
    jobs: list[JobSpec] = []
    for ref in case_refs:
        if rob.get("datasets") and ref.dataset not in rob["datasets"]:
            continue
        pipeline = [stages[n] for n in protocol.pipeline(ref.dataset)]
        for i, stage in enumerate(pipeline):
            upstream = [s for s in pipeline[:i] if s.has_methods]
            for cond, chain, exp in stage.expand_experiments(rob, protocol, ref, upstream):
                jobs.append(JobSpec("robustness", ref, cond, tuple(chain), exp))
    # Longest first: executors start jobs in this order, so the long attacks do not end up
    # alone on one worker at the end of the phase (a stable sort; ids do not depend on it).
    return sorted(jobs, key=lambda j: EXPERIMENT_COST_ORDER.get(j.experiment["kind"],
                                                                len(EXPERIMENT_COST_ORDER)))


#: Robustness experiment kinds from the most to the least expensive job (measured on the
#: demo: a U-Net attack ≈ 2× a reconstruction attack ≈ 5-10× a data crime; docs/performance.md).
EXPERIMENT_COST_ORDER = {"seg-attack": 0, "recon-attack": 1, "input-attack": 2,
                         "features": 3, "crime": 4}

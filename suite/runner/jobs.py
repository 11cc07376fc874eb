"""Expanding a protocol into independent jobs.

A run has two phases, three with a ``robustness`` section; jobs inside a phase are
independent of each other:

* ``recon``: one job per (case, condition, reconstruction method). It applies the condition
  (sampling mask, noise), reconstructs, caches the images and scores them (image-quality and
  temporal metrics against the fully sampled reference).
* ``segmentation``: one job per (case, condition, reconstruction, segmentation method). It takes
  the reconstruction (from the cache, recomputing it if absent), segments it and scores labels
  and clinical parameters.

* ``robustness`` (only when the protocol has a ``robustness`` section): one job per (case,
  condition, method, experiment), the experiment being an adversarial attack on a
  reconstruction (one domain, every budget), an attack on a segmentation (every attack and
  budget), small-feature insertion, or a data crime (:func:`expand_robustness_jobs`).

For a ``fully-sampled`` condition the reconstruction is the built-in ``reference`` (RSS of the
fully sampled k-space); image-only datasets (ACDC, M&Ms, DICOM, NIfTI) have the pseudo method
``images`` and only fully-sampled conditions. Job ids are SHA-256 hashes of the job's canonical
description (protocol hash excluded), so the same job keeps its id across runs and resumes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

__all__ = ["CaseRef", "JobSpec", "expand_jobs", "expand_robustness_jobs", "method_label", "KSPACE_FORMATS",
           "REFERENCE_RECON", "IMAGES_RECON"]

#: Reader formats whose Cases carry k-space (the others carry images).
KSPACE_FORMATS = ("ismrmrd", "phantom", "fastmri", "cmrxrecon")
REFERENCE_RECON = "reference"
IMAGES_RECON = "images"


@dataclass(frozen=True)
class CaseRef:
    """Where a case comes from: a reader unit of a dataset."""

    dataset: str
    key: str  # unit path relative to the dataset root (stable across machines)
    path: str  # absolute path of the unit
    format: str
    reader_options: dict = field(default_factory=dict)
    files: tuple[str, ...] = ()

    @property
    def case_id(self) -> str:
        return f"{self.dataset}/{self.key}"

    @property
    def has_kspace(self) -> bool:
        return self.format in KSPACE_FORMATS


@dataclass(frozen=True)
class JobSpec:
    """One independent unit of work (see the module docstring)."""

    phase: str
    case: CaseRef
    condition: dict
    recon: dict  # method entry (normalised) or {"name": "reference"/"images"}
    segmentation: dict | None = None
    robustness: dict | None = None  # the experiment of a robustness job
    audit: bool = False  # run the data-crime audit on this job's case (one job per case)

    @property
    def case_id(self) -> str:
        return self.case.case_id

    @property
    def condition_name(self) -> str:
        return self.condition["name"]

    @property
    def recon_label(self) -> str:
        return method_label(self.recon)

    @property
    def seg_label(self) -> str | None:
        return None if self.segmentation is None else method_label(self.segmentation)

    @property
    def job_id(self) -> str:
        desc = {"phase": self.phase, "case": self.case_id, "condition": self.condition,
                "recon": self.recon, "segmentation": self.segmentation}
        if self.robustness is not None:  # absent otherwise: earlier job ids stay valid
            desc["robustness"] = self.robustness
        payload = json.dumps(desc, sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()[:24]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["case"]["files"] = list(self.case.files)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "JobSpec":
        case = dict(d["case"])
        case["files"] = tuple(case.get("files", ()))
        return cls(phase=d["phase"], case=CaseRef(**case), condition=d["condition"],
                   recon=d["recon"], segmentation=d.get("segmentation"),
                   robustness=d.get("robustness"), audit=bool(d.get("audit", False)))


def method_label(entry: dict) -> str:
    """A short, stable label: ``label`` if given, else the name / plugin / entry point /
    predictions folder name."""
    if entry.get("label"):
        return entry["label"]
    for key in ("name", "plugin", "entry_point"):
        if key in entry:
            return str(entry[key])
    if "predictions" in entry:
        return "predictions:" + str(entry["predictions"]).rstrip("/").split("/")[-1]
    return "unknown"


def expand_jobs(protocol, case_refs: list[CaseRef]) -> list[JobSpec]:
    """All jobs of the protocol for the given cases, in a deterministic order."""
    recon_methods = protocol.methods("recon")
    seg_methods = protocol.methods("segmentation")
    jobs: list[JobSpec] = []
    for ref in case_refs:
        first = True  # the first recon job of a case audits it (suite.data.audit)
        for cond in protocol.conditions:
            if ref.has_kspace:  # as-acquired, undersample, noise: every recon method
                recons = ([{"name": REFERENCE_RECON, "params": {}}]
                          if cond["type"] == "fully-sampled" else recon_methods)
            else:
                if cond["type"] != "fully-sampled":
                    continue  # undersampling needs k-space
                recons = [{"name": IMAGES_RECON, "params": {}}]
            for rec in recons:
                jobs.append(JobSpec("recon", ref, cond, rec, audit=first))
                first = False
                for seg in seg_methods:
                    jobs.append(JobSpec("segmentation", ref, cond, rec, seg))
    jobs += expand_robustness_jobs(protocol, case_refs)
    return jobs


def expand_robustness_jobs(protocol, case_refs: list[CaseRef]) -> list[JobSpec]:
    """Jobs of the protocol's ``robustness`` section (schema: :mod:`suite.robustness.protocol`).

    Reconstruction experiments (attacks, features, crimes) need k-space, so image-only cases get
    only segmentation attacks (on their images).
    """
    rob = protocol.raw.get("robustness") or {}
    if not rob:
        return []
    recon_methods = protocol.methods("recon")
    seg_methods = protocol.methods("segmentation")
    conditions = protocol.conditions

    def pick(methods, names):
        return [m for m in methods if names is None or method_label(m) in names]

    def conds(section, types):
        names = section.get("conditions")
        return [c for c in conditions if c["type"] in types and (names is None or c["name"] in names)]

    experiments: list[tuple[dict, dict, dict | None, dict]] = []  # (condition, recon, seg, exp)
    adv = rob.get("adversarial") or {}
    if adv.get("recon"):
        sec = adv["recon"]
        seg_name = sec.get("segmentation", method_label(seg_methods[0]) if seg_methods else None)
        seg_entry = next((m for m in seg_methods if method_label(m) == seg_name), None)
        for cond in conds(sec, ("as-acquired", "undersample", "noise")):
            for rec in pick(recon_methods, sec.get("methods")):
                for domain in sec.get("domains") or ["kspace"]:
                    experiments.append((cond, rec, seg_entry, {
                        "kind": "recon-attack", "domain": domain,
                        "budgets": [float(b) for b in sec["budgets"]],
                        "steps": int(sec.get("steps", 10))}))
    feat = rob.get("features")
    if feat:
        for cond in conds(feat, ("undersample", "noise")):
            for rec in pick(recon_methods, feat.get("methods")):
                experiments.append((cond, rec, None, {
                    "kind": "features", "contrasts": [float(c) for c in feat.get("contrasts", [0.3])],
                    "n_features": int(feat.get("n_features", 3)),
                    "radius_px": float(feat.get("radius_px", 1.5))}))
    crimes = rob.get("crimes")
    if crimes:
        from suite.robustness.protocol import CRIMES

        for cond in conds(crimes, ("undersample",)):
            for rec in pick(recon_methods, crimes.get("methods")):
                for crime in crimes.get("crimes") or list(CRIMES):
                    experiments.append((cond, rec, None, {"kind": "crime", "crime": crime}))
    jobs: list[JobSpec] = []
    for ref in case_refs:
        if rob.get("datasets") and ref.dataset not in rob["datasets"]:
            continue
        if ref.has_kspace:
            for cond, rec, seg, exp in experiments:
                jobs.append(JobSpec("robustness", ref, cond, rec, seg, exp))
        if adv.get("segmentation"):
            sec = adv["segmentation"]
            attack_conds = conds(sec, ("fully-sampled", "as-acquired", "undersample", "noise")) \
                if sec.get("conditions") else [c for c in conditions if c["type"] == "fully-sampled"]
            for cond in attack_conds:
                if not ref.has_kspace and cond["type"] != "fully-sampled":
                    continue
                if cond["type"] == "fully-sampled":
                    recs = [{"name": REFERENCE_RECON if ref.has_kspace else IMAGES_RECON,
                             "params": {}}]
                else:
                    recs = recon_methods
                for rec in recs:
                    for seg in pick(seg_methods, sec.get("methods")):
                        jobs.append(JobSpec("robustness", ref, cond, rec, seg, {
                            "kind": "seg-attack",
                            "attacks": list(sec.get("attacks") or ["fgsm", "pgd"]),
                            "budgets": [float(b) for b in sec.get("budgets") or []],
                            "l2_budgets": [float(b) for b in sec.get("l2_budgets") or []],
                            "steps": int(sec.get("steps", 10))}))
    return jobs

"""Expanding a protocol into independent jobs.

A run has two phases; jobs inside a phase are independent of each other:

* ``recon``: one job per (case, condition, reconstruction method). It applies the condition
  (sampling mask, noise), reconstructs, caches the images and scores them (image-quality and
  temporal metrics against the fully sampled reference).
* ``segmentation``: one job per (case, condition, reconstruction, segmentation method). It takes
  the reconstruction (from the cache, recomputing it if absent), segments it and scores labels
  and clinical parameters.

For a ``fully-sampled`` condition the reconstruction is the built-in ``reference`` (RSS of the
fully sampled k-space); image-only datasets (ACDC, M&Ms, DICOM, NIfTI) have the pseudo method
``images`` and only fully-sampled conditions. Job ids are SHA-256 hashes of the job's canonical
description (protocol hash excluded), so the same job keeps its id across runs and resumes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

__all__ = ["CaseRef", "JobSpec", "expand_jobs", "method_label", "KSPACE_FORMATS",
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
        payload = json.dumps({"phase": self.phase, "case": self.case_id,
                              "condition": self.condition, "recon": self.recon,
                              "segmentation": self.segmentation}, sort_keys=True, default=str)
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
                   recon=d["recon"], segmentation=d.get("segmentation"))


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
        for cond in protocol.conditions:
            if ref.has_kspace:
                recons = ([{"name": REFERENCE_RECON, "params": {}}]
                          if cond["type"] == "fully-sampled" else recon_methods)
            else:
                if cond["type"] != "fully-sampled":
                    continue  # undersampling needs k-space
                recons = [{"name": IMAGES_RECON, "params": {}}]
            for rec in recons:
                jobs.append(JobSpec("recon", ref, cond, rec))
                for seg in seg_methods:
                    jobs.append(JobSpec("segmentation", ref, cond, rec, seg))
    return jobs

"""Example cases for the reports: which case to show per method, and its stored images.

For the highest-acceleration condition and each reconstruction method, the case with the
median SSIM under the first image profile (the lower middle for an even count) is chosen; its
reconstruction and the scoring reference are read from the run's content-addressed cache
(:meth:`suite.store.RunView.output`, checked against the SHA-256 the job recorded), so the
images shown are exactly those the metrics were computed on. Nothing is recomputed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from suite.analysis.agreement import acceleration_of
from suite.store import CacheError, RunView

__all__ = ["ExampleCase", "ExampleSet", "example_cases"]


@dataclass(frozen=True)
class ExampleCase:
    """One method's example: the case, its SSIM row and the two image stacks."""

    method: str
    condition: str
    case_id: str
    ssim: float
    profile: str
    job_id: str
    row_id: int
    cache_key: str
    cache_sha256: str
    images: np.ndarray = field(repr=False)
    reference: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class ExampleSet:
    """The examples of a run, and why a method has none (``problems``)."""

    condition: str | None
    profile: str
    cases: tuple = ()
    problems: tuple = ()
    reason: str = ""


def example_cases(view: RunView) -> ExampleSet:
    """The median-SSIM example case per reconstruction method (module docstring)."""
    r = view.results
    prof = view.image_profiles[0]
    ssim = r[(r["stage"] == "recon") & (r["metric"] == "ssim") & (r["profile"] == prof)
             & r["usable"] & (r["attack"] == "")]
    r_of = acceleration_of(r)
    if ssim.empty or not r_of:
        return ExampleSet(None, prof, reason="the run has no reconstruction of an undersampled "
                          "condition scored with SSIM")
    top = max(r_of, key=r_of.get)
    cases, problems = [], []
    for rec, g in ssim[ssim["condition"] == top].groupby("recon", sort=True):
        g = g.sort_values(["value", "case_id"])
        pick = g.iloc[(len(g) - 1) // 2]
        job = pick["job_id"]
        record = view.output_record(job, "recon")
        try:
            if record is None:
                raise KeyError("the job recorded no cached reconstruction")
            images = view.output(job, "recon")
            reference = view.output(job, "reference")
        except (KeyError, CacheError) as exc:
            problems.append(f"{rec}: {exc}")
            continue
        cases.append(ExampleCase(method=rec, condition=top, case_id=pick["case_id"],
                                 ssim=float(pick["value"]), profile=prof, job_id=job,
                                 row_id=int(pick["row_id"]), cache_key=record["cache_key"],
                                 cache_sha256=record["sha256"], images=images,
                                 reference=reference))
    return ExampleSet(top, prof, tuple(cases), tuple(problems),
                      "" if cases else "; ".join(problems))

"""Example cases for the reports: which case to show per method, and its stored images.

For the highest-acceleration condition and each reconstruction method, the case with the
median SSIM under the first image profile (the lower middle for an even count) is chosen; its
reconstruction and the scoring reference are read from the run's content-addressed cache
(:meth:`suite.store.RunView.output`, checked against the SHA-256 the job recorded), so the
images shown are exactly those the metrics were computed on. Nothing is recomputed.

:func:`robustness_examples` picks, per attacked method, the robustness job with the largest
output deviation among the example files the robustness jobs saved
(:attr:`suite.store.RunView.examples`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from suite.analysis.agreement import acceleration_of
from suite.store import CacheError, RunView, cache_path

__all__ = ["ExampleCase", "ExampleSet", "example_cases", "RobustnessExample",
           "robustness_examples"]


@dataclass(frozen=True)
class ExampleCase:
    """One method's example: the case, its SSIM row, the cached reconstruction (key, SHA-256,
    file) and the two image stacks."""

    method: str
    condition: str
    case_id: str
    ssim: float
    profile: str
    job_id: str
    row_id: int
    cache_key: str
    cache_sha256: str
    cache_file: str
    images: np.ndarray = field(repr=False)
    reference: np.ndarray = field(repr=False)

    @property
    def error(self) -> np.ndarray:
        """``|images − reference|``, same shape ``(slice, frame, y, x)``."""
        return np.abs(self.images - self.reference)


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
                                 cache_sha256=record["sha256"],
                                 cache_file=str(cache_path(view.cache_dir, record["cache_key"])),
                                 images=images,
                                 reference=reference))
    return ExampleSet(top, prof, tuple(cases), tuple(problems),
                      "" if cases else "; ".join(problems))


@dataclass(frozen=True)
class RobustnessExample:
    """The worst-case perturbation example of one attacked method.

    Attributes
    ----------
    kind : {"recon", "seg"}
        Attacked stage.
    method : str
        The method's label (the job's ``recon`` or ``segmentation`` column).
    job_id : str
    deviation : float
        Output deviation the job recorded (the largest over the method's jobs).
    attack : str
        The perturbation (``kind`` field of the file).
    budget : float
        Its budget ε.
    arrays : tuple of (name, ndarray)
        2-D images in display order: ``reference, clean, adversarial, difference`` (= |adversarial
        − clean|) and, where saved, ``random`` for reconstructions; ``image, clean_labels,
        adversarial_labels`` and, where saved, ``reference_labels`` for segmentations.
    """

    kind: str
    method: str
    job_id: str
    deviation: float
    attack: str
    budget: float
    arrays: tuple = field(repr=False)


def robustness_examples(view: RunView) -> tuple:
    """The worst-case :class:`RobustnessExample` per (kind, method), sorted by kind and method."""
    files = view.examples
    if not files:
        return ()
    jobs = view.jobs.set_index("job_id")
    best: dict[tuple, tuple[float, object]] = {}
    for job_id, path in files.items():
        with np.load(path, allow_pickle=False) as z:
            dev = float(z["deviation"])
            kind = "recon" if "adversarial" in z.files else "seg"
        label = jobs.loc[job_id, "recon" if kind == "recon" else "segmentation"]
        key = (kind, str(label))
        if key not in best or dev > best[key][0]:
            best[key] = (dev, path)
    out = []
    for (kind, label), (dev, path) in sorted(best.items()):
        with np.load(path, allow_pickle=False) as z:
            if kind == "recon":
                arrays = [("reference", z["reference"]), ("clean", z["clean"]),
                          ("adversarial", z["adversarial"]),
                          ("difference", np.abs(z["adversarial"] - z["clean"]))]
                arrays += [("random", z["random"])] if "random" in z.files else []
            else:
                arrays = [("image", z["image"]), ("clean_labels", z["clean_labels"]),
                          ("adversarial_labels", z["adversarial_labels"])]
                arrays += ([("reference_labels", z["reference_labels"])]
                           if "reference_labels" in z.files else [])
            out.append(RobustnessExample(kind=kind, method=label, job_id=path.stem,
                                         deviation=dev, attack=str(z["kind"]),
                                         budget=float(z["budget"]), arrays=tuple(arrays)))
    return tuple(out)

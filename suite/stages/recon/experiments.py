"""Robustness experiments of the reconstruction stage.

``recon-attack``
    :func:`suite.robustness.attack_recon` (white-box projected gradient ascent, or random search
    for black-box methods) and :func:`suite.robustness.random_recon` (a Gaussian perturbation of
    the same norm) at every budget, computed together
    (:func:`suite.robustness.recon_perturbations`). Rows per (attack, budget), ``stage =
    "robustness"``: ``deviation`` (‖f(y+e) − f(y)‖ / ‖f(y)‖), ``norm_reached`` and the image
    metrics of the perturbed reconstruction (first image profile) against the fully sampled
    reference; with a segmentation method in the job's chain, the clinical parameters of the
    perturbed images (``stage = "robustness-clinical"``). Budget 0 rows (attack ``none``) are
    the clean output.
``features``
    :class:`suite.conditions.FeatureInsertion` into the fully sampled data, then the job's
    condition (same mask) and the reconstruction; rows of
    :func:`suite.robustness.feature_recovery` against the same method's output without
    features, ``budget`` = the feature contrast.
``crime``
    :class:`suite.conditions.DataCrime` on the fully sampled data, then the same condition
    (same mask: the generator is the condition's) and reconstruction, scored against the crimed
    reference (``attack = "crime:<name>"``), plus the audit flags of the crimed data
    (``audit_<flag>`` rows); the honest score is the ordinary recon job of the same case,
    condition and method, which the analysis pairs with it (score inflation).

A worst-case example (one slice at the ED frame, largest budget) of each attack is saved for
the report.
"""

from __future__ import annotations

import numpy as np

from suite.stages.base import ExperimentCall, example_index
from suite.stages.clinical.stage import clinical_robustness_rows
from suite.stages.recon.reference import image_profiles, reference_magnitude
from suite.stages.segmentation.scoring import segment

__all__ = ["recon_attack", "features", "crime"]


def _image_rows(reference, images, profile, attack, budget) -> list[dict]:
    from suite.metrics.image import image_rows

    rows = image_rows(reference, np.abs(images).astype(np.float64), profile=profile)
    return [{**r.to_dict(), "stage": "robustness", "attack": attack, "budget": budget}
            for r in rows]


def _perturbation_rows(res, metric: str) -> list[dict]:
    from suite.metrics.contract import metric_row
    from suite.metrics.robustness import PERTURBATION_METRICS  # noqa: F401  (declarations)

    profile = "white-box" if res.white_box else "black-box"
    return [{**metric_row(name, value, profile=profile).to_dict(), "stage": "robustness",
             "attack": res.kind, "budget": res.budget}
            for name, value in ((metric, res.deviation), ("norm_reached", res.norm_reached))]


def recon_attack(exp: ExperimentCall) -> list[dict]:
    from suite.robustness import recon_perturbations

    call, spec = exp.call, exp.experiment
    reference = reference_magnitude(call.condition.reference_case(call.case))
    if reference is None:
        raise ValueError(f"case {call.case.case_id!r} is not fully sampled: a reconstruction "
                         "attack needs the fully sampled reference to score against")
    method = call.resolve(call.entries["recon"], "recon")
    seg_entry = call.entries.get("segmentation")
    seg = call.resolve(seg_entry, "segmentation") if seg_entry else None
    if seg is not None and getattr(seg, "needs_case", False):
        seg = None  # a predictions folder cannot segment perturbed images
    adversarial, random = recon_perturbations(method, call.conditioned, spec["budgets"],
                                              steps=spec["steps"], domain=spec["domain"],
                                              seed=call.seed)
    profile = image_profiles(call.settings)[0]
    clean = call.cached()
    case = call.case
    rows = _image_rows(reference, clean, profile, "none", 0.0)
    if seg is not None:
        # the chain's cached segmentation of the clean output (ReconStage.chain_experiments)
        clean_labels = call.upstream.get("segmentation")
        if clean_labels is None:
            clean_labels = segment(seg, clean, case)
        rows += clinical_robustness_rows(case, clean_labels, "none", 0.0)
    for res in adversarial + random:
        rows += _perturbation_rows(res, "deviation")
        rows += _image_rows(reference, res.output, profile, res.kind, res.budget)
        if seg is not None:
            rows += clinical_robustness_rows(case, segment(seg, res.output, case), res.kind,
                                             res.budget)
    worst = max(adversarial, key=lambda r: (r.budget, r.deviation))
    rand = next((r for r in random if r.budget == worst.budget), None)
    s, f = example_index(case)
    exp.save_example(reference=reference[s, f], clean=np.abs(clean[s, f]),
                     adversarial=np.abs(worst.output[s, f]),
                     random=None if rand is None else np.abs(rand.output[s, f]),
                     budget=worst.budget, kind=worst.kind, deviation=worst.deviation)
    return rows


def features(exp: ExperimentCall) -> list[dict]:
    from suite.conditions import FeatureInsertion
    from suite.metrics.robustness import feature_rows
    from suite.robustness import feature_recovery

    call, spec = exp.call, exp.experiment
    method = call.resolve(call.entries["recon"], "recon")
    # the method's output without features on the same condition and mask (the job's cached
    # output): the baseline that removes the anatomy's aliasing from the contrast
    plain = call.cached()
    rows: list[dict] = []
    for contrast in spec["contrasts"]:
        insertion = FeatureInsertion("features", contrast=contrast,
                                     n_features=spec["n_features"],
                                     radius_px=spec["radius_px"], seed=call.seed)
        featured, info = insertion.apply(call.case, exp.rng_factory())
        conditioned, _ = call.condition.apply(featured, exp.rng_factory())
        recon = np.asarray(method(conditioned))
        rec = feature_recovery(recon, info["feature_set"], reference_without=plain)
        rows += [{**r.to_dict(), "stage": "robustness", "attack": "features",
                  "budget": contrast} for r in feature_rows(rec.to_dict()["mean"])]
    return rows


def crime(exp: ExperimentCall) -> list[dict]:
    from suite.conditions import DataCrime
    from suite.data.audit import audit_case
    from suite.metrics.contract import metric_row
    from suite.metrics.robustness import PERTURBATION_METRICS  # noqa: F401  (declarations)

    call, name = exp.call, exp.experiment["crime"]
    method = call.resolve(call.entries["recon"], "recon")
    crimed, _ = DataCrime(f"crime:{name}", name, seed=call.seed).apply(call.case,
                                                                       exp.rng_factory())
    reference = reference_magnitude(crimed)
    if reference is None:
        raise ValueError(f"commit_crime({name!r}) returned a case that is not fully sampled")
    conditioned, _ = call.condition.apply(crimed, exp.rng_factory())
    recon = np.asarray(method(conditioned))
    attack = f"crime:{name}"
    rows = _image_rows(reference, recon, image_profiles(call.settings)[0], attack, None)
    audit = audit_case(crimed)
    for flag, value in sorted(audit.flags.items()):
        rows.append({**metric_row(f"audit_{flag}", float(bool(value))).to_dict(),
                     "stage": "robustness", "attack": attack, "budget": None})
    return rows

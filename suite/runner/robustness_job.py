"""Executing one robustness job (the third phase of a run; :mod:`suite.robustness.protocol`).

A robustness job returns result rows with ``stage = "robustness"`` (except the clinical
parameters of perturbed outputs, which keep ``stage = "clinical"`` semantics under
``stage = "robustness-clinical"`` so they never mix with the unperturbed agreement tables),
each tagged with the perturbation ``attack`` and its ``budget``:

``recon-attack``
    :func:`suite.robustness.adversarial.attack_recon` (white-box projected gradient ascent, or
    random search for black-box methods) and :func:`~suite.robustness.adversarial.random_recon`
    (Gaussian perturbation of the same norm) at every budget. Rows per (attack, budget):
    ``deviation`` (‖f(y+e) − f(y)‖ / ‖f(y)‖), ``norm_reached``, and the image metrics
    (``ssim``, ``nmse``, ``psnr`` under the protocol's first image profile) of the perturbed
    reconstruction against the fully sampled reference; with a segmentation method, the
    clinical parameters of the perturbed images (``stage = "robustness-clinical"``,
    ``reference_value`` = the truth). Budget 0 rows (attack ``none``) are the clean output.
``seg-attack``
    :func:`~suite.robustness.adversarial.attack_segmentation` for each attack and
    :func:`~suite.robustness.adversarial.random_segmentation` (L∞ and L2) at every budget on
    the job's images (the reference, or a reconstruction). Rows: ``dice`` per structure and
    phase, ``label_change`` (fraction of pixels whose label changed), ``norm_reached``, and the
    clinical parameters of the perturbed labels.
``features``
    :func:`suite.robustness.features.insert_features` into the fully sampled data, then the
    condition and the reconstruction; rows from
    :func:`~suite.robustness.features.feature_recovery` against the same method's output
    without features (same mask), ``budget`` = the feature contrast.
``crime``
    :func:`suite.data.audit.commit_crime` on the fully sampled data, then the same condition
    (same mask: the generator is the condition's) and reconstruction, scored against the
    crimed reference (``attack = "crime:<name>"``); the honest score is the ordinary recon job
    of the same (case, condition, method), so the summary pairs them (score inflation). The
    audit of the crimed case is stored too (``audit_<flag>`` rows), showing whether the
    detector would have caught it.

A worst-case example (one slice at the ED frame, largest budget) of each attack job is saved
as ``RUN_DIR/robustness/<job_id>.npz`` for the report.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["run_robustness_job"]


def _resolve(entry, stage, ctx):
    from suite.runner.methods import resolve_method

    return resolve_method(entry, stage, base_dir=Path(ctx.protocol_base_dir),
                          plugin_paths=ctx.protocol_raw.get("plugin_paths"))


def _profile(ctx) -> str:
    return ((ctx.metrics.get("image") or {}).get("profiles") or ["fastmri"])[0]


def _image_metric_rows(base, reference, images, profile, attack, budget) -> list[dict]:
    from suite.metrics.image import score

    s = score(reference, np.abs(images).astype(np.float64), profile=profile)
    units = {"nmse": ("1", "lower is better"), "psnr": ("dB", "higher is better"),
             "ssim": ("1", "higher is better")}
    return [{**base, "stage": "robustness", "metric": m, "value": getattr(s, m), "unit": u,
             "direction": d, "profile": profile, "status": "ok", "attack": attack,
             "budget": budget} for m, (u, d) in units.items()]


def _clinical_rows(base, case, labels, attack, budget) -> list[dict]:
    from suite.runner.execute import _clinical_rows as clinical

    rows = clinical(base, case, labels)
    for r in rows:
        r.update(stage="robustness-clinical", attack=attack, budget=budget)
    return rows


def _segment(seg_method, images, case):
    labels = np.asarray(seg_method(np.abs(images).astype(np.float32), case.meta.pixel_spacing_mm))
    if labels.shape != case.image_shape or labels.dtype != np.uint8:
        raise ValueError(f"segmentation method returned {labels.dtype} {labels.shape}; expected "
                         f"uint8 {case.image_shape}")
    return labels


def _save_example(ctx, job_id, **arrays) -> None:
    if not getattr(ctx, "examples_dir", None):
        return
    out = Path(ctx.examples_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f"{job_id}.tmp{os.getpid()}.npz"
    np.savez_compressed(tmp, **{k: np.asarray(v) for k, v in arrays.items() if v is not None})
    os.replace(tmp, out / f"{job_id}.npz")


def _example_index(case) -> tuple[int, int]:
    s = case.n_slices // 2
    f = case.meta.ed_frame if case.meta.ed_frame is not None else 0
    return s, f


def _recon_attack(spec, ctx, case, conditioned, base, reference) -> list[dict]:
    from suite.robustness.recon_attacks import attack_recon, random_recon

    exp = spec.robustness
    method = _resolve(spec.recon, "recon", ctx)
    seg = _resolve(spec.segmentation, "segmentation", ctx) if spec.segmentation else None
    if seg is not None and getattr(seg, "needs_case", False):
        seg = None  # a predictions folder cannot segment perturbed images
    budgets = exp["budgets"]
    kw = {"domain": exp["domain"], "seed": ctx.seed}
    adversarial = attack_recon(method, conditioned, budgets, steps=exp["steps"], **kw)
    random = random_recon(method, conditioned, budgets, **kw)
    rows: list[dict] = []
    profile = _profile(ctx)
    from suite.runner.execute import reconstruct

    clean, _ = reconstruct(spec, ctx, case, conditioned)  # the recon phase's cached output
    rows += _image_metric_rows(base, reference, clean, profile, "none", 0.0)
    if seg is not None:
        rows += _clinical_rows(base, case, _segment(seg, clean, case), "none", 0.0)
    for res in adversarial + random:
        for metric, value in (("deviation", res.deviation), ("norm_reached", res.norm_reached)):
            rows.append({**base, "stage": "robustness", "metric": metric, "value": value,
                         "unit": "1", "direction": "lower is better" if metric == "deviation" else "",
                         "profile": "white-box" if res.white_box else "black-box",
                         "status": "ok", "attack": res.kind, "budget": res.budget})
        rows += _image_metric_rows(base, reference, res.output, profile, res.kind, res.budget)
        if seg is not None:
            rows += _clinical_rows(base, case, _segment(seg, res.output, case), res.kind,
                                   res.budget)
    worst = max(adversarial, key=lambda r: (r.budget, r.deviation))
    rand = next((r for r in random if r.budget == worst.budget), None)
    s, f = _example_index(case)
    _save_example(ctx, spec.job_id, reference=reference[s, f], clean=np.abs(clean[s, f]),
                  adversarial=np.abs(worst.output[s, f]),
                  random=None if rand is None else np.abs(rand.output[s, f]),
                  budget=worst.budget, kind=worst.kind, deviation=worst.deviation)
    return rows


def _seg_attack(spec, ctx, case, images, base) -> list[dict]:
    from suite.metrics.segmentation import evaluate
    from suite.robustness.seg_attacks import attack_segmentation, random_segmentation
    from suite.runner.execute import _spacing_3d

    exp = spec.robustness
    method = _resolve(spec.segmentation, "segmentation", ctx)
    if getattr(method, "needs_case", False):
        raise ValueError(f"segmentation method {spec.seg_label!r} is a predictions folder: it "
                         "cannot be evaluated on perturbed images; remove it from "
                         "robustness.adversarial.segmentation.methods")
    spacing = case.meta.pixel_spacing_mm
    images = np.asarray(images, np.float32)
    results = []
    for attack in exp["attacks"]:
        budgets = exp["l2_budgets"] if attack == "pgd-l2" else exp["budgets"]
        results += attack_segmentation(method, images, spacing, budgets, attack=attack,
                                       steps=exp["steps"], labels=case.labels, seed=ctx.seed)
    if exp["budgets"]:
        results += random_segmentation(method, images, spacing, exp["budgets"], norm="linf",
                                       seed=ctx.seed)
    if exp["l2_budgets"]:
        results += random_segmentation(method, images, spacing, exp["l2_budgets"], norm="l2",
                                       seed=ctx.seed)
    clean = _segment(method, images, case)
    seg_cfg = ctx.metrics.get("segmentation") if isinstance(ctx.metrics.get("segmentation"), dict) else {}
    rows: list[dict] = []

    def label_rows(labels, attack, budget):
        out = []
        if case.labels is not None:
            ev = evaluate(case.labels, labels, _spacing_3d(case), ed_frame=case.meta.ed_frame,
                          es_frame=case.meta.es_frame, tolerance_mm=seg_cfg.get("tolerance_mm", 2.0),
                          empty=seg_cfg.get("empty", "worst"),
                          annotated_frames=case.meta.annotated_frames)
            out += [{**base, "stage": "robustness", "metric": r["metric"],
                     "structure": r["structure"], "phase": r["phase"], "value": r["value"],
                     "unit": r["unit"], "direction": r["direction"], "profile": r.get("empty"),
                     "status": r["status"], "attack": attack, "budget": budget}
                    for r in ev.rows() if r["metric"] in ("dice", "hd95")]
        return out + _clinical_rows(base, case, labels, attack, budget)

    rows += label_rows(clean, "none", 0.0)
    for res in results:
        for metric, value in (("label_change", res.deviation), ("norm_reached", res.norm_reached)):
            rows.append({**base, "stage": "robustness", "metric": metric, "value": value,
                         "unit": "1", "direction": "lower is better" if metric == "label_change" else "",
                         "profile": "white-box" if res.white_box else "black-box", "status": "ok",
                         "attack": res.kind, "budget": res.budget})
        rows += label_rows(res.output, res.kind, res.budget)
    adversarial = [r for r in results if not r.kind.startswith("random")]
    if adversarial:
        worst = max(adversarial, key=lambda r: (r.budget if r.kind != "pgd-l2" else -1, r.deviation))
        s, f = _example_index(case)
        _save_example(ctx, spec.job_id, image=images[s, f], clean_labels=clean[s, f],
                      adversarial_labels=worst.output[s, f],
                      reference_labels=None if case.labels is None else case.labels[s, f],
                      budget=worst.budget, kind=worst.kind, deviation=worst.deviation)
    return rows


def _features(spec, ctx, case, base, rng_factory) -> list[dict]:
    from suite.robustness.features import feature_recovery, insert_features
    from suite.runner.execute import apply_condition

    from suite.runner.execute import reconstruct

    exp = spec.robustness
    method = _resolve(spec.recon, "recon", ctx)
    # the method's output without features on the same condition and mask (the recon phase's
    # cached output): the baseline that removes the anatomy's aliasing from the contrast
    plain, _ = reconstruct(spec, ctx, case, apply_condition(case, spec.condition, rng_factory())[0])
    rows: list[dict] = []
    for contrast in exp["contrasts"]:
        featured, feature_set = insert_features(case, n_features=exp["n_features"],
                                                radius_px=exp["radius_px"], contrast=contrast,
                                                seed=ctx.seed)
        conditioned, _ = apply_condition(featured, spec.condition, rng_factory())
        recon = np.asarray(method(conditioned))
        rec = feature_recovery(recon, feature_set, reference_without=plain)
        for metric, value in _scalar_items(rec.to_dict()):
            rows.append({**base, "stage": "robustness", "metric": metric, "value": value,
                         "unit": "1", "direction": _feature_direction(metric), "profile": None,
                         "status": "ok" if value is not None else "undefined",
                         "attack": "features", "budget": contrast})
    return rows


def _scalar_items(d: dict, prefix: str = ""):
    """Scalar summary values of a result's ``to_dict()`` (lists of per-item rows skipped)."""
    for key, value in d.items():
        if isinstance(value, bool):
            yield prefix + key, float(value)
        elif isinstance(value, (int, float)) or value is None:
            if value is None or np.isfinite(value):
                yield prefix + key, None if value is None else float(value)
        elif isinstance(value, dict) and key in ("mean", "summary", "means"):
            yield from _scalar_items(value, prefix)


def _feature_direction(metric: str) -> str:
    if "error" in metric or "nrmse" in metric:
        return "lower is better"
    if "detect" in metric or "contrast" in metric or "cnr" in metric:
        return "higher is better"
    return ""


def _crime(spec, ctx, case, base, rng_factory) -> list[dict]:
    from suite.data.audit import audit_case, commit_crime
    from suite.runner.execute import reference_magnitude, apply_condition

    crime = spec.robustness["crime"]
    method = _resolve(spec.recon, "recon", ctx)
    crimed = commit_crime(case, crime, seed=ctx.seed)
    reference = reference_magnitude(crimed)
    if reference is None:
        raise ValueError(f"commit_crime({crime!r}) returned a case that is not fully sampled")
    conditioned, _ = apply_condition(crimed, spec.condition, rng_factory())
    recon = np.asarray(method(conditioned))
    rows = _image_metric_rows(base, reference, recon, _profile(ctx), f"crime:{crime}", None)
    audit = audit_case(crimed)
    for flag, value in sorted(audit.flags.items()):
        rows.append({**base, "stage": "robustness", "metric": f"audit_{flag}",
                     "value": float(bool(value)), "unit": "1", "direction": "",
                     "profile": None, "status": "ok", "attack": f"crime:{crime}", "budget": None})
    return rows


def run_robustness_job(spec, ctx, case, base: dict) -> list[dict]:
    """Rows of one robustness job (see the module docstring). ``case`` is the clean Case."""
    from suite.runner.execute import (reference_magnitude, apply_condition, condition_rng,
                                      reconstruct)

    kind = spec.robustness["kind"]

    def rng_factory():
        return condition_rng(ctx.seed, spec.case_id, spec.condition_name)

    if kind == "features":
        return _features(spec, ctx, case, base, rng_factory)
    if kind == "crime":
        return _crime(spec, ctx, case, base, rng_factory)
    conditioned, _ = apply_condition(case, spec.condition, rng_factory())
    if kind == "recon-attack":
        reference = reference_magnitude(case)
        if reference is None:
            raise ValueError(f"case {spec.case_id!r} is not fully sampled: a reconstruction "
                             "attack needs the fully sampled reference to score against")
        return _recon_attack(spec, ctx, case, conditioned, base, reference)
    if kind == "seg-attack":
        images, _ = reconstruct(spec, ctx, case, conditioned)
        return _seg_attack(spec, ctx, case, images, base)
    raise ValueError(f"unknown robustness experiment {kind!r}")

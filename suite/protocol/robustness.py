"""The ``robustness`` section of a protocol: schema, validation and defaults.

Schema (``protocols/robustness.yaml`` is the worked example; every sub-section is optional)::

    robustness:
      datasets: [name, ...]             # datasets the experiments below run on (default: all;
                                        #   the shift analysis always uses every dataset)
      adversarial:
        recon:                          # white-box PGD on the reconstruction (random search for
          methods: [label, ...]         #   black-box methods); default: every recon method
          conditions: [name, ...]       # undersample conditions; default: all of them
          domains: [kspace, image]      # k-space (Darestani 2021) and/or image-domain (Antun 2020)
          budgets: [eps, ...]           # relative L2 budgets, ||e|| <= eps * ||y|| (required)
          steps: int                    # projected-gradient steps (default 10)
          segmentation: label           # segment the perturbed images with this method to get the
                                        #   EF error (default: the protocol's first seg method;
                                        #   null: no clinical curve)
        <stage>:                        # any other method stage: the generic input attack
          methods: [label, ...]         #   (suite.stages.input_attack) on the stage's input;
          conditions: [name, ...]       #   default: every method, the fully-sampled conditions
          budgets: [eps, ...]           #   relative L2 budgets (required); steps: int
        segmentation:                   # torchattacks on the segmentation input
          methods: [label, ...]         # default: every segmentation method
          conditions: [name, ...]       # default: the fully-sampled conditions
          attacks: [fgsm, pgd, pgd-l2]  # default [fgsm, pgd]
          budgets: [eps, ...]           # L-infinity budgets on the [0, 1]-normalised image (fgsm, pgd)
          l2_budgets: [eps, ...]        # L2 budgets per image on the same scale (pgd-l2)
          steps: int                    # default 10
      features:                         # small-feature recovery (Antun 2020, Darestani 2021)
        methods: [label, ...]           # default: every recon method
        conditions: [name, ...]         # default: all undersample conditions
        contrasts: [c, ...]             # feature contrast(s) relative to the image maximum
        n_features: int                 # default 3
        radius_px: number               # default 1.5
      crimes:                           # data crimes (Shimron 2022): score on crimed data
        crimes: [zero-padded, magnitude, quantised, jpeg]
        methods: [label, ...]           # default: every recon method
        conditions: [name, ...]         # default: all undersample conditions
      shift:                            # domain-shift analysis of the run's own results
        strata: [condition, vendor, ...]  # columns: condition, dataset, vendor, field_strength_t,
                                          #   site, pathology, preset, and the strata the
                                          #   datasets declare (suite.protocol.strata)
        reference: {column: level}      # the in-distribution level per stratum column
        metrics:                        # which results to analyse
          - {metric: ssim, stage: recon, profile: fastmri}
          - {metric: dice, stage: segmentation, structure: LV, phase: ED}
          - {metric: t1_rmse, stage: mapping, profile: truth, structure: myocardium, segment: ""}

Method entries are the labels of ``methods.recon`` / ``methods.segmentation``; conditions are
condition names. Robustness jobs form a third phase after ``recon`` and ``segmentation``.
"""

from __future__ import annotations

from suite._validation import near
from suite.data.audit import CRIMES  # the crimes suite.conditions.commit_crime commits
from suite.protocol.errors import ProtocolError
from suite.protocol.strata import declared_strata
from suite.robustness.recon_attacks import DOMAINS as RECON_DOMAINS
from suite.robustness.seg_attacks import SEG_ATTACKS
from suite.stages.entries import method_label, normalise_method
from suite.stages.recon.stage import ATTACK_CONDITION_TYPES as RECON_ATTACK_CONDITIONS
from suite.stages.segmentation.stage import ATTACK_CONDITION_TYPES as SEG_ATTACK_CONDITIONS

__all__ = ["validate_robustness"]


def _labels(raw: dict, stage: str) -> list[str]:
    return [method_label(normalise_method(m)) for m in (raw.get("methods") or {}).get(stage) or []]


def _prediction_labels(raw: dict, stage: str) -> set[str]:
    """Labels of the folders of predictions among a stage's methods: they cannot be run on
    perturbed, crimed or featured inputs."""
    return {method_label(normalise_method(m))
            for m in (raw.get("methods") or {}).get(stage) or []
            if isinstance(m, dict) and "predictions" in m}


def validate_robustness(v, raw: dict, stages=None) -> None:
    """Validate ``raw["robustness"]`` with the protocol validator ``v`` (raises ProtocolError)."""

    rob = raw["robustness"]
    v.mapping(rob, "robustness")
    v.unknown_keys(rob, {"datasets", "adversarial", "features", "crimes", "shift"}, "robustness")
    conditions = {c["name"]: c for c in (raw.get("conditions")
                                          or [{"name": "fully-sampled", "type": "fully-sampled"}])}
    recon_labels, seg_labels = _labels(raw, "recon"), _labels(raw, "segmentation")

    def names(section: dict, key: str, allowed: list[str], prefix: str, what: str,
              runnable_stage: str | None = None) -> None:
        values = section.get(key)
        if values is None:
            return
        if not isinstance(values, list) or not values:
            raise ProtocolError(v.source, f"{prefix}.{key}", f"must be a non-empty list of {what}")
        folders = _prediction_labels(raw, runnable_stage) if runnable_stage else set()
        for j, name in enumerate(values):
            if not isinstance(name, str):
                raise ProtocolError(v.source, f"{prefix}.{key}[{j}]",
                                    f"must be a name (one of the {what}); got {name!r}")
            if name in folders:
                raise ProtocolError(
                    v.source, f"{prefix}.{key}[{j}]",
                    f"is {name!r}, a folder of predictions: precomputed outputs cannot be "
                    "recomputed on perturbed, featured or crimed inputs; remove it here (the "
                    "experiment runs the other methods; without `methods` it skips folders)")
            if name not in allowed:
                hint = (" (a method is named by its label: its `label:`, else its name, "
                        "'module:Class' plugin string, entry point or predictions:<folder>)"
                        if "methods" in what else "")
                raise ProtocolError(v.source, f"{prefix}.{key}[{j}]",
                                    f"is {name!r}; the protocol's {what} are {allowed}"
                                    f"{near(name, allowed)}{hint}")

    def numbers(section: dict, key: str, prefix: str, required: bool = False,
                maximum: float | None = None) -> None:
        values = section.get(key)
        if values is None:
            if required:
                raise ProtocolError(v.source, f"{prefix}.{key}", "is required (a list of budgets)")
            return
        if not isinstance(values, list) or not values:
            raise ProtocolError(v.source, f"{prefix}.{key}", "must be a non-empty list of numbers")
        for j, x in enumerate(values):
            if isinstance(x, bool) or not isinstance(x, (int, float)) or x <= 0 or (
                    maximum is not None and x > maximum):
                bound = f" and <= {maximum}" if maximum is not None else ""
                raise ProtocolError(v.source, f"{prefix}.{key}[{j}]",
                                    f"must be a number > 0{bound}; got {x!r}")

    def conds_of_type(section, prefix, types):
        allowed = [n for n, c in conditions.items() if c["type"] in types]
        names(section, "conditions", allowed, prefix, f"{'/'.join(types)} conditions")

    names(rob, "datasets", [d["name"] for d in raw.get("datasets") or []], "robustness",
          "datasets")
    adv = rob.get("adversarial")
    if adv is not None:
        v.mapping(adv, "robustness.adversarial")
        generic = sorted(n for n, st in (stages or {}).items()
                         if st.has_methods and n not in ("recon", "segmentation"))
        v.unknown_keys(adv, {"recon", "segmentation", *generic}, "robustness.adversarial")
        for name in generic:
            sec = adv.get(name)
            if sec is None:
                continue
            key = f"robustness.adversarial.{name}"
            v.mapping(sec, key)
            v.unknown_keys(sec, {"methods", "conditions", "budgets", "steps"}, key)
            labels = _labels(raw, name)
            if not labels:
                raise ProtocolError(v.source, key, f"needs methods under `methods.{name}`")
            names(sec, "methods", labels, key, f"{name} methods", runnable_stage=name)
            names(sec, "conditions", list(conditions), key, "conditions")
            numbers(sec, "budgets", key, required=True, maximum=1.0)
            v.integer(sec, "steps", minimum=1, prefix=key)
        rec = adv.get("recon")
        if rec is not None:
            key = "robustness.adversarial.recon"
            v.mapping(rec, key)
            v.unknown_keys(rec, {"methods", "conditions", "domains", "budgets", "steps",
                                 "segmentation"}, key)
            if not recon_labels:
                raise ProtocolError(v.source, key, "needs recon methods under `methods.recon`")
            names(rec, "methods", recon_labels, key, "recon methods", runnable_stage="recon")
            conds_of_type(rec, key, RECON_ATTACK_CONDITIONS)
            names(rec, "domains", list(RECON_DOMAINS), key, "attack domains")
            numbers(rec, "budgets", key, required=True, maximum=1.0)
            v.integer(rec, "steps", minimum=1, prefix=key)
            if rec.get("segmentation") in _prediction_labels(raw, "segmentation"):
                raise ProtocolError(v.source, f"{key}.segmentation",
                                    f"is {rec['segmentation']!r}, a folder of predictions: it "
                                    "cannot segment perturbed reconstructions; name a plugin or "
                                    "reference segmentation method, or null for no EF curve")
            if rec.get("segmentation") is not None and rec["segmentation"] not in seg_labels:
                raise ProtocolError(v.source, f"{key}.segmentation",
                                    f"is {rec['segmentation']!r}; the protocol's segmentation "
                                    f"methods are {seg_labels}")
        seg = adv.get("segmentation")
        if seg is not None:
            key = "robustness.adversarial.segmentation"
            v.mapping(seg, key)
            v.unknown_keys(seg, {"methods", "conditions", "attacks", "budgets", "l2_budgets",
                                 "steps"}, key)
            if not seg_labels:
                raise ProtocolError(v.source, key, "needs methods under `methods.segmentation`")
            names(seg, "methods", seg_labels, key, "segmentation methods",
                  runnable_stage="segmentation")
            conds_of_type(seg, key, SEG_ATTACK_CONDITIONS)
            names(seg, "attacks", list(SEG_ATTACKS), key, "attacks")
            attacks = seg.get("attacks") or ["fgsm", "pgd"]
            numbers(seg, "budgets", key, required=any(a in ("fgsm", "pgd") for a in attacks),
                    maximum=1.0)
            numbers(seg, "l2_budgets", key, required="pgd-l2" in attacks)
            v.integer(seg, "steps", minimum=1, prefix=key)
    feat = rob.get("features")
    if feat is not None:
        key = "robustness.features"
        v.mapping(feat, key)
        v.unknown_keys(feat, {"methods", "conditions", "contrasts", "n_features", "radius_px"}, key)
        if not recon_labels:
            raise ProtocolError(v.source, key, "needs recon methods under `methods.recon`")
        names(feat, "methods", recon_labels, key, "recon methods", runnable_stage="recon")
        conds_of_type(feat, key, ("undersample", "noise"))
        numbers(feat, "contrasts", key, maximum=10.0)
        v.integer(feat, "n_features", minimum=1, prefix=key)
        v.number(feat, "radius_px", minimum=0.5, prefix=key)
    crimes = rob.get("crimes")
    if crimes is not None:
        key = "robustness.crimes"
        v.mapping(crimes, key)
        v.unknown_keys(crimes, {"crimes", "methods", "conditions"}, key)
        if not recon_labels:
            raise ProtocolError(v.source, key, "needs recon methods under `methods.recon`")
        names(crimes, "crimes", list(CRIMES), key, "data crimes")
        names(crimes, "methods", recon_labels, key, "recon methods", runnable_stage="recon")
        conds_of_type(crimes, key, ("undersample",))
    shift = rob.get("shift")
    if shift is not None:
        key = "robustness.shift"
        v.mapping(shift, key)
        v.unknown_keys(shift, {"strata", "reference", "metrics"}, key)
        columns = list(dict.fromkeys(["condition", "dataset", *declared_strata(raw)]))
        names(shift, "strata", columns, key, "stratum columns")
        ref = shift.get("reference") or {}
        v.mapping(ref, f"{key}.reference")
        for col in ref:
            if col not in columns:
                raise ProtocolError(v.source, f"{key}.reference.{col}",
                                    f"is not a stratum column; expected one of "
                                    f"{columns}{near(col, columns)}")
        if "condition" in ref and (not isinstance(ref["condition"], str)
                                   or ref["condition"] not in conditions):
            raise ProtocolError(v.source, f"{key}.reference.condition",
                                f"is {ref['condition']!r}; conditions are {list(conditions)}")
        metrics = shift.get("metrics")
        if not isinstance(metrics, list) or not metrics:
            raise ProtocolError(v.source, f"{key}.metrics", "is required: a list of "
                                "{metric, stage, ...} selections of results to analyse")
        for j, m in enumerate(metrics):
            mkey = f"{key}.metrics[{j}]"
            v.mapping(m, mkey)
            method_columns = {n for n, st in (stages or {}).items() if st.has_methods}
            v.unknown_keys(m, {"metric", "stage", "profile", "structure", "phase", "segment",
                               "convention", "recon", "segmentation", *method_columns}, mkey)
            v.string(m, "metric", required=True, prefix=mkey)

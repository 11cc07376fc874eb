"""The generic robustness experiment of any stage: ``input-attack``.

For a stage that declares its attack surface (:meth:`suite.stages.Stage.attack_surface`),
:func:`suite.robustness.attack_input` (projected gradient ascent for a differentiable method,
random search for a black box) and :func:`suite.robustness.random_input` (a random perturbation
of the same norm) perturb the stage's input at every budget of
``robustness.adversarial.<stage>``: ``attacks`` (default ``[pgd-l2]``;
:data:`suite.robustness.input_attacks.STAGE_ATTACKS`) — ``pgd-l2`` at the relative L2
``budgets``, ``pgd`` and ``fgsm`` at the L∞ ``linf_budgets`` (relative to the input's largest
value) — each next to the random perturbation of its norm. Rows (``stage = "robustness"``): ``deviation`` (‖f(x+e) −
f(x)‖ / ‖f(x)‖) and ``norm_reached`` per (attack, budget), and the stage's own metrics of the
clean output (attack ``none``, budget 0) and of every perturbed output, so the analysis draws
robustness curves and instability ratios for the stage as for reconstructions.
"""

from __future__ import annotations

__all__ = ["input_attack"]


def input_attack(stage, exp) -> list[dict]:
    """Rows of the ``input-attack`` experiment of ``stage`` (a :class:`suite.stages.Stage`) for
    ``exp`` (a :class:`suite.stages.ExperimentCall`); see the module docstring."""
    from suite.metrics.contract import metric_row
    from suite.metrics.robustness import PERTURBATION_METRICS  # noqa: F401  (declarations)
    from suite.robustness import attack_input, random_input
    from suite.robustness.input_attacks import STAGE_ATTACKS, input_attack_kind

    call, spec = exp.call, exp.experiment
    label = call.labels.get(stage.name, "")
    method = call.resolve(call.entries[stage.name], stage.name)
    surface = stage.attack_surface(call, method)
    if surface is None:
        raise ValueError(f"stage {stage.name!r} declares no attack surface, so its method "
                         f"{label!r} cannot be perturbed; remove robustness.adversarial."
                         f"{stage.name} from the protocol")
    adversarial, random, kinds, norms = [], [], set(), []
    for name in spec.get("attacks") or ["pgd-l2"]:
        attack, norm = STAGE_ATTACKS[name]
        budgets = spec["budgets"] if norm == "l2" else spec["linf_budgets"]
        kind = input_attack_kind(attack, norm, surface.differentiable)
        if kind not in kinds:  # a black box gets one random search per norm
            kinds.add(kind)
            adversarial += attack_input(surface, budgets, steps=spec["steps"], seed=call.seed,
                                        norm=norm, attack=attack)
        if norm not in norms:
            norms.append(norm)
            random += random_input(surface, budgets, seed=call.seed, norm=norm)

    def scored(output, attack, budget):
        return [{**r, "stage": "robustness", "attack": attack, "budget": budget}
                for r in stage.score(call, output)]

    rows = scored(call.cached(), "none", 0.0)
    for res in adversarial + random:
        profile = "white-box" if res.white_box else "black-box"
        for name, value in (("deviation", res.deviation), ("norm_reached", res.norm_reached)):
            rows.append({**metric_row(name, value, profile=profile).to_dict(),
                         "stage": "robustness", "attack": res.kind, "budget": res.budget})
        output = stage.check_output(call, stage.output_of(call, res.output), label)
        rows += scored(output, res.kind, res.budget)
    return rows

"""``cmrsuite train``: deterministic training of the learned reference methods on the phantom.

Writes ``reference_impls/weights/<name>.pt`` (state dict, loaded with
``torch.load(..., weights_only=True)``) and ``<name>.json`` with the SHA-256 of the ``.pt``, the
training command, the seed, the data (phantom cohort description) and the final loss.
"""

from __future__ import annotations

import platform

import torch

from reference_impls.weights_io import TrainedWeights, save_weights

__all__ = ["TRAINABLE", "train_recon_weights", "TrainedWeights"]

#: Weights this command can produce, and the training mode of each.
TRAINABLE = {"recon-unrolled": "supervised", "recon-unrolled-ssdu": "ssdu"}

#: Phantom cohort used for training: two vendor presets at a reduced matrix and frame count,
#: so that training takes minutes on 2 CPU cores. Held-out evaluation uses other seeds.
TRAINING_COHORT = {
    "presets": ("siemens-1.5t", "philips-3t"),
    "subjects_per_preset": 3,
    "seed_offset": 10_000,  # training seeds never overlap the demo/test seeds 0..9999
    "overrides": {"matrix": (80, 100), "pixel_spacing_mm": 3.6, "n_frames": 12,
                  "n_slices": 3, "n_coils": 8},
}


def _training_cases(seed: int, cohort: dict):
    from suite.phantom import simulate

    cases = []
    for p_index, preset in enumerate(cohort["presets"]):
        for i in range(cohort["subjects_per_preset"]):
            subject_seed = cohort["seed_offset"] + seed * 1000 + p_index * 100 + i
            cases.append(simulate(seed=subject_seed, preset=preset, pathology="normal"
                                  if i % 2 == 0 else "dilated", **cohort["overrides"]))
    return cases


def train_recon_weights(name: str, *, seed: int = 0, steps: int = 300, out_dir=None,
                        command: str = "", log=None, cohort: dict | None = None) -> TrainedWeights:
    """Train ``name`` (a key of :data:`TRAINABLE`) and write its weights and JSON record."""
    from reference_impls.recon.training import TrainingConfig, train_unrolled
    from reference_impls.recon.unrolled import CineUnrolledNet

    if name not in TRAINABLE:
        raise ValueError(f"train: unknown weights {name!r}; choose one of {sorted(TRAINABLE)}")
    cohort = dict(TRAINING_COHORT if cohort is None else cohort)
    if log:
        log(f"simulating the training cohort ({len(cohort['presets'])} presets x "
            f"{cohort['subjects_per_preset']} subjects)")
    cases = _training_cases(seed, cohort)
    config = TrainingConfig(mode=TRAINABLE[name], seed=seed, steps=steps)
    result = train_unrolled(cases, config, log=log)
    net_config = CineUnrolledNet(config.cascades, config.features, config.depth).config
    plain = {k: (list(v) if isinstance(v, tuple) else v) for k, v in cohort.items()
             if k != "overrides"}
    overrides = {k: (list(v) if isinstance(v, tuple) else v)
                 for k, v in cohort["overrides"].items()}
    meta = {
        "config": net_config,
        "training": config.to_dict(),
        "command": command or f"cmrsuite train {name} --seed {seed} --steps {steps}",
        "seed": seed,
        "data": {"source": "cmrsuite phantom", **plain, "overrides": overrides},
        "final_loss": result.final_loss,
        "loss_first": result.losses[0] if result.losses else None,
        "steps_run": len(result.losses),
        "training_seconds": round(result.seconds, 1),
        "torch_version": torch.__version__,
        "platform": platform.platform(),
    }
    pt, meta_path, digest = save_weights(result.state_dict, meta, name, out_dir)
    return TrainedWeights(pt, meta_path, digest, result.final_loss)

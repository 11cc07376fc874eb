"""The smallest protocol that runs end to end, for tests of run folders: a tiny phantom cohort,
fully sampled and 3-fold undersampled, zero-filled reconstructions, image metrics only."""

from __future__ import annotations


def tiny_protocol(name: str, *, seed: int, subjects: int, phantom_seed: int) -> dict:
    """A protocol dict (4 frames, preset ``tiny``): one recon job per subject and condition."""
    return {
        "name": name, "seed": seed,
        "datasets": [{"name": "phantom", "phantom": {"subjects": subjects, "seed": phantom_seed,
                                                     "presets": ["tiny"],
                                                     "overrides": {"n_frames": 4}}}],
        "conditions": [{"name": "full", "type": "fully-sampled"},
                       {"name": "R3", "type": "undersample", "pattern": "equispaced",
                        "acceleration": 3, "acs_lines": 6}],
        "methods": {"recon": ["zero-filled"]},
        "metrics": {"image": {"profiles": ["fastmri"]}, "temporal": False, "clinical": False},
        "analyses": {"bootstrap": {"n_resamples": 100}},
    }

"""`cmrsuite train recon-*`: deterministic weights, JSON record, hash-verified loading."""

import json

import pytest
import torch

from reference_impls.recon.unrolled import Unrolled, load_weights
from reference_impls.weights_io import WeightsError
from suite.train import train_recon_weights

TINY = {"presets": ("tiny",), "subjects_per_preset": 1, "seed_offset": 10_000,
        "overrides": {"n_frames": 4, "n_slices": 1}}


#: the SSDU variant (three more trainings) is CI-only (``pytest -m ci``); its masks are checked below
@pytest.mark.parametrize("name", ["recon-unrolled",
                                  pytest.param("recon-unrolled-ssdu", marks=pytest.mark.ci)])
def test_training_is_deterministic_and_loadable(tmp_path, name):
    a = train_recon_weights(name, seed=1, steps=2, out_dir=tmp_path / "a", cohort=TINY)
    b = train_recon_weights(name, seed=1, steps=2, out_dir=tmp_path / "b", cohort=TINY)
    c = train_recon_weights(name, seed=2, steps=2, out_dir=tmp_path / "c", cohort=TINY)
    assert a.sha256 == b.sha256 != c.sha256
    record = json.loads(a.meta_path.read_text())
    assert record["sha256"] == a.sha256 and record["training"]["mode"] in ("supervised", "ssdu")
    assert record["data"]["presets"] == ["tiny"] and record["seed"] == 1
    net, meta = load_weights(name, tmp_path / "a")
    assert meta["config"] == net.config
    method = Unrolled(weights_dir=str(tmp_path / "a")) if name == "recon-unrolled" else None
    if method is not None:
        assert method.params()["weights_sha256"] == a.sha256


def test_tampered_weights_are_refused(tmp_path):
    out = train_recon_weights("recon-unrolled", seed=0, steps=1, out_dir=tmp_path, cohort=TINY)
    state = torch.load(out.path, weights_only=True)
    state["step"] = state["step"] + 1.0
    torch.save(state, out.path)
    with pytest.raises(WeightsError, match="does not match"):
        load_weights("recon-unrolled", tmp_path)
    out.meta_path.unlink()
    with pytest.raises(WeightsError, match="cmrsuite train recon-unrolled"):
        load_weights("recon-unrolled", tmp_path)


@pytest.mark.parametrize("r", [4, 8])
def test_training_masks_keep_outer_lines_and_ssdu_holds_out_lines_at_every_r(r):
    """Masks drawn as the training draws them (ACS size from ``acs_range``) keep at least two
    lines outside the ACS block in every frame, and the SSDU split always has a non-empty loss
    set Λ outside the ACS block, also at R = 8 on the 80-line training matrix (the version-1
    weights saw ACS-only masks there and SSDU skipped R = 8)."""
    import numpy as np

    from reference_impls.recon.training import TrainingConfig, acs_range, ssdu_split
    from suite.mr import make_mask

    config = TrainingConfig(mode="ssdu")
    rng = np.random.default_rng(0)
    lo, hi = acs_range(80, r, config)
    assert (lo, hi) == ((4, 12) if r == 4 else (4, 8))
    for _ in range(50):
        n_acs = int(rng.integers(lo, hi + 1))
        lines = make_mask("kt-gaussian", (1, 12, 1, 80, 100), r, n_acs, rng).mask[0, :, 0, :, 0]
        acs = np.zeros(80, bool)
        acs[40 - n_acs // 2: 40 - n_acs // 2 + n_acs] = True
        assert lines[:, acs].all()
        assert (lines & ~acs).sum(axis=1).min() >= 2
        theta, lam = ssdu_split(lines, acs, config.ssdu_rho, rng)
        assert lam.any(axis=1).all() and not (lam & theta).any() and not lam[:, acs].any()

"""The protocol's ``robustness`` section: validation with key paths, job expansion, and the
SNR-shift condition (noise added before undersampling)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from suite.protocol import ProtocolError, load_protocol, validate_protocol
from suite.runner.jobs import CaseRef, expand_jobs

ROOT = Path(__file__).resolve().parents[1]

BASE = {
    "name": "rob",
    "datasets": [{"name": "ph", "phantom": {"subjects": 1, "presets": ["tiny"]}},
                 {"name": "ph2", "phantom": {"subjects": 1, "presets": ["tiny"]}}],
    "conditions": [{"name": "full", "type": "fully-sampled"},
                   {"name": "R4", "type": "undersample", "pattern": "equispaced",
                    "acceleration": 4, "acs_lines": 8},
                   {"name": "R6", "type": "undersample", "pattern": "equispaced",
                    "acceleration": 6, "acs_lines": 8}],
    "methods": {"recon": ["zero-filled", "cg-sense"], "segmentation": ["unet", "classical"]},
    "robustness": {
        "adversarial": {
            "recon": {"budgets": [0.01, 0.05], "domains": ["kspace", "image"], "steps": 2},
            "segmentation": {"attacks": ["fgsm", "pgd-l2"], "budgets": [0.01],
                             "l2_budgets": [0.5]}},
        "features": {"contrasts": [0.3]},
        "crimes": {"crimes": ["magnitude"], "methods": ["cg-sense"], "conditions": ["R4"]},
        "shift": {"strata": ["condition"], "reference": {"condition": "R4"},
                  "metrics": [{"metric": "ssim", "stage": "recon"}]},
    },
}


def _with(path: str, value):
    raw = copy.deepcopy(BASE)
    keys = path.split(".")
    d = raw
    for k in keys[:-1]:
        d = d[k]
    if value is KeyError:
        del d[keys[-1]]
    else:
        d[keys[-1]] = value
    return raw


def test_shipped_protocols_validate():
    for name in ("quick", "robustness"):
        p = load_protocol(ROOT / "protocols" / f"{name}.yaml")
        assert p.raw["robustness"]


@pytest.mark.parametrize("path, value, key, words", [
    ("robustness.adversarial.recon.budgets", [-0.1], "robustness.adversarial.recon.budgets[0]",
     "> 0"),
    ("robustness.adversarial.recon.budgets", KeyError, "robustness.adversarial.recon.budgets",
     "required"),
    ("robustness.adversarial.recon.methods", ["unrolled"], "robustness.adversarial.recon.methods[0]",
     "recon methods"),
    ("robustness.adversarial.recon.conditions", ["full"],
     "robustness.adversarial.recon.conditions[0]", "undersample"),
    ("robustness.adversarial.recon.domains", ["pixel"], "robustness.adversarial.recon.domains[0]",
     "attack domains"),
    ("robustness.adversarial.recon.stepz", 3, "robustness.adversarial.recon.stepz", "did you mean"),
    ("robustness.adversarial.segmentation.l2_budgets", KeyError,
     "robustness.adversarial.segmentation.l2_budgets", "required"),
    ("robustness.adversarial.segmentation.attacks", ["apgd"],
     "robustness.adversarial.segmentation.attacks[0]", "attacks"),
    ("robustness.crimes.crimes", ["jpg"], "robustness.crimes.crimes[0]", "did you mean 'jpeg'"),
    ("robustness.shift.reference", {"scanner": "x"}, "robustness.shift.reference.scanner",
     "stratum column"),
    ("robustness.shift.metrics", [], "robustness.shift.metrics", "required"),
    ("robustness.datasets", ["nope"], "robustness.datasets[0]", "datasets"),
])
def test_invalid_robustness_sections_name_the_key(path, value, key, words):
    with pytest.raises(ProtocolError) as info:
        validate_protocol(_with(path, value), source="p.yaml")
    assert info.value.key == key
    assert words in str(info.value)
    assert str(info.value).startswith("p.yaml: ")


def _refs():
    return [CaseRef(ds, f"s{i}", f"/x/{ds}/s{i}", "phantom") for ds in ("ph", "ph2")
            for i in range(3)]


def test_job_expansion_counts():
    jobs = expand_jobs(validate_protocol(BASE), _refs())
    rob = [j for j in jobs if j.phase == "robustness"]
    kinds = {}
    for j in rob:
        kinds[j.experiment["kind"]] = kinds.get(j.experiment["kind"], 0) + 1
    n_cases = 6
    # recon attacks: 2 undersample conditions x 2 methods x 2 domains per case
    assert kinds["recon-attack"] == n_cases * 2 * 2 * 2
    # features: 2 conditions x 2 methods; crimes: 1 condition x 1 method x 1 crime
    assert kinds["features"] == n_cases * 2 * 2
    assert kinds["crime"] == n_cases * 1
    # segmentation attacks: the fully sampled condition, reference images, 2 methods
    assert kinds["seg-attack"] == n_cases * 2
    seg_attack = next(j for j in rob if j.experiment["kind"] == "seg-attack")
    assert seg_attack.recon["name"] == "reference"
    assert seg_attack.experiment["l2_budgets"] == [0.5]
    # the recon attack segments with the first segmentation method by default
    attack = next(j for j in rob if j.experiment["kind"] == "recon-attack")
    assert attack.segmentation["name"] == "unet"
    assert len({j.job_id for j in jobs}) == len(jobs)


def test_dataset_filter_and_stable_ids():
    raw = _with("robustness.datasets", ["ph"])
    jobs = expand_jobs(validate_protocol(raw), _refs())
    assert {j.case.dataset for j in jobs if j.phase == "robustness"} == {"ph"}
    # ordinary jobs keep their ids whether or not the protocol has a robustness section
    plain = _with("robustness", KeyError)
    ids_plain = {j.job_id for j in expand_jobs(validate_protocol(plain), _refs())}
    ids_rob = {j.job_id for j in jobs if j.phase != "robustness"}
    assert ids_plain == ids_rob


def test_robustness_section_round_trips_through_yaml(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(BASE))
    assert load_protocol(path).sha256 == validate_protocol(BASE).sha256


def test_undersample_with_noise_keeps_the_mask_and_adds_the_stated_sigma():
    from suite.conditions import make_condition
    from suite.phantom import simulate

    case = simulate(seed=3, preset="tiny", snr=None)
    cond = {"name": "R4", "type": "undersample", "pattern": "equispaced", "acceleration": 4,
            "acs_lines": 8}
    clean, info_clean = make_condition(cond).apply(case, np.random.default_rng(7))
    noisy, info = make_condition({**cond, "relative_sigma": 0.1}).apply(
        case, np.random.default_rng(7))
    np.testing.assert_array_equal(noisy.mask, clean.mask)
    rms = np.sqrt(np.mean(np.abs(case.kspace) ** 2))
    assert info["added_noise_sigma"] == pytest.approx(0.1 * rms, rel=1e-6)
    mask = np.broadcast_to(clean.mask, case.kspace.shape)
    diff = (noisy.kspace - clean.kspace)[mask]
    # complex noise with sigma per real/imaginary part: E|n|^2 = 2 sigma^2
    assert np.sqrt(np.mean(np.abs(diff) ** 2) / 2) == pytest.approx(0.1 * rms, rel=0.05)
    assert np.all(noisy.kspace[~mask] == 0)
    assert info_clean["nominal_acceleration"] == info["nominal_acceleration"] == 4.0


def test_a_folder_of_predictions_cannot_be_attacked_or_crimed(tmp_path):
    """A predictions method named in a section that reruns methods on changed inputs is refused
    by validate (it used to fail every job with a TypeError); unnamed, it is skipped."""
    raw = copy.deepcopy(BASE)
    raw["methods"]["recon"] = raw["methods"]["recon"] + [{"predictions": "preds", "label": "team"}]
    raw["robustness"]["crimes"] = {"crimes": ["magnitude"], "methods": ["team"]}
    with pytest.raises(ProtocolError, match=r"robustness.crimes.methods\[0\].*folder of predictions"):
        validate_protocol(raw, source="p.yaml")
    del raw["robustness"]["crimes"]["methods"]
    jobs = expand_jobs(validate_protocol(raw, source="p.yaml"), _refs())
    rob = [j for j in jobs if j.phase == "robustness"]
    assert rob and all("predictions" not in (j.recon or {}) for j in rob
                       if j.experiment["kind"] in ("crime", "features", "recon-attack"))
    assert any(j.recon_label == "team" for j in jobs if j.phase == "recon")


def test_validate_warns_when_the_calibration_block_eats_the_line_budget(capsys):
    """R = 8 on 60 phantom lines with 8 ACS lines samples no line outside the centre, and 8 ACS
    lines are fewer than ESPIRiT needs: both are said (they are not errors)."""
    from suite.protocol.warnings import protocol_warnings

    raw = {"name": "w", "datasets": [{"name": "p", "phantom": {"subjects": 1,
                                                               "presets": ["tiny"]}}],
           "conditions": [{"name": "R8", "type": "undersample", "pattern": "kt-gaussian",
                           "acceleration": 8, "acs_lines": 8},
                          {"name": "R2", "type": "undersample", "pattern": "equispaced",
                           "acceleration": 2, "acs_lines": 16}],
           "methods": {"recon": ["cg-sense", "zero-filled"]}}
    warnings = protocol_warnings(validate_protocol(raw, source="w.yaml"))
    assert len(warnings) == 2 and all("`R8`" in w for w in warnings)
    assert any("no line outside the centre" in w and "60 lines" in w for w in warnings)
    assert any("ESPIRiT" in w and "cg-sense" in w for w in warnings)
    raw["methods"]["recon"] = ["zero-filled"]  # no ESPIRiT user: only the line budget
    assert len(protocol_warnings(validate_protocol(raw, source="w.yaml"))) == 1

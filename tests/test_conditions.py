"""Conditions as objects, the public seeding rule, and ``cmrsuite conditions export``: a folder
of predictions made from the exported inputs scores exactly as the same method run as a plugin.
"""

import hashlib
import json
import sqlite3
import textwrap

import numpy as np
import pytest
import yaml

from suite.conditions import (CONDITION_TYPES, AsAcquired, FullySampled, Noise, Undersample,
                              condition_rng, make_condition, stable_int)
from suite.phantom import simulate


@pytest.fixture(scope="module")
def case():
    return simulate(seed=5, preset="tiny", snr=None)


def test_stable_int_is_the_documented_sha256_rule():
    text = "phantom/phantom-003"
    expected = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "little")
    assert stable_int(text) == expected


def test_condition_rng_is_the_documented_seed_sequence():
    rng = condition_rng(7, "ds/case-1", "R4")
    ref = np.random.default_rng(np.random.SeedSequence(
        [7, stable_int("ds/case-1"), stable_int("R4")]))
    assert rng.integers(0, 2**31, 5).tolist() == ref.integers(0, 2**31, 5).tolist()


def test_make_condition_builds_each_protocol_type_and_round_trips():
    entries = [{"name": "full", "type": "fully-sampled"}, {"name": "acq", "type": "as-acquired"},
               {"name": "R4", "type": "undersample", "pattern": "equispaced", "acceleration": 4,
                "acs_lines": 8},
               {"name": "snr", "type": "noise", "relative_sigma": 0.05}]
    kinds = [FullySampled, AsAcquired, Undersample, Noise]
    for entry, kind in zip(entries, kinds):
        cond = make_condition(entry)
        assert isinstance(cond, kind) and cond.name == entry["name"]
        assert make_condition(cond.to_dict()).to_dict() == cond.to_dict()
    assert set(CONDITION_TYPES) == {"fully-sampled", "as-acquired", "undersample", "noise"}


def test_undersample_matches_an_independent_mask_and_never_edits_its_input(case):
    from suite.mr import make_mask

    before = case.kspace.copy()
    cond = make_condition({"name": "R3", "type": "undersample", "pattern": "equispaced",
                           "acceleration": 3, "acs_lines": 6})
    out, info = cond.apply(case, np.random.default_rng(1))
    mask = make_mask("equispaced", case.kspace.shape, 3, acs_lines=6,
                     rng=np.random.default_rng(1)).mask
    full = np.broadcast_to(mask, case.kspace.shape)
    np.testing.assert_array_equal(out.kspace, np.where(full, case.kspace, 0))
    assert info["effective_acceleration"] == pytest.approx(case.kspace.size / full.sum())
    assert info["nominal_acceleration"] == 3.0
    np.testing.assert_array_equal(case.kspace, before)


def test_noise_sigma_is_relative_to_the_kspace_rms(case):
    out, info = make_condition({"name": "n", "type": "noise", "relative_sigma": 0.2}).apply(
        case, np.random.default_rng(3))
    rms = np.sqrt(np.mean(np.abs(case.kspace) ** 2))
    assert info["added_noise_sigma"] == pytest.approx(0.2 * rms, rel=1e-6)
    d = out.kspace - case.kspace
    assert np.sqrt(np.mean(np.abs(d) ** 2) / 2) == pytest.approx(0.2 * rms, rel=0.05)


PLUGIN = textwrap.dedent('''
    import numpy as np


    class RssZeroFilled:
        """Root-sum-of-squares of the zero-filled coil images (a user's method)."""

        name = "rss-zero-filled"
        version = "1"
        stage = "recon"

        def __call__(self, case):
            k = np.fft.ifftshift(case.kspace, axes=(-2, -1))
            x = np.fft.fftshift(np.fft.ifft2(k, norm="ortho"), axes=(-2, -1))
            return np.sqrt((np.abs(x) ** 2).sum(axis=2))
''')


def _protocol(tmp_path, recon_entry, name):
    raw = {"name": name, "seed": 4,
           "datasets": [{"name": "phantom", "phantom": {"subjects": 2, "seed": 3,
                                                        "presets": ["tiny"],
                                                        "overrides": {"n_frames": 4}}}],
           "conditions": [{"name": "full", "type": "fully-sampled"},
                          {"name": "R3", "type": "undersample", "pattern": "kt-gaussian",
                           "acceleration": 3, "acs_lines": 6, "relative_sigma": 0.02}],
           "methods": {"recon": [recon_entry]}, "plugin_paths": ["."],
           "metrics": {"image": {"profiles": ["fastmri", "cmrxrecon2023"]}, "temporal": False,
                       "clinical": False},
           "analyses": {"bootstrap": {"n_resamples": 100}}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _scores(run_dir):
    con = sqlite3.connect(run_dir / "results.sqlite")
    rows = con.execute("SELECT case_id, condition, metric, profile, value FROM results "
                       "WHERE stage = 'recon' ORDER BY case_id, condition, metric, profile")
    out = {r[:4]: r[4] for r in rows}
    con.close()
    return out


def test_predictions_made_from_exported_conditions_score_as_the_plugin(tmp_path):
    from suite.data.ismrmrd_io import read_ismrmrd
    from suite.protocol import load_protocol
    from suite.runner import run_protocol
    from suite.conditions import input_fingerprint
    from suite.runner.conditions_export import export_conditions
    from suite.trust import AllowList

    (tmp_path / "user_method.py").write_text(PLUGIN)
    plugin = load_protocol(_protocol(tmp_path, {"plugin": "user_method:RssZeroFilled"},
                                     "as-plugin"),
                           allow_plugins=AllowList(["user_method:RssZeroFilled"], [tmp_path]))
    run_protocol(plugin, tmp_path / "run-plugin", executor="serial", analyse=False)

    exported = export_conditions(plugin, tmp_path / "inputs")
    assert len(exported.files) == 2 * 2 and not exported.skipped
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        from user_method import RssZeroFilled
    finally:
        sys.path.remove(str(tmp_path))
    method = RssZeroFilled()
    for h5 in exported.files:
        record = json.loads(h5.with_suffix(".json").read_text())
        inputs = read_ismrmrd(h5)
        assert input_fingerprint(inputs) == record["input_fingerprint"]
        assert hashlib.sha256(h5.read_bytes()).hexdigest() == record["sha256"]
        out = tmp_path / "preds" / record["dataset"] / record["subject"]
        out.mkdir(parents=True, exist_ok=True)
        np.save(out / f"{record['condition']['name']}.npy", method(inputs))
    preds = load_protocol(_protocol(tmp_path, {"predictions": "preds", "inputs": "inputs"},
                                    "as-predictions"))
    run_protocol(preds, tmp_path / "run-preds", executor="serial", analyse=False)

    a, b = _scores(tmp_path / "run-plugin"), _scores(tmp_path / "run-preds")
    assert a and set(a) == set(b)
    assert all(a[k] == b[k] for k in a), {k: (a[k], b[k]) for k in a if a[k] != b[k]}
    assert len({k[0] for k in a}) == 2 and {k[3] for k in a} == {"fastmri", "cmrxrecon2023"}

    # the same predictions under another protocol seed: other masks and noise, refused per job
    # with the export record named
    other = _protocol(tmp_path, {"predictions": "preds", "inputs": "inputs"}, "other-seed")
    raw = yaml.safe_load(other.read_text())
    other.write_text(yaml.safe_dump({**raw, "seed": 5}))
    run_protocol(load_protocol(other), tmp_path / "run-other", executor="serial", analyse=False)
    failed = _failed_messages(tmp_path / "run-other")
    assert len(failed) == 2 and all("made from other inputs" in m and "R3.json" in m
                                    for m in failed), failed
    assert not _scores(tmp_path / "run-other")

    # without the export records the inputs cannot be verified: refused unless the protocol
    # says so (verify_inputs: false), and then scored as before
    bare = load_protocol(_protocol(tmp_path, {"predictions": "preds"}, "no-records"))
    run_protocol(bare, tmp_path / "run-bare", executor="serial", analyse=False)
    failed = _failed_messages(tmp_path / "run-bare")
    assert len(failed) == 2 and all("no export record" in m and "verify_inputs: false" in m
                                    for m in failed), failed
    unverified = load_protocol(_protocol(tmp_path, {"predictions": "preds",
                                                    "verify_inputs": False}, "unverified"))
    run_protocol(unverified, tmp_path / "run-unverified", executor="serial", analyse=False)
    assert _scores(tmp_path / "run-unverified") == b


def _failed_messages(run_dir):
    con = sqlite3.connect(run_dir / "results.sqlite")
    rows = con.execute("SELECT message FROM jobs WHERE status = 'failed'").fetchall()
    con.close()
    return [r[0] for r in rows]


def test_inputs_and_verify_inputs_belong_to_predictions_entries(tmp_path):
    from suite.protocol import ProtocolError, load_protocol

    path = _protocol(tmp_path, {"name": "zero-filled", "verify_inputs": False}, "misplaced")
    with pytest.raises(ProtocolError, match=r"verify_inputs.*predictions"):
        load_protocol(path)
    path = _protocol(tmp_path, {"predictions": "p", "verify_inputs": "no"}, "not-bool")
    with pytest.raises(ProtocolError, match=r"verify_inputs"):
        load_protocol(path)


def test_cli_conditions_export_and_stages(tmp_path, capsys):
    from suite.cli import main

    raw = {"name": "cli", "seed": 1,
           "datasets": [{"name": "phantom", "phantom": {"subjects": 1, "seed": 2,
                                                        "presets": ["tiny"],
                                                        "overrides": {"n_frames": 3}}}],
           "conditions": [{"name": "R2", "type": "undersample", "pattern": "equispaced",
                           "acceleration": 2, "acs_lines": 4}],
           "methods": {"recon": ["zero-filled"]}}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["conditions", "export", str(path), "--out", str(tmp_path / "x")]) == 0
    assert "exported 1 (case, condition)" in capsys.readouterr().out
    record = json.loads(next((tmp_path / "x" / "phantom").glob("*/R2.json")).read_text())
    assert record["applied"]["nominal_acceleration"] == 2.0
    assert record["seeding"]["entropy"][1:] == [stable_int(record["case_id"]), stable_int("R2")]
    assert main(["stages", "--protocol", str(path)]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["pipelines"] == {"phantom": ["recon"]}
    assert listed["stages"]["segmentation"]["consumes"] == ["recon"]


def test_coil_compression_is_the_svd_of_the_coil_data(case):
    """Virtual coils = the top left singular vectors of the (coil, samples) matrix (checked
    against numpy's SVD); all coils: a unitary change of basis (RSS unchanged)."""
    from suite.mr import compress_coils, ifft2c, rss

    k = case.kspace
    out, m = compress_coils(k, 1)
    y = np.moveaxis(k[0], 1, 0).reshape(k.shape[2], -1).astype(np.complex128)
    u, s, _ = np.linalg.svd(y, full_matrices=False)
    assert abs(abs(np.vdot(m[0, 0], u[:, 0].conj())) - 1) < 1e-6  # same direction
    energy = np.sum(np.abs(out[0].astype(np.complex128)) ** 2) / np.sum(np.abs(y) ** 2)
    assert energy == pytest.approx(s[0] ** 2 / np.sum(s ** 2), rel=1e-5)
    full, _ = compress_coils(k, k.shape[2])
    np.testing.assert_allclose(rss(ifft2c(full), dim=2), rss(ifft2c(k), dim=2), rtol=2e-5,
                               atol=1e-6 * float(np.abs(k).max()))


def test_virtual_coils_condition_scores_against_the_compressed_reference(case):
    """A single-coil method sees one virtual coil; its reference is the RSS (= magnitude) of
    the compressed fully sampled k-space, not of the physical coils."""
    from suite.mr import compress_coils, ifft2c
    from suite.stages.recon import reference_magnitude

    cond = make_condition({"name": "R3-1coil", "type": "undersample", "pattern": "equispaced",
                           "acceleration": 3, "acs_lines": 6, "virtual_coils": 1})
    out, info = cond.apply(case, np.random.default_rng(0))
    assert out.kspace.shape[2] == 1 and info["virtual_coils"] == 1.0
    assert info["nominal_acceleration"] == 3.0 and out.coil_maps is None
    single, _ = compress_coils(case.kspace, 1)
    expected = np.abs(ifft2c(single))[:, :, 0]
    np.testing.assert_allclose(reference_magnitude(cond.reference_case(case)), expected,
                               rtol=1e-5, atol=1e-6 * float(expected.max()))
    sampled = np.broadcast_to(out.mask, out.kspace.shape)
    np.testing.assert_array_equal(out.kspace[sampled], single[sampled])
    plain = make_condition({"name": "R3", "type": "undersample", "pattern": "equispaced",
                            "acceleration": 3, "acs_lines": 6})
    assert plain.reference_case(case) is case and plain.reference_key() is None


def test_a_run_with_virtual_coils_scores_a_single_coil_method(tmp_path):
    from suite.protocol import validate_protocol
    from suite.runner import run_protocol

    raw = {"name": "one-coil", "seed": 1,
           "datasets": [{"name": "phantom", "phantom": {"subjects": 1, "seed": 3,
                                                        "presets": ["tiny"],
                                                        "overrides": {"n_frames": 4}}}],
           "conditions": [{"name": "full-1", "type": "fully-sampled", "virtual_coils": 1},
                          {"name": "R3-1", "type": "undersample", "pattern": "equispaced",
                           "acceleration": 3, "acs_lines": 6, "virtual_coils": 1}],
           "methods": {"recon": ["zero-filled"]},
           "metrics": {"image": {"profiles": ["fastmri"]}, "temporal": False}}
    result = run_protocol(validate_protocol(raw, source="p.yaml", base_dir=tmp_path),
                          tmp_path / "run", executor="serial", analyse=False)
    assert result.n_failed == 0, result.summary()
    con = sqlite3.connect(tmp_path / "run" / "results.sqlite")
    rows = dict(con.execute("SELECT metric, value FROM results WHERE condition = 'R3-1' AND "
                            "stage IN ('recon', 'condition')"))
    con.close()
    assert rows["virtual_coils"] == 1.0 and 0 < rows["ssim"] < 1 and rows["nmse"] > 0


def test_strata_are_checked_when_the_protocol_is_loaded(tmp_path):
    """A stratum the store does not record (``sequence``) is refused before any job runs,
    naming the key and the strata that exist."""
    from suite.case import STRATA_COLUMNS
    from suite.protocol import ProtocolError, load_protocol

    path = _protocol(tmp_path, {"name": "zero-filled"}, "strata")
    raw = yaml.safe_load(path.read_text())
    raw["analyses"]["strata"] = ["vendor", "sequence"]
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ProtocolError, match=r"analyses\.strata") as err:
        load_protocol(path)
    assert "sequence" in str(err.value) and "pathology" in str(err.value)
    raw["analyses"]["strata"] = list(STRATA_COLUMNS)
    path.write_text(yaml.safe_dump(raw))
    assert load_protocol(path).raw["analyses"]["strata"] == list(STRATA_COLUMNS)


def test_reference_magnitude_is_remembered_per_case(case, monkeypatch):
    """The scoring reference of a case is computed once for the same k-space arrays (read
    only), again for another case, and equals the RSS of the fully sampled k-space."""
    from suite.mr import ifft2c, rss
    from suite.stages.recon import reference as ref_mod

    calls = []
    compute = ref_mod._reference_magnitude
    monkeypatch.setattr(ref_mod, "_reference_magnitude", lambda c: calls.append(c) or compute(c))
    monkeypatch.setattr(ref_mod, "_REFERENCES", [])
    first = ref_mod.reference_magnitude(case)
    assert ref_mod.reference_magnitude(case) is first and len(calls) == 1
    assert not first.flags.writeable
    np.testing.assert_array_equal(first, np.asarray(rss(ifft2c(case.kspace), dim=2), np.float64))
    other = case.replace(kspace=case.kspace.copy())
    np.testing.assert_array_equal(ref_mod.reference_magnitude(other), first)
    assert len(calls) == 2

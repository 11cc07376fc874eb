"""``split: slice``: jobs of the first method stage per slice, assembled by the case's job.

The reference is the same protocol run without the split: the results must be the same values,
which holds when each slice's output is that slice of the method's output on the case (checked
here for every reference reconstruction that declares ``slice_separable``)."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from suite.protocol import ProtocolError, validate_protocol
from suite.runner import run_protocol

PROTOCOL = {
    "name": "tiny-split-test", "seed": 5,
    "datasets": [{"name": "phantom", "phantom": {"subjects": 1, "seed": 13, "presets": ["tiny"],
                                                 "overrides": {"n_frames": 4}}}],
    "conditions": [{"name": "R3", "type": "undersample", "pattern": "equispaced",
                    "acceleration": 3, "acs_lines": 8}],
    "methods": {"recon": ["zero-filled", {"name": "cg-sense", "params": {"max_iter": 3}}]},
    "metrics": {"image": {"profiles": ["fastmri"]}, "temporal": False, "clinical": False},
    "analyses": {"bootstrap": {"n_resamples": 100}},
}


def _run(tmp_path, name, split):
    raw = json.loads(json.dumps(PROTOCOL))
    if split:
        raw["datasets"][0]["split"] = split
    protocol = validate_protocol(raw, source=f"{name}.yaml")
    result = run_protocol(protocol, tmp_path / name, executor="serial", analyse=False)
    assert result.n_failed == 0
    con = sqlite3.connect(tmp_path / name / "results.sqlite")
    rows = con.execute("SELECT job_id, recon, stage, metric, value FROM results "
                       "ORDER BY job_id, stage, metric").fetchall()
    jobs = con.execute("SELECT job_id, spec, status FROM jobs").fetchall()
    outputs = con.execute("SELECT name FROM outputs").fetchall()
    con.close()
    return rows, jobs, [o[0] for o in outputs]


def test_split_by_slice_gives_the_unsplit_results(tmp_path, monkeypatch):
    whole, whole_jobs, _ = _run(tmp_path, "whole", None)
    split, split_jobs, outputs = _run(tmp_path, "split", "slice")
    assert split == whole  # same case jobs (same ids), same values
    specs = [json.loads(s) for _, s, _ in split_jobs]
    slices = [s for s in specs if s.get("slice") is not None]
    n_slices = len({s["slice"] for s in slices})
    assert n_slices >= 2 and len(slices) == 2 * n_slices  # two methods
    assert all(status == "done" for *_, status in split_jobs)
    assert len(split_jobs) == len(whole_jobs) + len(slices)
    assert sorted(o for o in outputs if "slice" in o) == sorted(
        f"recon slice {i}" for i in range(n_slices) for _ in range(2))
    # `cmrsuite verify` plans the same jobs and re-runs them (every done job) identically
    from suite.runner.verify import verify_run

    raw = json.loads(json.dumps(PROTOCOL))
    raw["datasets"][0]["split"] = "slice"
    report = verify_run(tmp_path / "split", validate_protocol(raw, source="split.yaml"), n_jobs=0)
    assert report.ok and len(report.checked) == len(split_jobs), report.mismatches
    # a method that does not declare itself slice-separable runs on the whole case
    from reference_impls.recon.zero_filled import ZeroFilled

    monkeypatch.setattr(ZeroFilled, "slice_separable", False)
    fallback, _, outputs = _run(tmp_path, "fallback", "slice")
    assert fallback == whole
    assert len([o for o in outputs if "slice" in o]) == n_slices  # cg-sense's only


def test_split_is_validated():
    raw = json.loads(json.dumps(PROTOCOL))
    raw["datasets"][0]["split"] = "slices"
    with pytest.raises(ProtocolError, match=r"datasets\[0\]\.split.*'slice'"):
        validate_protocol(raw, source="p.yaml")


@pytest.mark.parametrize("name, params", [
    ("zero-filled", {}), ("cg-sense", {"max_iter": 3}), ("kt-cs", {"max_iter": 3}),
    ("lowrank-sparse", {"max_iter": 3}), ("unrolled", {}), ("unrolled-ssdu", {})])
def test_slice_separable_methods_reconstruct_each_slice_alone(name, params):
    """What ``slice_separable`` promises: the output on one slice equals that slice of the
    output on the case (the contract ``split: slice`` relies on)."""
    import reference_impls
    from suite.mr import equispaced_mask
    from suite.phantom import simulate

    method = reference_impls.get("recon", name, **params)
    assert method.slice_separable
    case = simulate(seed=3, preset="tiny", n_frames=4)
    sampling = equispaced_mask(case.kspace.shape, 3, acs_lines=12)
    case = case.replace(kspace=case.kspace * sampling.mask, mask=sampling.mask)
    whole = np.asarray(method(case))
    for s in range(case.n_slices):
        np.testing.assert_array_equal(np.asarray(method(case.slice_case(s)))[0], whole[s])

"""The challenge's own undersampled data: an ``as-acquired`` condition on CMRxRecon files whose
reader pairs them with their ``FullSample`` reference.

A tiny phantom is written in the CMRxRecon 2023 layout (``FullSample`` and ``AccFactor04`` with
its ``_mask.mat``); every recon method runs on the data as read, and its image metrics are
taken against the RSS of the paired fully sampled file. Checked against numpy: the reference
RSS and the NMSE of the zero-filled RSS image (an independent computation from the files).
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
import yaml

from suite.data.matv73 import write_mat_v73
from suite.phantom import simulate
from suite.protocol import ProtocolError, load_protocol, validate_protocol

LINES_EVERY = 4
ACS = 8


def _rss(k):
    img = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), norm="ortho"),
                          axes=(-2, -1))
    return np.sqrt((np.abs(img) ** 2).sum(axis=2))


@pytest.fixture(scope="module")
def challenge_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmrx") / "MultiCoil" / "Cine" / "TrainingSet"
    case = simulate(seed=4, preset="tiny", n_frames=4, n_slices=2)
    k = case.kspace  # (slice, frame, coil, ky, kx)
    ny = k.shape[3]
    lines = np.zeros(ny, bool)
    lines[::LINES_EVERY] = True
    lines[ny // 2 - ACS // 2: ny // 2 + ACS // 2] = True
    kus = k * lines[None, None, None, :, None]
    matlab = (4, 3, 2, 0, 1)  # (slice, frame, coil, ky, kx) -> MATLAB (kx, ky, kc, kz, t)
    for sub in ("FullSample", "AccFactor04"):
        (root / sub / "P001").mkdir(parents=True)
    write_mat_v73(root / "FullSample" / "P001" / "cine_sax.mat",
                  {"kspace_full": np.transpose(k, matlab)})
    write_mat_v73(root / "AccFactor04" / "P001" / "cine_sax.mat",
                  {"kspace_sub04": np.transpose(kus, matlab)})
    mask = np.broadcast_to(lines[None, :], (k.shape[4], ny)).astype(np.float64)  # (kx, ky)
    write_mat_v73(root / "AccFactor04" / "P001" / "cine_sax_mask.mat", {"mask04": mask})
    return root, k.astype(np.complex128), kus.astype(np.complex128), lines


def _protocol(root, tmp_path, condition_type="as-acquired"):
    raw = {"name": "as-acquired-test", "seed": 1,
           "datasets": [{"name": "cmrx", "root": str(root),
                         "reader_options": {"dataset": "cmrxrecon2023"}}],
           "conditions": [{"name": "acquired", "type": condition_type}],
           "methods": {"recon": ["zero-filled"]},
           "metrics": {"image": {"profiles": ["fastmri"]}, "temporal": False,
                       "clinical": False}}
    path = tmp_path / "protocol.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_protocol(path)


def test_as_acquired_scores_the_challenge_files_against_their_fullsample(challenge_tree, tmp_path):
    from suite.runner import run_protocol

    root, k, kus, lines = challenge_tree
    run_dir = tmp_path / "run"
    res = run_protocol(_protocol(root, tmp_path), run_dir, executor="serial")
    con = sqlite3.connect(run_dir / "results.sqlite")
    jobs = dict(con.execute("SELECT case_id, status FROM jobs"))
    assert jobs == {"cmrx/AccFactor04/P001/cine_sax.mat": "done",
                    "cmrx/FullSample/P001/cine_sax.mat": "done"}, (jobs, res)
    rows = dict(con.execute(
        "SELECT case_id || ':' || metric, value FROM results WHERE stage = 'recon' "
        "AND profile = 'fastmri'"))
    acc = dict(con.execute("SELECT case_id, value FROM results WHERE stage = 'condition' "
                           "AND metric = 'effective_acceleration'"))
    # effective acceleration of the challenge mask, and 1 for the fully sampled file
    assert acc["cmrx/AccFactor04/P001/cine_sax.mat"] == pytest.approx(lines.size / lines.sum())
    assert acc["cmrx/FullSample/P001/cine_sax.mat"] == pytest.approx(1.0)
    nominal = dict(con.execute("SELECT case_id, value FROM results WHERE stage = 'condition' "
                               "AND metric = 'nominal_acceleration'"))
    assert nominal == {"cmrx/AccFactor04/P001/cine_sax.mat": 4.0}  # from AccFactor04
    # NMSE of the zero-filled RSS against the RSS of the paired FullSample file (numpy, fastMRI
    # volume NMSE ||ref - rec||^2 / ||ref||^2)
    ref, zf = _rss(k), _rss(kus)
    nmse = np.sum((ref - zf) ** 2) / np.sum(ref ** 2)
    assert nmse > 0.01
    assert rows["cmrx/AccFactor04/P001/cine_sax.mat:nmse"] == pytest.approx(nmse, rel=1e-3)
    assert rows["cmrx/FullSample/P001/cine_sax.mat:nmse"] == pytest.approx(0.0, abs=1e-10)


def test_as_acquired_condition_validates_and_takes_no_parameters(tmp_path):
    good = {"name": "p", "datasets": [{"name": "d", "root": "."}],
            "conditions": [{"name": "acquired", "type": "as-acquired"}],
            "methods": {"recon": ["zero-filled"]}}
    validate_protocol(good, source="p.yaml")
    bad = {**good, "conditions": [{"name": "acquired", "type": "as-acquired", "acceleration": 4}]}
    with pytest.raises(ProtocolError, match=r"conditions\[0\].*acceleration"):
        validate_protocol(bad, source="p.yaml")


def test_reference_recon_of_a_paired_undersampled_case_is_the_fullsample_rss(challenge_tree):
    """The ``reference`` pseudo-reconstruction (what a fully-sampled condition segments) is
    the paired reference, not the RSS of the zero-filled undersampled k-space."""
    from suite.data.cmrxrecon import read_cmrxrecon
    from suite.stages.recon import PSEUDO_METHODS

    root, k, kus, _ = challenge_tree
    case = read_cmrxrecon(root / "AccFactor04" / "P001" / "cine_sax.mat", year=2023)
    reference = PSEUDO_METHODS["reference"]()
    images = reference(case)
    np.testing.assert_allclose(images, _rss(k), rtol=1e-4, atol=1e-6 * np.abs(k).max())
    alone = read_cmrxrecon(root / "AccFactor04" / "P001" / "cine_sax.mat", year=2023,
                           fullsample=False)
    images = reference(alone)
    np.testing.assert_allclose(images, _rss(kus), rtol=1e-4, atol=1e-6 * np.abs(k).max())

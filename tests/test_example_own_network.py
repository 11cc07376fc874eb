"""The worked example of docs/evaluate-your-network.md runs, and its two routes agree: the
plugin run and the run on a folder of predictions made from the exported inputs give identical
scores for the same network, multi-coil and single-coil."""

import hashlib
import json
import sqlite3
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.ci  # trains a network and runs the protocol twice; both routes on a reference
# method: test_runner.py::test_plugin_and_predictions_folder_are_evaluated_like_reference_methods
def test_walkthrough_plugin_and_predictions_routes_agree(tmp_path):
    sys.path.insert(0, str(ROOT / "examples" / "own_network"))
    try:
        from walkthrough import main
    finally:
        sys.path.pop(0)
    found = main(tmp_path / "own", steps=10, subjects=1, report=True)
    assert found["plugin_exit"] == 0 and found["predictions_exit"] == 0
    assert found["routes_identical"] and found["n_scores"] > 0
    con = sqlite3.connect(Path(found["plugin_run"]) / "results.sqlite")
    single = con.execute("SELECT count(*) FROM results WHERE recon = 'my-net' AND "
                         "condition = 'R4-1coil' AND metric = 'ssim'").fetchone()[0]
    attacked = con.execute("SELECT count(*) FROM results WHERE recon = 'my-net' AND "
                           "attack = 'kspace-pgd' AND metric = 'deviation' AND "
                           "profile = 'white-box'").fetchone()[0]
    con.close()
    assert single == 2 and attacked == 1  # two profiles; one white-box PGD budget
    assert Path(found["report"]).is_file()
    # the evaluated network's weights are in the manifest, hashed independently here
    manifest = json.loads((Path(found["plugin_run"]) / "manifest.json").read_text())
    mine = [m for m in manifest["methods"] if m["label"] == "my-net"]
    expected = hashlib.sha256(Path(found["weights"]).read_bytes()).hexdigest()
    assert mine and mine[0]["files"]["weights"]["sha256"] == expected
    from suite.report import build_report

    card = build_report(found["plugin_run"], "model-card", ("md",), figures=False)
    evidence = json.loads((card.documents["model-card"][0].parent / "evidence.json").read_text())
    assert evidence["evidence"]["run.method_files"]["status"] == "measured"
    rows = evidence["evidence"]["run.method_files"]["tables"][0]["rows"]
    assert [r["sha256"] for r in rows if r["method"] == "my-net"] == [expected]
    # the methods table names what each method is (it once called every method "reference")
    kinds = {r["method"]: r["kind"] for r in evidence["evidence"]["run.methods"]["tables"][0]["rows"]}
    assert kinds["my-net"] == "plugin" and kinds["zero-filled"] == "reference"

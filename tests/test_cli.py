"""The command line, end to end on a tiny phantom (the same path as `make demo`)."""

import csv
import json

import pytest

from suite.cli import main


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    out = tmp_path_factory.mktemp("cohort")
    assert main(["phantom", "--subjects", "2", "--seed", "3", "--preset", "tiny", "--out", str(out)]) == 0
    return out


def test_phantom_command_writes_files_and_truth(cohort):
    with (cohort / "truth.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["subject"] for r in rows] == ["phantom-000", "phantom-001"]
    for r in rows:
        assert (cohort / r["subject"] / "cine_sax.h5").stat().st_size > 0
        assert (cohort / r["subject"] / "labels.nii.gz").stat().st_size > 0
        assert 0 < float(r["lv_ef_pct"]) < 100


def test_inspect_prints_json(cohort, capsys):
    assert main(["inspect", str(cohort / "phantom-000" / "cine_sax.h5")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "ismrmrd"
    assert info["coils"] == 4 and info["field_strength_t"] == 1.5


def test_inspect_bad_file_is_one_clear_error(tmp_path, capsys):
    bad = tmp_path / "broken.h5"
    bad.write_bytes(b"not an hdf5 file at all")
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "broken.h5" in err and "Traceback" not in err


def test_datasets_list_and_verify(tmp_path, capsys):
    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("ocmr", "acdc", "mnms", "phantom"):
        assert name in out
    assert main(["datasets", "verify", "acdc", str(tmp_path)]) == 1  # empty folder: files missing


DEMO = """
name: demo-test
seed: 0
datasets:
  - name: phantom
    phantom: {subjects: 1, seed: 2, presets: [tiny], overrides: {n_frames: 6}}
conditions:
  - {name: full, type: fully-sampled}
  - {name: R2, type: undersample, pattern: equispaced, acceleration: 2, acs_lines: 8}
  - {name: R4, type: undersample, pattern: equispaced, acceleration: 4, acs_lines: 8}
methods:
  recon: [zero-filled]
metrics:
  image: {profiles: [fastmri]}
analyses:
  bootstrap: {n_resamples: 100}
"""


def test_demo_runs_a_protocol_and_resumes(tmp_path, capsys):
    proto = tmp_path / "demo.yaml"
    proto.write_text(DEMO)
    out = tmp_path / "runs"
    assert main(["demo", "--out", str(out), "--protocol", str(proto), "--executor", "serial",
                 "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "summary.md" in text and "manifest.json" in text
    run_dirs = list(out.iterdir())
    assert len(run_dirs) == 1
    import sqlite3

    con = sqlite3.connect(run_dirs[0] / "results.sqlite")
    nmse = dict(con.execute("SELECT condition, value FROM results WHERE metric='nmse'"))
    con.close()
    # more undersampling, more aliasing energy in the zero-filled image (physics, not our code)
    assert nmse["R4"] > nmse["R2"] > 0
    # a second demo resumes: every job is reused
    assert main(["demo", "--out", str(out), "--protocol", str(proto), "--executor", "serial",
                 "--quiet"]) == 0
    assert "3 jobs, 3 done (3 reused" in capsys.readouterr().out

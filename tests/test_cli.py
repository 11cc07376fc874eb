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


def test_demo_runs_and_orders_accelerations(tmp_path, capsys):
    code = main(["demo", "--out", str(tmp_path / "demo"), "--subjects", "1", "--presets", "tiny"])
    assert code == 0
    out = capsys.readouterr().out
    assert "SSIM" in out and "results.csv" in out
    with (tmp_path / "demo" / "results.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    by_r = {int(r["acceleration"]): r for r in rows}
    assert set(by_r) == {4, 8}
    # more undersampling, more aliasing energy in the zero-filled image (SSIM of zero-filled
    # images is not monotonic in R on a 60-line matrix whose ACS block dominates, so not tested)
    assert float(by_r[8]["nmse"]) > float(by_r[4]["nmse"])
    assert float(by_r[8]["psnr"]) < float(by_r[4]["psnr"])
    assert float(by_r[4]["effective_acceleration"]) < 4  # ACS lines are not counted in R

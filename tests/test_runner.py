"""The harness end to end on a tiny phantom: protocol validation, plugins, predictions folders,
failures, kill-and-resume, determinism and the Dask executor."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from suite.protocol import ProtocolError, load_protocol, validate_protocol
from suite.runner import run_protocol
from suite.trust import AllowList

BASE = {
    "name": "tiny-runner-test",
    "seed": 3,
    "datasets": [{"name": "phantom",
                  "phantom": {"subjects": 2, "seed": 11, "presets": ["tiny"],
                              "overrides": {"n_frames": 6}}}],
    "conditions": [{"name": "full", "type": "fully-sampled"},
                   {"name": "R3", "type": "undersample", "pattern": "equispaced",
                    "acceleration": 3, "acs_lines": 8}],
    "methods": {"recon": ["zero-filled"], "segmentation": []},
    "metrics": {"image": {"profiles": ["fastmri"]}, "temporal": False, "clinical": False},
    "analyses": {"bootstrap": {"n_resamples": 100}},
}


def write_protocol(tmp_path, name="p.yaml", **changes):
    raw = json.loads(json.dumps(BASE))
    raw.update(changes)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    return path


def result_table(run_dir):
    con = sqlite3.connect(Path(run_dir) / "results.sqlite")
    rows = con.execute("SELECT job_id, case_id, condition, recon, segmentation, stage, metric, "
                       "structure, phase, profile, value, reference_value, status FROM results "
                       "ORDER BY job_id, stage, metric, structure, phase, profile").fetchall()
    con.close()
    return rows


# ---------------------------------------------------------------- protocol validation
@pytest.mark.parametrize("change, key, text", [
    ({"name": None}, "name", "is required"),
    ({"datasets": []}, "datasets", "must not be empty"),
    ({"datasets": [{"name": "x"}]}, "datasets[0]", "exactly one of `phantom`"),
    ({"conditions": [{"name": "c", "type": "undersampel"}]}, "conditions[0].type", "did you mean 'undersample'"),
    ({"conditions": [{"name": "c", "type": "undersample", "pattern": "equispaced"}]},
     "conditions[0].acceleration", "is required"),
    ({"methods": {"recon": ["zero-filed"]}}, "methods.recon[0].name", "did you mean 'zero-filled'"),
    ({"methods": {"recon": [{"plugin": "nocolon"}]}}, "methods.recon[0].plugin", "module:Class"),
    ({"seed": -1}, "seed", "must be >= 0"),
    ({"metrics": {"image": {"profiles": ["fastmr"]}}}, "metrics.image.profiles[0]", "fastmri"),
    ({"colour": "red"}, "colour", "is not a known key"),
])
def test_protocol_errors_name_the_key(change, key, text):
    raw = json.loads(json.dumps(BASE))
    raw.update(change)
    with pytest.raises(ProtocolError) as err:
        validate_protocol(raw, source="bad.yaml")
    assert err.value.key == key
    assert text in str(err.value) and "bad.yaml" in str(err.value)


def test_protocol_hash_ignores_formatting(tmp_path):
    a = write_protocol(tmp_path, "a.yaml")
    b = tmp_path / "b.yaml"
    b.write_text("# comment\n" + yaml.safe_dump(json.loads(json.dumps(BASE)), sort_keys=False))
    assert load_protocol(a).sha256 == load_protocol(b).sha256
    c = write_protocol(tmp_path, "c.yaml", seed=4)
    assert load_protocol(c).sha256 != load_protocol(a).sha256


def test_shipped_protocols_validate():
    root = Path(__file__).resolve().parents[1] / "protocols"
    names = sorted(p.name for p in root.glob("*.yaml"))
    assert "quick.yaml" in names
    for p in root.glob("*.yaml"):
        if p.name in ("recon-cine.yaml", "seg-cine.yaml"):
            # templates for real data point at a folder the user fills in
            raw = yaml.safe_load(p.read_text())
            validate_protocol(raw, source=str(p))
        else:
            load_protocol(p)


# ---------------------------------------------------------------- runs
@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("base")
    proto = load_protocol(write_protocol(tmp))
    result = run_protocol(proto, tmp / "run", executor="serial")
    return proto, result, tmp


def test_run_completes_and_writes_provenance(base_run):
    proto, result, tmp = base_run
    assert result.exit_code == 0 and result.n_failed == 0
    assert result.n_jobs == 4  # 2 cases x (full/reference + R3/zero-filled)
    manifest = json.loads((tmp / "run" / "manifest.json").read_text())
    assert manifest["protocol"]["sha256"] == proto.sha256
    assert manifest["packages"]["torch"].startswith("2.13")
    assert len(manifest["datasets"]) == 2 and all(len(d["sha256"]) == 64 for d in manifest["datasets"])
    assert (tmp / "run" / "report" / "summary.md").exists()
    rows = result_table(tmp / "run")
    ssim = [r for r in rows if r[6] == "ssim"]
    assert len(ssim) == 2 and all(0 < r[10] < 1 for r in ssim)


def test_two_runs_give_identical_tables(base_run, tmp_path):
    proto, _, tmp = base_run
    run_protocol(proto, tmp_path / "again", executor="serial")
    assert result_table(tmp_path / "again") == result_table(tmp / "run")


def test_existing_run_folder_is_refused_without_resume(base_run):
    proto, _, tmp = base_run
    from suite.runner import RunError

    with pytest.raises(RunError, match="--resume"):
        run_protocol(proto, tmp / "run", executor="serial")


def test_resume_with_another_protocol_is_refused(base_run, tmp_path):
    _, _, tmp = base_run
    from suite.runner import RunError

    other = load_protocol(write_protocol(tmp_path, seed=99))
    with pytest.raises(RunError, match="not by"):
        run_protocol(other, tmp / "run", resume=True, executor="serial")


PLUGIN = '''
import numpy as np
from reference_impls import get


class HalfScaleZeroFilled:
    """A user method: the zero-filled image at half intensity (a global scale error)."""
    name = "half-zero-filled"
    version = "0.1"
    stage = "recon"

    def __init__(self, factor=0.5):
        self.factor = factor
        self.inner = get("recon", "zero-filled")

    def params(self):
        return {"factor": self.factor}

    def __call__(self, case):
        return self.factor * self.inner(case)
'''


def test_plugin_and_predictions_folder_are_evaluated_like_reference_methods(base_run, tmp_path):
    _, _, tmp = base_run
    (tmp_path / "plugins").mkdir()
    (tmp_path / "plugins" / "myplugin.py").write_text(PLUGIN)
    # predictions folder: zero-filled images computed here, independently of the runner
    from suite.data import load
    from suite.mr import equispaced_mask, ifft2c, rss

    pred_dir = tmp_path / "preds"
    for case in load(tmp / "run" / "data" / "phantom"):
        s = equispaced_mask(case.kspace.shape, 3, acs_lines=8)
        img = np.asarray(rss(ifft2c(case.kspace * s.mask), dim=2), np.float32)
        out = pred_dir / "phantom" / case.meta.subject
        out.mkdir(parents=True)
        np.save(out / "R3.npy", img)
    path = write_protocol(tmp_path, plugin_paths=["plugins"], methods={"recon": [
        "zero-filled", {"plugin": "myplugin:HalfScaleZeroFilled", "params": {"factor": 0.5}},
        # made here with the documented mask rule, not from `conditions export`: the protocol
        # states that their inputs are unverified
        {"predictions": "preds", "label": "my-predictions", "verify_inputs": False}]})
    allow = AllowList(["myplugin:HalfScaleZeroFilled"], paths=[tmp_path / "plugins"])
    result = run_protocol(load_protocol(path, allow_plugins=allow), tmp_path / "run",
                          executor="serial")
    assert result.n_failed == 0
    rows = result_table(tmp_path / "run")
    val = {(r[1], r[3], r[6]): r[10] for r in rows if r[5] == "recon"}
    for case_id in {r[1] for r in rows}:
        zf = val[(case_id, "zero-filled", "nmse")]
        # predictions of the same images score exactly like the reference method
        assert val[(case_id, "my-predictions", "nmse")] == pytest.approx(zf, rel=1e-6)
        # half scale: NMSE = ||r - x/2||^2/||r||^2, worse than zero-filled
        assert val[(case_id, "myplugin:HalfScaleZeroFilled", "nmse")] > zf


def test_corrupt_input_is_recorded_and_the_run_completes(base_run, tmp_path):
    _, _, tmp = base_run
    import shutil

    root = tmp_path / "data"
    shutil.copytree(tmp / "run" / "data" / "phantom", root / "phantom")
    (root / "loose").mkdir()
    for case_dir in sorted((root / "phantom").glob("phantom-*")):
        shutil.copy(case_dir / "cine_sax.h5", root / "loose" / f"{case_dir.name}.h5")
    bad = root / "loose" / "phantom-001.h5"
    bad.write_bytes(bad.read_bytes()[: 4096])  # truncated
    (root / "loose" / "notes.h5").write_text("this is not HDF5")
    path = write_protocol(tmp_path, datasets=[{"name": "files", "root": str(root / "loose")}])
    result = run_protocol(load_protocol(path), tmp_path / "run", executor="serial")
    assert result.n_done >= 2  # the good file ran under both conditions
    assert result.n_failed == 2  # the truncated file's two jobs
    assert any("notes.h5" in f["path"] for f in result.input_failures)
    assert result.exit_code == 1  # failure tolerance 0
    cause = " ".join(result.failures_by_cause)
    assert "CorruptFileError" in cause and "phantom-001.h5" in cause
    summary = (tmp_path / "run" / "report" / "summary.md").read_text()
    assert "notes.h5" in summary and "CorruptFileError" in summary
    # a tolerance that admits the failures gives exit code 0... for job failures only
    assert result.failed_fraction == pytest.approx(0.5)


@pytest.mark.ci  # a killed process and a 400-iteration CG-SENSE; resume: test_cli.py, test_run_safety.py
def test_kill_and_resume_gives_the_uninterrupted_results(base_run, tmp_path):
    # CG-SENSE with a fixed 400 iterations makes each job last long enough to be interrupted
    proto_path = write_protocol(tmp_path, methods={"recon": ["zero-filled", {
        "name": "cg-sense", "params": {"max_iter": 400, "tol": 0.0}}]})
    reference = tmp_path / "uninterrupted"
    run_protocol(load_protocol(proto_path), reference, executor="serial")
    run_dir = tmp_path / "killed"
    cmd = [sys.executable, "-m", "suite.cli", "run", str(proto_path), "--out", str(run_dir),
           "--executor", "serial", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = run_dir / "results.sqlite"
    n_done = 0
    for _ in range(4800):  # poll for up to ~4 minutes (a timeout, not a speed assertion)
        if proc.poll() is not None:
            break
        if db.exists():
            try:
                con = sqlite3.connect(db, timeout=1)
                n_done = con.execute("SELECT COUNT(*) FROM jobs WHERE status='done'").fetchone()[0]
                con.close()
            except sqlite3.OperationalError:
                n_done = 0
            if n_done >= 1:
                break
        time.sleep(0.02)
    still_running = proc.poll() is None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert n_done >= 1 and still_running, "the run was not interrupted part-way"
    con = sqlite3.connect(db)
    done_before = con.execute("SELECT COUNT(*) FROM jobs WHERE status='done'").fetchone()[0]
    con.close()
    result = run_protocol(load_protocol(proto_path), run_dir, executor="serial", resume=True)
    assert result.n_skipped == done_before < result.n_jobs
    assert result_table(run_dir) == result_table(reference)


@pytest.mark.ci  # starts a Dask cluster (an optional extra); the process pool is checked below
def test_dask_local_cluster_gives_the_local_results(base_run, tmp_path):
    pytest.importorskip("distributed", reason="the dask executor is an optional extra")
    proto, _, tmp = base_run
    run_protocol(proto, tmp_path / "dask", executor="dask", workers=2)
    assert result_table(tmp_path / "dask") == result_table(tmp / "run")


def test_local_process_pool_gives_the_serial_results(base_run, tmp_path):
    proto, _, tmp = base_run
    run_protocol(proto, tmp_path / "pool", executor="local", workers=2)
    assert result_table(tmp_path / "pool") == result_table(tmp / "run")


def test_verify_reruns_jobs_bit_identically(base_run):
    from suite.runner.verify import verify_run

    _, _, tmp = base_run
    report = verify_run(tmp / "run", tmp / "p.yaml", n_jobs=2)
    assert report.identical and report.ok, report.summary()


def test_export_csv(base_run):
    from suite.runner.export import export_run

    _, _, tmp = base_run
    paths = export_run(tmp / "run", "csv")
    import pandas as pd

    res = pd.read_csv([p for p in paths if p.name == "results.csv"][0])
    assert len(res) == len(result_table(tmp / "run"))


def test_export_parquet(base_run):
    pytest.importorskip("pyarrow", reason="parquet export needs the `parquet` extra")
    import pandas as pd

    from suite.runner.export import export_run

    _, _, tmp = base_run
    paths = export_run(tmp / "run", "parquet")
    res = pd.read_parquet([p for p in paths if p.name == "results.parquet"][0])
    assert len(res) == len(result_table(tmp / "run"))
    assert set(res["metric"]) >= {"nmse", "psnr", "ssim"}


def test_a_worker_reads_a_case_once_until_its_file_changes(tmp_path, monkeypatch):
    """load_case keeps the last cases a worker read; a changed file is read again."""
    from suite.phantom import simulate
    from suite.runner import execute
    from suite.runner.jobs import CaseRef

    case = simulate(seed=0, preset="tiny", n_slices=1)
    reads = []
    monkeypatch.setattr("suite.data.loader.read_unit",
                        lambda unit, **kw: reads.append(unit) or case)
    monkeypatch.setattr(execute, "_CASES", {})
    f = tmp_path / "a.h5"
    f.write_bytes(b"x")
    ref = CaseRef("ds", "a", str(f), "ismrmrd")
    plain = execute.load_case(ref)
    audited = execute.load_case(ref, audit=True)
    assert len(reads) == 1 and plain.meta.dataset == audited.meta.dataset == "ds"
    assert audited.meta.audit_flags and not plain.meta.audit_flags  # no edit in place
    assert not execute.load_case(ref).meta.audit_flags
    f.write_bytes(b"xy")  # new size: read again
    execute.load_case(ref)
    assert len(reads) == 2
    execute.load_case(ref)
    assert len(reads) == 2
    for i in range(execute.CASES_KEPT):  # other cases push it out
        g = tmp_path / f"b{i}.h5"
        g.write_bytes(b"x")
        execute.load_case(CaseRef("ds", f"b{i}", str(g), "ismrmrd"))
    execute.load_case(ref)
    assert len(reads) == 2 + execute.CASES_KEPT + 1

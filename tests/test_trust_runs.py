"""Run-folder integrity (issue 14, finding 2; cache part of finding 6): a run seals its folder,
``cmrsuite verify`` checks the seal and re-runs jobs only from the user's own protocol file,
comparing every column; the runner never reuses an altered cache entry silently and repairs a
truncated one.

Each tamper is done here with plain ``sqlite3`` and numpy, as a person editing the folder would,
on a copy of one small sealed run.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import yaml

from suite.cli import main
from tiny_protocol import tiny_protocol
from suite.protocol import load_protocol
from suite.runner import run_protocol
from suite.runner.verify import verify_run
from suite.store.cache import cache_path


def check_seal(run, **kw):
    """:func:`suite.store.check_seal` (imported here: the module is collected on a suite
    without seals too, where these tests fail one by one)."""
    from suite.store import check_seal as check

    return check(run, **kw)


PROTOCOL = tiny_protocol("trust-runs", seed=4, subjects=2, phantom_seed=5)


@pytest.fixture(scope="module")
def sealed(tmp_path_factory):
    """(protocol path, run folder) of one finished, sealed run."""
    tmp = tmp_path_factory.mktemp("sealed")
    path = tmp / "p.yaml"
    path.write_text(yaml.safe_dump(PROTOCOL))
    result = run_protocol(load_protocol(path), tmp / "run", executor="serial")
    assert result.exit_code == 0, result.summary()
    return path, tmp / "run"


@pytest.fixture
def copy(sealed, tmp_path):
    """A copy of the sealed run to tamper with."""
    shutil.copytree(sealed[1], tmp_path / "run")
    return tmp_path / "run"


def _sql(run: Path, *statements) -> None:
    con = sqlite3.connect(run / "results.sqlite")
    with con:
        for s in statements:
            con.execute(s)
    con.close()


def _kinds(report) -> list[str]:
    return sorted(f["kind"] for f in report.findings)


def _ssim_row(run: Path) -> tuple[int, str]:
    con = sqlite3.connect(run / "results.sqlite")
    rowid, job = con.execute("SELECT rowid, job_id FROM results WHERE metric = 'ssim' AND "
                             "condition = 'R3' ORDER BY rowid LIMIT 1").fetchone()
    con.close()
    return rowid, job


# ---------------------------------------------------------------- the seal
def test_a_finished_run_is_sealed_and_its_rows_carry_content_hashes(sealed):
    _, run = sealed
    manifest = json.loads((run / "manifest.json").read_text())
    seal = manifest["seal"]
    assert len(seal["root"]) == 64 and (run / "seal.json").is_file()
    assert set(seal["tables"]) == {"jobs", "results", "outputs", "cases", "failures",
                                   "run_info"}
    con = sqlite3.connect(run / "results.sqlite")
    for table, col in (("results", "row_sha256"), ("outputs", "row_sha256"),
                       ("jobs", "record_sha256")):
        assert con.execute(f"SELECT count(*) FROM {table} WHERE {col} IS NULL").fetchone()[0] == 0
    con.close()
    report = check_seal(run)
    assert report.ok and report.root == seal["root"], report.summary()
    assert report.cache_entries >= 4  # every output of the 4 jobs, checked against its hash


def test_an_inflated_row_and_a_duplicate_are_reported_with_their_rows(copy):
    """The issue's attack: one value inflated, plus a duplicate of a row with its true value
    (a dict keyed by metric used to collapse the duplicate)."""
    rowid, _ = _ssim_row(copy)
    _sql(copy, f"UPDATE results SET value = 0.999 WHERE rowid = {rowid}",
         f"INSERT INTO results SELECT * FROM results WHERE rowid = {rowid + 1}")
    report = check_seal(copy)
    assert not report.ok
    edited = [f for f in report.findings if f["kind"] == "edited"]
    dup = [f for f in report.findings if f["kind"] == "duplicate"]
    assert len(edited) == 1 and f"results row {rowid} " in edited[0]["where"]
    assert "ssim" in edited[0]["where"]
    assert len(dup) == 1 and "2 copies, 1 sealed" in dup[0]["problem"]


def test_an_edit_with_its_hash_recomputed_is_caught_by_the_seal(copy):
    from suite.store.digest import row_digest

    rowid, _ = _ssim_row(copy)
    con = sqlite3.connect(copy / "results.sqlite")
    cur = con.execute(f"SELECT rowid, * FROM results WHERE rowid = {rowid}")
    row = dict(zip([d[0] for d in cur.description], cur.fetchone()))
    row["value"] = 0.999
    with con:
        con.execute("UPDATE results SET value = 0.999, row_sha256 = ? WHERE rowid = ?",
                    (row_digest("results", row), rowid))
    con.close()
    report = check_seal(copy)
    assert [f["kind"] for f in report.findings] == ["edited"]
    assert "changed after the run was sealed" in report.findings[0]["problem"]


def test_a_deleted_row_and_a_deleted_job_are_reported(copy):
    rowid, job = _ssim_row(copy)
    _sql(copy, f"DELETE FROM results WHERE rowid = {rowid}")
    report = check_seal(copy)
    assert _kinds(report) == ["deleted"]
    assert job in report.findings[0]["where"]
    _sql(copy, f"DELETE FROM jobs WHERE job_id = '{job}'")
    assert _kinds(check_seal(copy)) == ["deleted", "deleted"]


def test_an_altered_or_missing_cache_entry_is_reported(copy):
    con = sqlite3.connect(copy / "results.sqlite")
    (key, job), (key2, _) = con.execute("SELECT cache_key, job_id FROM outputs ORDER BY job_id, "
                                        "name LIMIT 2").fetchall()
    con.close()
    path = cache_path(copy / "cache", key)
    array = np.load(path)
    array.flat[0] += 1
    np.save(path, array)
    cache_path(copy / "cache", key2).unlink()
    report = check_seal(copy)
    assert _kinds(report) == ["cache", "cache"]
    text = report.summary()
    assert key in text and "altered" in text and key2 in text and "missing" in text


def test_missing_manifest_edited_provenance_and_resealing_are_reported(copy, sealed):
    root = json.loads((copy / "manifest.json").read_text())["seal"]["root"]
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["packages"]["torch"] = "0.0"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    report = check_seal(copy)
    assert [(f["kind"], f["where"]) for f in report.findings] == [("file", "manifest.json")]
    # a forger who re-seals after editing is caught by the root the run printed
    from suite.store.seal import seal_run

    manifest["seal"] = seal_run(copy, manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    assert check_seal(copy).ok
    report = check_seal(copy, expected_root=root)
    assert _kinds(report) == ["seal"] and "not the digest you gave" in report.summary()
    (copy / "manifest.json").unlink()
    report = check_seal(copy)
    assert not report.sealed and _kinds(report) == ["manifest"]


# ---------------------------------------------------------------- verify
def test_verify_reports_tampering_and_recomputes_every_column(copy, sealed, capsys):
    path, _ = sealed
    rowid, _ = _ssim_row(copy)
    _sql(copy, f"UPDATE results SET unit = 'percent', status = 'ok' WHERE rowid = {rowid}")
    code = main(["verify", str(copy), "--protocol", str(path), "--jobs", "0"])
    out = capsys.readouterr().out
    assert code == 1 and "NOT VERIFIED" in out
    assert "re-ran 4 job(s)" in out
    # only `value` was compared before: a changed unit is a difference now
    assert "unit: stored 'percent', recomputed '1'" in out


def test_verify_of_an_intact_run_passes_and_samples_every_phase(sealed, capsys):
    path, run = sealed
    assert main(["verify", str(run), "--protocol", str(path), "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "VERIFIED" in out and "re-ran 1 job(s)" in out and "identical" in out
    from suite.runner.verify import default_sample_size

    assert default_sample_size(3) == 3 and default_sample_size(40) == 5
    assert default_sample_size(400) == 40


def test_verify_never_runs_the_job_spec_stored_in_the_folder(copy, sealed, tmp_path):
    """A job spec edited to a shell command (finding 2): verify used to re-run it."""
    path, _ = sealed
    marker = tmp_path / "pwned"
    con = sqlite3.connect(copy / "results.sqlite")
    job, spec = con.execute("SELECT job_id, spec FROM jobs WHERE status = 'done' ORDER BY "
                            "job_id LIMIT 1").fetchone()
    spec = json.loads(spec)
    spec["methods"][0][1] = {"plugin": "os:system", "params": {"command": f"touch {marker}"}}
    with con:
        con.execute("UPDATE jobs SET spec = ? WHERE job_id = ?", (json.dumps(spec), job))
    con.close()
    report = verify_run(copy, path, n_jobs=0)
    assert not marker.exists()
    assert not report.ok
    assert any(f["kind"] == "edited" and f["where"].startswith("jobs row")
               for f in report.seal.findings)
    assert [m["kind"] for m in report.mismatches] == ["spec"]
    assert report.identical is False and len(report.checked) == 4


def test_verify_without_protocol_checks_only_the_seal_and_refuses_another_protocol(
        sealed, tmp_path):
    path, run = sealed
    report = verify_run(run)
    assert report.ok and not report.checked and "--protocol" in report.skipped
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({**PROTOCOL, "seed": 99}))
    report = verify_run(run, other)
    assert not report.ok and report.mismatches[0]["kind"] == "protocol"


# ---------------------------------------------------------------- the cache at run time
def _rerun_after(copy, sealed, damage) -> tuple:
    """Damage the first recon output of the copy, resume the run after marking that job
    pending, and return (result, path of the entry, bytes before)."""
    path, _ = sealed
    con = sqlite3.connect(copy / "results.sqlite")
    job, key = con.execute("SELECT job_id, cache_key FROM outputs WHERE name = 'recon' ORDER "
                           "BY job_id LIMIT 1").fetchone()
    with con:
        con.execute("UPDATE jobs SET status = 'pending' WHERE job_id = ?", (job,))
    con.close()
    entry = cache_path(copy / "cache", key)
    before = entry.read_bytes()
    damage(entry)
    result = run_protocol(load_protocol(path), copy, executor="serial", resume=True,
                          analyse=False)
    return result, entry, before


def test_a_tampered_cache_entry_is_not_reused_silently(copy, sealed):
    def tamper(entry):
        array = np.load(entry)
        array *= 2
        np.save(entry, array)

    result, entry, before = _rerun_after(copy, sealed, tamper)
    assert result.n_failed == 0
    assert [r["path"] for r in result.cache_repairs] == [str(entry)]
    assert "recorded when it was written" in result.cache_repairs[0]["problem"]
    assert "cache entry not reused" in result.summary()
    assert entry.read_bytes() == before  # recomputed: the job's true output again
    assert check_seal(copy).ok  # resumed run re-sealed


def test_a_truncated_cache_entry_does_not_fail_its_job_forever(copy, sealed):
    result, entry, before = _rerun_after(copy, sealed,
                                         lambda e: e.write_bytes(e.read_bytes()[:200]))
    assert result.n_failed == 0 and result.n_done == result.n_jobs
    assert len(result.cache_repairs) == 1
    assert entry.read_bytes() == before


def test_a_resumed_run_is_unsealed_until_it_finishes(copy, sealed):
    from suite.store.seal import unseal

    unseal(copy)  # what a resume does first
    report = check_seal(copy)
    assert not report.sealed and "did not finish" in report.summary()
    assert not (copy / "seal.json").exists()

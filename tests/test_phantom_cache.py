"""The phantom cohort cache: reuse only what verifies, keyed by entry and generator code."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from suite.phantom import cache as cache_mod
from suite.phantom import kinds
from suite.phantom.cache import RECORD, PhantomCache, cohort_key, phantom_cache
from suite.phantom.kinds import write_phantom_cohort

ENTRY = {"subjects": 1, "seed": 3, "presets": ["siemens-1.5t"],
         "overrides": {"matrix": [40, 48], "pixel_spacing_mm": 6.0, "n_frames": 4, "n_coils": 2}}


def _digests(folder: Path) -> dict:
    """Independent check: SHA-256 of every file under ``folder`` with hashlib."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """One cohort simulated without a cache, and a cache filled by a second, cached write."""
    root = tmp_path_factory.mktemp("phantom-cache")
    write_phantom_cohort(ENTRY, root / "plain", cache=False)
    store = PhantomCache(root / "cache")
    write_phantom_cohort(ENTRY, root / "first", cache=store)
    return root, store


@pytest.fixture
def no_simulation(monkeypatch):
    """Make simulating a cohort an error (so a test sees whether the cache was used)."""
    calls = []

    def refuse(entry, out, **kw):
        calls.append(out)
        raise AssertionError("the cohort was simulated")

    real = kinds.phantom_kind

    def kind(entry):
        return kinds.PhantomKind("cine", real(entry).validate, refuse)

    monkeypatch.setattr(kinds, "phantom_kind", kind)
    return calls


def test_cached_write_equals_simulation_and_fills_the_cache(simulated):
    root, store = simulated
    assert _digests(root / "first") == _digests(root / "plain")
    record = json.loads((store.root / cohort_key(ENTRY) / RECORD).read_text())
    files = {k: v["sha256"] for k, v in record["files"].items()}
    assert files == {k: v for k, v in _digests(root / "plain").items() if k != ".complete"}
    assert {"cine_sax.h5", "labels.nii.gz"} <= {Path(k).name for k in files}
    assert "truth.csv" in files


def test_second_write_restores_without_simulating(simulated, no_simulation, tmp_path):
    root, store = simulated
    write_phantom_cohort(ENTRY, tmp_path / "again", cache=store)
    assert not no_simulation
    assert _digests(tmp_path / "again") == _digests(root / "plain")


def test_a_corrupted_entry_is_discarded_and_the_cohort_simulated(simulated, tmp_path):
    root, _ = simulated
    store = PhantomCache(tmp_path / "cache")
    write_phantom_cohort(ENTRY, tmp_path / "fill", cache=store)
    entry_dir = store.root / cohort_key(ENTRY)
    h5 = next(entry_dir.rglob("cine_sax.h5"))
    data = bytearray(h5.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, different content
    h5.write_bytes(bytes(data))
    assert store.restore(ENTRY, tmp_path / "probe") is False
    assert not entry_dir.exists()
    assert not any(p.is_file() for p in (tmp_path / "probe").rglob("*"))
    write_phantom_cohort(ENTRY, tmp_path / "rewritten", cache=store)
    assert _digests(tmp_path / "rewritten") == _digests(root / "plain")
    assert (entry_dir / RECORD).is_file()  # stored again


def test_a_record_naming_a_path_outside_the_cohort_is_refused(simulated, tmp_path):
    _, store = simulated
    bad = PhantomCache(tmp_path / "cache")
    entry_dir = bad.root / cohort_key(ENTRY)
    entry_dir.mkdir(parents=True)
    (entry_dir / RECORD).write_text(json.dumps(
        {"key": cohort_key(ENTRY), "files": {"../escape.txt": {"sha256": "0" * 64, "size": 1}}}))
    assert bad.restore(ENTRY, tmp_path / "out" / "inner") is False
    assert not (tmp_path / "out" / "escape.txt").exists()
    assert not entry_dir.exists()


def test_key_depends_on_the_entry_and_the_generator_code(monkeypatch):
    base = cohort_key(ENTRY)
    assert cohort_key(dict(ENTRY)) == base
    assert cohort_key({**ENTRY, "kind": "cine"}) == base  # the default kind made explicit
    assert cohort_key({**ENTRY, "seed": 4}) != base
    assert cohort_key({**ENTRY, "overrides": {**ENTRY["overrides"], "n_coils": 4}}) != base
    monkeypatch.setattr(cache_mod, "code_digest", lambda: "another generator")
    assert cohort_key(ENTRY) != base


def test_cache_location_and_switch(monkeypatch, tmp_path):
    monkeypatch.setenv(cache_mod.CACHE_ENV, "off")
    assert phantom_cache() is None
    monkeypatch.setenv(cache_mod.CACHE_ENV, str(tmp_path / "c"))
    monkeypatch.setenv(cache_mod.CACHE_SIZE_ENV, "7")
    c = phantom_cache()
    assert c.root == tmp_path / "c" and c.root.is_dir() and c.max_bytes == 7 << 20
    monkeypatch.delenv(cache_mod.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert phantom_cache().root == tmp_path / "xdg" / "cmrsuite" / "phantom"


def test_least_recently_used_entries_go_beyond_the_size_limit(simulated, tmp_path):
    root, _ = simulated
    size = sum(p.stat().st_size for p in (root / "plain").rglob("*") if p.is_file())
    store = PhantomCache(tmp_path / "cache", max_bytes=int(1.5 * size))
    store.store(ENTRY, root / "plain")
    os.utime(store.root / cohort_key(ENTRY) / RECORD, (1e9, 1e9))  # used long ago
    other = {**ENTRY, "seed": 99}  # same files under another key: enough for the limit
    store.store(other, root / "plain")
    assert not (store.root / cohort_key(ENTRY)).exists()
    assert (store.root / cohort_key(other) / RECORD).is_file()


def test_subjects_simulated_on_process_workers_equal_one_after_the_other(tmp_path):
    from suite.runner.executors import LocalExecutor

    entry = {**ENTRY, "subjects": 2}
    write_phantom_cohort(entry, tmp_path / "serial", cache=False)
    with LocalExecutor(2) as pool:
        write_phantom_cohort(entry, tmp_path / "pool", cache=False, map=pool.map)
    assert _digests(tmp_path / "pool") == _digests(tmp_path / "serial")
    assert len([p for p in (tmp_path / "pool").iterdir() if p.is_dir()]) == 2


@pytest.mark.ci  # the same pool path as the cine cohort above, with mapping subjects
def test_mapping_subjects_on_process_workers_equal_one_after_the_other(tmp_path):
    from suite.runner.executors import LocalExecutor

    entry = {"kind": "mapping", "subjects": 2, "seed": 1, "pathologies": ["normal", "oedema"],
             "sequences": ["molli-5(3)3"], "upsample": 1}
    write_phantom_cohort(entry, tmp_path / "serial", cache=False)
    with LocalExecutor(2) as pool:
        write_phantom_cohort(entry, tmp_path / "pool", cache=False, map=pool.map)
    assert _digests(tmp_path / "pool") == _digests(tmp_path / "serial")
    assert (tmp_path / "pool" / "mapping_cohort.csv").read_text().count("\n") == 3  # header + 2

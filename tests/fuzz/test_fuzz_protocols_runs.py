"""Fuzz: broken and hostile protocols, tampered run folders (issue 14).

Every case is generated from one seed (``CMRSUITE_FUZZ_SEED``, default 14; the case id names
its number and kind, so a failure reproduces with the same seed) and asserts:

* **protocols** — a valid shipped protocol, mutated (wrong types, unknown and missing keys,
  path-escaping names, huge and non-finite numbers, dangerous plugins, swapped sections), or
  its YAML text damaged (truncation at a random offset, byte flips, alias bombs, recursive
  anchors, deep nesting): loading it either gives a protocol whose jobs expand, or raises a
  key-path error naming the file (``ProtocolError``, ``PluginNotAllowedError``); no other
  exception, no plugin imported, no file written, memory bounded;
* **run folders** — a copy of one small sealed run with a cell edited, a row deleted,
  duplicated or added, a cache entry flipped, truncated or removed, the manifest or the seal
  damaged or removed, ``results.sqlite`` truncated or bit-flipped: ``cmrsuite verify`` exits
  1 (the tamper reported) or 3 (store unreadable) with one line on stderr, never a traceback,
  writes nothing (in the folder or elsewhere); damage to ``results.sqlite`` that leaves every
  row intact (a flip or cut in unused pages) may verify (exit 0): a dump of the tables checks
  that the rows are indeed the sealed ones.

``CMRSUITE_FUZZ_SCALE`` (default 1) multiplies the number of cases (CI's larger run).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import shutil
import sqlite3
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from suite._validation import KeyPathError
from suite.cli import main
from suite.protocol import load_protocol
from suite.runner.jobs import CaseRef, expand_jobs

SEED = int(os.environ.get("CMRSUITE_FUZZ_SEED", "14"))
SCALE = max(1, int(os.environ.get("CMRSUITE_FUZZ_SCALE", "1")))
N_PROTOCOLS, N_TEXTS, N_RUNS = 110 * SCALE, 40 * SCALE, 60 * SCALE
ROOT = Path(__file__).resolve().parents[2]
QUICK = yaml.safe_load((ROOT / "protocols" / "quick.yaml").read_text())

#: Values a mutation puts where another was expected.
ODD_VALUES = [None, True, False, 0, -1, 1, 2**64, 10**400, -10**20, 1e308, float("nan"),
              float("inf"), -0.0, "", "x" * 5000, "../../etc/passwd", "/etc", "a\x00b", "ü",
              [], [None], [[[[[]]]]], {}, {"a": 1}, {"": None}, "fully-sampled", "recon",
              ["recon", "recon"], [1, 2, 3], {"plugin": "os:system"}]
#: Names that would leave the run folder if they became paths.
ESCAPES = ["../escape", "../../../../tmp/escape", "/tmp/escape", "..", ".", "a/b", "a\\b",
           "~/escape", "x\x00y", ".hidden", ""]
#: Callables no protocol may import without the user's consent.
DANGEROUS = ["os:system", "subprocess:Popen", "builtins:eval", "shutil:rmtree",
             "ctypes:CDLL", "pickle:loads", "importlib:import_module", "os:*"]


@dataclass(frozen=True)
class Case:
    id: str
    kind: str
    payload: object


# ====================================================================== protocol cases
def _base() -> dict:
    raw = copy.deepcopy(QUICK)
    raw["datasets"].append({"name": "files", "root": "data", "max_cases": 2,
                            "reader_options": {"group_by": "series"}})
    return raw


def _paths(doc, prefix=()) -> list[tuple]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, prefix + (i,))
    return out


def _get(doc, path):
    for k in path:
        doc = doc[k]
    return doc


def _mutate(raw: dict, rng: random.Random) -> str:
    """Apply one random mutation to ``raw`` in place; returns its name."""
    paths = [p for p in _paths(raw) if p]
    op = rng.choice(["retype", "retype", "drop", "unknown", "escape", "plugin", "huge", "swap"])
    if op == "retype":
        path = rng.choice(paths)
        _get(raw, path[:-1])[path[-1]] = copy.deepcopy(rng.choice(ODD_VALUES))
    elif op == "drop":
        path = rng.choice(paths)
        parent = _get(raw, path[:-1])
        del parent[path[-1]]
    elif op == "unknown":
        maps = [p for p in _paths(raw) if isinstance(_get(raw, p), dict)]
        _get(raw, rng.choice(maps))[rng.choice(["extra", "nmae", "plugin", "__class__", "1"])] \
            = rng.choice(ODD_VALUES[:12])
    elif op == "escape":
        target = rng.choice(["dataset", "condition", "root", "sponsor", "predictions",
                             "plugin_paths", "label"])
        bad = rng.choice(ESCAPES)
        if target == "dataset":
            raw["datasets"][rng.randrange(len(raw["datasets"]))]["name"] = bad
        elif target == "condition":
            raw["conditions"][rng.randrange(len(raw["conditions"]))]["name"] = bad
        elif target == "root":
            raw["datasets"][-1]["root"] = bad
        elif target == "sponsor":
            raw["sponsor"] = bad
        elif target == "predictions":
            raw["methods"]["recon"].append({"predictions": bad})
        elif target == "plugin_paths":
            raw["plugin_paths"] = [bad]
            raw["methods"]["recon"].append({"plugin": "os:getcwd"})
        else:
            raw["methods"]["recon"].append({"name": "zero-filled", "label": bad})
    elif op == "plugin":
        spec = rng.choice(DANGEROUS)
        where = rng.choice(["method", "stage", "segmentation"])
        if where == "stage":
            raw["stages"] = {"evil": {"plugin": spec}}
        else:
            stage = "recon" if where == "method" else "segmentation"
            raw["methods"][stage].append({"plugin": spec, "params": {"command": "touch pwned"}})
    elif op == "huge":
        nums = [p for p in paths if isinstance(_get(raw, p), (int, float))
                and not isinstance(_get(raw, p), bool)]
        path = rng.choice(nums)
        _get(raw, path[:-1])[path[-1]] = rng.choice([10**30, -10**30, 1e300, 2**63, 10**400,
                                                     float("nan"), float("-inf")])
    else:
        a, b = rng.sample([k for k in raw if k != "name"], 2)
        raw[a], raw[b] = raw[b], raw[a]
    return op


def protocol_cases(seed: int, n: int) -> list[Case]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        raw, ops = _base(), []
        for _ in range(rng.choice([1, 1, 2, 3])):
            trial = copy.deepcopy(raw)
            try:  # an earlier mutation may have removed what a later one edits
                ops.append(_mutate(trial, rng))
                raw = trial
            except (TypeError, KeyError, IndexError, AttributeError, ValueError):
                continue
        out.append(Case(f"protocol-{i:03d}-{'+'.join(ops) or 'none'}", "dict", raw))
    return out


def _bomb(rng: random.Random) -> str:
    width, depth = rng.randint(6, 12), rng.randint(6, 9)
    lines = ["name: bomb", "datasets:", "  - name: phantom", "    phantom: {subjects: 1}",
             "    reader_options:", f"      l0: &l0 [{', '.join(['x'] * width)}]"]
    for d in range(1, depth):
        lines.append(f"      l{d}: &l{d} [{', '.join([f'*l{d - 1}'] * width)}]")
    lines.append("methods: {recon: [zero-filled]}")
    return "\n".join(lines) + "\n"


def text_cases(seed: int, n: int) -> list[Case]:
    rng = random.Random(seed + 1)
    good = yaml.safe_dump(_base(), sort_keys=False)
    specials = [
        ("bomb", _bomb(rng)),
        ("recursive-anchor", "name: r\ndatasets: &d [{name: p, phantom: {subjects: 1}, "
                             "reader_options: {loop: *d}}]\nmethods: {recon: [zero-filled]}\n"),
        ("self-mapping", "name: &n r\nanalyses: &a {bootstrap: *a}\n"),
        ("deep-nesting", "name: deep\nmetrics: " + "[" * 5000 + "]" * 5000 + "\n"),
        ("binary", "\x00\x01\x02\xff"),
        ("python-object", "name: !!python/object/apply:os.system ['touch pwned']\n"),
        ("tabs", "name:\tquick\n\tdatasets: []\n"),
        ("empty", ""),
        ("list-document", "- a\n- b\n"),
    ]
    out = [Case(f"text-{i:03d}-{name}", "text", text) for i, (name, text) in enumerate(specials)]
    for i in range(len(specials), n):
        data = bytearray(good.encode())
        kind = rng.choice(["truncate", "flip", "bomb"])
        if kind == "truncate":
            data = data[: rng.randrange(len(data))]
        elif kind == "flip":
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        else:
            data = bytearray(_bomb(rng).encode())
        out.append(Case(f"text-{i:03d}-{kind}", "text", bytes(data)))
    return out


PROTOCOL_CASES = protocol_cases(SEED, N_PROTOCOLS) + text_cases(SEED, N_TEXTS)


@pytest.fixture(scope="module", autouse=True)
def warm():
    """Import what validation imports once, outside the measured cases."""
    load_protocol(ROOT / "protocols" / "quick.yaml")


def _tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the SHA-256 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


#: Where the escaping names of :data:`ESCAPES` would land, seen from a sandbox.
ESCAPED = [Path("/tmp/escape"), Path("/tmp/escape.h5")]


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """An empty working folder ``tmp_path/work`` with no user configuration; the test asserts
    that nothing is written outside it: not beside it, not in the pytest temporary root, not
    where an escaping name would lead."""
    monkeypatch.setenv("CMRSUITE_CONFIG", str(tmp_path / "no-config.yaml"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    around = sorted(os.listdir(tmp_path.parent)), sorted(os.listdir(tmp_path))
    yield work
    assert (sorted(os.listdir(tmp_path.parent)), sorted(os.listdir(tmp_path))) == around, \
        "files written outside the target"
    assert not [p for p in ESCAPED if p.exists()]


@pytest.mark.parametrize("case", PROTOCOL_CASES, ids=[c.id for c in PROTOCOL_CASES])
def test_a_broken_protocol_is_a_clear_error_or_a_valid_plan(case, sandbox):
    path = sandbox / "p.yaml"
    if case.kind == "dict":
        path.write_text(yaml.safe_dump(case.payload, allow_unicode=True))
    elif isinstance(case.payload, bytes):
        path.write_bytes(case.payload)
    else:
        path.write_text(case.payload)
    measure = "bomb" in case.id  # tracemalloc slows deep recursion down: only where it counts
    if measure:
        tracemalloc.start()
    try:
        proto = load_protocol(path)
    except KeyPathError as exc:  # ProtocolError, PluginNotAllowedError: file and key path
        assert str(exc).startswith(f"{path}: `"), exc
        assert exc.key and exc.problem
        proto = None
    finally:
        if measure:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            assert peak < 64 * 2**20, f"loading used {peak / 2**20:.0f} MiB"
    if proto is not None:  # a valid plan: its jobs expand on a made-up case of each dataset
        refs = [CaseRef(dataset=d["name"], key="case-1", path=str(sandbox / "case-1.h5"),
                        format="phantom") for d in proto.datasets]
        expand_jobs(proto, refs)
    assert not (sandbox / "pwned").exists()
    assert sorted(p.name for p in sandbox.iterdir()) == ["p.yaml"]


# ====================================================================== run-folder cases
RUN_PROTOCOL = {
    "name": "fuzz-run", "seed": 1,
    "datasets": [{"name": "phantom", "phantom": {"subjects": 1, "seed": 2, "presets": ["tiny"],
                                                 "overrides": {"n_frames": 2}}}],
    "conditions": [{"name": "full", "type": "fully-sampled"},
                   {"name": "R2", "type": "undersample", "pattern": "equispaced",
                    "acceleration": 2, "acs_lines": 4}],
    "methods": {"recon": ["zero-filled"]},
    "metrics": {"image": {"profiles": ["fastmri"]}, "temporal": False, "clinical": False},
    "analyses": {"bootstrap": {"n_resamples": 100}},
}
TABLES = ("jobs", "results", "outputs", "cases", "run_info")
RUN_KINDS = ("edit-cell", "delete-row", "duplicate-row", "insert-row", "cache-flip",
             "cache-truncate", "cache-delete", "manifest-delete", "manifest-truncate",
             "manifest-edit", "seal-delete", "seal-edit", "protocol-edit", "db-truncate",
             "db-flip")
RUN_CASES = [Case(f"run-{i:03d}-{RUN_KINDS[i % len(RUN_KINDS)]}", RUN_KINDS[i % len(RUN_KINDS)],
                  SEED * 100_003 + i) for i in range(N_RUNS)]


@pytest.fixture(scope="module")
def sealed_run(tmp_path_factory):
    from suite.runner import run_protocol

    tmp = tmp_path_factory.mktemp("fuzz-run")
    path = tmp / "p.yaml"
    path.write_text(yaml.safe_dump(RUN_PROTOCOL))
    result = run_protocol(load_protocol(path), tmp / "run", executor="serial", analyse=False)
    assert result.exit_code == 0 and result.seal_root
    shutil.rmtree(tmp / "run" / "data")  # not part of the seal; keeps the copies small
    return tmp / "run"


def _dump(db: Path) -> list | None:
    """Every row of every sealed table (None when the store cannot be read)."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return [sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall()))
                    for t in TABLES]
        finally:
            con.close()
    except sqlite3.Error:
        return None


def _tamper(run: Path, kind: str, rng: random.Random) -> bool:
    """Damage ``run``; returns whether the damage must be detected (False: a truncation or a
    byte flip of ``results.sqlite`` that may leave every row intact)."""
    db = run / "results.sqlite"
    if kind in ("edit-cell", "delete-row", "duplicate-row", "insert-row"):
        con = sqlite3.connect(db)
        table = rng.choice(TABLES)
        rows = con.execute(f"SELECT rowid, * FROM {table}").fetchall()
        cols = [d[0] for d in con.execute(f"SELECT * FROM {table} LIMIT 0").description]
        rowid, *values = rng.choice(rows)
        with con:
            if kind == "edit-cell":
                i = rng.randrange(len(cols))
                new = rng.choice([None, -1, 0.5, 1e300, "x", "", "NaN", values[i]])
                if new == values[i] or (new is None and values[i] is None):
                    new = f"{values[i]}-edited"
                con.execute(f'UPDATE {table} SET "{cols[i]}" = ? WHERE rowid = ?', (new, rowid))
            elif kind == "delete-row":
                con.execute(f"DELETE FROM {table} WHERE rowid = ?", (rowid,))
            elif kind == "duplicate-row" and table not in ("jobs", "cases", "run_info", "outputs"):
                con.execute(f"INSERT INTO {table} SELECT * FROM {table} WHERE rowid = ?",
                            (rowid,))
            else:  # a new row (tables with a primary key get a fresh key)
                fresh = list(values)
                fresh[0] = f"forged-{rng.randrange(10**6)}"
                con.execute(f"INSERT INTO {table} VALUES ({', '.join('?' * len(fresh))})",
                            fresh)
        con.close()
        return True
    if kind.startswith("cache"):
        entry = rng.choice(sorted((run / "cache").rglob("*.npy")))
        data = bytearray(entry.read_bytes())
        if kind == "cache-flip":
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            entry.write_bytes(bytes(data))
        elif kind == "cache-truncate":
            entry.write_bytes(bytes(data[: rng.randrange(len(data))]))
        else:
            entry.unlink()
        return True
    if kind.startswith("manifest") or kind.startswith("seal") or kind == "protocol-edit":
        name = {"manifest": "manifest.json", "seal": "seal.json",
                "protocol": "protocol.json"}[kind.split("-")[0]]
        f = run / name
        if kind.endswith("delete"):
            f.unlink()
        elif kind.endswith("truncate"):
            f.write_bytes(f.read_bytes()[: rng.randrange(f.stat().st_size)])
        else:
            doc = json.loads(f.read_text())
            path = rng.choice([p for p in _paths(doc) if p and not isinstance(_get(doc, p),
                                                                               (dict, list))])
            old = _get(doc, path[:-1])[path[-1]]
            _get(doc, path[:-1])[path[-1]] = f"{old}-edited" if old is not None else 1
            f.write_text(json.dumps(doc))
        return True
    data = bytearray(db.read_bytes())
    if kind == "db-truncate":  # may cut only unused pages: then every row is intact
        db.write_bytes(bytes(data[: rng.randrange(len(data))]))
        return False
    for _ in range(rng.randint(1, 6)):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    db.write_bytes(bytes(data))
    return False


@pytest.mark.parametrize("case", RUN_CASES, ids=[c.id for c in RUN_CASES])
def test_a_tampered_run_folder_is_reported_never_trusted(case, sealed_run, sandbox, capsys):
    run = sandbox / "run"
    shutil.copytree(sealed_run, run)
    original = _dump(run / "results.sqlite")
    must_detect = _tamper(run, case.kind, random.Random(case.payload))
    before = _tree(run)
    code = main(["verify", str(run)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert _tree(run) == before, "verify changed the run folder"
    if code == 3:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "results.sqlite" in lines[0], err
    elif code == 1:
        assert "NOT VERIFIED" in out and not err
    else:
        assert code == 0 and not must_detect, f"{case.kind}: not detected\n{out}{err}"
        assert _dump(run / "results.sqlite") == original, "rows changed yet verify passed"


def test_fuzz_case_count(capsys):
    """The fuzz cases of this module (the issue asks for at least 200 across the suite)."""
    n = len(PROTOCOL_CASES) + len(RUN_CASES)
    assert n >= 200 * SCALE
    with capsys.disabled():
        print(f"\n[fuzz] protocols and run folders: {len(PROTOCOL_CASES)} protocol cases, "
              f"{len(RUN_CASES)} run-folder cases (seed {SEED}, scale {SCALE})")

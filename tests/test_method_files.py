"""The files of a user's method: ``params`` paths resolve against the protocol's folder, a
missing one is named, their SHA-256 (checked against hashlib) reaches the manifest, and new
weights under the same name are never served from the cache."""

import hashlib
import json
import os
import sqlite3

import pytest
import yaml

from suite.runner.method_files import file_digests, folder_digest, resolve_params

PLUGIN = '''
import numpy as np
from suite.mr import ifft2c, rss


class Scaled:
    """Zero-filled RSS times a factor read from a text file (a stand-in for weights)."""
    name, version, stage = "scaled", "1", "recon"

    def __init__(self, weights):
        with open(weights) as fh:
            self.factor = float(fh.read())
        self.weights = weights

    def params(self):
        return {"weights": self.weights}

    def __call__(self, case):
        return self.factor * np.asarray(rss(ifft2c(case.kspace * case.mask), dim=2))
'''


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_resolve_params_against_the_protocol_folder_only_for_existing_paths(tmp_path):
    (tmp_path / "w.pt").write_bytes(b"abc")
    (tmp_path / "sub").mkdir()
    out = resolve_params({"weights": "w.pt", "folder": "sub", "mode": "fast", "n": 3,
                          "absolute": "/nonexistent/x.pt", "list": ["w.pt", "nothing"]},
                         tmp_path)
    assert out["weights"] == str((tmp_path / "w.pt").resolve())
    assert out["folder"] == str((tmp_path / "sub").resolve())
    assert out["mode"] == "fast" and out["n"] == 3 and out["absolute"] == "/nonexistent/x.pt"
    assert out["list"] == [str((tmp_path / "w.pt").resolve()), "nothing"]


def test_file_and_folder_digests_match_hashlib_and_skip_links(tmp_path):
    (tmp_path / "w.pt").write_bytes(b"weights")
    d = tmp_path / "ckpt"
    (d / "inner").mkdir(parents=True)
    (d / "a.bin").write_bytes(b"A")
    (d / "inner" / "b.bin").write_bytes(b"B")
    os.symlink("/etc/hostname", d / "link")
    digests = file_digests({"weights": str(tmp_path / "w.pt"), "ckpt": str(d), "k": 1})
    assert digests["weights"]["sha256"] == _sha(tmp_path / "w.pt")
    assert digests["weights"]["bytes"] == 7
    lines = sorted([f"a.bin\0{hashlib.sha256(b'A').hexdigest()}\n",
                    f"inner/b.bin\0{hashlib.sha256(b'B').hexdigest()}\n"])
    assert digests["ckpt"]["sha256"] == hashlib.sha256("".join(lines).encode()).hexdigest()
    assert digests["ckpt"]["files"] == 2 and digests["ckpt"]["links_skipped"] == 1
    assert folder_digest(d) == {k: digests["ckpt"][k] for k in ("sha256", "files", "links_skipped")}
    assert "k" not in digests


def _protocol(folder, weights="weights.txt"):
    raw = {"name": "files", "seed": 0,
           "datasets": [{"name": "phantom", "phantom": {"subjects": 1, "seed": 1,
                                                        "presets": ["tiny"],
                                                        "overrides": {"n_frames": 2}}}],
           "conditions": [{"name": "R2", "type": "undersample", "pattern": "equispaced",
                           "acceleration": 2, "acs_lines": 4}],
           "methods": {"recon": [{"plugin": "scaledplugin:Scaled",
                                  "params": {"weights": weights}, "label": "mine"}]},
           "plugin_paths": ["."], "metrics": {"image": {"profiles": ["fastmri"]}}}
    path = folder / "p.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _nmse(run_dir):
    con = sqlite3.connect(run_dir / "results.sqlite")
    value = con.execute("SELECT value FROM results WHERE metric = 'nmse'").fetchone()[0]
    con.close()
    return value


def test_weights_resolve_hash_into_the_manifest_and_invalidate_the_cache(tmp_path, monkeypatch):
    from suite.protocol import load_protocol
    from suite.runner import run_protocol
    from suite.trust import AllowList

    proj = tmp_path / "project"
    proj.mkdir()
    (proj / "scaledplugin.py").write_text(PLUGIN)
    weights = proj / "weights.txt"
    weights.write_text("0.5")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the relative path must not depend on the working directory
    allow = AllowList(["scaledplugin:Scaled"], [proj])
    cache = tmp_path / "shared-cache"

    run_protocol(load_protocol(_protocol(proj), allow_plugins=allow), tmp_path / "r1",
                 executor="serial", analyse=False, cache_dir=cache)
    manifest = json.loads((tmp_path / "r1" / "manifest.json").read_text())
    (rec,) = manifest["methods"]
    assert rec["label"] == "mine" and rec["kind"] == "plugin"
    assert rec["files"]["weights"]["sha256"] == _sha(weights)
    first = _nmse(tmp_path / "r1")

    weights.write_text("0.9")  # new weights, same file name, same shared cache
    run_protocol(load_protocol(_protocol(proj), allow_plugins=allow), tmp_path / "r2",
                 executor="serial", analyse=False, cache_dir=cache)
    assert _nmse(tmp_path / "r2") != first
    manifest = json.loads((tmp_path / "r2" / "manifest.json").read_text())
    assert manifest["methods"][0]["files"]["weights"]["sha256"] == _sha(weights)


def test_a_missing_params_file_names_the_key_and_the_protocol_folder(tmp_path):
    from suite.protocol import load_protocol
    from suite.runner import run_protocol
    from suite.trust import AllowList

    (tmp_path / "scaledplugin.py").write_text(PLUGIN)
    allow = AllowList(["scaledplugin:Scaled"], [tmp_path])
    run_protocol(load_protocol(_protocol(tmp_path, "missing.txt"), allow_plugins=allow),
                 tmp_path / "run", executor="serial", analyse=False)
    con = sqlite3.connect(tmp_path / "run" / "results.sqlite")
    (message,) = con.execute("SELECT message FROM jobs WHERE status = 'failed'").fetchone()
    con.close()
    assert "params.weights = 'missing.txt' not found" in message
    assert str(tmp_path.resolve()) in message and "working directory" in message


def test_reference_methods_have_no_method_files_evidence(tmp_path):
    from suite.protocol import load_protocol
    from suite.runner.method_files import method_files

    raw = yaml.safe_load(_protocol(tmp_path).read_text())
    raw["methods"]["recon"] = ["zero-filled", {"predictions": "preds", "verify_inputs": False}]
    (tmp_path / "preds").mkdir()
    (tmp_path / "preds" / "x.npy").write_bytes(b"x")
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump(raw))
    records = method_files(load_protocol(path))
    assert [r["kind"] for r in records] == ["predictions"]
    assert records[0]["files"]["predictions"]["files"] == 1


@pytest.mark.parametrize("value", ["a\0b", "x" * 5000])
def test_strange_params_pass_unchanged(tmp_path, value):
    assert resolve_params({"v": value}, tmp_path) == {"v": value}
    assert file_digests({"v": value}) == {}

"""Provenance manifest of a run: what ran, on what, with which code, data, weights and seeds.

``weights`` lists the suite's shipped weight files; ``methods`` the files of the user's methods
(plugins' and entry points' ``params`` that name files, predictions folders) with their SHA-256
(:func:`suite.runner.method_files.method_files`).
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

from suite._atomic import atomic_write_text
from suite.data.hashing import sha256_file
from suite.runner.method_files import method_files

__all__ = ["build_manifest", "write_manifest", "git_commit", "package_versions", "weight_hashes"]

_PACKAGES = ("cmrsuite", "torch", "numpy", "scipy", "pandas", "h5py", "ismrmrd", "nibabel",
             "pydicom", "statsmodels", "scikit-learn", "pyyaml", "jinja2", "matplotlib",
             "distributed", "torchattacks")


def package_versions() -> dict[str, str | None]:
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit() -> dict:
    """Commit and dirty flag of the suite's source tree (None outside a git checkout)."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10)
        if commit.returncode != 0:
            return {"commit": None, "dirty": None}
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10)
        return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def weight_hashes() -> dict[str, str | None]:
    """SHA-256 of every shipped weights file (as recorded and as found)."""
    from reference_impls.weights_io import WEIGHTS_DIR

    out = {}
    for meta_path in sorted(WEIGHTS_DIR.glob("*.json")):
        pt = meta_path.with_suffix(".pt")
        found = sha256_file(pt) if pt.exists() else None
        recorded = json.loads(meta_path.read_text()).get("sha256")
        out[pt.name] = {"sha256": found, "matches_record": found == recorded}
    return out


def build_manifest(*, protocol, store, started: float, finished: float, executor: str,
                   workers: int, command: list[str] | None, cache_dir: str) -> dict:
    from suite import __version__

    cases = store.query("SELECT case_id, source_file, source_sha256 FROM cases ORDER BY case_id")
    failures = store.query("SELECT path, dataset, error, reason FROM failures ORDER BY path")
    return {
        "suite": {"version": __version__, **git_commit()},
        "python": sys.version,
        "platform": platform.platform(),
        "packages": package_versions(),
        "protocol": {"source": protocol.source, "sha256": protocol.sha256, "name": protocol.name,
                     "content": protocol.raw},
        "seeds": {"protocol": protocol.seed,
                  "phantom": {d["name"]: d["phantom"].get("seed", 0)
                              for d in protocol.datasets if "phantom" in d}},
        "datasets": [{"case_id": c, "source_file": f, "sha256": h} for c, f, h in cases],
        "input_failures": [{"path": p, "dataset": d, "error": e, "reason": r}
                           for p, d, e, r in failures],
        "weights": weight_hashes(),
        "methods": method_files(protocol),
        "executor": {"kind": executor, "workers": workers},
        "cache_dir": cache_dir,
        "command": command,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(finished)),
    }


def write_manifest(path: Path, manifest: dict) -> None:
    """Write ``manifest`` as JSON, atomically (no temporary file left on error)."""
    atomic_write_text(path, json.dumps(manifest, indent=2, default=str) + "\n")

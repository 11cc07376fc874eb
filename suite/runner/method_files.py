"""The files a user's method is made of: where its ``params`` paths point, and their SHA-256.

A plugin entry such as ``{plugin: "mynet:Net", params: {weights: weights/net.pth}}`` names its
weights in ``params``. Three things follow from that one path, and they live here:

* **Where it resolves.** Relative paths in a protocol resolve against the protocol file's folder
  (``plugin_paths`` and ``predictions`` always did); a ``params`` string of a plugin or entry
  point that names an existing file or folder relative to that folder is handed to the method
  as an absolute path (:func:`resolve_params`). Other strings pass unchanged, and absolute
  paths are never rewritten. Reference methods' ``params`` are not paths and are not touched.
* **What it is.** Every ``params`` value that names a file after resolution is hashed
  (:func:`file_digests`; a folder by the hashes of its files, :func:`folder_digest`), so that
  the run's manifest records the evaluated model's weights (``manifest.json`` → ``methods``)
  and the model card can cite them.
* **When outputs are stale.** The hashes join the method's identity in the cache key, so new
  weights under the same file name are re-evaluated, never served from the cache.

A folder of predictions is hashed the same way (its regular files; symbolic links are not
followed and are counted instead).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Mapping

from suite.data.hashing import remembered_sha256

__all__ = ["resolve_params", "file_digests", "folder_digest", "method_files", "PATH_KINDS"]

#: Entry kinds whose ``params`` may name files (user code; reference methods take settings).
PATH_KINDS = ("plugin", "entry_point")

def folder_digest(folder) -> dict:
    """``{"sha256", "files", "links_skipped"}`` of a folder: SHA-256 over the sorted lines
    ``relative/path NUL sha256`` of its regular files (symbolic links are neither followed
    nor hashed, only counted)."""
    root = Path(folder)
    lines, skipped = [], 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        skipped += sum((here / d).is_symlink() for d in dirnames)
        for name in filenames:
            path = here / name
            if path.is_symlink() or not path.is_file():
                skipped += 1
                continue
            lines.append(f"{path.relative_to(root).as_posix()}\0{remembered_sha256(path)}\n")
    h = hashlib.sha256("".join(sorted(lines)).encode())
    return {"sha256": h.hexdigest(), "files": len(lines), "links_skipped": skipped}


def _is_relative_path_text(value: Any) -> bool:
    return (isinstance(value, str) and value != "" and "\0" not in value and "://" not in value
            and not Path(value).is_absolute())


def resolve_params(params: Mapping[str, Any] | None, base_dir) -> dict:
    """``params`` with every string (or string in a list) that names an existing file or folder
    relative to ``base_dir`` replaced by its absolute path (see the module docstring)."""
    base = Path(base_dir)

    def one(value):
        if _is_relative_path_text(value):
            try:
                candidate = base / value
                if candidate.exists():
                    return str(candidate.resolve())
            except (OSError, ValueError):  # a name too long or not a path at all
                return value
        return value

    out = {}
    for key, value in (params or {}).items():
        out[key] = [one(v) for v in value] if isinstance(value, list) else one(value)
    return out


def file_digests(params: Mapping[str, Any] | None) -> dict[str, dict]:
    """``{key: {"path", "sha256", "bytes"}}`` (``key[i]`` for list items) for every ``params``
    value that is an absolute path to an existing file; a folder gives ``{"path", "sha256",
    "files", "links_skipped"}`` (:func:`folder_digest`)."""
    out = {}
    for key, value in (params or {}).items():
        items = [(f"{key}[{i}]", v) for i, v in enumerate(value)] if isinstance(value, list) \
            else [(key, value)]
        for name, v in items:
            if not isinstance(v, str) or "\0" in v or not Path(v).is_absolute():
                continue
            p = Path(v)
            try:
                if p.is_file():
                    out[name] = {"path": str(p), "sha256": remembered_sha256(p),
                                 "bytes": p.stat().st_size}
                elif p.is_dir():
                    out[name] = {"path": str(p), **folder_digest(p)}
            except OSError:
                continue
    return out


def method_files(protocol) -> list[dict]:
    """One record per user method of ``protocol`` (plugin, entry point, predictions folder):
    ``{"stage", "label", "kind", "files": {param: digest}}``; a plugin or entry point whose
    ``params`` name no file has ``files == {}`` (its weights, if any, are not evidenced).
    Reference methods are covered by the manifest's ``weights`` (the shipped files)."""
    from suite.stages.entries import method_label

    base = Path(protocol.base_dir or ".")
    out = []
    for stage in protocol.method_stages():
        for entry in protocol.methods(stage):
            kind = next((k for k in (*PATH_KINDS, "predictions") if k in entry), None)
            if kind is None:
                continue
            record = {"stage": stage, "label": method_label(entry), "kind": kind,
                      "spec": str(entry[kind])}
            if kind == "predictions":
                folder = Path(entry["predictions"])
                folder = folder if folder.is_absolute() else base / folder
                record["files"] = {"predictions": {"path": str(folder), **folder_digest(folder)}} \
                    if folder.is_dir() else {}
            else:
                record["files"] = file_digests(resolve_params(entry.get("params"), base))
            out.append(record)
    return out

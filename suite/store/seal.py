"""The seal of a finished run: a Merkle-style digest of its tables, cache and files.

A run that finishes (:func:`suite.runner.run_protocol`) seals its folder:

* **leaves** — the content hash (:func:`suite.store.digest.row_digest`) of every row of the
  store's tables ``jobs``, ``results``, ``outputs``, ``cases``, ``failures`` and ``run_info``,
  grouped by job (case, path or key for the other tables); the SHA-256 of ``protocol.json``,
  of every robustness example (``robustness/*.npz``) and of the manifest itself (its canonical
  JSON without the seal). Cache entries are covered through the ``outputs`` rows, which hold
  each cached array's key and SHA-256;
* **table digests** — SHA-256 of each table's sorted leaves (:func:`digest_of_leaves`: a
  duplicated row counts twice);
* **root** — SHA-256 of the canonical JSON of the table digests and the file hashes.

The leaves go to ``RUN_DIR/seal.json``; the root, the table digests and the SHA-256 of
``seal.json`` go to the manifest's ``seal`` entry. :func:`check_seal` recomputes everything
from the folder and reports each difference with its row: a row whose content no longer
matches its stored hash (edited), a row not in the seal (added, or edited with its hash
recomputed), a sealed row that is gone (deleted), a row counted more often than sealed
(duplicated), a cache entry whose bytes differ from the SHA-256 its job recorded (altered) or
that is missing, a sealed file that changed.

What the seal does not do: it is a checksum, not a signature. Anyone able to rewrite the store
*and* the seal consistently produces a new, self-consistent root; keep the root the run
printed (``cmrsuite verify RUN_DIR --digest ROOT`` compares) or re-run jobs from your own
protocol file (``cmrsuite verify RUN_DIR --protocol P.yaml``), which does not trust the folder.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from suite._atomic import atomic_write_text
from suite.data.hashing import sha256_file
from suite.store.cache import cache_path
from suite.store.digest import HASH_COLUMNS, digest_of_leaves, row_digest
from suite.store.errors import store_errors
from suite.store.lock import writer_pid

__all__ = ["SEAL_VERSION", "SEAL_FILE", "SEALED_TABLES", "seal_run", "unseal", "check_seal",
           "SealReport", "manifest_digest", "resolve_cache_dir", "relative_cache_dir"]

SEAL_VERSION = "cmrsuite-seal/1"
SEAL_FILE = "seal.json"
#: Tables of ``results.sqlite`` in the seal, with the column their leaves are grouped by.
SEALED_TABLES = {"jobs": "job_id", "results": "job_id", "outputs": "job_id",
                 "cases": "case_id", "failures": "path", "run_info": "key"}
_DESCRIBE = {"results": ("stage", "metric", "structure", "phase", "profile", "condition",
                         "attack", "budget", "frame", "segment"),
             "outputs": ("name", "cache_key"), "jobs": ("phase", "case_id", "condition", "status"),
             "cases": ("case_id",), "failures": ("path",), "run_info": ("key",)}


def _canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def manifest_digest(manifest: dict) -> str:
    """SHA-256 of a manifest's canonical JSON without its ``seal`` entry."""
    body = {k: v for k, v in json.loads(_canonical(manifest)).items() if k != "seal"}
    return hashlib.sha256(_canonical(body).encode("utf-8")).hexdigest()


def resolve_cache_dir(run_dir, manifest: dict) -> Path:
    """The run's cache folder from the manifest's ``cache_dir``: relative to the run folder
    (the default ``cache``, so a copied or moved run finds its own cache), or absolute (a shared
    ``--cache``); a relative path that is not there is tried from the working directory (runs
    made before cache paths were recorded relative), and ``RUN_DIR/cache`` is the fallback."""
    run_dir = Path(run_dir)
    recorded = manifest.get("cache_dir")
    if recorded:
        p = Path(recorded)
        for candidate in ([p] if p.is_absolute() else [run_dir / p, p]):
            if candidate.is_dir():
                return candidate
    return run_dir / "cache"


def relative_cache_dir(run_dir, cache_dir) -> str:
    """How a manifest records ``cache_dir``: relative to ``run_dir`` when inside it."""
    cache, run = Path(cache_dir).resolve(), Path(run_dir).resolve()
    return str(cache.relative_to(run)) if run in cache.parents else str(cache)


@dataclass(frozen=True)
class _Row:
    table: str
    rowid: int
    group: str
    digest: str
    stored: str | None  # the row's own hash column (None: the table has none, or NULL)
    label: str


def _rows(con: sqlite3.Connection) -> dict[str, list[_Row]]:
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "jobs" not in tables:
        raise sqlite3.DatabaseError("it has no `jobs` table")
    out: dict[str, list[_Row]] = {}
    for table, group in SEALED_TABLES.items():
        if table not in tables:
            out[table] = []
            continue
        cur = con.execute(f"SELECT rowid, * FROM {table} ORDER BY rowid")
        names = [d[0] for d in cur.description]
        rows = []
        for values in cur:
            rec = dict(zip(names, values))
            label = " ".join(str(rec[c]) for c in _DESCRIBE[table]
                             if rec.get(c) not in (None, ""))
            rows.append(_Row(table, rec["rowid"], str(rec.get(group)), row_digest(table, rec),
                             rec.get(HASH_COLUMNS.get(table, "")), label))
        out[table] = rows
    return out


def _files(run_dir: Path) -> dict[str, str]:
    """SHA-256 of the sealed files (protocol copy, robustness examples)."""
    out = {}
    if (run_dir / "protocol.json").is_file():
        out["protocol.json"] = sha256_file(run_dir / "protocol.json")
    for p in sorted((run_dir / "robustness").glob("*.npz")):
        out[f"robustness/{p.name}"] = sha256_file(p)
    return out


def _root(tables: dict[str, str], files: dict[str, str]) -> str:
    return hashlib.sha256(_canonical({"version": SEAL_VERSION, "tables": tables,
                                      "files": files}).encode("utf-8")).hexdigest()


def _open_ro(db: Path) -> sqlite3.Connection:
    if not db.is_file():
        raise FileNotFoundError(f"{db}: no results store; is this a run folder?")
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True)


def seal_run(run_dir, manifest: dict) -> dict:
    """Seal ``run_dir``: write ``seal.json`` (the leaves) and return the manifest's ``seal``
    entry (version, root, table digests and row counts, SHA-256 of ``seal.json``).

    ``manifest`` is the manifest about to be written (without a seal); its digest is a leaf.
    """
    run_dir = Path(run_dir)
    db = run_dir / "results.sqlite"
    with store_errors(db, "sealing"):
        con = _open_ro(db)
        try:
            rows = _rows(con)
        finally:
            con.close()
    leaves = {t: {} for t in rows}
    for table, items in rows.items():
        for r in items:
            leaves[table].setdefault(r.group, []).append(r.digest)
    digests = {t: digest_of_leaves(t, (r.digest for r in items)) for t, items in rows.items()}
    files = {**_files(run_dir), "manifest.json": manifest_digest(manifest)}
    root = _root(digests, files)
    sealed_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    body = {"version": SEAL_VERSION, "root": root, "sealed": sealed_at,
            "tables": {t: {"rows": len(rows[t]), "digest": digests[t],
                           "leaves": {g: sorted(v) for g, v in sorted(leaves[t].items())}}
                       for t in rows},
            "files": files}
    atomic_write_text(run_dir / SEAL_FILE, json.dumps(body, indent=1, sort_keys=True) + "\n")
    return {"version": SEAL_VERSION, "root": root, "file": SEAL_FILE,
            "file_sha256": sha256_file(run_dir / SEAL_FILE),
            "tables": {t: {"rows": len(rows[t]), "digest": digests[t]} for t in rows},
            "files": len(files), "sealed": sealed_at}


def unseal(run_dir) -> None:
    """Remove a run's seal before the folder is written again (``--resume``): the manifest's
    ``seal`` becomes null with ``status: "resumed, not finished"`` and ``seal.json`` goes, so
    a resume that does not finish leaves a folder reported as unsealed, not as tampered."""
    run_dir = Path(run_dir)
    mpath = run_dir / "manifest.json"
    manifest, _ = _read_json(mpath)
    if manifest is not None and manifest.get("seal"):
        manifest["seal"] = None
        manifest["status"] = "resumed, not finished"
        atomic_write_text(mpath, json.dumps(manifest, indent=2, default=str) + "\n")
    (run_dir / SEAL_FILE).unlink(missing_ok=True)


# ====================================================================== checking
@dataclass(frozen=True)
class SealReport:
    """What :func:`check_seal` found.

    Attributes
    ----------
    run_dir : Path
    sealed : bool
        The manifest holds a seal and ``seal.json`` matches it.
    root : str or None
        The sealed root digest (None when unsealed).
    findings : tuple of dict
        One per problem: ``kind`` (``manifest``, ``seal``, ``edited``, ``added``,
        ``deleted``, ``duplicate``, ``cache``, ``file``, ``busy``), ``where`` (table and
        row, file or cache entry) and ``problem``.
    rows : dict
        Rows checked per table.
    cache_entries : int
        Cache entries checked against the SHA-256 their job recorded.
    """

    run_dir: Path
    sealed: bool
    root: str | None
    findings: tuple = ()
    rows: dict = field(default_factory=dict)
    cache_entries: int = 0

    @property
    def ok(self) -> bool:
        return self.sealed and not self.findings

    def to_dict(self) -> dict:
        return {"run_dir": str(self.run_dir), "sealed": self.sealed, "root": self.root,
                "ok": self.ok, "findings": list(self.findings), "rows": dict(self.rows),
                "cache_entries": self.cache_entries}

    def summary(self, limit: int = 30) -> str:
        n = sum(self.rows.values())
        if self.ok:
            head = (f"seal intact: {n} rows in {len(self.rows)} tables and "
                    f"{self.cache_entries} cache entries match root {self.root}")
        else:
            head = (f"seal {'BROKEN' if self.sealed else 'missing'}: "
                    f"{len(self.findings)} problem(s) in {n} rows and {self.cache_entries} "
                    "cache entries")
        lines = [head] + [f"  {f['kind']}: {f['where']}: {f['problem']}"
                          for f in self.findings[:limit]]
        if len(self.findings) > limit:
            lines.append(f"  ... and {len(self.findings) - limit} more (see --format json)")
        return "\n".join(lines)


def _where(r: _Row) -> str:
    return f"{r.table} row {r.rowid}" + (f" ({r.label})" if r.label else "")


def _read_json(path: Path) -> tuple[dict | None, str | None]:
    try:
        out = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "is missing"
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return None, f"is not readable JSON ({exc})"
    return (out, None) if isinstance(out, dict) else (None, "is not a JSON object")


def check_seal(run_dir, *, expected_root: str | None = None) -> SealReport:
    """Check ``run_dir`` against its seal (module docstring); every row is checked against its
    own stored hash even when the seal is missing.

    Parameters
    ----------
    expected_root : str, optional
        The root digest the run printed when it finished (kept elsewhere): a seal rewritten
        consistently after an edit has another root.

    Raises
    ------
    FileNotFoundError
        No ``results.sqlite``.
    suite.store.errors.StoreCorruptError
        ``results.sqlite`` cannot be read.
    """
    run_dir = Path(run_dir)
    findings: list[dict] = []

    def add(kind, where, problem):
        findings.append({"kind": kind, "where": where, "problem": problem})

    busy = writer_pid(run_dir)
    if busy:
        add("busy", str(run_dir), f"a run is writing this folder ({busy}); check it when the "
            "run has finished")
    db = run_dir / "results.sqlite"
    with store_errors(db, "reading"):
        con = _open_ro(db)
        try:
            rows = _rows(con)
            outputs = con.execute("SELECT job_id, name, cache_key, sha256 FROM outputs "
                                  "ORDER BY job_id, name").fetchall() \
                if _has_table(con, "outputs") else []
        finally:
            con.close()
    edited = set()
    for items in rows.values():  # each row against its own stored hash
        for r in items:
            if r.table in HASH_COLUMNS and r.stored is None:
                edited.add((r.table, r.rowid))
                add("edited", _where(r), "its content hash was removed")
            elif r.stored is not None and r.stored != r.digest:
                edited.add((r.table, r.rowid))
                add("edited", _where(r), "its content does not match the content hash stored "
                    "with it (edited after it was written)")
    manifest, problem = _read_json(run_dir / "manifest.json")
    seal_entry = (manifest or {}).get("seal") if manifest else None
    sealed_body = None
    if manifest is None:
        add("manifest", "manifest.json", f"{problem}: the run was not sealed (still running, "
            "interrupted, or the file was removed)")
    elif not isinstance(seal_entry, dict):
        add("manifest", "manifest.json", "holds no seal: the run did not finish (interrupted "
            "or resumed and not finished) or was made by a version without seals")
    else:
        sealed_body, problem = _read_json(run_dir / str(seal_entry.get("file") or SEAL_FILE))
        if sealed_body is None:
            add("seal", SEAL_FILE, f"{problem}; the seal's leaves are gone")
        elif sha256_file(run_dir / SEAL_FILE) != seal_entry.get("file_sha256"):
            add("seal", SEAL_FILE, "does not match the SHA-256 the manifest recorded (edited)")
            sealed_body = None
    if sealed_body is not None:
        if seal_entry != _entry_of(sealed_body, seal_entry):
            add("seal", "manifest.json", "its `seal` entry does not describe seal.json "
                "(edited)")
        _compare_rows(rows, sealed_body, add, edited)
        _compare_files(run_dir, manifest, sealed_body, add)
        tables = {t: d.get("digest") for t, d in (sealed_body.get("tables") or {}).items()}
        if _root(tables, sealed_body.get("files") or {}) != seal_entry.get("root"):
            add("seal", SEAL_FILE, "its leaves do not produce the root recorded in the manifest")
    root = seal_entry.get("root") if isinstance(seal_entry, dict) else None
    if expected_root is not None and root != expected_root.strip().lower():
        add("seal", "manifest.json", f"root {root} is not the digest you gave "
            f"({expected_root}): the run was altered and re-sealed, or it is another run")
    n_cache = _check_cache(run_dir, manifest or {}, outputs, add)
    return SealReport(run_dir=run_dir, sealed=sealed_body is not None, root=root,
                      findings=tuple(findings), rows={t: len(v) for t, v in rows.items()},
                      cache_entries=n_cache)


def _entry_of(body: dict, entry: dict) -> dict:
    """The manifest's ``seal`` entry that :func:`seal_run` wrote for the leaves ``body``
    (``file_sha256`` taken from ``entry``: checked against the file separately)."""
    tables = body.get("tables") or {}
    return {"version": body.get("version"), "root": body.get("root"), "file": SEAL_FILE,
            "file_sha256": entry.get("file_sha256"),
            "tables": {t: {"rows": d.get("rows"), "digest": d.get("digest")}
                       for t, d in tables.items() if isinstance(d, dict)},
            "files": len(body.get("files") or {}), "sealed": body.get("sealed")}


def _has_table(con, name: str) -> bool:
    return con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                       (name,)).fetchone() is not None


def _compare_rows(rows: dict[str, list[_Row]], sealed: dict, add, edited: set) -> None:
    """Rows against the sealed leaves, group by group (job, case, ...); rows in ``edited``
    were reported already (content against their own hash)."""
    for table, items in rows.items():
        leaves = ((sealed.get("tables") or {}).get(table) or {}).get("leaves") or {}
        groups: dict[str, list[_Row]] = {}
        for r in items:
            groups.setdefault(r.group, []).append(r)
        for group in sorted(set(groups) | set(leaves)):
            have = groups.get(group, [])
            want = Counter(leaves.get(group, []))
            seen: Counter = Counter()
            unmatched: list[_Row] = []
            for r in have:
                seen[r.digest] += 1
                if seen[r.digest] <= want[r.digest]:
                    continue
                if want[r.digest] or seen[r.digest] > 1:
                    add("duplicate", _where(r), f"repeats another row of "
                        f"{SEALED_TABLES[table]} {group} ({seen[r.digest]} copies, "
                        f"{want[r.digest]} sealed)")
                else:
                    unmatched.append(r)
            missing = sum(((want - Counter(r.digest for r in have)).values()), 0)
            for r in unmatched:
                if missing > 0:
                    missing -= 1
                    if (r.table, r.rowid) not in edited:
                        add("edited", _where(r), "changed after the run was sealed (not the "
                            "row the seal recorded)")
                else:
                    add("added", _where(r), "was added after the run was sealed")
            for _ in range(missing):
                add("deleted", f"{table} {SEALED_TABLES[table]}={group}", "a sealed row is "
                    f"missing (deleted after the run was sealed; the seal has "
                    f"{sum(want.values())} rows here, the store {len(have)})")


def _compare_files(run_dir: Path, manifest: dict, sealed: dict, add) -> None:
    files = sealed.get("files") or {}
    now = {**_files(run_dir), "manifest.json": manifest_digest(manifest)}
    for name in sorted(set(files) | set(now)):
        if name not in now:
            add("file", name, "was sealed and is missing")
        elif name not in files:
            add("file", name, "was added after the run was sealed")
        elif files[name] != now[name]:
            add("file", name, "changed after the run was sealed"
                + (" (provenance edited)" if name == "manifest.json" else ""))


def _check_cache(run_dir: Path, manifest: dict, outputs: list, add) -> int:
    """Each cached array against the SHA-256 its job recorded; returns the entries checked."""
    cache_dir = resolve_cache_dir(run_dir, manifest)
    checked: dict[str, str | None] = {}
    for job_id, name, key, sha in outputs:
        if key not in checked:
            path = cache_path(cache_dir, str(key))
            checked[key] = sha256_file(path) if path.is_file() else None
        found = checked[key]
        where = f"cache entry {key} (job {job_id}, {name})"
        if found is None:
            add("cache", where, f"is missing from {cache_dir} (cache moved or pruned: its "
                "content cannot be checked)")
        elif found != sha:
            add("cache", where, f"its SHA-256 {found[:12]}… differs from the {str(sha)[:12]}… "
                "the job recorded (altered after the job)")
    return len(checked)

"""The results store of a run: one SQLite file, written transactionally, one writer.

Tables
------
``jobs``      one row per job: id, phase (the stage, or ``robustness``), case, condition, one
              column per method stage holding the label of that stage's method in the job's
              chain, status (pending, done, failed), error class and message, attempts,
              seconds, finished time, and the job's spec (JSON).
``results``   one row per (job, metric value), the columns of a
              :class:`~suite.metrics.contract.MetricRow` (metric, value, unit, direction,
              profile, convention, status, exclusion, structure, phase, frame, segment,
              reference value) plus the job's identity (case, subject, dataset, condition, one
              column per method stage) and, for robustness rows, the perturbation ``attack`` and
              its ``budget``. ``stage`` says which stage's scoring wrote the row (``recon``,
              ``temporal``, ``condition``, ``segmentation``, ``clinical``, ``robustness``, ...).
``outputs``   cached arrays a job produced or scored against: job, name (the stage, or
              ``reference``), content-addressed cache key, SHA-256 of the file, dtype, shape.
``cases``     one row per case: identifiers, strata (vendor, field strength, site, pathology,
              preset) and meta/truth as JSON.
``failures``  inputs that could not be read (path, error class, reason, hint).
``run_info``  key/value pairs (protocol hash, seeds, the method stages of the run).

Content hashes: every ``results`` and ``outputs`` row carries the SHA-256 of its content in
``row_sha256``, every job record in ``record_sha256`` (:func:`suite.store.digest.row_digest`,
computed from the row as stored, in the transaction that writes it); a finished run seals the
tables, the cache and its files in ``manifest.json`` (:mod:`suite.store.seal`). SQLite errors
are raised as :class:`~suite.store.errors.StoreCorruptError` or
:class:`~suite.store.errors.DiskFullError` naming the file (:func:`store_errors`).

Method columns: ``recon`` and ``segmentation`` always exist; a run whose pipelines hold other
method stages (mapping, motion, ...) gets a column per stage in ``jobs`` and ``results``
(:meth:`ResultStore.ensure_method_columns`), so rows keep one column per stage of their chain.

A job's results, its outputs and its ``done`` status are written in one transaction, so a run
killed at any moment holds either all of a job's rows or none, and ``--resume`` recomputes
exactly the jobs that are not ``done``. Values are stored at full precision; nothing is rounded
here.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Iterable, Sequence

from suite._validation import check_column_name
from suite.store.digest import HASH_COLUMNS, row_digest
from suite.store.errors import store_errors

__all__ = ["ResultStore", "RESULT_COLUMNS", "FIXED_METHOD_COLUMNS", "check_method_column"]

#: Method columns every store has (the first two stages of the suite).
FIXED_METHOD_COLUMNS = ("recon", "segmentation")

#: Result columns (method columns of other stages are added by ensure_method_columns).
RESULT_COLUMNS = ("job_id", "case_id", "subject", "dataset", "condition", "recon", "segmentation",
                  "stage", "metric", "structure", "phase", "value", "reference_value", "unit",
                  "direction", "profile", "status", "attack", "budget", "frame", "segment",
                  "convention", "exclusion")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY, phase TEXT, case_id TEXT, condition TEXT, recon TEXT,
    segmentation TEXT, status TEXT, error TEXT, message TEXT, attempts INTEGER DEFAULT 0,
    seconds REAL, finished REAL, spec TEXT, record_sha256 TEXT);
CREATE TABLE IF NOT EXISTS results (
    job_id TEXT, case_id TEXT, subject TEXT, dataset TEXT, condition TEXT, recon TEXT,
    segmentation TEXT, stage TEXT, metric TEXT, structure TEXT, phase TEXT, value REAL,
    reference_value REAL, unit TEXT, direction TEXT, profile TEXT, status TEXT, attack TEXT,
    budget REAL, frame INTEGER, segment TEXT, convention TEXT, exclusion TEXT,
    row_sha256 TEXT);
CREATE INDEX IF NOT EXISTS results_job ON results(job_id);
CREATE TABLE IF NOT EXISTS outputs (
    job_id TEXT, name TEXT, cache_key TEXT, sha256 TEXT, dtype TEXT, shape TEXT,
    row_sha256 TEXT, PRIMARY KEY (job_id, name));
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY, subject TEXT, dataset TEXT, vendor TEXT, field_strength_t REAL,
    site TEXT, pathology TEXT, preset TEXT, source_file TEXT, source_sha256 TEXT, meta TEXT,
    truth TEXT);
CREATE TABLE IF NOT EXISTS failures (
    path TEXT, dataset TEXT, error TEXT, reason TEXT, hint TEXT);
CREATE TABLE IF NOT EXISTS run_info (key TEXT PRIMARY KEY, value TEXT);
"""

#: Columns added after the first release: (table, column, type) migrated with ALTER TABLE.
_MIGRATIONS = (("results", "attack", "TEXT"), ("results", "budget", "REAL"),
               ("results", "frame", "INTEGER"), ("results", "segment", "TEXT"),
               ("results", "convention", "TEXT"), ("results", "exclusion", "TEXT"),
               ("results", "row_sha256", "TEXT"), ("outputs", "row_sha256", "TEXT"),
               ("jobs", "record_sha256", "TEXT"))

def check_method_column(name: str) -> str:
    """A stage name usable as a method column: lower-case letters, digits and ``_``
    (:func:`suite._validation.check_column_name`), not one of the store's own columns (except
    the fixed method columns)."""
    check_column_name(name)
    if name in RESULT_COLUMNS and name not in FIXED_METHOD_COLUMNS:
        raise ValueError(f"stage name {name!r} collides with the results column of that name")
    return name


class ResultStore:
    """SQLite results store at ``path`` (created if needed)."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = None
        with store_errors(self.path, "opening"):
            self._con = sqlite3.connect(self.path, timeout=60)
            try:
                tables = {r[0] for r in self._con.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'")}
                if tables and "jobs" not in tables:  # another program's database
                    raise sqlite3.DatabaseError("it holds tables but no `jobs` table")
                self._con.execute("PRAGMA journal_mode=WAL")
                self._con.execute("PRAGMA synchronous=FULL")
                self._con.executescript(_SCHEMA)
                for table, column, kind in _MIGRATIONS:
                    if column not in self._columns(table):  # written by an earlier version
                        self._con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
                self._con.commit()
            except BaseException:
                self._con.close()
                raise

    def _guard(self, action: str = "writing"):
        """:func:`~suite.store.errors.store_errors` for this store's file."""
        return store_errors(self.path, action)

    def _rehash(self, table: str, where: str, params: tuple = ()) -> None:
        """Store the content hash of the rows of ``table`` selected by ``where`` (inside the
        caller's transaction, from the rows as stored)."""
        col = HASH_COLUMNS[table]
        cur = self._con.execute(f"SELECT rowid, * FROM {table} WHERE {where}", params)
        names = [d[0] for d in cur.description]
        updates = []
        for row in cur.fetchall():
            record = dict(zip(names, row))
            updates.append((row_digest(table, record), record["rowid"]))
        self._con.executemany(f"UPDATE {table} SET {col} = ? WHERE rowid = ?", updates)

    def _columns(self, table: str) -> list[str]:
        return [row[1] for row in self._con.execute(f"PRAGMA table_info({table})")]

    def close(self) -> None:
        """Close the store; it leaves WAL mode, so that the run folder is one self-contained
        file that readers open without creating SQLite's ``-wal``/``-shm`` files (skipped while
        another connection reads it)."""
        if self._con is not None:
            try:
                self._con.execute("PRAGMA journal_mode=DELETE")
            except sqlite3.Error:
                pass
            self._con.close()
            self._con = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ schema
    def ensure_method_columns(self, stages: Sequence[str]) -> None:
        """Add a ``jobs`` and ``results`` column for each method stage not yet present."""
        with self._guard(), self._con:
            for table in ("jobs", "results"):
                have = set(self._columns(table))
                for name in stages:
                    if check_method_column(name) not in have:
                        self._con.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" TEXT')
        info = self.info().get("method_stages") or list(FIXED_METHOD_COLUMNS)
        self.set_info("method_stages", list(dict.fromkeys([*info, *stages])))

    def backfill_hashes(self) -> None:
        """Store the content hash of rows that lack one (written by a version without
        hashes, then resumed): every row of a sealed run carries its hash."""
        with self._guard(), self._con:
            for table, col in HASH_COLUMNS.items():
                self._rehash(table, f"{col} IS NULL")

    def method_columns(self) -> list[str]:
        """The method columns of this store, fixed ones first."""
        info = self.info().get("method_stages") or []
        return list(dict.fromkeys([*FIXED_METHOD_COLUMNS, *info]))

    # ------------------------------------------------------------------ run info
    def set_info(self, key: str, value) -> None:
        with self._guard(), self._con:
            self._con.execute("INSERT OR REPLACE INTO run_info VALUES (?, ?)",
                              (key, json.dumps(value, default=str)))

    def info(self) -> dict:
        with self._guard("reading"):
            rows = self._con.execute("SELECT key, value FROM run_info").fetchall()
        return {k: json.loads(v) for k, v in rows}

    # ------------------------------------------------------------------ jobs
    def register_jobs(self, jobs: Iterable) -> None:
        """Insert jobs not yet known as ``pending`` (known jobs keep their status)."""
        jobs = list(jobs)
        methods = self.method_columns()
        cols = ["job_id", "phase", "case_id", "condition", *methods, "status", "spec"]
        sql = (f"INSERT OR IGNORE INTO jobs ({', '.join(_q(c) for c in cols)}) VALUES "
               f"({', '.join('?' for _ in cols)})")
        with self._guard(), self._con:
            self._con.executemany(sql, [
                (j.job_id, j.phase, j.case_id, j.condition_name,
                 *(j.labels().get(m) for m in methods), "pending",
                 json.dumps(j.to_dict(), sort_keys=True)) for j in jobs])
            self._rehash("jobs", "record_sha256 IS NULL")

    def job_status(self) -> dict[str, str]:
        return dict(self.query("SELECT job_id, status FROM jobs"))

    def done_jobs(self) -> set[str]:
        return {r[0] for r in self.query("SELECT job_id FROM jobs WHERE status='done'")}

    def record_success(self, job_id: str, rows: list[dict], seconds: float,
                       outputs: Sequence[dict] = ()) -> None:
        """Replace the job's results and outputs and mark it done, atomically."""
        cols = [*RESULT_COLUMNS, *(m for m in self.method_columns() if m not in RESULT_COLUMNS)]
        with self._guard(), self._con:
            self._con.execute("DELETE FROM results WHERE job_id = ?", (job_id,))
            self._con.execute("DELETE FROM outputs WHERE job_id = ?", (job_id,))
            self._con.executemany(
                f"INSERT INTO results ({', '.join(_q(c) for c in cols)}) VALUES "
                f"({', '.join('?' for _ in cols)})",
                [tuple(_sql(r.get(c)) for c in cols) for r in rows])
            self._con.executemany(
                "INSERT INTO outputs (job_id, name, cache_key, sha256, dtype, shape) VALUES "
                "(?, ?, ?, ?, ?, ?)",
                [(job_id, o["name"], o["cache_key"], o["sha256"], o["dtype"],
                  json.dumps(list(o["shape"]))) for o in outputs])
            self._con.execute(
                "UPDATE jobs SET status='done', error=NULL, message=NULL, attempts=attempts+1, "
                "seconds=?, finished=? WHERE job_id=?", (seconds, time.time(), job_id))
            for table in ("results", "outputs", "jobs"):
                self._rehash(table, "job_id = ?", (job_id,))

    def record_failure(self, job_id: str, error: str, message: str, seconds: float) -> None:
        with self._guard(), self._con:
            self._con.execute("DELETE FROM results WHERE job_id = ?", (job_id,))
            self._con.execute("DELETE FROM outputs WHERE job_id = ?", (job_id,))
            self._con.execute(
                "UPDATE jobs SET status='failed', error=?, message=?, attempts=attempts+1, "
                "seconds=?, finished=? WHERE job_id=?",
                (error, message, seconds, time.time(), job_id))
            self._rehash("jobs", "job_id = ?", (job_id,))

    # ------------------------------------------------------------------ cases & failures
    def record_case(self, case_id: str, meta: dict, truth: dict | None) -> None:
        """Insert or update a case; audit flags already stored are kept when ``meta`` has none
        (the data-crime audit runs in one job per case)."""
        strata = meta.get("strata") or {}
        if not meta.get("audit_flags"):
            old = next(iter(self.query("SELECT meta FROM cases WHERE case_id = ?", (case_id,))),
                       None)
            if old and old[0]:
                kept = json.loads(old[0]).get("audit_flags")
                if kept:
                    meta = {**meta, "audit_flags": kept}
        with self._guard(), self._con:
            self._con.execute(
                "INSERT OR REPLACE INTO cases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (case_id, meta.get("subject"), meta.get("dataset"), meta.get("vendor"),
                 meta.get("field_strength_t"), meta.get("site"), strata.get("pathology"),
                 strata.get("preset"), meta.get("source_file"), meta.get("source_sha256"),
                 json.dumps(meta, sort_keys=True, default=str),
                 json.dumps(truth, sort_keys=True, default=str) if truth is not None else None))

    def record_read_failure(self, dataset: str, failure: dict) -> None:
        with self._guard(), self._con:
            self._con.execute(
                "DELETE FROM failures WHERE path = ? AND dataset = ?", (failure["path"], dataset))
            self._con.execute("INSERT INTO failures VALUES (?, ?, ?, ?, ?)",
                              (failure["path"], dataset, failure["error"], failure["reason"],
                               failure.get("hint", "")))

    # ------------------------------------------------------------------ reading (the writer's own)
    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._guard("reading"):
            return list(self._con.execute(sql, params))

    def frame(self, table: str = "results"):
        """A table as a pandas DataFrame, in a stable order (readers use
        :class:`suite.store.RunView`)."""
        import pandas as pd

        order = {"results": "ORDER BY job_id, stage, metric, structure, phase",
                 "jobs": "ORDER BY job_id", "cases": "ORDER BY case_id",
                 "outputs": "ORDER BY job_id, name",
                 "failures": "ORDER BY dataset, path", "run_info": "ORDER BY key"}[table]
        with self._guard("reading"):
            return pd.read_sql_query(f"SELECT * FROM {table} {order}", self._con)


def _q(column: str) -> str:
    return f'"{column}"'


def _sql(v):
    if v is None:
        return None
    if isinstance(v, float) and v != v:  # NaN → NULL (SQLite has no NaN)
        return None
    if hasattr(v, "item"):
        return v.item()
    return v

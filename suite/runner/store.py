"""The results store of a run: one SQLite file, written transactionally, one writer.

Tables
------
``jobs``      one row per job: id, phase, case, condition, methods, status (pending, done,
              failed), error class and message, attempts, seconds, finished time.
``results``   one row per (job, metric): the value, its unit and direction, the scoring
              profile/convention, structure/phase for segmentation metrics, status (ok or an
              empty-mask status), ``reference_value`` for clinical parameters (the truth the
              value is compared with), and for robustness rows (stage ``robustness``) the
              perturbation ``attack`` (e.g. ``kspace-pgd``, ``kspace-random``, ``pgd``, ``crime:
              magnitude``, ``features``) and its ``budget`` (ε, or the feature contrast).
``cases``     one row per case: identifiers, strata (vendor, field strength, site, pathology,
              preset) and meta/truth as JSON.
``failures``  inputs that could not be read (path, error class, reason, hint).
``run_info``  key/value pairs (protocol hash, seeds).

A job's results and its ``done`` status are written in one transaction, so a run killed at
any moment holds either all of a job's rows or none, and ``--resume`` recomputes exactly the
jobs that are not ``done``. Values are stored at full precision; nothing is rounded here.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Iterable

__all__ = ["ResultStore", "RESULT_COLUMNS"]

RESULT_COLUMNS = ("job_id", "case_id", "subject", "dataset", "condition", "recon", "segmentation",
                  "stage", "metric", "structure", "phase", "value", "reference_value", "unit",
                  "direction", "profile", "status", "attack", "budget")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY, phase TEXT, case_id TEXT, condition TEXT, recon TEXT,
    segmentation TEXT, status TEXT, error TEXT, message TEXT, attempts INTEGER DEFAULT 0,
    seconds REAL, finished REAL, spec TEXT);
CREATE TABLE IF NOT EXISTS results (
    job_id TEXT, case_id TEXT, subject TEXT, dataset TEXT, condition TEXT, recon TEXT,
    segmentation TEXT, stage TEXT, metric TEXT, structure TEXT, phase TEXT, value REAL,
    reference_value REAL, unit TEXT, direction TEXT, profile TEXT, status TEXT, attack TEXT,
    budget REAL);
CREATE INDEX IF NOT EXISTS results_job ON results(job_id);
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY, subject TEXT, dataset TEXT, vendor TEXT, field_strength_t REAL,
    site TEXT, pathology TEXT, preset TEXT, source_file TEXT, source_sha256 TEXT, meta TEXT,
    truth TEXT);
CREATE TABLE IF NOT EXISTS failures (
    path TEXT, dataset TEXT, error TEXT, reason TEXT, hint TEXT);
CREATE TABLE IF NOT EXISTS run_info (key TEXT PRIMARY KEY, value TEXT);
"""


class ResultStore:
    """SQLite results store at ``path`` (created if needed)."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(self.path, timeout=60)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=FULL")
        self._con.executescript(_SCHEMA)
        have = {row[1] for row in self._con.execute("PRAGMA table_info(results)")}
        for column, kind in (("attack", "TEXT"), ("budget", "REAL")):
            if column not in have:  # a store written before robustness rows existed
                self._con.execute(f"ALTER TABLE results ADD COLUMN {column} {kind}")
        self._con.commit()

    def close(self) -> None:
        self._con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ run info
    def set_info(self, key: str, value) -> None:
        with self._con:
            self._con.execute("INSERT OR REPLACE INTO run_info VALUES (?, ?)",
                              (key, json.dumps(value, default=str)))

    def info(self) -> dict:
        return {k: json.loads(v) for k, v in self._con.execute("SELECT key, value FROM run_info")}

    # ------------------------------------------------------------------ jobs
    def register_jobs(self, jobs: Iterable) -> None:
        """Insert jobs not yet known as ``pending`` (known jobs keep their status)."""
        with self._con:
            self._con.executemany(
                "INSERT OR IGNORE INTO jobs (job_id, phase, case_id, condition, recon, "
                "segmentation, status, spec) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
                [(j.job_id, j.phase, j.case_id, j.condition_name, j.recon_label, j.seg_label,
                  json.dumps(j.to_dict(), sort_keys=True)) for j in jobs])

    def job_status(self) -> dict[str, str]:
        return dict(self._con.execute("SELECT job_id, status FROM jobs"))

    def done_jobs(self) -> set[str]:
        return {r[0] for r in self._con.execute("SELECT job_id FROM jobs WHERE status='done'")}

    def record_success(self, job_id: str, rows: list[dict], seconds: float) -> None:
        """Replace the job's results and mark it done, atomically."""
        with self._con:
            self._con.execute("DELETE FROM results WHERE job_id = ?", (job_id,))
            self._con.executemany(
                f"INSERT INTO results ({', '.join(RESULT_COLUMNS)}) VALUES "
                f"({', '.join('?' for _ in RESULT_COLUMNS)})",
                [tuple(_sql(r.get(c)) for c in RESULT_COLUMNS) for r in rows])
            self._con.execute(
                "UPDATE jobs SET status='done', error=NULL, message=NULL, attempts=attempts+1, "
                "seconds=?, finished=? WHERE job_id=?", (seconds, time.time(), job_id))

    def record_failure(self, job_id: str, error: str, message: str, seconds: float) -> None:
        with self._con:
            self._con.execute("DELETE FROM results WHERE job_id = ?", (job_id,))
            self._con.execute(
                "UPDATE jobs SET status='failed', error=?, message=?, attempts=attempts+1, "
                "seconds=?, finished=? WHERE job_id=?",
                (error, message, seconds, time.time(), job_id))

    # ------------------------------------------------------------------ cases & failures
    def record_case(self, case_id: str, meta: dict, truth: dict | None) -> None:
        """Insert or update a case; audit flags already stored are kept when ``meta`` has none
        (the data-crime audit runs in one job per case)."""
        strata = meta.get("strata") or {}
        if not meta.get("audit_flags"):
            old = self._con.execute("SELECT meta FROM cases WHERE case_id = ?", (case_id,)).fetchone()
            if old and old[0]:
                kept = json.loads(old[0]).get("audit_flags")
                if kept:
                    meta = {**meta, "audit_flags": kept}
        with self._con:
            self._con.execute(
                "INSERT OR REPLACE INTO cases VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (case_id, meta.get("subject"), meta.get("dataset"), meta.get("vendor"),
                 meta.get("field_strength_t"), meta.get("site"), strata.get("pathology"),
                 strata.get("preset"), meta.get("source_file"), meta.get("source_sha256"),
                 json.dumps(meta, sort_keys=True, default=str),
                 json.dumps(truth, sort_keys=True, default=str) if truth is not None else None))

    def record_read_failure(self, dataset: str, failure: dict) -> None:
        with self._con:
            self._con.execute(
                "DELETE FROM failures WHERE path = ? AND dataset = ?", (failure["path"], dataset))
            self._con.execute("INSERT INTO failures VALUES (?, ?, ?, ?, ?)",
                              (failure["path"], dataset, failure["error"], failure["reason"],
                               failure.get("hint", "")))

    # ------------------------------------------------------------------ reading
    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        return list(self._con.execute(sql, params))

    def frame(self, table: str = "results"):
        """A table as a pandas DataFrame, in a stable order."""
        import pandas as pd

        order = {"results": "ORDER BY job_id, stage, metric, structure, phase",
                 "jobs": "ORDER BY job_id", "cases": "ORDER BY case_id",
                 "failures": "ORDER BY dataset, path", "run_info": "ORDER BY key"}[table]
        return pd.read_sql_query(f"SELECT * FROM {table} {order}", self._con)


def _sql(v):
    if v is None:
        return None
    if isinstance(v, float) and v != v:  # NaN → NULL (SQLite has no NaN)
        return None
    if hasattr(v, "item"):
        return v.item()
    return v

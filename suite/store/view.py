"""``RunView``: the one reader of a run folder, used by analysis, reports and the gate.

It opens ``results.sqlite`` read-only and serves the store's tables as pandas frames (results
with the case strata joined in), the run's protocol and provenance manifest, the arrays the
jobs cached (checked against the SHA-256 the store recorded) and the robustness examples.
Nothing here computes a statistic: :mod:`suite.analysis` does, from a view.

Stores written by earlier versions are read as if written by this one: the old direction
words are mapped to the one vocabulary of :mod:`suite.metrics.contract`, and a row's
``exclusion`` is derived where the store lacks it (a missing value; a declared sentinel of its
profile).
"""

from __future__ import annotations

import json
import sqlite3
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from suite.case import STRATA_COLUMNS
from suite.metrics.contract import CLOSER, HIGHER, LOWER, NONE
from suite.store.cache import read_cached
from suite.store.errors import store_errors
from suite.store.results import FIXED_METHOD_COLUMNS

__all__ = ["RunView", "RunViewError", "group_columns", "resolve_run_dir"]

#: Direction words of stores written before the one vocabulary.
_LEGACY_DIRECTIONS = {"": NONE, "higher": HIGHER, "lower": LOWER, "closer": CLOSER,
                      "closest to 1 is best": CLOSER,
                      "signed (test - reference), 0 is best": CLOSER,
                      "descriptive (no direction)": NONE}


class RunViewError(ValueError):
    """A folder that is not a readable run (no store, unreadable store)."""


def group_columns(method_stages) -> list[str]:
    """The columns that identify one measured quantity of one method chain (every column of a
    result row but the case, the value and its attributes):
    ``stage, metric, structure, phase, segment, convention, profile, condition, <method
    columns>, attack`` (``budget`` is numeric and grouped separately; ``convention`` is the
    convention a ``segment`` is numbered in, e.g. an AHA profile, so that the segments of two
    conventions are never averaged together)."""
    return ["stage", "metric", "structure", "phase", "segment", "convention", "profile",
            "condition", *method_stages, "attack"]


def resolve_run_dir(path) -> Path:
    """The folder holding ``results.sqlite``: ``path`` itself, or its only sub-folder that holds
    one (``cmrsuite demo --out DIR`` writes ``DIR/<protocol sha256[:12]>/``)."""
    p = Path(path)
    if (p / "results.sqlite").is_file():
        return p
    if not p.is_dir():
        raise FileNotFoundError(f"{p}: no such run folder; give the folder that `cmrsuite run "
                                "--out` wrote")
    subs = sorted(d for d in p.iterdir() if (d / "results.sqlite").is_file())
    if len(subs) == 1:
        return subs[0]
    if not subs:
        raise FileNotFoundError(f"{p}: holds no results.sqlite (nor does any sub-folder); is this "
                                "a run folder?")
    raise RunViewError(f"{p}: holds {len(subs)} runs ({', '.join(d.name for d in subs)}); give "
                       "one of them")


class RunView:
    """Read-only view of a run folder (see the module docstring).

    Parameters
    ----------
    run_dir : path
        A folder written by ``cmrsuite run`` (or its parent holding exactly one run).

    Attributes
    ----------
    results : DataFrame
        Every ``results`` row with its SQLite ``rowid`` as ``row_id``, the case strata
        (:data:`suite.case.STRATA_COLUMNS`) joined in, grouping columns (:meth:`group_columns`)
        ``""`` where NULL, and ``usable`` (True when the value enters averages: no ``exclusion``).
    jobs, cases, failures, outputs : DataFrame
        The store's tables (``failures`` with ``row_id``).
    info : dict
        ``run_info``.
    manifest, protocol : dict
        The provenance manifest and the protocol the run executed.
    """

    def __init__(self, run_dir):
        self.run_dir = resolve_run_dir(run_dir)
        self.db_path = self.run_dir / "results.sqlite"
        with store_errors(self.db_path, "reading"):
            con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
            try:
                self._read(con)
            finally:
                con.close()
        self.manifest = _json_file(self.run_dir / "manifest.json")
        proto = (self.manifest.get("protocol") or {}).get("content")
        self._protocol_file = _json_file(self.run_dir / "protocol.json")
        if proto is None:
            proto = self._protocol_file.get("protocol")
        self.protocol: dict = proto or {}
        self.protocol_source = ((self.manifest.get("protocol") or {}).get("source")
                                or self._protocol_file.get("source"))
        self.protocol_sha256 = (self._protocol_file.get("sha256")
                                or (self.manifest.get("protocol") or {}).get("sha256")
                                or self.info.get("protocol_sha256"))
        self.results = self._join_named_strata(self.results)

    # ------------------------------------------------------------------ loading
    def _read(self, con) -> None:
        results = pd.read_sql_query("SELECT rowid AS row_id, * FROM results ORDER BY rowid", con)
        self.jobs = pd.read_sql_query("SELECT * FROM jobs ORDER BY job_id", con)
        self.cases = pd.read_sql_query("SELECT * FROM cases ORDER BY case_id", con)
        self.failures = pd.read_sql_query(
            "SELECT rowid AS row_id, * FROM failures ORDER BY dataset, path", con)
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        self.outputs = (pd.read_sql_query("SELECT * FROM outputs ORDER BY job_id, name", con)
                        if "outputs" in tables else
                        pd.DataFrame(columns=["job_id", "name", "cache_key", "sha256", "dtype",
                                              "shape"]))
        self.info = {k: json.loads(v) for k, v in con.execute("SELECT key, value FROM run_info")}
        stages = self.info.get("method_stages") or []
        self.method_stages = list(dict.fromkeys(
            [*FIXED_METHOD_COLUMNS, *(s for s in stages if s in results.columns)]))
        self.results = self._normalise(results)

    def _normalise(self, res: pd.DataFrame) -> pd.DataFrame:
        for col in ("attack", "budget", "frame", "segment", "convention", "exclusion"):
            if col not in res:  # a store written before these columns existed
                res[col] = None
        strata = self.cases[["case_id", *STRATA_COLUMNS]] if not self.cases.empty else \
            pd.DataFrame(columns=["case_id", *STRATA_COLUMNS])
        res = res.merge(strata, on="case_id", how="left")
        res["direction"] = res["direction"].fillna("").map(
            lambda d: _LEGACY_DIRECTIONS.get(d, d))
        res["exclusion"] = _exclusions(res)
        res["usable"] = res["exclusion"].isna()
        for col in self.group_columns:
            res[col] = res[col].fillna("")
        return res

    @property
    def named_strata(self) -> list[str]:
        """Strata the protocol names (``analyses.strata``, ``robustness.shift.strata``) beyond
        the store's fixed columns: case strata keys its datasets declare
        (:mod:`suite.protocol.strata`), joined into :attr:`results` from each case's
        ``meta.strata`` (else ``meta``)."""
        rob = (self.protocol.get("robustness") or {}).get("shift") or {}
        names = [*((self.protocol.get("analyses") or {}).get("strata") or []),
                 *(rob.get("strata") or [])]
        fixed = {"case_id", "condition", "dataset", *STRATA_COLUMNS}
        return [n for n in dict.fromkeys(names) if n not in fixed]

    def _join_named_strata(self, res: pd.DataFrame) -> pd.DataFrame:
        names = [n for n in self.named_strata if n not in res.columns]
        if not names or self.cases.empty:
            return res
        metas = [json.loads(m) if isinstance(m, str) and m else {} for m in self.cases["meta"]]
        extra = pd.DataFrame({"case_id": self.cases["case_id"]})
        for n in names:
            extra[n] = [(m.get("strata") or {}).get(n, m.get(n)) for m in metas]
        out = res.merge(extra, on="case_id", how="left")
        out.attrs = dict(res.attrs)
        return out

    # ------------------------------------------------------------------ settings
    @property
    def group_columns(self) -> list[str]:
        """:func:`group_columns` of this run's method stages."""
        return group_columns(self.method_stages)

    @property
    def seed(self) -> int:
        return int(self.protocol.get("seed", 0))

    @property
    def bootstrap(self) -> dict:
        """The protocol's bootstrap settings as the summary used them: ``seed`` (protocol
        seed), ``n_resamples`` and ``alpha`` (``analyses.bootstrap``)."""
        boot = (self.protocol.get("analyses") or {}).get("bootstrap") or {}
        return {"seed": self.seed, "n_resamples": int(boot.get("n_resamples", 1000)),
                "alpha": float(boot.get("alpha", 0.05))}

    def strata(self) -> list[str]:
        """Strata to report: the protocol's ``analyses.strata`` (default ``vendor``)."""
        return list((self.protocol.get("analyses") or {}).get("strata") or ["vendor"])

    @property
    def image_profiles(self) -> list[str]:
        """The protocol's image-quality profiles (first = the headline profile)."""
        return list(((self.protocol.get("metrics") or {}).get("image") or {}).get("profiles")
                    or ["fastmri"])

    @property
    def cache_dir(self) -> Path:
        """The run's cache (:func:`suite.store.seal.resolve_cache_dir`)."""
        from suite.store.seal import resolve_cache_dir

        return resolve_cache_dir(self.run_dir, self.manifest)

    # ------------------------------------------------------------------ arrays
    def output(self, job_id: str, name: str) -> np.ndarray:
        """The array job ``job_id`` cached under ``name`` (a stage, or ``reference``), checked
        against the SHA-256 the store recorded.

        Raises
        ------
        KeyError
            The job recorded no such output.
        suite.store.CacheError
            The cache file is missing or was modified.
        """
        sel = self.outputs[(self.outputs["job_id"] == job_id) & (self.outputs["name"] == name)]
        if sel.empty:
            raise KeyError(f"job {job_id} recorded no output {name!r}")
        row = sel.iloc[0]
        return read_cached(self.cache_dir, row["cache_key"], row["sha256"])

    def output_record(self, job_id: str, name: str) -> dict | None:
        sel = self.outputs[(self.outputs["job_id"] == job_id) & (self.outputs["name"] == name)]
        return None if sel.empty else sel.iloc[0].to_dict()

    @cached_property
    def examples(self) -> dict[str, Path]:
        """Worst-case example files of robustness jobs (job id → ``.npz`` path)."""
        folder = self.run_dir / "robustness"
        if not folder.is_dir():
            return {}
        known = set(self.jobs["job_id"])
        return {p.stem: p for p in sorted(folder.glob("*.npz")) if p.stem in known}

    def job_spec(self, job_id: str) -> dict:
        row = self.jobs[self.jobs["job_id"] == job_id]
        return json.loads(row["spec"].iloc[0]) if not row.empty and row["spec"].iloc[0] else {}

    def summary(self) -> str:
        n_done = int((self.jobs["status"] == "done").sum()) if not self.jobs.empty else 0
        return (f"run {self.run_dir}: protocol {self.protocol.get('name')!r}, {len(self.jobs)} "
                f"jobs ({n_done} done), {len(self.results)} result rows, {len(self.cases)} cases")


def _json_file(path: Path) -> dict:
    """A run's JSON file as a dict (``{}`` when absent), or :class:`RunViewError`."""
    if not path.is_file():
        return {}
    try:
        out = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise RunViewError(f"{path}: not readable JSON ({exc}); the run folder was damaged or "
                           "edited") from None
    if not isinstance(out, dict):
        raise RunViewError(f"{path}: expected a JSON object; the run folder was damaged or "
                           "edited")
    return out


def _exclusions(res: pd.DataFrame) -> pd.Series:
    """The stored exclusion, or (older stores) one derived from the value and the metric's
    declared sentinels."""
    out = res["exclusion"].astype(object).where(res["exclusion"].notna(), None)
    missing = res["value"].isna() & out.isna()
    out[missing] = "missing"
    todo = out.isna() & res["profile"].notna()
    if todo.any():
        import suite.metrics  # noqa: F401  (declares the built-in metrics)
        from suite.metrics.contract import registered_metrics

        for spec in registered_metrics().values():
            for profile, values in spec.sentinels.items():
                if values:
                    hit = (todo & (res["metric"] == spec.name) & (res["profile"] == profile)
                           & res["value"].isin(list(values)))
                    out[hit] = "sentinel"
    return out

"""Analysis of a run's results: summaries with subject-level CIs, strata, acceptance.

Everything here reads the rows a :class:`~suite.store.RunView` serves and computes from them;
nothing reaches back upstream, and every number a report prints is recomputable from the store
(the tables carry the grouping keys and counts). Every average goes through the one
subject-level reduction :func:`suite.metrics.reduce.reduce_subjects`: each subject's usable
values are averaged first, rows with an ``exclusion`` (missing, a convention's sentinel, an
implausible value) are counted by reason and never averaged.

* :func:`metric_summary` — per group (stage, metric, structure, phase, segment, profile,
  condition, method of each stage, attack, budget): mean over subjects, n subjects, excluded
  values by reason, bootstrap percentile CI over subjects (seeded).
* :func:`stratum_summary` — the same per stratum (vendor, field strength, pathology, ...).
* :func:`check_acceptance` — the protocol's pre-specified acceptance criteria.
* :mod:`suite.analysis.agreement` — clinical agreement, implausible values, error propagation.
* :func:`suite.analysis.run_summary.summarise` — every table and figure's data of a run in one
  result object (:mod:`suite.report.summary` writes it as ``summary.md``, CSV and PNG).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from suite.analysis.selection import whole_rows
from suite.metrics.reduce import SubjectAggregate, reduce_subjects
from suite.store.results import FIXED_METHOD_COLUMNS
from suite.store.view import RunView, group_columns

__all__ = ["load_results", "metric_summary", "stratum_summary", "check_acceptance",
           "summary_keys", "method_columns", "subject_keys", "subject_reduction",
           "bootstrap_mean_ci"]


def load_results(run) -> pd.DataFrame:
    """Results rows (with strata, ``row_id`` and ``usable``) of a run folder or a RunView."""
    view = run if isinstance(run, RunView) else RunView(run)
    return _tagged(view.results, view.method_stages)


def _tagged(df: pd.DataFrame, method_stages) -> pd.DataFrame:
    df = df.copy()
    df.attrs["method_stages"] = list(method_stages)
    return df


def method_columns(df: pd.DataFrame) -> list[str]:
    """The method columns of a results frame (``recon``, ``segmentation`` and any other stage
    the run recorded, from ``df.attrs["method_stages"]``)."""
    stages = df.attrs.get("method_stages") or list(FIXED_METHOD_COLUMNS)
    return [c for c in dict.fromkeys([*FIXED_METHOD_COLUMNS, *stages]) if c in df.columns]


def summary_keys(df: pd.DataFrame, by=None) -> list[str]:
    """Grouping columns of :func:`metric_summary`: :func:`suite.store.group_columns`, then
    ``budget``, then ``by``."""
    keys = [k for k in group_columns(method_columns(df)) if k in df.columns] + ["budget"]
    return keys + ([by] if isinstance(by, str) else list(by or []))


def subject_keys(frame: pd.DataFrame) -> np.ndarray:
    """The subject of each row as the unit of reduction and resampling: ``dataset/subject``
    when the rows carry a ``dataset`` column (the same subject id in two datasets is two
    people — two phantom cohorts both number their subjects from 000 — as in the release
    gate's clusters, :func:`suite.gate.runs.load_run`), else ``subject``.

    >>> subject_keys(pd.DataFrame({"dataset": ["a", "b"], "subject": ["s0", "s0"]})).tolist()
    ['a/s0', 'b/s0']
    """
    subject = frame["subject"].astype(str).to_numpy(dtype=object)
    if "dataset" not in frame:
        return subject
    return (frame["dataset"].astype(str).to_numpy(dtype=object) + "/" + subject)


def subject_reduction(g: pd.DataFrame, col: str = "value", *,
                      statistic: str = "mean") -> SubjectAggregate:
    """:func:`~suite.metrics.reduce.reduce_subjects` of the rows ``g`` (subjects from
    :func:`subject_keys`, exclusions from ``exclusion``)."""
    excl = g["exclusion"] if "exclusion" in g else pd.Series([None] * len(g), index=g.index)
    return reduce_subjects(g[col].tolist(), subject_keys(g).tolist(),
                           exclusions=[None if (e is None or e != e) else e for e in excl],
                           statistic=statistic)


def bootstrap_mean_ci(values: np.ndarray, seed: int, n_resamples: int, alpha: float):
    """Percentile bootstrap CI of the mean of subject values (NaN with fewer than 2 values;
    the value itself when all values are equal).

    The same resamples and interval as :func:`suite.stats.bootstrap_ci` with ``np.mean`` (its
    vectorised path: ``values[picks].mean(axis=1)``, numpy's linear-interpolation quantiles), so
    the values are identical; for an integer seed the resample indices of a (seed, number of
    subjects, resamples) triple are drawn once and reused by every group of a summary (a
    summary has thousands of groups of the same few subjects). Anything else (another seed
    type, non-finite values, invalid settings) goes through :func:`~suite.stats.bootstrap_ci`,
    which validates and raises.

    The interval of an integer seed and at most :data:`REMEMBERED_MAX_VALUES` values is
    remembered per (values, seed, resamples, alpha), keyed by the values' bytes: a run's summary and its report summarise the same subject values
    again (about half of the calls of a demo's tail), and the same inputs give the same
    interval.
    """
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return (float("nan"), float("nan"))
    if (values.ndim == 1 and values.size <= REMEMBERED_MAX_VALUES and isinstance(alpha, float)
            and _resample_picks(seed, values.size, n_resamples) is not None):
        return _remembered_ci(values.tobytes(), int(seed), int(n_resamples), float(alpha))
    return _interval(values, seed, n_resamples, alpha)


#: Groups of at most this many values have their interval remembered (the demo's have 2-8):
#: the memo's keys then stay below 512 bytes each, ≈ 32 MB for its 65 536 entries at most.
REMEMBERED_MAX_VALUES = 64


@functools.lru_cache(maxsize=1 << 16)
def _remembered_ci(values: bytes, seed: int, n_resamples: int, alpha: float):
    """:func:`_interval` of the float64 values ``values`` (bytes), remembered."""
    return _interval(np.frombuffer(values, dtype=float).copy(), seed, n_resamples, alpha)


def _interval(values: np.ndarray, seed, n_resamples, alpha):
    """:func:`bootstrap_mean_ci` of at least 2 float64 ``values``, computed."""
    from suite.stats import bootstrap_ci

    finite = bool(np.isfinite(values).all())
    # np.allclose(values, values[0]); for finite values its test written out (rtol 1e-5,
    # atol 1e-8: |x - y| <= atol + rtol |y|), the same comparisons without its overhead
    if (bool((np.abs(values - values[0]) <= 1e-08 + 1e-05 * abs(values[0])).all()) if finite
            else np.allclose(values, values[0])):
        return (float(values[0]),) * 2
    picks = _resample_picks(seed, values.size, n_resamples)
    if picks is not None and 0.0 < alpha < 1.0 and finite:
        dist = values[picks].mean(axis=1)
        if np.isfinite(dist).all():
            q = np.quantile(dist, [alpha / 2.0, 1.0 - alpha / 2.0])
            return (float(q[0]), float(q[1]))
    r = bootstrap_ci(values, np.mean, seed=seed, n_resamples=n_resamples, alpha=alpha)
    return tuple(float(v) for v in r.ci)


def _resample_picks(seed, n: int, n_resamples) -> np.ndarray | None:
    """The resample indices :func:`suite.stats.bootstrap_ci` draws for ``n`` subjects
    (``default_rng(seed).integers(0, n, (n_resamples, n))``), cached; None when the seed is
    not a plain integer or ``n_resamples`` is not a valid count (the caller then takes the
    validating path)."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        return None
    if isinstance(n_resamples, (bool, np.bool_)) or not isinstance(n_resamples, (int, np.integer)) \
            or n_resamples < 100:
        return None
    return _cached_picks(int(seed), int(n), int(n_resamples))


@functools.lru_cache(maxsize=32)
def _cached_picks(seed: int, n: int, n_resamples: int) -> np.ndarray:
    picks = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
    picks.setflags(write=False)
    return picks


def _excluded_text(agg: SubjectAggregate) -> str:
    return ", ".join(f"{n} {r}" for r, n in agg.excluded_by)


def metric_summary(df: pd.DataFrame, *, by: list[str] | None = None, seed: int = 0,
                   n_resamples: int = 1000, alpha: float = 0.05) -> pd.DataFrame:
    """Mean over subjects with a subject-bootstrap CI, per group (see module docstring).

    Columns: the grouping keys (:func:`summary_keys`), ``mean``, ``ci_low``, ``ci_high``,
    ``n_subjects``, ``n_excluded`` (values left out), ``excluded`` (by reason, e.g.
    ``"2 implausible"``), ``unit``, ``direction``.
    """
    keys = summary_keys(df, by)
    rows = []
    for key, agg, first in _subject_groups(df, keys):
        vals = agg.values()
        lo, hi = bootstrap_mean_ci(vals, seed, n_resamples, alpha)
        rows.append(dict(zip(keys, key)) | {
            "mean": agg.value, "ci_low": lo, "ci_high": hi, "n_subjects": agg.n_subjects,
            "n_excluded": agg.n_excluded, "excluded": _excluded_text(agg),
            "unit": first("unit"), "direction": first("direction")})
    return pd.DataFrame(rows)


def _subject_groups(df: pd.DataFrame, keys: list[str]):
    """``(key, SubjectAggregate, first)`` per group of ``df`` by ``keys`` (sorted, NaN keys
    kept), the same groups and rows in the same order as ``df.groupby(keys, sort=True,
    dropna=False)`` with :func:`subject_reduction` of each; ``first(column)`` is the column's
    value in the group's first row.

    The groups are taken as row positions from one pass over the key columns instead of a
    sub-frame per group (pandas copies every column of each group it hands out: with thousands
    of groups that was most of the time of a run's summary).
    """
    if df.empty:
        return
    gb = df[keys].groupby(keys, sort=True, dropna=False)
    codes = gb.ngroup().to_numpy()
    sizes = gb.size()
    order = np.argsort(codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(sizes)))])
    value = df["value"].to_numpy(dtype=object)
    subject = subject_keys(df)
    excl = df["exclusion"].to_numpy(dtype=object) if "exclusion" in df else None
    columns = {c: df[c].to_numpy(dtype=object) for c in ("unit", "direction") if c in df}
    for i, key in enumerate(sizes.index):
        idx = order[bounds[i]:bounds[i + 1]]
        exclusions = ([None] * idx.size if excl is None else
                      [None if (e is None or e != e) else e for e in excl[idx]])
        agg = reduce_subjects(value[idx].tolist(), subject[idx].tolist(), exclusions=exclusions)
        first = idx[0]
        yield (key if isinstance(key, tuple) else (key,)), agg, \
            (lambda c, first=first: columns[c][first])


def stratum_summary(df: pd.DataFrame, stratum: str, **kw) -> pd.DataFrame:
    """:func:`metric_summary` split by one stratum column (e.g. ``vendor``)."""
    from suite.case import STRATA_COLUMNS

    if stratum not in df.columns:
        raise ValueError(f"stratum_summary: unknown stratum {stratum!r}; available "
                         f"{list(STRATA_COLUMNS)}")
    out = df.assign(**{stratum: df[stratum].astype(str)})
    out.attrs = dict(df.attrs)
    return metric_summary(out, by=[stratum], **kw)


def check_acceptance(df: pd.DataFrame, acceptance: list[dict]) -> list[dict]:
    """Evaluate acceptance criteria on the subject statistic of each selected metric.

    Each criterion ``{metric, min|max, statistic, <column>: value, ...}`` selects rows by
    ``metric`` and its other column keys (a part column it does not name — ``segment``,
    ``convention``, ``frame`` — selects the whole: :func:`suite.analysis.selection.whole_rows`),
    reduces them with :func:`subject_reduction` and
    compares the statistic with the bound.

    Returns
    -------
    list of dict
        One per criterion: ``criterion`` (as given), ``label`` (the criterion in words, without
        its value), ``description`` (label with value, subjects and the values left out),
        ``value``, ``n_subjects``, ``n_excluded`` and ``excluded`` (the values left out, by
        reason), ``passed`` and ``row_ids`` (every selected row, usable or excluded).
    """
    out = []
    for crit in acceptance or []:
        sel = df[df["metric"] == crit["metric"]]
        filters = [k for k in crit if k not in ("metric", "statistic", "min", "max")]
        for col in filters:
            sel = sel[sel[col].astype(str) == str(crit[col])] if col in sel else sel.iloc[:0]
        sel = whole_rows(sel, filters)  # a criterion naming no `segment` means the region
        stat = crit.get("statistic", "mean")
        agg = subject_reduction(sel, statistic=stat)
        value = float(agg.value)
        passed = bool(agg.n_subjects) and ("min" not in crit or value >= crit["min"]) and \
            ("max" not in crit or value <= crit["max"])
        where = ", ".join(f"{k}={crit[k]}" for k in filters)
        bound = " and ".join(f"{'>=' if b == 'min' else '<='} {crit[b]}" for b in ("min", "max")
                             if b in crit)
        label = f"{stat} {crit['metric']} ({where}) {bound}"
        excluded = (f"; {agg.n_excluded} values excluded ({_excluded_text(agg)})"
                    if agg.n_excluded else "")
        out.append({"label": label, "description": f"{label}: "
                    f"{value:.4g} over {agg.n_subjects} subjects{excluded}", "value": value,
                    "n_subjects": agg.n_subjects, "n_excluded": agg.n_excluded,
                    "excluded": _excluded_text(agg), "passed": passed, "criterion": crit,
                    "row_ids": sorted(int(i) for i in sel["row_id"]) if "row_id" in sel else []})
    return out

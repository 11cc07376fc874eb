"""The one reduction of the suite: per-case values → :class:`Aggregate` (STYLE R5), and the one
subject-level reduction built on it (:func:`reduce_subjects`).

Metrics return per-case (and per-frame) values and never reduce; every average a report prints
comes from :func:`aggregate`, which says how many values it used and which it left out.

Rules
-----
* Missing values are **excluded and counted**: NaN, ``None`` (the JSON form of NaN in
  ``to_dict()`` and ``rows()``) and any value listed in ``sentinels`` (e.g. the M&Ms
  organisers' ``-1`` for a missed structure, see :mod:`suite.metrics.segmentation`).
* ``±inf`` is a value, not a missing value: it is kept, so a mean over an ``inf`` is ``inf``.
  (No segmentation policy of the suite produces ``inf``; this rule only matters for values
  imported from other tools.)
* Nothing valid → ``value = NaN`` and ``n_used = 0``, never 0 (MONAI's ``do_metric_reduction``
  returns 0 there, STYLE §2).
* The input is never modified (values are copied before anything else happens).
* No rounding: rounding happens only in rendering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Hashable, Iterable, Sequence

import numpy as np

from suite._validation import check_option

__all__ = ["aggregate", "Aggregate", "STATISTICS", "reduce_subjects", "SubjectAggregate"]

#: Statistics :func:`aggregate` can compute over the valid values.
STATISTICS = ("mean", "median")


@dataclass(frozen=True)
class Aggregate:
    """One reduced value with its counts (STYLE R5, R14).

    Attributes
    ----------
    value : float
        The statistic over the valid values; NaN when ``n_used == 0``.
    n_used : int
        Number of values that entered the statistic.
    n_excluded : int
        Number of values left out (NaN, ``None`` or a sentinel).
    excluded_ids : tuple
        The ids of the excluded values, in input order (indices ``0..n-1`` when no ids
        were given).
    statistic : str
        Which statistic ``value`` is (``"mean"`` or ``"median"``).
    """

    value: float
    n_used: int
    n_excluded: int
    excluded_ids: tuple
    statistic: str = "mean"

    @property
    def n_total(self) -> int:
        """``n_used + n_excluded``."""
        return self.n_used + self.n_excluded

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict at full precision.

        A non-finite ``value`` becomes ``None`` (JSON has no NaN/inf); ``n_used`` tells the two
        apart: ``n_used == 0`` means nothing was valid (NaN), ``n_used > 0`` an infinite value.
        """
        v = float(self.value)
        return {
            "value": v if math.isfinite(v) else None,
            "n_used": int(self.n_used),
            "n_excluded": int(self.n_excluded),
            "excluded_ids": [_jsonable_id(i) for i in self.excluded_ids],
            "statistic": self.statistic,
        }

    def summary(self) -> str:
        """One line, e.g. ``"mean 0.91 (114 of 120 used; 6 excluded)"``."""
        val = "n/a" if math.isnan(self.value) else f"{self.value:.4g}"
        return (f"{self.statistic} {val} ({self.n_used} of {self.n_total} used; "
                f"{self.n_excluded} excluded)")


def _jsonable_id(i):
    if isinstance(i, (np.integer,)):
        return int(i)
    if isinstance(i, (np.floating,)):
        return float(i)
    if isinstance(i, (str, int, float, bool)) or i is None:
        return i
    return str(i)


def _as_float(v, position: int) -> float:
    if v is None:
        return math.nan
    if isinstance(v, (bool, np.bool_)):
        raise ValueError(f"aggregate: `values` must be numbers; got a bool at position {position}")
    try:
        return float(v)
    except (TypeError, ValueError):
        raise ValueError(
            f"aggregate: `values` must be numbers (or None/NaN for missing); "
            f"got {v!r} at position {position}"
        ) from None


def aggregate(
    values: Iterable[float | None],
    ids: Sequence[Hashable] | None = None,
    *,
    statistic: str = "mean",
    sentinels: Iterable[float] = (),
) -> Aggregate:
    """Reduce per-case values to one number, excluding and counting the missing ones.

    Parameters
    ----------
    values : iterable of float or None, length n
        Per-case values (one metric, one structure, one phase, ...). 1-D.
    ids : sequence of hashable, length n, optional
        Case identifiers reported in ``excluded_ids``; default ``0..n-1``.
    statistic : {"mean", "median"}
        ``"mean"`` is the arithmetic mean; ``"median"`` numpy's median (mean of the two middle
        values for even counts).
    sentinels : iterable of float, default ()
        Values that mean "missing" in the convention that produced ``values``, e.g. ``(-1,)``
        for the ``mnms`` segmentation profile. They are excluded and counted like NaN.

    Returns
    -------
    Aggregate
        ``value`` (NaN when nothing is valid), ``n_used``, ``n_excluded``, ``excluded_ids``.

    Raises
    ------
    ValueError
        When ``values`` is not 1-D, holds something that is not a number, ``ids`` has another
        length, or ``statistic`` is unknown (with the nearest valid name).

    Notes
    -----
    ``±inf`` is kept as a value. The input is copied first and never modified.

    Examples
    --------
    >>> a = aggregate([0.9, float("nan"), 0.7], ids=["p1", "p2", "p3"])
    >>> round(a.value, 6), a.n_used, a.n_excluded, a.excluded_ids
    (0.8, 2, 1, ('p2',))
    >>> aggregate([None, float("nan")]).n_used
    0
    >>> aggregate([3.0, -1.0, 5.0], sentinels=(-1,)).value
    4.0
    """
    check_option(statistic, STATISTICS, name="statistic", where="aggregate")
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise ValueError(
                f"aggregate: `values` must be 1-D (one value per case); got shape {values.shape}"
            )
        raw = values.tolist()
    else:
        raw = list(values)
    arr = np.array([_as_float(v, i) for i, v in enumerate(raw)], dtype=np.float64)
    n = arr.size
    if ids is None:
        id_list = list(range(n))
    else:
        id_list = list(ids)
        if len(id_list) != n:
            raise ValueError(
                f"aggregate: `ids` must have one entry per value; got {len(id_list)} ids for "
                f"{n} values"
            )
    missing = np.isnan(arr)
    for s in sentinels:
        missing |= arr == float(s)
    used = arr[~missing]
    if used.size == 0:
        value = math.nan
    elif statistic == "mean":
        value = float(np.mean(used))
    else:
        value = float(np.median(used))
    excluded = tuple(id_list[i] for i in np.flatnonzero(missing))
    return Aggregate(value=value, n_used=int(used.size), n_excluded=int(missing.sum()),
                     excluded_ids=excluded, statistic=statistic)


@dataclass(frozen=True)
class SubjectAggregate:
    """A statistic over subjects of each subject's mean, with what was left out and why.

    Attributes
    ----------
    value : float
        ``statistic`` over the subject means; NaN when no subject has a usable value.
    subject_means : tuple of (subject, float)
        Each subject's mean of its usable values, in sorted subject order.
    n_values : int
        Values that entered a subject mean.
    n_excluded : int
        Values left out (never averaged).
    excluded_by : tuple of (reason, count)
        Why: ``missing`` (None/NaN), ``sentinel`` (a convention's "missing" value, e.g. −1 of
        the M&Ms script), ``implausible`` (outside the metric's physiological range), or any
        other exclusion a row carries; sorted by reason.
    subjects_without_value : tuple
        Subjects whose every value was excluded (they do not count in ``n_subjects``).
    statistic : str
    """

    value: float
    subject_means: tuple
    n_values: int
    n_excluded: int
    excluded_by: tuple
    subjects_without_value: tuple
    statistic: str = "mean"

    @property
    def n_subjects(self) -> int:
        return len(self.subject_means)

    def values(self) -> np.ndarray:
        """The subject means as a float64 array (sorted subject order)."""
        return np.array([v for _, v in self.subject_means], dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        v = float(self.value)
        return {"value": v if math.isfinite(v) else None, "statistic": self.statistic,
                "n_subjects": self.n_subjects, "n_values": self.n_values,
                "n_excluded": self.n_excluded, "excluded_by": dict(self.excluded_by),
                "subjects_without_value": [_jsonable_id(s) for s in self.subjects_without_value],
                "subject_means": {str(s): m for s, m in self.subject_means}}

    def summary(self) -> str:
        val = "n/a" if math.isnan(self.value) else f"{self.value:.4g}"
        why = ", ".join(f"{n} {r}" for r, n in self.excluded_by) or "none"
        return (f"{self.statistic} over {self.n_subjects} subjects {val} ({self.n_values} values "
                f"used; {self.n_excluded} excluded: {why})")


def reduce_subjects(values: Iterable[float | None], subjects: Sequence[Hashable], *,
                    exclusions: Sequence[str | None] | None = None,
                    statistic: str = "mean") -> SubjectAggregate:
    """The one subject-level reduction: each subject's mean, then a statistic over subjects.

    Every average of the analysis, the gate, the domain-shift analysis and the leaderboard goes
    through this function, so the exclusion rules live in one place: a value enters its
    subject's mean only when it is a number (not None/NaN) and its ``exclusion`` is empty; the
    excluded values are counted by reason, never averaged. Each subject's mean and the
    statistic over subjects are :func:`aggregate` results.

    Parameters
    ----------
    values : iterable of float or None, length n
    subjects : sequence of hashable, length n
        The cluster of each value (a subject, or ``dataset/subject``).
    exclusions : sequence of str or None, length n, optional
        Each value's stored exclusion (:mod:`suite.metrics.contract`); None = counts.
    statistic : {"mean", "median"}
        Over the subject means (subject means themselves are always means).

    Returns
    -------
    SubjectAggregate

    Examples
    --------
    >>> r = reduce_subjects([0.9, 0.7, -1.0, 0.5], ["a", "a", "b", "c"],
    ...                     exclusions=[None, None, "sentinel", None])
    >>> round(r.value, 6), r.n_subjects, dict(r.excluded_by), r.subjects_without_value
    (0.65, 2, {'sentinel': 1}, ('b',))
    """
    check_option(statistic, STATISTICS, name="statistic", where="reduce_subjects")
    vals = list(values)
    subj = list(subjects)
    excl = [None] * len(vals) if exclusions is None else list(exclusions)
    if not len(vals) == len(subj) == len(excl):
        raise ValueError(f"reduce_subjects: `values`, `subjects` and `exclusions` must have one "
                         f"entry per value; got {len(vals)}, {len(subj)} and {len(excl)}")
    reasons: dict[str, int] = {}
    by_subject: dict[Hashable, list] = {}
    for i, (v, s, e) in enumerate(zip(vals, subj, excl)):
        x = _as_float(v, i)
        if e is not None and not (isinstance(e, float) and math.isnan(e)):
            reasons[str(e)] = reasons.get(str(e), 0) + 1
            x = None
        elif math.isnan(x):
            reasons["missing"] = reasons.get("missing", 0) + 1
            x = None
        by_subject.setdefault(s, []).append(x)
    means, empty = [], []
    for s in sorted(by_subject, key=str):
        agg = aggregate(by_subject[s])
        if agg.n_used:
            means.append((s, agg.value))
        else:
            empty.append(s)
    over = aggregate([m for _, m in means], statistic=statistic)
    n_excluded = sum(reasons.values())
    return SubjectAggregate(value=over.value, subject_means=tuple(means),
                            n_values=len(vals) - n_excluded, n_excluded=n_excluded,
                            excluded_by=tuple(sorted(reasons.items())),
                            subjects_without_value=tuple(empty), statistic=statistic)

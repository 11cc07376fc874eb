"""The per-case scores the gate's criteria compare, why a score is undefined, and their
subject-level statistic.

A metric's rows are scored as they are stored (``value``), except for "closer is better"
metrics (clinical parameters), which are scored by the absolute error
``|value − reference_value|`` (lower is better).

A row is **undefined for the gate**, never a number, when its ``exclusion`` is set (a missing
value, a sentinel of its profile such as the −1 of the M&Ms organisers' script, an implausible
clinical value; see :mod:`suite.metrics.contract`) or when its score cannot be computed (no
value, or no reference for a "closer is better" metric, counted as ``missing``).

Subjects weigh equally: every statistic over cases is
:func:`suite.metrics.reduce.reduce_subjects` of the scores (each subject's mean of its defined
scores, then the mean or median over subjects), which counts the undefined scores by reason.
"""

from __future__ import annotations

import pandas as pd

from suite.metrics.reduce import SubjectAggregate, reduce_subjects

__all__ = ["case_scores", "case_exclusions", "subject_statistic", "exclusion_counts",
           "excluded_text"]


def case_exclusions(rows: pd.DataFrame, direction: str) -> pd.Series:
    """Why each row's score is undefined (``None`` where it is defined).

    Parameters
    ----------
    rows : DataFrame
        Results rows with ``value``, ``exclusion`` (optional) and, for "closer",
        ``reference_value``.
    direction : {"higher", "lower", "closer"}

    Returns
    -------
    Series of object, same index as ``rows``
        The row's stored ``exclusion`` (``missing``, ``sentinel``, ``implausible``, ...), else
        ``"missing"`` where the score cannot be computed, else ``None``.
    """
    out = (rows["exclusion"].astype(object) if "exclusion" in rows
           else pd.Series([None] * len(rows), index=rows.index, dtype=object))
    out = out.where(out.notna(), None)
    raw = rows["value"].astype(float)
    if direction == "closer":
        raw = raw - rows["reference_value"].astype(float)
    out[out.isna() & raw.isna()] = "missing"
    return out


def case_scores(rows: pd.DataFrame, direction: str) -> pd.Series:
    """The score of each row: ``value``, or ``|value − reference_value|`` when
    ``direction == "closer"``; NaN where :func:`case_exclusions` gives a reason.

    Parameters
    ----------
    rows : DataFrame
        Results rows with ``value`` (and ``reference_value`` for "closer"), indexed by case.
    direction : {"higher", "lower", "closer"}

    Returns
    -------
    Series of float, same index as ``rows``.
    """
    if direction == "closer":
        score = (rows["value"].astype(float) - rows["reference_value"].astype(float)).abs()
    else:
        score = rows["value"].astype(float)
    return score.where(case_exclusions(rows, direction).isna())


def subject_statistic(scores: pd.Series, subjects: pd.Series, statistic: str = "mean", *,
                      exclusions: pd.Series | None = None) -> SubjectAggregate:
    """Mean or median over subjects of the per-subject means of the defined ``scores``.

    Parameters
    ----------
    scores, subjects : Series
        Case scores (NaN where undefined) and the subject of each case (aligned).
    statistic : {"mean", "median"}
    exclusions : Series, optional
        Why a score is undefined (:func:`case_exclusions`); NaN scores without a reason count
        as ``missing``.

    Returns
    -------
    SubjectAggregate
        ``value`` (the statistic), ``values()`` (the subject means, sorted by subject),
        ``n_values`` (defined scores) and ``excluded_by`` (undefined scores by reason).

    Examples
    --------
    >>> import pandas as pd
    >>> subject_statistic(pd.Series([1.0, 3.0, 5.0]), pd.Series(["a", "a", "b"])).value
    3.5
    """
    excl = None if exclusions is None else exclusions.tolist()
    return reduce_subjects(scores.tolist(), subjects.tolist(), exclusions=excl,
                           statistic=statistic)


def exclusion_counts(exclusions: pd.Series) -> tuple:
    """``(reason, count)`` pairs of the reasons in ``exclusions`` (``None`` skipped), sorted by
    reason, as :attr:`SubjectAggregate.excluded_by`."""
    return tuple(sorted((str(k), int(n)) for k, n in exclusions.dropna().value_counts().items()))


def excluded_text(excluded_by) -> str:
    """``"2 sentinel, 1 missing"`` from ``(reason, count)`` pairs (``""`` when none).

    Examples
    --------
    >>> excluded_text((("missing", 1), ("sentinel", 2)))
    '1 missing, 2 sentinel'
    """
    return ", ".join(f"{n} {reason}" for reason, n in excluded_by)

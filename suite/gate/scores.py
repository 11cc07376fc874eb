"""The per-case scores the ``floor`` and ``noninferiority`` criteria compare, and their
subject-level statistic.

A metric's rows are scored as they are stored (``value``), except for "closer is better"
metrics (clinical parameters), which are scored by the absolute error
``|value − reference_value|`` (lower is better). Subjects weigh equally: a statistic over
subjects is taken of the per-subject means of the case scores.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["case_scores", "subject_statistic"]


def case_scores(rows: pd.DataFrame, direction: str) -> pd.Series:
    """The score of each row: ``value``, or ``|value − reference_value|`` when
    ``direction == "closer"``.

    Parameters
    ----------
    rows : DataFrame
        Results rows with ``value`` (and ``reference_value`` for "closer"), indexed by case.
    direction : {"higher", "lower", "closer"}

    Returns
    -------
    Series of float, same index as ``rows``; NaN where the value (or reference) is missing.
    """
    if direction == "closer":
        return (rows["value"] - rows["reference_value"]).abs()
    return rows["value"].astype(float)


def subject_statistic(values: pd.Series, subjects: pd.Series,
                      statistic: str) -> tuple[float, np.ndarray]:
    """Mean or median over subjects of the per-subject means of ``values``.

    Parameters
    ----------
    values, subjects : Series
        Case scores and the subject of each case (aligned).
    statistic : {"mean", "median"}

    Returns
    -------
    (statistic, per_subject) : float and float64 array of the subject means, sorted by subject.

    Examples
    --------
    >>> import pandas as pd
    >>> subject_statistic(pd.Series([1.0, 3.0, 5.0]), pd.Series(["a", "a", "b"]), "mean")[0]
    3.5
    """
    per = values.groupby(subjects, sort=True).mean().to_numpy(float)
    return (float(np.mean(per)) if statistic == "mean" else float(np.median(per))), per

"""Selecting result rows by a criterion: a part column a criterion leaves unset means the whole.

A measurement may be stored for a whole and for its parts in the same metric: a mapping
metric per region (``segment`` empty) and per AHA segment of that region (``segment`` "1"…"17",
"global", numbered in a ``convention``); a segmentation metric per cardiac ``frame``. A
criterion (acceptance, gate) that names none of these **part columns** selects the whole —
the rows where the column is empty — whenever the selection holds both kinds; naming the
column (``segment: "3"``, or ``per: [segment]``) selects its parts. When the selection holds
only parts (every row has a value in the column) nothing is dropped: the criterion must then
name the column, as before (the gate says which column still varies).

This is the same rule for every part column and every stage: nothing here knows a metric.
"""

from __future__ import annotations

import math

import pandas as pd

__all__ = ["PART_COLUMNS", "whole_rows", "is_empty"]

#: Result columns that split one measurement into parts (empty = the whole): the AHA segment
#: and the convention it is numbered in, the cardiac frame.
PART_COLUMNS = ("segment", "convention", "frame")


def is_empty(values: pd.Series) -> pd.Series:
    """True where a grouping value is absent: None, NaN or ``""`` (the store's NULL)."""
    return values.map(lambda v: v is None or v == "" or (isinstance(v, float) and math.isnan(v)))


def whole_rows(rows: pd.DataFrame, named) -> pd.DataFrame:
    """``rows`` without the part rows of every part column not in ``named`` (module
    docstring): for each :data:`PART_COLUMNS` column absent from ``named`` whose values in
    ``rows`` are empty for some rows and set for others, keep the rows where it is empty.

    Parameters
    ----------
    rows : DataFrame
        Result rows already selected by the criterion's metric and columns.
    named : iterable of str
        The columns the criterion names (its ``where``/filter keys and ``per`` columns).

    Examples
    --------
    >>> df = pd.DataFrame({"value": [1.0, 2.0, 3.0], "segment": ["", "1", "2"]})
    >>> whole_rows(df, ())["value"].tolist(), whole_rows(df, ("segment",))["value"].tolist()
    ([1.0], [1.0, 2.0, 3.0])
    """
    named = set(named)
    for col in PART_COLUMNS:
        if col in named or col not in rows.columns or rows.empty:
            continue
        empty = is_empty(rows[col])
        if empty.any() and not empty.all():
            rows = rows[empty.to_numpy()]
    return rows

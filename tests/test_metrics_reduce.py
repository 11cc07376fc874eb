"""The suite's one reduction: exclusions are counted, nothing valid is NaN, inputs untouched."""

from __future__ import annotations

import dataclasses
import doctest
import json
import math

import numpy as np
import pytest

import suite.metrics.reduce as reduce_mod
from suite.metrics.reduce import Aggregate, aggregate


def test_mean_and_median_of_valid_values():
    a = aggregate([1.0, 2.0, 6.0])
    assert (a.value, a.n_used, a.n_excluded, a.excluded_ids, a.statistic) == \
        (3.0, 3, 0, (), "mean")
    m = aggregate([1.0, 2.0, 6.0, 10.0], statistic="median")
    assert m.value == 4.0 and m.statistic == "median"


def test_nan_and_none_are_excluded_and_counted_with_ids():
    a = aggregate([0.9, math.nan, None, 0.7], ids=["p1", "p2", "p3", "p4"])
    assert a.value == pytest.approx(0.8)
    assert (a.n_used, a.n_excluded, a.excluded_ids) == (2, 2, ("p2", "p3"))
    assert a.n_total == 4


def test_default_ids_are_positions():
    assert aggregate([1.0, math.nan, 3.0, math.nan]).excluded_ids == (1, 3)


@pytest.mark.parametrize("values", [[], [math.nan], [None, math.nan], np.array([np.nan] * 3)])
def test_nothing_valid_gives_nan_and_zero_used_never_zero(values):
    for statistic in ("mean", "median"):
        a = aggregate(values, statistic=statistic)
        assert math.isnan(a.value) and a.n_used == 0
        assert a.n_excluded == len(values)


def test_sentinels_are_excluded_like_nan():
    a = aggregate([3.0, -1.0, 5.0, math.nan], ids="abcd", sentinels=(-1,))
    assert a.value == 4.0 and a.excluded_ids == ("b", "d")
    # without the sentinel, -1 is an ordinary value
    assert aggregate([3.0, -1.0, 5.0]).value == pytest.approx(7 / 3)


def test_inf_is_a_value_not_a_missing_value():
    a = aggregate([1.0, math.inf])
    assert a.value == math.inf and a.n_used == 2 and a.n_excluded == 0
    assert a.to_dict()["value"] is None and a.to_dict()["n_used"] == 2


def test_input_is_never_modified():
    arr = np.array([1.0, np.nan, 3.0, -1.0])
    before = arr.copy()
    lst = [1.0, None, 3.0]
    aggregate(arr, sentinels=(-1,))
    aggregate(lst)
    np.testing.assert_array_equal(arr, before)   # NaN stays NaN (MONAI zeroes it in place)
    assert lst == [1.0, None, 3.0]


def test_to_dict_is_json_safe_and_result_is_frozen():
    a = aggregate([math.nan, 2.0], ids=[np.int64(7), np.int64(8)])
    d = a.to_dict()
    json.dumps(d, allow_nan=False)
    assert d == {"value": 2.0, "n_used": 1, "n_excluded": 1, "excluded_ids": [7],
                 "statistic": "mean"}
    assert aggregate([math.nan]).to_dict()["value"] is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.value = 0.0
    assert "1 of 2 used; 1 excluded" in a.summary()
    assert isinstance(a, Aggregate)


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="did you mean 'mean'"):
        aggregate([1.0], statistic="meen")
    with pytest.raises(ValueError, match="2 ids for 3 values"):
        aggregate([1.0, 2.0, 3.0], ids=["a", "b"])
    with pytest.raises(ValueError, match="position 1"):
        aggregate([1.0, "x"])
    with pytest.raises(ValueError, match="bool at position 0"):
        aggregate([True, 1.0])
    with pytest.raises(ValueError, match="1-D"):
        aggregate(np.ones((2, 2)))


def test_doctests():
    assert doctest.testmod(reduce_mod).failed == 0

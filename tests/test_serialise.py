"""``jsonable``: JSON-safe values, the same for the built-in types (fast path) as for the
numpy and pandas types they stand for."""

from __future__ import annotations

import enum
import json
import math

import numpy as np
import pandas as pd

from suite._serialise import jsonable


def test_builtin_values_round_trip_through_json_unchanged():
    """For finite built-in values the result is what the standard library's JSON round trip
    gives (an independent reference), with the same types (bool stays bool, not 1)."""
    value = {"s": "ä", "i": -3, "b": True, "f": -0.0, "n": None, "big": 2 ** 70,
             "l": [1.5, "x", [False, {"k": 7}]], "d": {"e": {}}}
    out = jsonable(value)
    assert out == json.loads(json.dumps(value))
    assert json.dumps(out) == json.dumps(value)  # types too: True, not 1; -0.0 kept
    assert type(out["b"]) is bool and math.copysign(1.0, out["f"]) == -1.0


def test_non_finite_keys_and_containers_of_builtin_and_numpy_types_agree():
    """Built-in and numpy values of the same number give the same JSON value; non-finite
    floats and pandas' missing values become None; keys become strings."""
    class Colour(enum.IntEnum):
        RED = 1

    class Name(str):
        pass

    out = jsonable({1: float("nan"), (2, 3): [float("inf"), np.float64(-np.inf)],
                    "a": (np.int64(4), 4, np.bool_(True), True, np.float32(0.5), 0.5),
                    "m": [pd.NA, pd.NaT, None], "e": Colour.RED, "sub": Name("x"),
                    "set": {"b", "a"}})
    assert out == {"1": None, "(2, 3)": [None, None], "a": [4, 4, True, True, 0.5, 0.5],
                   "m": [None, None, None], "e": 1, "sub": "x", "set": ["a", "b"]}
    assert type(out["e"]) is int and [type(v) for v in out["a"]] == [int, int, bool, bool,
                                                                      float, float]

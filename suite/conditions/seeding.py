"""The public seeding rule of conditions: every method sees the same inputs.

A condition's randomness (sampling mask, added noise, inserted features, random perturbations)
comes from one generator per (protocol seed, case, condition)::

    rng = numpy.random.default_rng(numpy.random.SeedSequence(
        [seed, stable_int(case_id), stable_int(condition_name)]))

where ``stable_int(text)`` is the first four bytes of the SHA-256 of the UTF-8 text read as a
little-endian unsigned integer, ``case_id`` is ``"<dataset>/<unit key>"`` (the ``case_id``
column of a run's store, e.g. ``"phantom/phantom-003"``) and ``condition_name`` the protocol's
condition name (e.g. ``"R4-kt-gaussian"``). The generator does not depend on the method, so
every method sees the same mask and noise, and anyone can regenerate them: ``cmrsuite
conditions export`` writes them out (:mod:`suite.runner.conditions_export`).

Python's built-in ``hash`` is salted per process and is never used.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["stable_int", "condition_rng"]


def stable_int(text: str) -> int:
    """A stable 32-bit integer from a string: SHA-256, first 4 bytes, little-endian.

    Examples
    --------
    >>> stable_int("phantom/phantom-000")
    3392755267
    """
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "little")


def condition_rng(seed: int, case_id: str, condition: str) -> np.random.Generator:
    """The generator of one (case, condition) under the protocol ``seed`` (module docstring).

    Examples
    --------
    >>> a = condition_rng(0, "phantom/phantom-000", "R4").random()
    >>> b = condition_rng(0, "phantom/phantom-000", "R4").random()
    >>> a == b
    True
    """
    return np.random.default_rng(np.random.SeedSequence([int(seed), stable_int(case_id),
                                                         stable_int(condition)]))

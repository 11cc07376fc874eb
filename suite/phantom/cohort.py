"""Cohorts of phantom subjects drawn from one seed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from suite._validation import check_option
from suite.case import Case
from suite.phantom.pathology import PATHOLOGIES
from suite.phantom.presets import PRESETS, VENDOR_PRESETS

__all__ = ["SubjectSpec", "cohort"]


@dataclass(frozen=True)
class SubjectSpec:
    """One cohort subject: what :func:`suite.phantom.simulate` needs to reproduce it.

    Attributes
    ----------
    subject : str
        ``phantom-000``, ``phantom-001``, ...
    seed : int
        Subject seed (derived from the cohort seed with ``SeedSequence.spawn``).
    preset, pathology : str
    """

    subject: str
    seed: int
    preset: str
    pathology: str

    def simulate(self, **overrides) -> Case:
        """``simulate(self.seed, self.preset, self.pathology, subject=self.subject, ...)``."""
        from suite.phantom.simulate import simulate

        return simulate(self.seed, self.preset, self.pathology, subject=self.subject,
                        **overrides)


def _names(value, allowed, default: Sequence[str], what: str) -> list[str]:
    if value is None:
        return list(default)
    names = [value] if isinstance(value, str) else list(value)
    if not names:
        raise ValueError(f"suite.phantom.cohort: `{what}` must name at least one; got []")
    for n in names:
        check_option(n, allowed, name=what, where="suite.phantom.cohort")
    return names


def cohort(n: int, seed: int, preset=None, pathology=None) -> list[SubjectSpec]:
    """``n`` subject specifications from a cohort seed.

    Parameters
    ----------
    n : int
        Number of subjects (≥ 0).
    seed : int
        Cohort seed; subject ``i`` gets the seed of ``SeedSequence(seed).spawn(n)[i]``
        (a 63-bit integer), so subject ``i`` does not change when ``n`` grows.
    preset : None, str or sequence of str
        None: the vendor presets :data:`suite.phantom.VENDOR_PRESETS` (not ``tiny``).
    pathology : None, str or sequence of str
        None: all five classes.

    Returns
    -------
    list of SubjectSpec
        Subject ``i`` has ``pathology = pathologies[i % len]`` and ``preset = presets[i %
        len]`` (round robin: balanced strata; with the defaults, 5 and 4 are coprime, so 20
        subjects hold every pathology × preset pair once).

    Examples
    --------
    >>> [s.subject for s in cohort(2, seed=7)]
    ['phantom-000', 'phantom-001']
    """
    if int(n) < 0:
        raise ValueError(f"suite.phantom.cohort: n must be >= 0; got {n}")
    presets = _names(preset, PRESETS, VENDOR_PRESETS, "preset")
    paths = _names(pathology, PATHOLOGIES, tuple(PATHOLOGIES), "pathology")
    children = np.random.SeedSequence(int(seed)).spawn(int(n))
    out = []
    for i, child in enumerate(children):
        state = child.generate_state(2, np.uint64)
        subject_seed = int(state[0] >> np.uint64(1))
        out.append(SubjectSpec(f"phantom-{i:03d}", subject_seed, presets[i % len(presets)],
                               paths[i % len(paths)]))
    return out

"""Precision of a method: scan-rescan repeatability of its clinical parameters.

A subject with two or more cases (acquisitions) in the run has repeated measurements; for
each parameter and method chain, ICC(1,1) (one-way random effects, single measurement;
Shrout & Fleiss 1979, form 1) treats the repeated acquisitions as raters and the subjects as
targets. Only usable values count (a value with an ``exclusion``, e.g. an implausible EF,
is left out), and only subjects with a usable value on at least two cases.

References
----------
Shrout PE, Fleiss JL. Intraclass correlations: uses in assessing rater reliability.
Psychol Bull 1979;86:420-428. doi:10.1037/0033-2909.86.2.420
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from suite.analysis.summary import method_columns

__all__ = ["RepeatabilityResult", "Repeatability", "repeatability"]


@dataclass(frozen=True)
class RepeatabilityResult:
    """ICC(1,1) of one parameter of one method chain over repeated acquisitions.

    Attributes
    ----------
    keys : dict
        ``metric``, ``condition`` and the method of each stage.
    n_subjects : int
        Subjects with repeated usable values.
    icc : suite.stats.ICCForm
        The ICC(1,1) estimate with its F-based confidence interval.
    row_ids : tuple of int
        The store rows used.
    unit : str
        Unit of the parameter (the ICC itself is dimensionless).
    """

    keys: dict
    n_subjects: int
    icc: object
    row_ids: tuple
    unit: str

    def to_dict(self) -> dict:
        return dict(self.keys) | {"n_subjects": self.n_subjects, "icc_1_1": float(self.icc.icc),
                                  "ci_low": float(self.icc.ci[0]),
                                  "ci_high": float(self.icc.ci[1])}

    def summary(self) -> str:
        what = " ".join(f"{k}={v}" for k, v in self.keys.items() if v)
        return (f"{what}: ICC(1,1) {self.icc.icc:.3g} [{self.icc.ci[0]:.3g}, "
                f"{self.icc.ci[1]:.3g}] over {self.n_subjects} subjects")


@dataclass(frozen=True)
class Repeatability:
    """Repeatability of a run: which subjects were acquired more than once, and the ICCs.

    Attributes
    ----------
    subjects : tuple of str
        Subjects with two or more cases in the run.
    results : tuple of RepeatabilityResult
        One per parameter and method chain with enough repeated values (empty when fewer
        than two subjects were repeated).
    """

    subjects: tuple
    results: tuple

    @property
    def possible(self) -> bool:
        """True when at least two subjects have repeated acquisitions."""
        return len(self.subjects) >= 2

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([r.to_dict() for r in self.results])

    def to_dict(self) -> dict:
        return {"subjects": list(self.subjects), "results": [r.to_dict() for r in self.results]}

    def summary(self) -> str:
        lines = [f"repeatability: {len(self.subjects)} subject(s) with repeated acquisitions"]
        return "\n".join(lines + [f"  {r.summary()}" for r in self.results])


def repeatability(results: pd.DataFrame, cases: pd.DataFrame, *,
                  stage: str = "clinical") -> Repeatability:
    """ICC(1,1) per parameter and method chain over repeated acquisitions (module docstring).

    Parameters
    ----------
    results : DataFrame
        Result rows (:attr:`suite.store.RunView.results`: ``row_id``, ``subject``,
        ``case_id``, ``usable``, method columns).
    cases : DataFrame
        The run's ``cases`` table (``subject``, ``case_id``).
    stage : str, default "clinical"
        Stage whose parameters are analysed.

    Returns
    -------
    Repeatability
    """
    from suite.stats import icc

    repeats = (cases.groupby("subject")["case_id"].nunique() if not cases.empty
               else pd.Series(dtype=int))
    subjects = tuple(sorted(repeats[repeats >= 2].index))
    if len(subjects) < 2:
        return Repeatability(subjects, ())
    sel = results[(results["stage"] == stage) & results["subject"].isin(subjects)
                  & results["usable"]]
    keys = ["metric", "condition", *method_columns(results)]
    out = []
    for key, g in sel.groupby(keys, sort=True):
        g = g.sort_values(["subject", "case_id"])
        g = g.assign(rep=g.groupby("subject").cumcount())
        try:
            form = icc(g["subject"], g["rep"], g["value"])["ICC(1,1)"]
        except (ValueError, KeyError):
            continue
        out.append(RepeatabilityResult(
            keys=dict(zip(keys, key)), n_subjects=int(g["subject"].nunique()), icc=form,
            row_ids=tuple(sorted(int(i) for i in g["row_id"])), unit=str(g["unit"].iloc[0])))
    return Repeatability(subjects, tuple(out))

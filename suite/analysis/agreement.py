"""Agreement of clinical parameters with their reference, implausible values, error propagation.

* :func:`agreement_results` — for each clinical parameter and method chain (condition and the
  method of each stage): Bland–Altman (test − reference, SD ddof 1, 1.96 × SD limits,
  approximate CIs; Bland & Altman 1986), Lin's CCC and ICC(2,1) of the method against the
  reference value (phantom truth or reference labels), as result objects that keep the paired
  values (the figures plot them; they compute nothing).
* The **primary** analysis uses the usable values only: a value stored as ``implausible``
  (outside its physiological range, e.g. an EF of −42 %, or ESV > EDV) is excluded and counted;
  a **sensitivity** analysis with those values included is given beside it whenever one was
  excluded (``analysis`` column).
* :func:`implausible_values` — every excluded clinical value, listed with the reason;
  :func:`primary_exclusions` — how many values the primary analyses left out, by reason.
* :func:`error_propagation` — EF (or another parameter) bias and limits of agreement against
  the nominal acceleration of the condition.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from suite.analysis.summary import method_columns

__all__ = ["AgreementResult", "agreement_results", "agreement_rows", "PART_KEYS", "clinical_agreement", "implausible_values",
           "primary_exclusions", "error_propagation", "PRIMARY", "SENSITIVITY", "acceleration_of",
           "with_acceleration"]

PRIMARY = "primary"
SENSITIVITY = "sensitivity: implausible values included"


@dataclass(frozen=True)
class AgreementResult:
    """Agreement of one parameter of one method chain with its reference.

    Attributes
    ----------
    keys : dict
        ``metric``, ``condition``, the method of each stage, ``reference`` (truth or
        reference labels), ``analysis`` (:data:`PRIMARY` or :data:`SENSITIVITY`).
    subjects : tuple
        Subject of each pair, sorted.
    test, reference : ndarray
        The paired values (test = the method's value).
    row_ids : tuple of int
        The store rows the pairs come from.
    n_excluded : int
        Values left out of this analysis; ``excluded_by`` gives the reasons.
    bland_altman, ccc, icc : results of :mod:`suite.stats` or None (fewer than 3 pairs)
    unit : str
    """

    keys: dict
    subjects: tuple
    test: np.ndarray = field(repr=False)
    reference: np.ndarray = field(repr=False)
    row_ids: tuple
    n_excluded: int
    excluded_by: dict
    bland_altman: object | None
    ccc: object | None
    icc: object | None
    unit: str

    @property
    def n(self) -> int:
        return len(self.subjects)

    def to_dict(self) -> dict:
        """One flat row (the ``clinical_agreement`` table)."""
        row = dict(self.keys) | {"n": self.n, "n_excluded": self.n_excluded,
                                 "excluded": ", ".join(f"{v} {k}" for k, v in
                                                       sorted(self.excluded_by.items())),
                                 "unit": self.unit}
        ba = self.bland_altman
        if ba is None:
            row["note"] = "fewer than 3 subjects: agreement statistics not computed"
            return row
        row |= {"bias": ba.bias, "sd": ba.sd, "loa_lower": ba.loa_lower,
                "loa_upper": ba.loa_upper, "bias_ci_low": ba.bias_ci[0],
                "bias_ci_high": ba.bias_ci[1]}
        row |= ({"ccc": self.ccc.ccc, "ccc_ci_low": self.ccc.ci[0], "ccc_ci_high": self.ccc.ci[1]}
                if self.ccc is not None else {"ccc": np.nan})
        row |= ({"icc_2_1": self.icc.icc, "icc_ci_low": self.icc.ci[0],
                 "icc_ci_high": self.icc.ci[1]} if self.icc is not None else {"icc_2_1": np.nan})
        return row

    def summary(self) -> str:
        what = " ".join(f"{k}={v}" for k, v in self.keys.items() if v)
        if self.bland_altman is None:
            return f"{what}: n={self.n} (fewer than 3 pairs)"
        ba = self.bland_altman
        return (f"{what}: n={self.n}, bias {ba.bias:.4g} {self.unit}, LoA "
                f"[{ba.loa_lower:.4g}, {ba.loa_upper:.4g}], {self.n_excluded} excluded")


def _stats(test: np.ndarray, ref: np.ndarray, subjects, unit: str):
    """Bland-Altman, CCC and ICC(2,1) of the pairs (None each with fewer than 3 pairs).

    Remembered per (test, reference, unit), keyed by the float64 values' bytes: a run's
    summary and its report analyse the same pairs again, and the same pairs give the same
    (frozen) results."""
    if len(test) < 3:
        return None, None, None
    return _remembered_stats(np.asarray(test, dtype=float).tobytes(),
                             np.asarray(ref, dtype=float).tobytes(), str(unit))


@functools.lru_cache(maxsize=1024)
def _remembered_stats(test: bytes, ref: bytes, unit: str):
    """:func:`_computed_stats` of float64 values given as bytes, remembered."""
    return _computed_stats(np.frombuffer(test, dtype=float).copy(),
                           np.frombuffer(ref, dtype=float).copy(), unit)


def _computed_stats(test: np.ndarray, ref: np.ndarray, unit: str):
    from suite.stats import bland_altman, ccc, icc

    ba = bland_altman(test, ref, unit=unit)
    try:
        c = ccc(test, ref)
    except ValueError:
        c = None
    pair = np.arange(len(test))  # each pair is a target (a subject may give several pairs)
    long = pd.DataFrame({"target": np.r_[pair, pair],
                         "rater": ["test"] * len(test) + ["reference"] * len(test),
                         "score": np.r_[test, ref]})
    try:
        i = icc(long["target"], long["rater"], long["score"])["ICC(2,1)"]
    except (ValueError, KeyError, ZeroDivisionError):  # e.g. no residual variance: undefined
        i = None
    return ba, c, i


#: part columns an agreement result is split by (mapping: region; AHA convention)
PART_KEYS = ("structure", "convention")


def agreement_rows(df: pd.DataFrame, *, parameters: list[str] | None = None,
                   stage: str | None = None) -> pd.DataFrame:
    """The rows :func:`agreement_results` pairs: those with a ``reference_value``, of the
    named ``parameters`` in any stage (e.g. ``t1_mean`` of the mapping stage, ``ecv_mean``,
    ``lv_ef_pct``), or of ``stage`` (default ``"clinical"`` when no parameter is named).
    Robustness experiments (stage ``robustness``: values under attacks, crimes) have their own
    analyses and are never pooled with the clean measurements here."""
    sel = df[df["reference_value"].notna() & (df["stage"] != "robustness")]
    if stage is not None or not parameters:
        sel = sel[sel["stage"] == (stage or "clinical")]
    if parameters:
        sel = sel[sel["metric"].isin(parameters)]
    return sel


def agreement_results(df: pd.DataFrame, *, parameters: list[str] | None = None,
                      stage: str | None = None) -> list[AgreementResult]:
    """Agreement per (parameter, condition, method chain, reference source), primary and, where
    an implausible value was excluded, sensitivity (see the module docstring); rows from
    :func:`agreement_rows`.

    A parameter measured per region (``structure``: mapping values per myocardium, blood
    pool) gives one result per region; values per AHA segment give one result per
    convention with every segment of every case as a pair (``segment = "per segment"``:
    segmental agreement pooled over segments, the usual form in mapping studies), apart from
    the whole-region values (``segment = ""``). Those keys appear only where they are set,
    ``stage`` only when the parameters come from several stages.
    Each case contributes its pairs in ``subject``, ``case_id`` (and segment) order.
    """
    clin = agreement_rows(df, parameters=parameters, stage=stage).copy()
    for col in (*PART_KEYS, "segment"):
        clin[col] = (clin[col].astype(object).where(clin[col].notna(), "").astype(str)
                     if col in clin else "")
    clin["_part"] = np.where(clin["segment"] != "", "per segment", "")
    methods = method_columns(df)
    several_stages = clin["stage"].nunique() > 1  # e.g. t1_mean of mapping and of mapseg
    keys = ["stage", "metric", *PART_KEYS, "_part", "condition", *methods, "profile"]
    out: list[AgreementResult] = []
    for key, g in clin.groupby(keys, sort=True):
        g = g.sort_values(["subject", "case_id", "segment"])
        labels = dict(zip(keys, key))
        stage_label = labels.pop("stage")
        labels["reference"] = labels.pop("profile")
        part = labels.pop("_part")
        for col in PART_KEYS:
            if not labels[col]:
                labels.pop(col)
        labels = ({"metric": labels.pop("metric")}
                  | ({"stage": stage_label} if several_stages else {})
                  | {c: labels.pop(c) for c in PART_KEYS if c in labels}
                  | ({"segment": part} if part else {}) | labels)
        excl = g["exclusion"].where(g["exclusion"].notna(), None)
        reasons = excl.dropna().value_counts().to_dict()
        analyses = [(PRIMARY, excl.isna())]
        if (excl == "implausible").any():
            analyses.append((SENSITIVITY, excl.isna() | (excl == "implausible")))
        for name, keep in analyses:
            h = g[keep.to_numpy()]
            test = h["value"].to_numpy(float)
            ref = h["reference_value"].to_numpy(float)
            subjects = tuple(h["subject"])
            ba, c, i = _stats(test, ref, np.array(subjects, dtype=object), str(g["unit"].iloc[0]))
            left = {k: v for k, v in reasons.items()
                    if not (name == SENSITIVITY and k == "implausible")}
            out.append(AgreementResult(
                keys=labels | {"analysis": name}, subjects=subjects, test=test, reference=ref,
                row_ids=tuple(int(r) for r in h["row_id"]) if "row_id" in h else (),
                n_excluded=int(sum(left.values())), excluded_by=left, bland_altman=ba, ccc=c,
                icc=i, unit=str(g["unit"].iloc[0])))
    return out


def clinical_agreement(df: pd.DataFrame, *, parameters: list[str] | None = None) -> pd.DataFrame:
    """:func:`agreement_results` as a table, one row per result."""
    return pd.DataFrame([r.to_dict() for r in agreement_results(df, parameters=parameters)])


def implausible_values(df: pd.DataFrame) -> pd.DataFrame:
    """Every value stored as implausible: case, method chain, parameter, value, reference
    value, unit and ``reason``, ordered by parameter and case (the report lists them).

    ``reason`` is read from the metric's declaration (:mod:`suite.metrics.contract`): the
    declared plausible range when the value lies outside it; otherwise the value was flagged
    by its stage for an inconsistency with the other parameters of its case (for the clinical
    stage: ESV > EDV of the same ventricle, which makes EDV, ESV, SV and EF implausible).
    """
    sel = df[df["status"] == "implausible"]
    cols = ["stage", "metric", "case_id", "subject", "condition", *method_columns(df), "value",
            "reference_value", "unit"] + (["row_id"] if "row_id" in df else [])
    out = sel[cols].sort_values(["stage", "metric", "case_id", *method_columns(df),
                                 "condition"]).reset_index(drop=True)
    return out.assign(reason=[_implausible_reason(m, v, st) for m, v, st in
                              zip(out["metric"], out["value"], out["stage"])])


def _implausible_reason(metric: str, value, stage: str) -> str:
    import suite.metrics  # noqa: F401  (declares the built-in metrics)
    from suite.metrics.contract import registered_metrics

    spec = registered_metrics().get(metric)
    plausible = spec.plausible if spec is not None else None
    if plausible is not None and value is not None and value == value and value not in plausible:
        return f"outside the plausible range {plausible.describe()}"
    if stage == "clinical":
        return "ESV > EDV of the same ventricle (inconsistent volumes)"
    return f"flagged implausible by the {stage} stage"


def primary_exclusions(results) -> dict[str, int]:
    """Values left out of the primary analyses of ``results`` (:class:`AgreementResult`), by
    reason (e.g. ``{"implausible": 2, "missing": 1}``), summed over the results."""
    out: dict[str, int] = {}
    for r in results:
        if r.keys.get("analysis") == PRIMARY:
            for reason, n in r.excluded_by.items():
                out[reason] = out.get(reason, 0) + int(n)
    return dict(sorted(out.items()))


def acceleration_of(df: pd.DataFrame) -> dict:
    """Nominal acceleration per condition name (from the ``condition`` rows; 1 when absent)."""
    accel = df[(df["stage"] == "condition") & (df["metric"] == "nominal_acceleration")]
    return accel.groupby("condition")["value"].first().to_dict()


def with_acceleration(frame: pd.DataFrame, results: pd.DataFrame, *,
                      default: float = np.nan) -> pd.DataFrame:
    """``frame`` (with a ``condition`` column) plus ``nominal_acceleration`` of each condition
    (:func:`acceleration_of` of ``results``; ``default`` for a condition without one)."""
    r_of = acceleration_of(results)
    return frame.assign(nominal_acceleration=frame["condition"].map(
        lambda c: r_of.get(c, default)).astype(float))


def error_propagation(df: pd.DataFrame, parameter: str = "lv_ef_pct") -> pd.DataFrame:
    """Bias and limits of agreement of ``parameter`` (primary analysis) against the nominal
    acceleration, per method chain.

    Columns: the method columns, ``condition``, ``nominal_acceleration``, ``n``,
    ``n_excluded`` and ``excluded`` (values left out of the primary analysis, by reason),
    ``bias``, ``loa_lower``, ``loa_upper`` and ``unit`` (the parameter's unit).
    """
    agree = clinical_agreement(df, parameters=[parameter])
    if agree.empty:
        return agree
    agree = agree[agree["analysis"] == PRIMARY]
    r_of = acceleration_of(df)
    agree = agree.assign(nominal_acceleration=agree["condition"].map(lambda c: r_of.get(c, 1.0)))
    methods = [m for m in method_columns(df) if m in agree.columns]
    cols = [*methods, "condition", "nominal_acceleration", "n", "n_excluded", "excluded",
            "bias", "loa_lower", "loa_upper", "unit"]
    cols = [c for c in cols if c in agree.columns]
    order = [m for m in reversed(methods)] + ["nominal_acceleration"]
    return agree.sort_values(order)[cols].reset_index(drop=True)

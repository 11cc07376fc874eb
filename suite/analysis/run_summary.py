"""``summarise``: every table and every figure's data of a run, as one result object.

:func:`summarise` reads a run through :class:`suite.store.RunView` and computes, with the
protocol's own settings (seed, ``analyses.bootstrap``, ``analyses.strata``,
``analyses.agreement``, ``robustness``):

* the metric summary of every stored quantity and its per-stratum split
  (:func:`~suite.analysis.summary.metric_summary`, :func:`~suite.analysis.summary.stratum_summary`);
* clinical agreement, primary and sensitivity analyses, as
  :class:`~suite.analysis.agreement.AgreementResult` objects, the implausible values they
  left out, and the propagation of the LV EF error with acceleration;
* failures (inputs not read, failed jobs by cause), the data-crime audit table;
* the robustness analysis when the protocol has a ``robustness`` section
  (:class:`RobustnessSummary`).

It writes nothing: :func:`suite.report.summary.write_summary` renders a :class:`RunSummary` as
``summary.md``, CSV tables and figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from suite.analysis.agreement import (PRIMARY, agreement_results, error_propagation,
                                      implausible_values, primary_exclusions, with_acceleration)
from suite.analysis.examples import robustness_examples
from suite.analysis.failures import failure_causes
from suite.analysis.references import reference_comparison
from suite.analysis.robustness import (anchored_curves, audit_table, crime_inflation,
                                       ef_error_curves, instability_ratios, robustness_curves,
                                       shift_tables)
from suite.analysis.summary import load_results, metric_summary, stratum_summary
from suite.store import RunView

__all__ = ["RunSummary", "RobustnessSummary", "summarise", "BUILTIN_STAGES"]

#: Stages with their own section in the summary and their own evidence key; results of any
#: other stage (a plugin stage) are summarised generically.
BUILTIN_STAGES = ("recon", "temporal", "condition", "segmentation", "clinical", "robustness",
                  "robustness-clinical")


@dataclass(frozen=True)
class RobustnessSummary:
    """Robustness analysis of a run (:mod:`suite.analysis.robustness`).

    Attributes
    ----------
    curves, ratios, ef_error, crimes : DataFrame
        :func:`robustness_curves`, :func:`instability_ratios`, :func:`ef_error_curves`,
        :func:`crime_inflation`.
    shift : DataFrame or None
        :func:`shift_tables` when the protocol names ``robustness.shift``.
    examples : tuple of RobustnessExample
        The worst-case example of each attacked method.
    """

    curves: pd.DataFrame = field(repr=False)
    ratios: pd.DataFrame = field(repr=False)
    ef_error: pd.DataFrame = field(repr=False)
    crimes: pd.DataFrame = field(repr=False)
    shift: pd.DataFrame | None = field(repr=False)
    examples: tuple = field(repr=False)

    def anchored(self, metric: str, *, structure: str | None = None,
                 phase: str | None = None) -> pd.DataFrame:
        """The curves of one metric (and structure, phase) for the perturbation attacks, each
        starting at the clean value (:func:`~suite.analysis.robustness.anchored_curves`)."""
        c = self.curves
        if c.empty:
            return c
        sel = c["metric"] == metric
        if structure is not None:
            sel &= c["structure"] == structure
        if phase is not None:
            sel &= c["phase"] == phase
        return anchored_curves(c[sel])

    def to_dict(self) -> dict:
        out = {k: getattr(self, k).to_dict("records")
               for k in ("curves", "ratios", "ef_error", "crimes")}
        out["shift"] = None if self.shift is None else self.shift.to_dict("records")
        out["examples"] = [{"kind": e.kind, "method": e.method, "job_id": e.job_id,
                            "deviation": e.deviation} for e in self.examples]
        return out

    def summary(self) -> str:
        return (f"robustness: {len(self.curves)} curve points, {len(self.ratios)} instability "
                f"ratios, {len(self.crimes)} crime rows, {len(self.examples)} examples")


@dataclass(frozen=True)
class RunSummary:
    """Every table of a run's summary, and the data of its figures.

    Attributes
    ----------
    name, protocol_sha256 : str
        The protocol's name and SHA-256.
    method_stages : tuple of str
        The run's method columns (:attr:`suite.store.RunView.method_stages`).
    settings : dict
        ``seed``, ``n_resamples``, ``alpha`` of every bootstrap CI.
    results : DataFrame
        The rows the summary was computed from (:attr:`suite.store.RunView.results`).
    metrics : DataFrame
        :func:`metric_summary` of every row (``metrics_summary.csv``); :attr:`by_acceleration`
        adds the nominal acceleration of each row's condition (the figures' x axis).
    strata : dict of str to DataFrame
        :func:`stratum_summary` per stratum the protocol names (default ``vendor``).
    agreement : tuple of AgreementResult
        Clinical agreement, primary and (where a value was implausible) sensitivity analyses.
    implausible : DataFrame
        :func:`implausible_values`.
    propagation : DataFrame
        :func:`error_propagation` of LV EF.
    jobs : dict
        Job counts: ``total``, ``done``, ``failed``.
    input_failures : DataFrame
        Inputs that could not be read (the store's ``failures`` table).
    failed_jobs : DataFrame
        :func:`~suite.analysis.failures.failure_causes`.
    audit : DataFrame
        :func:`audit_table` (one row per case).
    robustness : RobustnessSummary or None
        None when the protocol has no ``robustness`` section.
    other_stages : tuple of str
        Stages in the results beyond :data:`BUILTIN_STAGES` (their rows are in ``metrics``).
    """

    name: str
    protocol_sha256: str
    method_stages: tuple
    settings: dict
    results: pd.DataFrame = field(repr=False)
    metrics: pd.DataFrame = field(repr=False)
    strata: dict = field(repr=False)
    agreement: tuple = field(repr=False)
    implausible: pd.DataFrame = field(repr=False)
    propagation: pd.DataFrame = field(repr=False)
    jobs: dict
    input_failures: pd.DataFrame = field(repr=False)
    failed_jobs: pd.DataFrame = field(repr=False)
    audit: pd.DataFrame = field(repr=False)
    robustness: RobustnessSummary | None = field(repr=False)
    other_stages: tuple = ()

    @property
    def by_acceleration(self) -> pd.DataFrame:
        """:attr:`metrics` with ``nominal_acceleration`` (NaN for a condition without one)."""
        if self.metrics.empty:
            return self.metrics
        return with_acceleration(self.metrics, self.results)

    @property
    def references(self) -> pd.DataFrame:
        """:func:`~suite.analysis.references.reference_comparison` of :attr:`metrics`: each
        quantity scored against the truth next to its scores against other references (a
        fitted reference, a challenge's reference procedure), one column per ``profile``."""
        return reference_comparison(self.metrics)

    @property
    def agreement_table(self) -> pd.DataFrame:
        """The agreement results as a table (``clinical_agreement``), one row per result."""
        return pd.DataFrame([r.to_dict() for r in self.agreement])

    @property
    def excluded(self) -> dict:
        """Values the primary agreement analyses left out, by reason."""
        return primary_exclusions(self.agreement)

    @property
    def primary_agreement(self) -> tuple:
        return tuple(r for r in self.agreement if r.keys.get("analysis") == PRIMARY)

    def to_dict(self) -> dict:
        return {"name": self.name, "protocol_sha256": self.protocol_sha256,
                "settings": dict(self.settings), "jobs": dict(self.jobs),
                "metrics": self.metrics.to_dict("records"),
                "strata": {k: v.to_dict("records") for k, v in self.strata.items()},
                "agreement": [r.to_dict() for r in self.agreement],
                "implausible": self.implausible.to_dict("records"),
                "propagation": self.propagation.to_dict("records"),
                "excluded": self.excluded, "other_stages": list(self.other_stages),
                "robustness": None if self.robustness is None else self.robustness.to_dict()}

    def summary(self) -> str:
        excl = ", ".join(f"{n} {r}" for r, n in self.excluded.items()) or "none"
        return (f"run {self.name!r}: {self.jobs['total']} jobs ({self.jobs['done']} done, "
                f"{self.jobs['failed']} failed), {len(self.metrics)} summary rows, "
                f"{len(self.agreement)} agreement results (excluded from the primary analysis: "
                f"{excl})")


def summarise(run) -> RunSummary:
    """The :class:`RunSummary` of a run folder or :class:`~suite.store.RunView`."""
    view = run if isinstance(run, RunView) else RunView(run)
    df = load_results(view)
    kw = view.bootstrap
    params = (view.protocol.get("analyses") or {}).get("agreement") or None
    empty = pd.DataFrame()
    metrics = metric_summary(df, **kw) if not df.empty else empty
    strata = {s: stratum_summary(df, s, **kw) for s in view.strata()} if not df.empty else {}
    agreement = tuple(agreement_results(df, parameters=params)) if not df.empty else ()
    jobs = view.jobs
    rob = view.protocol.get("robustness")
    robustness = None
    if rob:
        robustness = RobustnessSummary(
            curves=robustness_curves(df, **kw), ratios=instability_ratios(df, **kw),
            ef_error=ef_error_curves(df, **kw), crimes=crime_inflation(df, **kw),
            shift=shift_tables(df, rob["shift"], **kw) if rob.get("shift") else None,
            examples=robustness_examples(view))
    stages = df["stage"].unique() if not df.empty else []
    return RunSummary(
        name=str(view.protocol.get("name", "")), protocol_sha256=str(view.protocol_sha256 or ""),
        method_stages=tuple(view.method_stages),
        settings=dict(kw), results=df, metrics=metrics, strata=strata, agreement=agreement,
        implausible=implausible_values(df) if not df.empty else empty,
        propagation=error_propagation(df) if not df.empty else empty,
        jobs={"total": int(len(jobs)), "done": int((jobs["status"] == "done").sum()),
              "failed": int((jobs["status"] == "failed").sum())},
        input_failures=view.failures, failed_jobs=failure_causes(jobs), audit=audit_table(view),
        robustness=robustness,
        other_stages=tuple(sorted(s for s in stages if s not in BUILTIN_STAGES)))

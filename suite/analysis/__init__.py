"""Analysis of a run's results (read through :class:`suite.store.RunView`): summaries, strata,
clinical agreement, precision, failures, acceptance, robustness. Everything here computes and
returns tables or result objects; :mod:`suite.report` renders them.

:func:`summarise` gathers every table and every figure's data of a run in a
:class:`RunSummary`.
"""

from suite.analysis.agreement import (AgreementResult, agreement_results, clinical_agreement,
                                      error_propagation, implausible_values, primary_exclusions)
from suite.analysis.precision import Repeatability, repeatability
from suite.analysis.run_summary import RobustnessSummary, RunSummary, summarise
from suite.analysis.summary import (check_acceptance, load_results, metric_summary,
                                    stratum_summary)

__all__ = ["load_results", "metric_summary", "stratum_summary", "clinical_agreement",
           "agreement_results", "AgreementResult", "implausible_values", "primary_exclusions",
           "error_propagation", "check_acceptance", "repeatability", "Repeatability",
           "summarise", "RunSummary", "RobustnessSummary"]

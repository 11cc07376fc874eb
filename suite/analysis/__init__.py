"""Analysis of a run's results (read through :class:`suite.store.RunView`): summaries, strata,
clinical agreement, acceptance, robustness."""

from suite.analysis.agreement import (agreement_results, clinical_agreement, error_propagation,
                                      implausible_values)
from suite.analysis.summary import (check_acceptance, load_results, metric_summary,
                                    stratum_summary, write_summary)

__all__ = ["load_results", "metric_summary", "stratum_summary", "clinical_agreement",
           "agreement_results", "implausible_values", "error_propagation", "check_acceptance",
           "write_summary"]

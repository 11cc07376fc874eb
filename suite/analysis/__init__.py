"""Analysis of a run's results store: summaries, strata, clinical agreement, acceptance."""

from suite.analysis.summary import (check_acceptance, clinical_agreement, error_propagation,
                                    load_results, metric_summary, stratum_summary, write_summary)

__all__ = ["load_results", "metric_summary", "stratum_summary", "clinical_agreement",
           "error_propagation", "check_acceptance", "write_summary"]

"""Agreement statistics: pure functions returning frozen results objects (no I/O).

Conventions: difference = test − reference; SD with ddof = 1; LoA multiplier 1.96 unless
stated; every result records its choices in ``to_dict()`` and explains them in ``summary()``.
The CSV wrappers for the CLI live in ``suite.analysis.measurements_csv`` (I/O stays out of
this package); ``suite.stats.plots`` (matplotlib) is
imported on demand, not here.
"""

from suite.stats.bland_altman import (
    CI_METHODS, BlandAltmanResult, ProportionalBias, bland_altman, loa_intervals,
)
from suite.stats.bland_altman_repeated import BlandAltmanRepeatedResult, bland_altman_repeated
from suite.stats.bland_altman_variants import (
    BlandAltmanRatioResult, bland_altman_log_ratio, bland_altman_percent,
)
from suite.stats.bootstrap import BootstrapResult, bootstrap_ci
from suite.stats.carkeet import one_sided_tolerance_factor, two_sided_tolerance_factor
from suite.stats.correlation import CCCResult, CorrelationResult, ccc, pearson, spearman
from suite.stats.deming import deming
from suite.stats.equivalence import EquivalenceResult, noninferiority_paired, tost_paired
from suite.stats.icc import ICC_LABELS, ICCForm, ICCResult, icc, icc_matrix
from suite.stats.method_regression import MethodRegressionResult
from suite.stats.multiplicity import holm
from suite.stats.passing_bablok import passing_bablok

__all__ = [
    "bland_altman", "bland_altman_percent", "bland_altman_log_ratio", "bland_altman_repeated",
    "loa_intervals", "CI_METHODS", "BlandAltmanResult", "BlandAltmanRatioResult",
    "BlandAltmanRepeatedResult", "ProportionalBias",
    "two_sided_tolerance_factor", "one_sided_tolerance_factor",
    "icc", "icc_matrix", "ICCResult", "ICCForm", "ICC_LABELS",
    "ccc", "pearson", "spearman", "CCCResult", "CorrelationResult",
    "deming", "passing_bablok", "MethodRegressionResult",
    "tost_paired", "noninferiority_paired", "EquivalenceResult",
    "bootstrap_ci", "BootstrapResult", "holm",
]

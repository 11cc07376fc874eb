"""Bland-Altman limits of agreement with several paired readings per subject.

Implements the method for paired replicates *where the true value varies* between the pairs
of one subject (each reading by the test method is paired with a simultaneous reference
reading; Bland & Altman 1999, §5, "replicated data collected in pairs, where the underlying
value ... is changing"; the same method is worked through in Bland & Altman 2007). Treating the
pairs as independent would understate the SD of the differences and so the limits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from suite._serialise import jsonable, readonly
from suite._table import SummaryTable, fmt
from suite.stats._common import DIRECTION, as_vector, check_positive

__all__ = ["bland_altman_repeated", "BlandAltmanRepeatedResult"]

METHOD = ("Bland & Altman 1999 §5 / 2007: paired replicates, true value varies; one-way ANOVA "
          "of differences by subject")


@dataclass(frozen=True)
class BlandAltmanRepeatedResult:
    """Limits of agreement from a one-way variance-components analysis of the differences.

    Attributes
    ----------
    n_subjects, n_pairs : int
        Number of subjects and of paired readings (N = Σ m_i).
    bias : float
        Mean of all N differences (test − reference).
    sd : float
        Total SD of a single difference, √(σ²_between + σ²_within).
    sd_within, sd_between : float
        √MS_within and the between-subject component √σ²_between.
    loa_lower, loa_upper : float
        bias ∓ multiplier·sd (limits of agreement, not confidence intervals).
    ms_between, ms_within, divisor : float
        ANOVA mean squares and the divisor (N² − Σm_i²)/((n − 1)N) (= m for balanced data).
    between_variance_truncated : bool
        True when MS_between < MS_within, so σ²_between was set to 0 instead of a negative value.
    differences, means : ndarray (N,), float64
        Per-pair differences and pair means (read-only, excluded from ``to_dict``).
    subjects : ndarray (N,)
        Subject label of each pair.

    Notes
    -----
    No CIs are computed here; use :func:`~suite.stats.bootstrap.bootstrap_ci` with
    ``cluster=subject`` (resampling whole subjects) for CIs of the bias and limits.
    """

    n_subjects: int
    n_pairs: int
    bias: float
    sd: float
    sd_within: float
    sd_between: float
    loa_lower: float
    loa_upper: float
    ms_between: float
    ms_within: float
    divisor: float
    between_variance_truncated: bool
    multiplier: float = 1.96
    method: str = METHOD
    direction: str = DIRECTION
    differences: np.ndarray = field(default=None, repr=False, compare=False)
    means: np.ndarray = field(default=None, repr=False, compare=False)
    subjects: np.ndarray = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """JSON-safe dict at full precision with the method and direction."""
        skip = ("differences", "means", "subjects")
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__ if k not in skip})

    def summary(self, format: str = "text") -> str:
        """Table with numbered notes; ``format`` is "text", "markdown" or "html"."""
        rows = (
            ("subjects / pairs", f"{self.n_subjects} / {self.n_pairs}"),
            ("bias (mean difference)", fmt(self.bias)),
            ("SD of a difference (total)", fmt(self.sd)),
            ("within-subject SD", fmt(self.sd_within)),
            ("between-subject SD", fmt(self.sd_between)),
            ("lower limit of agreement", fmt(self.loa_lower)),
            ("upper limit of agreement", fmt(self.loa_upper)),
        )
        notes = [
            f"Difference = {self.direction}; limits = bias ± {self.multiplier:g}·SD_total.",
            f"{self.method}: σ²_within = MS_within, σ²_between = (MS_between − MS_within)/"
            f"{fmt(self.divisor)}.",
            "Assumes normal differences with subject-level random effects; no CIs given here "
            "(use the subject-clustered bootstrap).",
        ]
        if self.between_variance_truncated:
            notes.append("MS_between < MS_within: the between-subject variance was set to 0.")
        return SummaryTable("Bland-Altman agreement, repeated pairs per subject",
                            ("statistic", "estimate"), rows, tuple(notes)).render(format)


def bland_altman_repeated(subject, test, reference, *, data=None,
                          multiplier: float = 1.96) -> BlandAltmanRepeatedResult:
    """Limits of agreement for several (test, reference) pairs per subject, true value varying.

    Parameters
    ----------
    subject : array_like (N,) or str
        Subject label of each pair (any hashable values); a column name if ``data`` is given.
    test, reference : array_like (N,), float64, or str
        Paired readings (same unit); column names if ``data`` is given.
    data : pandas.DataFrame, optional
        Long table with one row per pair.
    multiplier : float, default 1.96
        ``z`` in bias ± z·SD.

    Returns
    -------
    BlandAltmanRepeatedResult

    Raises
    ------
    ValueError
        Lengths differ, non-finite values, fewer than 3 subjects, or no subject with two or
        more pairs (then use :func:`~suite.stats.bland_altman.bland_altman`).

    Notes
    -----
    With d_ij = test_ij − reference_ij for pair j of subject i (m_i pairs, N = Σm_i):

    * bias = Σ d_ij / N;
    * one-way ANOVA of d by subject: MS_b = Σ m_i(d̄_i − d̄)²/(n − 1),
      MS_w = ΣΣ(d_ij − d̄_i)²/(N − n);
    * σ²_w = MS_w; σ²_b = (MS_b − MS_w)/D with D = (N² − Σm_i²)/((n − 1)N), truncated at 0;
    * s_d² = σ²_b + σ²_w; LoA = bias ± z·s_d.

    Published numbers of the 2007 worked example contain arithmetic errors (Jones, J Biopharm
    Stat 2019;29:574-575), so the tests check this function against the formulas applied by hand.

    References
    ----------
    Bland JM, Altman DG. Measuring agreement in method comparison studies. Stat Methods Med Res
    1999;8:135-160, §5.
    Bland JM, Altman DG. Agreement between methods of measurement with multiple observations per
    individual. J Biopharm Stat 2007;17:571-582.

    Examples
    --------
    >>> r = bland_altman_repeated([1, 1, 2, 2, 3, 3], [5., 6., 7., 9., 4., 4.],
    ...                           [4., 6., 7., 7., 5., 3.])
    >>> r.n_subjects, r.n_pairs, round(r.bias, 4)
    (3, 6, 0.5)
    """
    where = "bland_altman_repeated"
    multiplier = check_positive(multiplier, name="multiplier", where=where)
    if data is not None:
        missing = [c for c in (subject, test, reference) if c not in data.columns]
        if missing:
            raise ValueError(f"{where}: column(s) {missing} not in `data`; "
                             f"available: {list(data.columns)}")
        subject, test, reference = data[subject].to_numpy(), data[test], data[reference]
    t = as_vector(test, name="test", where=where)
    r = as_vector(reference, name="reference", where=where)
    s = np.asarray(subject)
    if not (s.shape == t.shape == r.shape):
        raise ValueError(f"{where}: `subject`, `test` and `reference` must have the same length; "
                         f"got {s.shape[0] if s.ndim else s.shape}, {t.size}, {r.size}")
    labels, codes = np.unique(s, return_inverse=True)
    n, big_n = labels.size, t.size
    if n < 3:
        raise ValueError(f"{where}: at least 3 subjects are needed; got {n}")
    if big_n == n:
        raise ValueError(f"{where}: every subject has one pair, so there is no within-subject "
                         "variance; use bland_altman for one pair per subject")
    d = t - r
    m_i = np.bincount(codes).astype(np.float64)
    mean_i = np.bincount(codes, weights=d) / m_i
    bias = float(d.sum() / big_n)
    ms_b = float(np.sum(m_i * (mean_i - bias) ** 2) / (n - 1))
    ms_w = float(np.sum((d - mean_i[codes]) ** 2) / (big_n - n))
    divisor = float((big_n**2 - np.sum(m_i**2)) / ((n - 1) * big_n))
    var_b = (ms_b - ms_w) / divisor
    truncated = var_b < 0
    var_b = max(var_b, 0.0)
    sd = math.sqrt(var_b + ms_w)
    return BlandAltmanRepeatedResult(
        n_subjects=int(n), n_pairs=int(big_n), bias=bias, sd=sd, sd_within=math.sqrt(ms_w),
        sd_between=math.sqrt(var_b), loa_lower=bias - multiplier * sd,
        loa_upper=bias + multiplier * sd, ms_between=ms_b, ms_within=ms_w, divisor=divisor,
        between_variance_truncated=bool(truncated), multiplier=multiplier,
        differences=readonly(d), means=readonly((t + r) / 2.0), subjects=s.copy(),
    )

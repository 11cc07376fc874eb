"""CSV-facing wrappers for the CLI: read a table, run the agreement statistics, return a dict.

This is the only module of :mod:`suite.stats` that reads files (the CLI calls it; the statistics
themselves stay pure). Errors name the file, the column and the fix. Rows with a missing (NaN)
value are never dropped silently: by default they raise; with ``nan_policy="omit"`` they are
dropped and counted in ``n_dropped_nan``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from suite._validation import check_option
from suite.stats.bland_altman import CI_METHODS, bland_altman
from suite.stats.bland_altman_repeated import bland_altman_repeated
from suite.stats.bootstrap import bootstrap_ci
from suite.stats.correlation import ccc, pearson, spearman
from suite.stats.icc import icc

__all__ = ["agreement_from_csv", "icc_from_csv"]

NAN_POLICIES = ("raise", "omit")


def _read(path, numeric_cols, label_cols, nan_policy, where):
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{where}: {p}: no such file; check the path")
    try:
        df = pd.read_csv(p)
    except Exception as exc:
        raise ValueError(f"{where}: {p}: cannot be read as CSV ({exc}); save it as "
                         "comma-separated text with a header row") from None
    missing = [c for c in numeric_cols + label_cols if c not in df.columns]
    if missing:
        raise ValueError(f"{where}: {p}: column(s) {missing} not found; the file has columns "
                         f"{list(df.columns)}; pass the right column names")
    for c in numeric_cols:
        conv = pd.to_numeric(df[c], errors="coerce")
        bad = conv.isna() & df[c].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"{where}: {p}: column {c!r} must be numeric; row {i + 2} (line "
                             f"in the file) holds {df[c].iloc[i]!r} ({int(bad.sum())} such "
                             "value(s)); fix or remove those rows")
        df[c] = conv.astype(np.float64)
    nan_rows = df[numeric_cols + label_cols].isna().any(axis=1) | ~np.isfinite(
        df[numeric_cols].to_numpy()).all(axis=1)
    n_nan = int(nan_rows.sum())
    if n_nan and nan_policy == "raise":
        lines = [int(i) + 2 for i in np.flatnonzero(nan_rows.to_numpy())[:5]]
        cols = [c for c in numeric_cols + label_cols if df.loc[nan_rows, c].isna().any()]
        raise ValueError(f"{where}: {p}: {n_nan} row(s) have missing or non-finite values in "
                         f"column(s) {cols} (file lines {lines}...); fill or delete them, or "
                         "pass nan_policy='omit' to drop them (the count is reported)")
    return df.loc[~nan_rows].reset_index(drop=True), n_nan


def agreement_from_csv(path, test_col: str, reference_col: str, subject_col: str | None = None,
                       ci_method: str = "approximate", *, multiplier: float = 1.96,
                       alpha: float = 0.05, nan_policy: str = "raise", n_resamples: int = 2000,
                       seed: int = 0) -> dict:
    """Bland-Altman, CCC, Pearson and Spearman of two columns of a CSV file, as a flat dict.

    Parameters
    ----------
    path : str or Path
        CSV file with a header row.
    test_col, reference_col : str
        Columns with the test and reference measurements (numeric, same unit).
    subject_col : str, optional
        Subject column. If some subject has several rows, the repeated-measurements method is
        used (:func:`~suite.stats.bland_altman_repeated.bland_altman_repeated`, true value
        varies) and every CI is a subject-clustered percentile bootstrap
        (``n_resamples``, ``seed``).
    ci_method : str, default "approximate"
        CI method of the limits for one pair per subject (see
        :func:`~suite.stats.bland_altman.loa_intervals`).
    multiplier, alpha : float
        LoA multiplier and CI level ``1 − alpha``.
    nan_policy : {"raise", "omit"}
        Rows with missing values raise (default) or are dropped and counted.
    n_resamples, seed : int
        Bootstrap settings for the repeated-measurements case.

    Returns
    -------
    dict
        Keys ``n`` (pairs used), ``n_subjects``, ``n_dropped_nan``, ``bias``, ``sd``,
        ``loa`` [lower, upper], ``bias_ci``, ``loa_lower_ci``, ``loa_upper_ci``, ``ccc``,
        ``ccc_ci``, ``pearson_r``, ``pearson_ci``, ``spearman_rho``, ``spearman_ci``,
        ``direction`` ("test - reference"), ``ci_method``, ``multiplier``, ``alpha``, ``ddof``,
        ``design`` ("one pair per subject" or "repeated pairs per subject"), ``method``,
        ``path``, ``test_col``, ``reference_col``, ``subject_col``. JSON-safe (lists, floats).

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        Missing column, non-numeric value, missing values with ``nan_policy="raise"``, or too
        few rows; the message names the file, the column and the fix.
    """
    where = "agreement_from_csv"
    check_option(ci_method, CI_METHODS, name="ci_method", where=where)
    check_option(nan_policy, NAN_POLICIES, name="nan_policy", where=where)
    labels = [subject_col] if subject_col is not None else []
    df, n_nan = _read(path, [test_col, reference_col], labels, nan_policy, where)
    t = df[test_col].to_numpy()
    r = df[reference_col].to_numpy()
    repeated = subject_col is not None and df[subject_col].nunique() < len(df)
    base = {"n": int(len(df)), "n_dropped_nan": n_nan, "direction": "test - reference",
            "multiplier": float(multiplier), "alpha": float(alpha), "ddof": 1,
            "path": str(path), "test_col": test_col, "reference_col": reference_col,
            "subject_col": subject_col}
    if not repeated:
        ba = bland_altman(t, r, multiplier=multiplier, ci_method=ci_method, alpha=alpha)
        c, pr, sp = ccc(t, r, alpha=alpha), pearson(t, r, alpha=alpha), spearman(t, r, alpha=alpha)
        base.update({
            "n_subjects": int(len(df)), "design": "one pair per subject",
            "method": "Bland & Altman 1986/1999", "ci_method": ci_method,
            "bias": ba.bias, "sd": ba.sd, "loa": [ba.loa_lower, ba.loa_upper],
            "bias_ci": list(ba.bias_ci), "loa_lower_ci": list(ba.loa_lower_ci),
            "loa_upper_ci": list(ba.loa_upper_ci), "ccc": c.ccc, "ccc_ci": list(c.ci),
            "pearson_r": pr.estimate, "pearson_ci": list(pr.ci),
            "spearman_rho": sp.estimate, "spearman_ci": list(sp.ci),
        })
        return _clean(base)
    data = pd.DataFrame({"subject": df[subject_col].to_numpy(), "t": t, "r": r})
    rep = bland_altman_repeated("subject", "t", "r", data=data, multiplier=multiplier)

    def boot(stat):
        return list(bootstrap_ci(data, stat, seed=seed, cluster="subject",
                                 n_resamples=n_resamples, alpha=alpha).ci)

    def rep_stat(attr):
        return lambda d: getattr(bland_altman_repeated("subject", "t", "r", data=d,
                                                       multiplier=multiplier), attr)

    base.update({
        "n_subjects": rep.n_subjects, "design": "repeated pairs per subject",
        "method": rep.method, "ci_method": "subject-clustered percentile bootstrap "
                                           f"({n_resamples} resamples, seed {seed})",
        "bias": rep.bias, "sd": rep.sd, "loa": [rep.loa_lower, rep.loa_upper],
        "bias_ci": boot(rep_stat("bias")), "loa_lower_ci": boot(rep_stat("loa_lower")),
        "loa_upper_ci": boot(rep_stat("loa_upper")),
        "ccc": ccc(t, r).ccc, "ccc_ci": boot(lambda d: ccc(d.t, d.r).ccc),
        "pearson_r": pearson(t, r).estimate,
        "pearson_ci": boot(lambda d: _corr(d.t, d.r, "pearson")),
        "spearman_rho": spearman(t, r).estimate,
        "spearman_ci": boot(lambda d: _corr(d.t, d.r, "spearman")),
    })
    return _clean(base)


def _corr(x, y, kind):
    x, y = np.asarray(x), np.asarray(y)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return pearson(x, y).estimate if kind == "pearson" else spearman(x, y).estimate


def _clean(d):
    from suite._serialise import jsonable

    return jsonable(d)


def icc_from_csv(path, target_col: str, rater_col: str, score_col: str, *,
                 alpha: float = 0.05, nan_policy: str = "raise") -> dict:
    """The six Shrout-Fleiss ICC forms from a long CSV table (one row per target × rater).

    Parameters
    ----------
    path : str or Path
        CSV file with a header row.
    target_col, rater_col, score_col : str
        Columns with the target (subject), the rater (reader/method) and the numeric score.
    alpha : float, default 0.05
    nan_policy : {"raise", "omit"}
        Rows with a missing value raise (default) or are dropped; after dropping, the design
        must still be complete (the error names the missing cells).

    Returns
    -------
    dict
        Keyed exactly by "ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)",
        "ICC(3,k)"; each value holds ``icc``, ``ci`` [lower, upper], ``F``, ``df1``, ``df2``,
        ``p``, plus ``label``, ``mcgraw_wong``, ``description``, ``n_targets``, ``k_raters``,
        ``alpha`` and ``n_dropped_nan``.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`agreement_from_csv`; also an incomplete design.
    """
    where = "icc_from_csv"
    check_option(nan_policy, NAN_POLICIES, name="nan_policy", where=where)
    df, n_nan = _read(path, [score_col], [target_col, rater_col], nan_policy, where)
    try:
        res = icc(target_col, rater_col, score_col, data=df, alpha=alpha)
    except ValueError as exc:
        raise ValueError(f"{where}: {path}: {exc}") from None
    out = {}
    for f in res.forms:
        entry = f.to_dict()
        entry.update({"n_targets": res.n_targets, "k_raters": res.k_raters,
                      "alpha": res.alpha, "n_dropped_nan": n_nan})
        out[f.label] = entry
    return out

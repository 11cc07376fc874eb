"""Multiplicity adjustment of p values: Holm's step-down procedure (the one implementation
the suite uses: the leaderboard's pairwise tests and the domain-shift strata).

Definition: with the ``m`` p values sorted increasingly, ``p_(1) <= ... <= p_(m)``, the
adjusted values are ``p̃_(i) = min(1, max_{j <= i} (m − j + 1) · p_(j))``; rejecting where
``p̃ < alpha`` controls the family-wise error rate at ``alpha`` under any dependence. Missing
p values (NaN, a test that could not be run) stay NaN and do not count in ``m``.

References
----------
Holm S. A simple sequentially rejective multiple test procedure. Scand J Stat 1979;6:65-70.
Same numbers as R's ``p.adjust(p, "holm")`` and statsmodels'
``multipletests(p, method="holm")``.
"""

from __future__ import annotations

import numpy as np

from suite._validation import check_ndim

__all__ = ["holm"]


def holm(p) -> np.ndarray:
    """Holm (1979) step-down adjusted p values.

    Parameters
    ----------
    p : array_like (m,)
        Unadjusted p values in [0, 1]; NaN entries are left out of the family.

    Returns
    -------
    ndarray (m,), float64
        Adjusted p values in the input order (NaN where the input is NaN).

    Raises
    ------
    ValueError
        ``p`` not 1-D, or a value outside [0, 1].

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03, 0.005]).round(3).tolist()
    [0.03, 0.06, 0.06, 0.02]
    >>> holm([0.01, float("nan"), 0.04]).tolist()
    [0.02, nan, 0.04]
    """
    where = "holm"
    arr = np.asarray(p, dtype=np.float64)
    check_ndim(arr, 1, name="p", where=where, axes="(m,)")
    ok = ~np.isnan(arr)
    q = arr[ok]
    if ((q < 0) | (q > 1)).any():
        raise ValueError(f"{where}: p values must lie in [0, 1]; got {q[(q < 0) | (q > 1)][:3]}")
    m = q.size
    order = np.argsort(q, kind="stable")
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(np.maximum.accumulate((m - np.arange(m)) * q[order]), 1.0)
    out = np.full(arr.shape, np.nan)
    out[ok] = adjusted
    return out

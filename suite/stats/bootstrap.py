"""Subject-clustered bootstrap confidence intervals for any statistic.

Readings from one subject are correlated, so resampling readings as if independent gives
intervals that are too narrow. Here whole clusters (subjects) are resampled with replacement;
randomness comes only from the ``seed`` passed in (STYLE R10).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import special

from suite._serialise import jsonable, readonly
from suite._table import SummaryTable, fmt, fmt_interval
from suite._validation import check_alpha, check_option

__all__ = ["bootstrap_ci", "BootstrapResult", "BOOTSTRAP_METHODS"]

BOOTSTRAP_METHODS = ("percentile", "bca")


@dataclass(frozen=True)
class BootstrapResult:
    """Bootstrap CI of a scalar statistic.

    Attributes
    ----------
    estimate : float
        The statistic on the original data.
    ci : tuple of float
        Two-sided ``1 − alpha`` interval by ``method``.
    standard_error : float
        SD (ddof = 1) of the bootstrap distribution.
    method : str
        ``"percentile"`` or ``"bca"``.
    n_resamples, n_clusters, n_rows : int
        Resamples drawn; resampling units (subjects, or rows if unclustered); data rows.
    clustered : bool
        Whether whole clusters were resampled.
    bias_correction, acceleration : float
        BCa constants z0 and a (NaN for the percentile method).
    seed : str
        ``repr`` of the seed argument (for provenance).
    distribution : ndarray (n_resamples,), float64
        Bootstrap replicates (read-only; excluded from ``to_dict``).
    """

    estimate: float
    ci: tuple[float, float]
    standard_error: float
    method: str
    alpha: float
    n_resamples: int
    n_clusters: int
    n_rows: int
    clustered: bool
    bias_correction: float
    acceleration: float
    seed: str
    quantile_method: str = "numpy linear interpolation"
    distribution: np.ndarray = field(default=None, repr=False, compare=False)

    def conf_int(self, alpha: float | None = None) -> tuple[float, float]:
        """Interval at level ``1 − alpha`` from the stored replicates (no new resampling)."""
        a = self.alpha if alpha is None else check_alpha(alpha, where="BootstrapResult.conf_int")
        return _interval(self.distribution, a, self.method, self.bias_correction,
                         self.acceleration)

    def to_dict(self) -> dict:
        """JSON-safe dict at full precision (replicates excluded)."""
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__
                         if k != "distribution"})

    def summary(self, format: str = "text") -> str:
        """One-row table with the resampling scheme as notes."""
        pct = f"{100 * (1 - self.alpha):g} % CI"
        unit = "subjects (clusters)" if self.clustered else "rows"
        rows = (("statistic", fmt(self.estimate), fmt_interval(self.ci),
                 fmt(self.standard_error)),)
        notes = (f"{self.method} bootstrap, {self.n_resamples} resamples of {self.n_clusters} "
                 f"{unit} ({self.n_rows} rows), seed {self.seed}.",
                 "Assumes resampling units are independent; rows within a unit may be "
                 "correlated." if self.clustered else "Assumes rows are independent.")
        return SummaryTable("Bootstrap confidence interval",
                            ("", "estimate", pct, "bootstrap SE"), rows, notes).render(format)


def _interval(dist, alpha, method, z0, acc):
    lo_q, hi_q = alpha / 2.0, 1.0 - alpha / 2.0
    if method == "bca":
        z = special.ndtri(np.array([lo_q, hi_q]))
        adj = special.ndtr(z0 + (z0 + z) / (1.0 - acc * (z0 + z)))
        lo_q, hi_q = float(adj[0]), float(adj[1])
    q = np.quantile(dist, [lo_q, hi_q])
    return (float(q[0]), float(q[1]))


def _take(data, rows, cluster_col, new_labels):
    if hasattr(data, "iloc"):
        out = data.iloc[rows].reset_index(drop=True)
        if cluster_col is not None:
            out[cluster_col] = new_labels
        return out
    return data[rows]


def _scalar(value, where):
    v = float(np.asarray(value, dtype=float).reshape(()))
    return v


def bootstrap_ci(data, statistic: Callable, *, seed, cluster=None, n_resamples: int = 2000,
                 alpha: float = 0.05, method: str = "percentile") -> BootstrapResult:
    """Bootstrap CI of ``statistic(data)``, resampling whole clusters (subjects).

    Parameters
    ----------
    data : pandas.DataFrame or ndarray
        One row per reading (axis 0 for arrays).
    statistic : callable
        ``statistic(resampled_data) -> float``; receives the same type as ``data``.
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
        Source of randomness (required; same seed ⇒ same result).
    cluster : str or array_like (n_rows,), optional
        Cluster (subject) of each row: a column name of ``data`` or an array. ``None``
        resamples rows. When it names a column, that column in each resample holds the
        resampled cluster's position (0..G−1), so a subject drawn twice counts as two subjects.
    n_resamples : int, default 2000
    alpha : float, default 0.05
    method : {"percentile", "bca"}
        Percentile interval, or bias-corrected and accelerated (Efron 1987) with the
        acceleration from a leave-one-cluster-out jackknife.

    Returns
    -------
    BootstrapResult

    Raises
    ------
    ValueError
        Bad options, fewer than 2 clusters, a cluster array of the wrong length, or a
        non-finite statistic on the data or on any resample (the resample index is named;
        non-finite replicates are never dropped silently).

    Notes
    -----
    Each resample draws G clusters with replacement from the G observed clusters and
    concatenates all their rows. Percentile: the α/2 and 1 − α/2 quantiles of the replicates.
    BCa: z0 = Φ⁻¹((#{θ* < θ̂} + ½#{θ* = θ̂})/B), a = Σ(θ̄ − θ_(g))³/(6[Σ(θ̄ − θ_(g))²]^{3/2})
    over leave-one-cluster-out estimates θ_(g); quantiles Φ(z0 + (z0 + z_q)/(1 − a(z0 + z_q))).

    References
    ----------
    Efron B, Tibshirani RJ. An Introduction to the Bootstrap. Chapman & Hall 1993 (ch. 14).
    Field CA, Welsh AH. Bootstrapping clustered data. J R Stat Soc B 2007;69:369-390.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(20.0)
    >>> r = bootstrap_ci(x, np.mean, seed=1, n_resamples=500)
    >>> r.ci[0] < 9.5 < r.ci[1]
    True
    """
    where = "bootstrap_ci"
    method = check_option(method, BOOTSTRAP_METHODS, name="method", where=where)
    alpha = check_alpha(alpha, where=where)
    if not callable(statistic):
        raise ValueError(f"{where}: `statistic` must be callable; got {type(statistic)}")
    if int(n_resamples) != n_resamples or n_resamples < 100:
        raise ValueError(f"{where}: `n_resamples` must be an integer >= 100; got {n_resamples!r}")
    n_resamples = int(n_resamples)
    n_rows = len(data)
    cluster_col = None
    if cluster is None:
        codes = np.arange(n_rows)
    else:
        if isinstance(cluster, str):
            if not hasattr(data, "columns") or cluster not in data.columns:
                raise ValueError(f"{where}: `cluster` {cluster!r} is not a column of `data`")
            cluster_col = cluster
            labels = data[cluster].to_numpy()
        else:
            labels = np.asarray(cluster)
        if labels.shape != (n_rows,):
            raise ValueError(f"{where}: `cluster` must have one label per row ({n_rows}); "
                             f"got shape {labels.shape}")
        _, codes = np.unique(labels, return_inverse=True)
    n_clusters = int(codes.max()) + 1 if n_rows else 0
    if n_clusters < 2:
        raise ValueError(f"{where}: at least 2 clusters (subjects) are needed; got {n_clusters}")
    order = np.argsort(codes, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=n_clusters))])
    members = [order[bounds[g]:bounds[g + 1]] for g in range(n_clusters)]
    sizes = np.diff(bounds)

    def resample(picks):
        rows = np.concatenate([members[g] for g in picks])
        return _take(data, rows, cluster_col, np.repeat(np.arange(picks.size), sizes[picks]))

    theta = _scalar(statistic(data), where)
    if not math.isfinite(theta):
        raise ValueError(f"{where}: `statistic` is not finite on the original data ({theta})")
    rng = np.random.default_rng(seed)
    picks_all = rng.integers(0, n_clusters, size=(n_resamples, n_clusters))
    dist = np.empty(n_resamples)
    fast = statistic is np.mean and cluster is None and isinstance(data, np.ndarray) \
        and data.ndim == 1
    if fast:
        # Fast path for the most common case (the analysis of every run): the same resamples,
        # evaluated at once; identical up to the summation order of the means.
        dist[:] = data[picks_all].mean(axis=1)
        if not np.isfinite(dist).all():
            raise ValueError(f"{where}: `statistic` is not finite on some resample")
    for b in range(0 if fast else n_resamples):
        v = _scalar(statistic(resample(picks_all[b])), where)
        if not math.isfinite(v):
            raise ValueError(f"{where}: `statistic` returned {v} on resample {b}; make it "
                             "defined for every resample (e.g. enough subjects) or change the "
                             "statistic")
        dist[b] = v
    z0 = acc = math.nan
    if method == "bca":
        prop = (np.sum(dist < theta) + 0.5 * np.sum(dist == theta)) / n_resamples
        z0 = float(special.ndtri(prop))
        jack = np.array([_scalar(statistic(resample(np.delete(np.arange(n_clusters), g))), where)
                         for g in range(n_clusters)])
        dev = jack.mean() - jack
        den = 6.0 * float(np.sum(dev**2)) ** 1.5
        acc = float(np.sum(dev**3) / den) if den > 0 else 0.0
    return BootstrapResult(
        estimate=theta, ci=_interval(dist, alpha, method, z0, acc),
        standard_error=float(np.std(dist, ddof=1)), method=method, alpha=alpha,
        n_resamples=n_resamples, n_clusters=n_clusters, n_rows=int(n_rows),
        clustered=cluster is not None, bias_correction=z0, acceleration=acc, seed=repr(seed),
        distribution=readonly(dist),
    )

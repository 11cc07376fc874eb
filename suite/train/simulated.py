"""What the networks trained on simulated signals share: the priors their recipes draw from,
the configuration record, and the error summary of an estimate against the simulated truth.

Used by :mod:`suite.train.myomapnet` and :mod:`suite.train.mrf_net`.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

__all__ = ["uniform", "log_uniform", "noisy_magnitude", "config_record",
           "relative_error_summary", "fit_per_pixel"]


def uniform(rng: np.random.Generator, bounds, size=None):
    """Uniform draws between the numbers ``bounds[0]`` and ``bounds[1]``."""
    return rng.uniform(float(bounds[0]), float(bounds[1]), size)


def log_uniform(rng: np.random.Generator, bounds, size=None):
    """Log-uniform draws between ``bounds[0]`` and ``bounds[1]`` (either may be an array)."""
    return np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]), size))


def noisy_magnitude(rng: np.random.Generator, signals: np.ndarray, snr_bounds,
                    noise_free_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude of complex ``signals`` ``(n, m)`` with complex Gaussian noise added.

    Each row gets an SNR drawn log-uniformly in ``snr_bounds`` (``inf``, no noise, with
    probability ``noise_free_fraction``) and noise of SD ``max_k |s_k| / SNR`` (split equally
    between the real and imaginary parts).

    Returns
    -------
    (magnitude ``(n, m)``, snr ``(n,)``)
    """
    n = signals.shape[0]
    snr = log_uniform(rng, snr_bounds, n)
    snr[rng.random(n) < float(noise_free_fraction)] = np.inf
    sd = np.abs(signals).max(axis=1) / snr
    noise = (rng.standard_normal(signals.shape) + 1j * rng.standard_normal(signals.shape)) \
        * (sd[:, None] / np.sqrt(2.0))
    return np.abs(signals + noise), snr


def config_record(config) -> dict:
    """A frozen hyper-parameter dataclass as a JSON-ready dict (tuples become lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def relative_error_summary(estimate: np.ndarray, truth: np.ndarray, selected: np.ndarray) -> dict:
    """Relative error of ``estimate`` against ``truth`` over the ``selected`` pixels.

    Returns
    -------
    dict
        ``median_abs_rel_err_pct`` and ``p95_abs_rel_err_pct`` (median and 95th percentile of
        ``100·|estimate − truth| / truth``), ``median_rel_err_pct`` (signed) and
        ``failure_fraction`` (selected pixels whose estimate is not finite); NaN errors when no
        selected estimate is finite.
    """
    rel = 100.0 * (estimate - truth) / truth
    ok = selected & np.isfinite(rel)
    a = np.abs(rel[ok])
    nan = float("nan")
    return {"median_abs_rel_err_pct": float(np.median(a)) if a.size else nan,
            "p95_abs_rel_err_pct": float(np.percentile(a, 95)) if a.size else nan,
            "median_rel_err_pct": float(np.median(rel[ok])) if a.size else nan,
            "failure_fraction": float(1.0 - ok.sum() / max(int(selected.sum()), 1))}


def fit_per_pixel(make_net, x, y, batch_error, config, *, stream: int, log=None):
    """Train a per-pixel network on simulated samples, deterministically.

    Inside :func:`suite.train.loop.deterministic` (``config.seed``): the network from
    ``make_net()`` (its initial weights seeded), mini-batches of ``config.batch_size`` rows
    drawn with replacement by ``numpy.random.default_rng(SeedSequence([config.seed, stream]))``,
    loss ``mean(batch_error(net(x[idx]), y[idx]))``, ``config.steps`` Adam steps at
    ``config.learning_rate`` through :func:`suite.train.loop.train_steps`.

    Parameters
    ----------
    make_net : callable() -> torch.nn.Module
    x, y : torch.Tensor
        Network inputs ``(n, ...)`` and targets ``(n, ...)``.
    batch_error : callable(prediction, target) -> torch.Tensor
        Per-sample error (e.g. absolute, or absolute relative).
    config
        ``seed``, ``steps``, ``batch_size``, ``learning_rate`` (a network's config dataclass).
    stream : int
        The mini-batch stream of this network (its seed sequence's second entry).

    Returns
    -------
    TrainingResult
    """
    import torch

    from suite.train.loop import deterministic, train_steps

    with deterministic(config.seed):
        rng = np.random.default_rng(np.random.SeedSequence([config.seed, stream]))
        net = make_net()

        def batch_loss(step: int) -> torch.Tensor:
            idx = torch.from_numpy(rng.integers(len(y), size=config.batch_size))
            return torch.mean(batch_error(net(x[idx]), y[idx]))

        return train_steps(net, batch_loss, steps=config.steps,
                           learning_rate=config.learning_rate, config=config, floor=0.02,
                           log=log, log_every=1000, tail=200)

"""The one result type of the conventional mapping fits, and their shared input handling.

Every fit of :mod:`reference_impls.mapping` takes weighted images ``(..., n_images)`` and their
timings in ms (inversion, saturation-recovery or T2-preparation times) and returns a
:class:`MapFit`: named parameter maps of shape ``(...)``, per-pixel goodness of fit and a
failure mask. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import difflib
from typing import Any, Iterable, Mapping

import numpy as np

__all__ = ["MapFit", "PixelData", "prepare_pixels", "goodness_of_fit", "assemble", "check_choice"]


def check_choice(value: str, allowed: Iterable[str], *, name: str, where: str) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise ``ValueError`` naming the
    nearest option (reference methods do not import the suite's private validation helpers)."""
    allowed = list(allowed)
    if value in allowed:
        return value
    close = difflib.get_close_matches(str(value), allowed, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"{where}: {name} must be one of {allowed}; got {value!r}{hint}")


@dataclass(frozen=True, eq=False)
class MapFit:
    """Parameter maps of one fit, with goodness of fit and failures.

    Attributes
    ----------
    model : str
        The fitted model, e.g. ``"molli-3p"``, ``"sasha-2p"``, ``"t2-loglinear"``.
    maps : mapping of str to ndarray ``(...)``
        Parameter maps (float64; NaN where ``failed``). Names: ``t1_ms`` (corrected T1),
        ``t1_star_ms`` (apparent T1 of MOLLI), ``t2_ms``, amplitudes ``A``, ``B``, ``C`` (signal
        units), ``n_flipped`` (MOLLI polarity restoration: samples negated, as float).
    rmse : ndarray ``(...)``
        Root-mean-square residual of the fit (signal units), NaN where ``failed``.
    r2 : ndarray ``(...)``
        Coefficient of determination ``1 − SSE/SST`` (SST about the pixel's mean signal), NaN
        where ``failed``.
    failed : ndarray of bool ``(...)``
        Pixels without a usable fit: non-finite samples, constant (e.g. all-zero) signal, no
        convergence, or parameters outside the model's valid range (see each fit).
    timings_ms : ndarray
        The timings as given (broadcastable to the images).
    options : mapping
        The fit's settings (polarity rule, limits...), for provenance.
    """

    model: str
    maps: Mapping[str, np.ndarray]
    rmse: np.ndarray
    r2: np.ndarray
    failed: np.ndarray
    timings_ms: np.ndarray
    options: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.maps[name]
        except KeyError:
            raise KeyError(f"MapFit({self.model!r}) has no map {name!r}; maps: "
                           f"{sorted(self.maps)}") from None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.failed.shape)

    @property
    def failure_fraction(self) -> float:
        """Fraction of pixels in ``failed`` (0 for an empty map)."""
        return float(self.failed.mean()) if self.failed.size else 0.0

    def medians(self) -> dict[str, float]:
        """Median of every map over the pixels that did not fail (NaN if all failed)."""
        ok = ~self.failed
        return {k: (float(np.median(v[ok])) if ok.any() else float("nan"))
                for k, v in self.maps.items()}

    def to_dict(self) -> dict[str, Any]:
        """Summary numbers (not the arrays): model, shape, failures, medians, options."""
        ok = ~self.failed
        return {"model": self.model, "shape": list(self.shape), "maps": sorted(self.maps),
                "n_failed": int(self.failed.sum()), "failure_fraction": self.failure_fraction,
                "median": self.medians(),
                "median_r2": float(np.median(self.r2[ok])) if ok.any() else float("nan"),
                "options": dict(self.options)}

    def summary(self) -> str:
        d = self.to_dict()
        meds = ", ".join(f"{k} {v:.4g}" for k, v in d["median"].items())
        return (f"{self.model} fit of {int(np.prod(self.shape))} pixels: {d['n_failed']} failed "
                f"({100 * d['failure_fraction']:.1f} %); medians {meds}; median R² "
                f"{d['median_r2']:.4f}")


@dataclass(frozen=True, eq=False)
class PixelData:
    """Images and timings flattened to ``(N, m)`` with the pixels that cannot be fitted."""

    t: np.ndarray
    y: np.ndarray
    invalid: np.ndarray
    shape: tuple[int, ...]
    timings: np.ndarray


def prepare_pixels(images, timings_ms, *, where: str, min_images: int,
                   allow_inf: bool = False) -> PixelData:
    """Validate and flatten ``images (..., m)`` and ``timings_ms`` (``(m,)`` or broadcastable).

    Non-finite samples and constant signals mark a pixel ``invalid`` (it is fitted on zeros and
    reported as failed) instead of raising: garbage pixels are part of real maps. Timings must
    be finite (``+inf`` allowed when ``allow_inf``: fully recovered or saturation-prepared
    images) and the images real.

    Raises
    ------
    ValueError
        Complex or non-numeric images, fewer than ``min_images`` images, timings that do not
        broadcast, or non-finite/negative timings.
    """
    img = np.asarray(images)
    if img.dtype.kind not in "fiub":
        raise ValueError(f"{where}: `images` must be real (take the magnitude or the real part "
                         f"first); got dtype {img.dtype}")
    img = img.astype(np.float64)
    if img.ndim < 1 or img.shape[-1] < min_images:
        raise ValueError(f"{where}: `images` must have at least {min_images} weighted images "
                         f"on the last axis (..., n_images); got shape {img.shape}")
    t = np.asarray(timings_ms, dtype=np.float64)
    try:
        tb = np.broadcast_to(t, img.shape)
    except ValueError:
        raise ValueError(f"{where}: `timings_ms` of shape {t.shape} does not broadcast to the "
                         f"images {img.shape} (give (n_images,) or per-slice (..., n_images))"
                         ) from None
    bad_t = np.isnan(tb) | (tb < 0) | (np.isinf(tb) if not allow_inf else np.isneginf(tb))
    if bad_t.any():
        allowed = "finite and >= 0" + (" (or +inf)" if allow_inf else "")
        raise ValueError(f"{where}: `timings_ms` must be {allowed}; got {t.ravel()[:12]}")
    shape = img.shape[:-1]
    m = img.shape[-1]
    y = img.reshape(-1, m)
    tt = np.ascontiguousarray(tb).reshape(-1, m)
    finite = np.isfinite(y).all(axis=1)
    y = np.where(np.isfinite(y), y, 0.0)
    constant = np.ptp(y, axis=1) == 0
    return PixelData(t=tt, y=y, invalid=~finite | constant, shape=shape, timings=t)


def goodness_of_fit(y: np.ndarray, fitted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RMS residual and ``R² = 1 − SSE/SST`` per pixel of ``(N, m)`` data and fit."""
    resid = y - fitted
    sse = np.sum(resid * resid, axis=1)
    sst = np.sum((y - y.mean(axis=1, keepdims=True)) ** 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(sst > 0, 1.0 - sse / sst, np.nan)
    return np.sqrt(sse / y.shape[1]), r2


def assemble(pix: PixelData, model: str, maps: Mapping[str, np.ndarray], fitted: np.ndarray,
             y: np.ndarray, failed: np.ndarray, options: Mapping[str, Any]) -> MapFit:
    """A :class:`MapFit` from flat ``(N,)`` maps, the fitted and fitted-to signals ``(N, m)``
    and the flat failure mask (invalid input pixels are added); failed pixels become NaN."""
    failed = np.asarray(failed, bool) | pix.invalid
    rmse, r2 = goodness_of_fit(y, fitted)
    failed |= ~np.isfinite(rmse)

    def shaped(a):
        return np.where(failed, np.nan, a).reshape(pix.shape)

    return MapFit(model=model, maps={k: shaped(np.asarray(v, float)) for k, v in maps.items()},
                  rmse=shaped(rmse), r2=shaped(r2), failed=failed.reshape(pix.shape),
                  timings_ms=pix.timings, options=dict(options))

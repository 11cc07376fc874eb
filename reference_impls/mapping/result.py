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
    attempted : ndarray of bool ``(...)``
        Pixels the fit was asked for (the ``mask`` of the fit; all pixels without one).
        Pixels outside it are NaN and not counted as failed.
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
    attempted: np.ndarray
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
        """Fraction of the attempted pixels that failed (0 when none was attempted)."""
        n = int(self.attempted.sum())
        return float(self.failed.sum()) / n if n else 0.0

    def medians(self) -> dict[str, float]:
        """Median of every map over the pixels that did not fail (NaN if all failed)."""
        ok = self.attempted & ~self.failed
        return {k: (float(np.median(v[ok])) if ok.any() else float("nan"))
                for k, v in self.maps.items()}

    def to_dict(self) -> dict[str, Any]:
        """Summary numbers (not the arrays): model, shape, failures, medians, options."""
        ok = self.attempted & ~self.failed
        return {"model": self.model, "shape": list(self.shape), "maps": sorted(self.maps),
                "n_attempted": int(self.attempted.sum()),
                "n_failed": int(self.failed.sum()), "failure_fraction": self.failure_fraction,
                "median": self.medians(),
                "median_r2": float(np.median(self.r2[ok])) if ok.any() else float("nan"),
                "options": dict(self.options)}

    def summary(self) -> str:
        d = self.to_dict()
        meds = ", ".join(f"{k} {v:.4g}" for k, v in d["median"].items())
        return (f"{self.model} fit of {d['n_attempted']} pixels: {d['n_failed']} failed "
                f"({100 * d['failure_fraction']:.1f} %); medians {meds}; median R² "
                f"{d['median_r2']:.4f}")


@dataclass(frozen=True, eq=False)
class PixelData:
    """The pixels to fit, flattened to ``(n, m)``, and where they sit in the map.

    ``t``, ``y``: timings and signals of the ``n`` fittable pixels (``ok``); ``ok`` and
    ``attempted``: flat masks over all pixels of ``shape``."""

    t: np.ndarray
    y: np.ndarray
    ok: np.ndarray
    attempted: np.ndarray
    shape: tuple[int, ...]
    timings: np.ndarray


def prepare_pixels(images, timings_ms, *, where: str, min_images: int,
                   allow_inf: bool = False, mask=None) -> PixelData:
    """Validate and flatten ``images (..., m)`` and ``timings_ms`` (``(m,)`` or broadcastable).

    Only pixels inside ``mask`` (broadcastable to ``images.shape[:-1]``; default all) are
    attempted. Non-finite samples and constant signals make an attempted pixel unfittable (it
    is reported as failed) instead of raising: garbage pixels are part of real maps. Timings
    must be finite (``+inf`` allowed when ``allow_inf``: fully recovered or
    saturation-prepared images) and the images real.

    Raises
    ------
    ValueError
        Complex or non-numeric images, fewer than ``min_images`` images, timings or a mask
        that do not broadcast, or non-finite/negative timings.
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
    attempted = np.ones(shape, bool) if mask is None else np.asarray(mask, bool)
    try:
        attempted = np.broadcast_to(attempted, shape).ravel()
    except ValueError:
        raise ValueError(f"{where}: `mask` of shape {np.shape(mask)} does not broadcast to the "
                         f"pixels {shape}") from None
    y = img.reshape(-1, m)
    finite = np.isfinite(y).all(axis=1)
    constant = np.zeros(len(y), bool)
    constant[finite] = np.ptp(y[finite], axis=1) == 0
    ok = attempted & finite & ~constant
    tt = np.broadcast_to(tb, img.shape).reshape(-1, m)
    return PixelData(t=np.ascontiguousarray(tt[ok]), y=y[ok], ok=ok, attempted=attempted,
                     shape=shape, timings=t)


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
    """A :class:`MapFit` from the maps ``(n,)``, fitted and fitted-to signals ``(n, m)`` and
    failures ``(n,)`` of the fitted pixels; unfittable attempted pixels fail, pixels outside
    the mask are NaN, every failed pixel is NaN."""
    rmse, r2 = goodness_of_fit(y, fitted)
    bad = np.asarray(failed, bool) | ~np.isfinite(rmse)
    failed_all = pix.attempted.copy()
    failed_all[pix.ok] = bad
    keep = pix.ok.copy()
    keep[pix.ok] = ~bad

    def full(values):
        out = np.full(pix.ok.shape, np.nan)
        out[pix.ok] = values
        return np.where(keep, out, np.nan).reshape(pix.shape)

    return MapFit(model=model, maps={k: full(np.asarray(v, float)) for k, v in maps.items()},
                  rmse=full(rmse), r2=full(r2), failed=failed_all.reshape(pix.shape),
                  attempted=pix.attempted.reshape(pix.shape), timings_ms=pix.timings,
                  options=dict(options))

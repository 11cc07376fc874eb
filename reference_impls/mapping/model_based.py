"""Model-based mapping methods of the ``mapping`` stage: MRF dictionary matching and the
Bloch-model fit, which simulate the acquisition itself.

Both declare ``needs_acquisition = True``: the stage calls them as ``method(images,
timings_ms, acquisition)`` with the series' :class:`suite.mr.sequences.MappingAcquisition`
(what the raw-data headers carry: sequence name, per-image timings and trigger times, trigger
delay, readout parameters). From it they rebuild the sequence description and the RR intervals
(:meth:`~suite.mr.sequences.MappingAcquisition.rr_ms`); a header field they need and the data
lack is a one-line ``ValueError`` naming it. Both return a
:class:`~reference_impls.mapping.result.MapFit` with ``t1_ms`` and ``t2_ms`` maps.

* ``mrf-dictionary`` (:class:`MRFDictionaryMethod`): a dictionary simulated per series
  (per slice) for its RR intervals, matched by the maximum normalised inner product
  (:mod:`reference_impls.mapping.mrf`). Option ``rr: actual`` (default; Hamilton et al., MRM
  2017;77:1446, doi 10.1002/mrm.26216: a dictionary per scan from the subject's RR intervals)
  or ``nominal`` (a constant RR — the mean of the actual ones, or ``60000/heart_rate_bpm`` —,
  what a dictionary without the subject's ECG assumes). Runs on series with timings
  ``TI+TE`` (cardiac MRF).
* ``bloch-fit`` (:class:`BlochModelMethod`): Levenberg–Marquardt fit of the simulated
  acquisition (:func:`~reference_impls.mapping.bloch_fit.fit_bloch`), T1 and T2 by default;
  on the phantom, whose acquisition *is* this simulation, it has no model bias (B1 and
  inversion efficiency are assumed ideal: the headers do not carry them). Runs on every
  series whose sequence :meth:`~suite.mr.sequences.MappingAcquisition.sequence_description`
  knows.
"""

from __future__ import annotations

import functools

import numpy as np

from reference_impls.mapping.bloch_fit import FIT_PARAMETERS, fit_bloch
from reference_impls.mapping.methods import MappingMethod
from reference_impls.mapping.mrf import build_dictionary, match, mrf_grid
from reference_impls.mapping.result import MapFit, check_choice, goodness_of_fit
from reference_impls.registry import register
from suite.mr.sequences import RR_MODES, CardiacMRF, window_matrix

__all__ = ["MRFDictionaryMethod", "BlochModelMethod", "TIMING_TAGS"]

#: Timing tags of mapping series (``TI+TE``: cardiac MRF).
TIMING_TAGS = ("TI", "TS", "TE", "TI+TE")


class _ModelMethod(MappingMethod):
    """The model-based methods: ``needs_acquisition`` tells the mapping stage to pass the
    acquisition."""

    needs_acquisition = True

    def _rr(self, acquisition, seq, s):
        return acquisition.rr_ms(seq, slice_index=s, mode=self._options["rr"],
                                 heart_rate_bpm=self._options.get("heart_rate_bpm"))


def _check_images(images, timings_ms, who):
    y = np.asarray(images)
    if y.ndim < 2 or not np.issubdtype(y.dtype, np.number):
        raise ValueError(f"{who}: `images` must be numeric (..., n_images); got shape {y.shape}")
    return y


def _map_fit(model, maps, rmse, r2, failed, attempted, timings_ms, options) -> MapFit:
    bad = failed | ~attempted
    for k in maps:
        maps[k] = np.where(bad, np.nan, maps[k])
    return MapFit(model, maps, np.where(bad, np.nan, rmse), np.where(bad, np.nan, r2), failed,
                  attempted, np.asarray(timings_ms), options)


@functools.lru_cache(maxsize=8)
def _dictionary(seq, rr: tuple, images_per_block, magnitude: bool, grid: tuple):
    matrix = None if images_per_block is None else window_matrix(
        seq.image_windows(int(images_per_block)), seq.n_samples)
    t1, t2 = mrf_grid(*grid)
    return build_dictionary(np.asarray(rr), t1, t2, sequence=seq, image_matrix=matrix,
                            magnitude=magnitude)


@register("mapping", "mrf-dictionary")
class MRFDictionaryMethod(_ModelMethod):
    """MRF dictionary matching (module docstring).

    Parameters
    ----------
    rr : str
        ``"actual"`` (the series' RR intervals) or ``"nominal"`` (constant RR).
    heart_rate_bpm : float, optional
        ``rr="nominal"``: the stated heart rate (default: the mean of the actual RR).
    step : float
        Relative grid step of T1 and T2 (:func:`~reference_impls.mapping.mrf.mrf_grid`).
    t1_range_ms, t2_range_ms : (float, float)
        Grid ranges.
    """

    name = "mrf-dictionary"
    timing = "TI+TE"   # the stage runs it on series with TI and TE timings (cardiac MRF)

    def __init__(self, rr: str = "actual", heart_rate_bpm: float | None = None,
                 step: float = 0.05, t1_range_ms=(50.0, 3000.0), t2_range_ms=(10.0, 300.0)):
        check_choice(rr, RR_MODES, name="rr", where=self.name)
        if not 0.0 < float(step) < 1.0:
            raise ValueError(f"{self.name}: step must be in (0, 1); got {step}")
        super().__init__(rr=rr, heart_rate_bpm=heart_rate_bpm, step=float(step),
                         t1_range_ms=tuple(float(v) for v in t1_range_ms),
                         t2_range_ms=tuple(float(v) for v in t2_range_ms))

    def dictionary(self, acquisition, slice_index: int = 0, magnitude: bool = True):
        """The dictionary of one slice of ``acquisition`` (cached in the process per sequence,
        RR series, image windows and grid: the jobs of one series under several conditions
        and reconstructions share it)."""
        seq = acquisition.sequence_description(who=self.name)
        if not isinstance(seq, CardiacMRF):
            raise ValueError(f"{self.name}: needs a cardiac MRF series; got sequence "
                             f"{acquisition.sequence!r}")
        rr = self._rr(acquisition, seq, slice_index)
        o = self._options
        return _dictionary(seq, tuple(rr.tolist()), acquisition.images_per_block, magnitude,
                           (o["t1_range_ms"], o["t2_range_ms"], o["step"]))

    def __call__(self, images, timings_ms, acquisition) -> MapFit:
        y = _check_images(images, timings_ms, self.name)
        magnitude = not np.iscomplexobj(y)
        maps = {k: np.full(y.shape[:-1], np.nan) for k in ("t1_ms", "t2_ms", "m0")}
        fitted = np.zeros(y.shape, np.complex128)
        failed = np.zeros(y.shape[:-1], bool)
        for s in range(y.shape[0]):
            d = self.dictionary(acquisition, s, magnitude)
            m = match(d, y[s])
            for k in ("t1_ms", "t2_ms"):
                maps[k][s] = m.maps[k]
            m0 = np.where(m.failed, 0.0, m.maps["m0"])
            maps["m0"][s] = np.abs(m0) if magnitude else np.nan
            atoms = d.atoms.numpy()[np.where(m.failed, 0, m.index)]
            fitted[s] = (m0 * d.norms[np.where(m.failed, 0, m.index)])[..., None] * atoms
            failed[s] = m.failed
        n = y.shape[-1]
        rmse, r2 = goodness_of_fit(np.abs(y).reshape(-1, n), np.abs(fitted).reshape(-1, n))
        rmse, r2 = rmse.reshape(failed.shape), r2.reshape(failed.shape)
        return _map_fit(self.name, maps, rmse, r2, failed, np.ones_like(failed), timings_ms,
                        self.params())


@register("mapping", "bloch-fit")
class BlochModelMethod(_ModelMethod):
    """Bloch-model fit of the simulated acquisition (module docstring).

    Parameters
    ----------
    fit : list of str
        Relaxation times to fit (``t1_ms``, ``t2_ms``; default both).
    t1_ms, t2_ms : float, optional
        Assumed value of the one not fitted.
    rr : str
        ``"actual"`` or ``"nominal"`` RR intervals (as ``mrf-dictionary``).
    heart_rate_bpm : float, optional
    threshold : float
        Pixels whose largest signal is below ``threshold`` × the image's largest are not
        fitted (background; NaN, not counted as failed).
    n_iter : int
        Levenberg–Marquardt iterations.
    timing : str, optional
        Restrict the method to series with this timing tag (``TI``, ``TS``, ``TE``, ``TI+TE``),
        e.g. ``TI`` to fit the MOLLI series of a cohort and not its MRF series (whose fit
        simulates 705 FISP pulses with 20 EPG states per iteration: minutes per image).
    """

    name = "bloch-fit"

    def __init__(self, fit=FIT_PARAMETERS, t1_ms: float | None = None,
                 t2_ms: float | None = None, rr: str = "actual",
                 heart_rate_bpm: float | None = None, threshold: float = 0.05, n_iter: int = 30,
                 timing: str | None = None):
        if timing is not None:
            check_choice(timing, TIMING_TAGS, name="timing", where=self.name)
            self.timing = timing     # the mapping stage runs it on these series only
        fit = tuple(fit)
        for f in fit:
            check_choice(f, FIT_PARAMETERS, name="fit", where=self.name)
        check_choice(rr, RR_MODES, name="rr", where=self.name)
        known = {k: v for k, v in (("t1_ms", t1_ms), ("t2_ms", t2_ms)) if v is not None}
        missing = [k for k in FIT_PARAMETERS if k not in fit and k not in known]
        if missing:
            raise ValueError(f"{self.name}: give {missing[0]} (assumed) when it is not fitted")
        super().__init__(fit=list(fit), rr=rr, heart_rate_bpm=heart_rate_bpm,
                         threshold=float(threshold), n_iter=int(n_iter), timing=timing,
                         **{k: float(v) for k, v in known.items()})

    def __call__(self, images, timings_ms, acquisition) -> MapFit:
        y = _check_images(images, timings_ms, self.name)
        o = self._options
        seq = acquisition.sequence_description(who=self.name)
        matrix = acquisition.image_matrix(seq)
        n_states = 20 if isinstance(seq, CardiacMRF) else 1
        known = {k: o[k] for k in FIT_PARAMETERS if k in o and k not in o["fit"]}
        peak = np.abs(y).max(-1)
        attempted = peak >= o["threshold"] * (float(peak.max()) if peak.size else 0.0)
        maps = {k: np.full(y.shape[:-1], np.nan) for k in ("t1_ms", "t2_ms", "m0")}
        rmse = np.full(y.shape[:-1], np.nan)
        failed = np.zeros(y.shape[:-1], bool)
        for s in range(y.shape[0]):
            sel = attempted[s]
            if not sel.any():
                continue
            r = fit_bloch(seq, self._rr(acquisition, seq, s), y[s][sel], fit=tuple(o["fit"]),
                          known=known, n_iter=o["n_iter"], n_states=n_states,
                          image_matrix=matrix)
            for k in maps:
                maps[k][s][sel] = np.real(r.maps[k]) if k != "m0" else np.abs(r.maps[k])
            failed[s][sel] = r.failed
            rmse[s][sel] = r.rmse
        a = np.abs(y)
        sst = ((a - a.mean(-1, keepdims=True)) ** 2).sum(-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(sst > 0, 1.0 - rmse ** 2 * y.shape[-1] / sst, np.nan)
        return _map_fit(self.name, maps, rmse, r2, failed, attempted, timings_ms, self.params())

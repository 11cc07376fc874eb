"""The mapping stage: weighted images → a T1 or T2 map, scored against the truth maps of the
phantom and against the fit of the fully sampled images.

Consumes ``recon`` (each reconstruction of the undersampled weighted images; the fully
sampled images under a fully sampled condition). Methods are called as
``method(images, timings_ms) -> MapFit`` — ``images`` ``(slice, y, x, n_images)`` float64
magnitude, ``timings_ms`` ``(slice, 1, 1, n_images)`` (TI, TS or TE, ``+inf`` for an image
without preparation; :mod:`suite.stages.mapping.inputs`) — returning a
:class:`reference_impls.mapping.MapFit`, a mapping of maps, or the map itself; a predictions
folder as ``method.predict(case, condition, recon_label)``. The output is the map of the
series' quantity (``t1_ms`` for TI/TS series, ``t2_ms`` for TE series) ``(slice, y, x)``
float64 in ms, NaN where the fit failed.

A method with a ``timing`` attribute (the reference fits: ``TI``, ``TS``, ``TE``) runs only on
the series whose discovery tags carry that timing (a MOLLI fit is not run on a T2-prep series);
other methods run on every series.

Rows (``stage = "mapping"``, :mod:`suite.stages.mapping.scoring`): accuracy, precision and
failure fraction per region and per AHA segment, ``profile = "truth"`` against the phantom's
truth maps and ``profile = "reference-fit"`` against the same method's fit of the fully
sampled images (undersampled conditions).
"""

from __future__ import annotations

import functools
import json
from typing import Any, Mapping, Sequence

import numpy as np

from suite.stages.base import Stage, StageCall
from suite.stages.mapping.inputs import (QUANTITY_OF_TIMING, case_quantity, timings_array,
                                         weighted_images)
from suite.stages.mapping.scoring import (MAPPING_SETTINGS, ROI_MODES, map_rows,
                                          mapping_settings)

__all__ = ["MappingStage", "method_timing"]


@functools.lru_cache(maxsize=64)
def _registered_timing(name: str, params_json: str) -> str | None:
    import reference_impls

    try:
        method = reference_impls.get("mapping", name, **json.loads(params_json))
    except (ValueError, TypeError):
        return None
    return getattr(method, "timing", None)


def method_timing(entry: Mapping[str, Any]) -> str | None:
    """The timing key (``TI``, ``TS``, ``TE``) a reference-method entry fits, from the method's
    ``timing`` attribute; None for plugins, predictions and methods without one."""
    if "name" not in entry:
        return None
    return _registered_timing(entry["name"], json.dumps(entry.get("params") or {},
                                                         sort_keys=True, default=str))


def _as_map(output, quantity: str) -> np.ndarray:
    """The ``{quantity}_ms`` map of a MapFit, a mapping of maps or an array; failed pixels
    (a MapFit's ``failed``) set to NaN."""
    name = f"{quantity}_ms"
    if hasattr(output, "maps"):
        m = np.array(output.maps[name], dtype=np.float64)
        failed = getattr(output, "failed", None)
        if failed is not None:
            m[np.broadcast_to(np.asarray(failed, bool), m.shape)] = np.nan
        return m
    if isinstance(output, Mapping):
        return np.asarray(output[name], dtype=np.float64)
    return np.asarray(output, dtype=np.float64)


class MappingStage(Stage):
    """See the module docstring."""

    name = "mapping"
    consumes = ("recon",)
    produces = "T1 or T2 map (slice, y, x) float64, ms, NaN where the fit failed"
    interface = ("method(images (slice, y, x, n_images), timings_ms (slice, 1, 1, n_images)) "
                 "-> MapFit; predictions: DIR/<dataset>/<subject>/<condition>__<recon>.npy")
    metric_groups = ("mapping",)

    def method_entries(self, protocol_entries: Sequence[dict], case_ref,
                       condition: Mapping[str, Any]) -> list[dict]:
        timing = (getattr(case_ref, "tags", None) or {}).get("timing")
        if not timing:
            return list(protocol_entries)
        return [e for e in protocol_entries if method_timing(e) in (None, timing)]

    def validate_settings(self, validator, metrics: Mapping[str, Any]) -> None:
        from suite.metrics.aha import CONVENTIONS

        cfg = metrics.get("mapping")
        if isinstance(cfg, dict):
            key = "metrics.mapping"
            validator.unknown_keys(cfg, set(MAPPING_SETTINGS), key)
            validator.list_of_strings(cfg, "regions", non_empty=True, prefix=key)
            validator.list_of_strings(cfg, "segments", options=CONVENTIONS, prefix=key)
            validator.boolean(cfg, "scores", prefix=key)
            validator.boolean(cfg, "reference_fit", prefix=key)
            validator.option(cfg, "roi", ROI_MODES, prefix=key)
        elif cfg is not None:
            validator.boolean(metrics, "mapping", prefix="metrics")

    def produce(self, call: StageCall, method):
        if getattr(method, "needs_case", False):
            return method.predict(call.case, call.condition.name, call.labels.get("recon"))
        return method(weighted_images(call.upstream["recon"]), timings_array(call.case))

    def check_output(self, call: StageCall, output, method_label: str) -> np.ndarray:
        q = case_quantity(call.case)
        try:
            m = _as_map(output, q)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"mapping method {method_label!r} returned no {q}_ms map "
                             f"({type(exc).__name__}: {exc})") from None
        expected = (call.case.n_slices, *call.case.image_shape[2:])
        if m.shape != expected:
            raise ValueError(f"mapping method {method_label!r} returned a map of shape "
                             f"{m.shape}; expected (slice, y, x) = {expected}")
        m[~np.isfinite(m)] = np.nan
        return m

    def score(self, call: StageCall, output) -> list[dict]:
        if call.settings.get("mapping", True) is False:
            return []
        case, cfg = call.case, mapping_settings(call.settings)
        truth = case.truth or {}
        q = case_quantity(case)
        if "regions" not in truth:
            return []  # no ROI to score in (real data: left to a segmentation of the map)
        rows = []
        if f"{q}_ms" in truth:
            rows += map_rows(truth[f"{q}_ms"], output, truth, q, cfg, reference_source="truth")
        ref = self._reference_fit(call) if cfg["reference_fit"] else None
        if ref is not None:
            rows += map_rows(ref, output, truth, q, cfg, reference_source="reference-fit")
        return rows

    def _reference_fit(self, call: StageCall) -> np.ndarray | None:
        """The job's method fitted to the fully sampled images (None when the job's images
        are those, or the method cannot be re-run)."""
        from suite.stages.recon.reference import PSEUDO_METHODS, reference_magnitude

        if call.labels.get("recon") in PSEUDO_METHODS or call.resolve is None:
            return None
        method = call.resolve(call.entry, self.name)
        if getattr(method, "needs_case", False):
            return None
        images = reference_magnitude(call.condition.reference_case(call.case))
        if images is None:
            return None
        return self.check_output(call, method(weighted_images(images), timings_array(call.case)),
                                 call.label)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "timings": dict(QUANTITY_OF_TIMING)}

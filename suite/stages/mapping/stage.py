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

A model-based method (MRF dictionary, Bloch-model fit) declares ``needs_acquisition = True``
and is called ``method(images, timings_ms, acquisition)`` with the series'
:class:`~suite.mr.sequences.MappingAcquisition` (what the headers carry:
:mod:`suite.stages.mapping.acquisition`).

A method with a ``timing`` attribute (the reference fits: ``TI``, ``TS``, ``TE``; the MRF
dictionary ``TI+TE``) runs only on the series whose discovery tags carry that timing (a MOLLI
fit is not run on a T2-prep series); other methods run on every series.

A series with several fitting timings maps several quantities (cardiac MRF: ``TI`` and ``TE``
→ T1 and T2, :func:`~suite.stages.mapping.inputs.case_quantities`): its output is then
``(quantity, slice, y, x)`` in that order, and every quantity is scored (rows ``t1_*`` and
``t2_*``).

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
from suite.stages.mapping.audit import (CHALLENGE_PROFILE, challenge_reference_map,
                                        validate_challenge_reference)
from suite.stages.mapping.inputs import QUANTITY_OF_TIMING, case_quantities, timing_key
from suite.stages.mapping.refit import fit_inputs, reference_fit
from suite.stages.mapping.scoring import (MAPPING_SETTINGS, map_rows, mapping_settings,
                                          validate_map_settings)

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


def _is_array(output) -> bool:
    return not hasattr(output, "maps") and not isinstance(output, Mapping)


def _run(method, images, case):
    """Call ``method`` on recon output ``images`` ``(slice, frame, y, x)`` of ``case``
    (:func:`~suite.stages.mapping.refit.fit_inputs`)."""
    return method(*fit_inputs(method, images, case))


class MappingStage(Stage):
    """See the module docstring."""

    name = "mapping"
    consumes = ("recon",)
    produces = ("T1 or T2 map (slice, y, x) float64, ms, NaN where the fit failed; "
                "(quantity, slice, y, x) for a series mapping T1 and T2 (cardiac MRF)")
    interface = ("method(images (slice, y, x, n_images), timings_ms (slice, 1, 1, n_images)"
                 "[, acquisition if method.needs_acquisition]) -> MapFit; predictions: "
                 "DIR/<dataset>/<subject>/<condition>__<recon>.npy")
    metric_groups = ("mapping",)

    def method_entries(self, protocol_entries: Sequence[dict], case_ref,
                       condition: Mapping[str, Any]) -> list[dict]:
        timing = (getattr(case_ref, "tags", None) or {}).get("timing")
        if not timing:
            return list(protocol_entries)
        return [e for e in protocol_entries if method_timing(e) in (None, timing)]

    def validate_settings(self, validator, metrics: Mapping[str, Any]) -> None:
        cfg = validate_map_settings(validator, metrics, "mapping", MAPPING_SETTINGS)
        if cfg is not None:
            validate_challenge_reference(validator, cfg, "metrics.mapping")

    def produce(self, call: StageCall, method):
        if getattr(method, "needs_case", False):
            return method.predict(call.case, call.condition.name, call.labels.get("recon"))
        return _run(method, call.upstream["recon"], call.case)

    def check_output(self, call: StageCall, output, method_label: str) -> np.ndarray:
        quantities = case_quantities(call.case)
        expected = (call.case.n_slices, *call.case.image_shape[2:])
        maps = []
        for q in quantities:
            try:
                m = _as_map(output, q) if len(quantities) == 1 or not _is_array(output) \
                    else np.asarray(output, np.float64)[quantities.index(q)]
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                raise ValueError(f"mapping method {method_label!r} returned no {q}_ms map "
                                 f"({type(exc).__name__}: {exc})") from None
            if m.shape != expected:
                raise ValueError(f"mapping method {method_label!r} returned a {q} map of shape "
                                 f"{m.shape}; expected (slice, y, x) = {expected}")
            m = np.array(m, np.float64)
            m[~np.isfinite(m)] = np.nan
            maps.append(m)
        return maps[0] if len(maps) == 1 else np.stack(maps)

    def score(self, call: StageCall, output) -> list[dict]:
        if call.settings.get("mapping", True) is False:
            return []
        case, cfg = call.case, mapping_settings(call.settings)
        truth = case.truth or {}
        quantities = case_quantities(case)
        if "regions" not in truth:
            return []  # no ROI to score in (real data: left to a segmentation of the map)
        ref = self.reference_fit(call) if cfg["reference_fit"] else None
        rows = []
        for i, q in enumerate(quantities):
            out = output if len(quantities) == 1 else output[i]
            if f"{q}_ms" in truth:
                rows += map_rows(truth[f"{q}_ms"], out, truth, q, cfg, reference_source="truth")
            if ref is not None:
                rows += map_rows(ref if len(quantities) == 1 else ref[i], out, truth, q, cfg,
                                 reference_source="reference-fit")
        if cfg["challenge_reference"] and len(quantities) == 1:  # a challenge's T1 or T2 fit
            audit = challenge_reference_map(call, cfg["challenge_reference"],
                                            timing_key(case), self.check_output)
            if audit is not None:
                rows += map_rows(audit, output, truth, quantities[0], cfg,
                                 reference_source=CHALLENGE_PROFILE)
        return rows

    def reference_fit(self, call: StageCall) -> np.ndarray | None:
        """The job's method fitted to the fully sampled images, read-only (None when the job's
        images are those, or the method cannot be re-run); a reference method's fit is
        remembered per process (:func:`suite.stages.mapping.refit.reference_fit`: the
        undersampled jobs of a series all ask for it)."""
        from suite.stages.recon.reference import PSEUDO_METHODS, reference_magnitude

        if call.labels.get("recon") in PSEUDO_METHODS or call.resolve is None:
            return None
        method = call.resolve(call.entry, self.name)
        if getattr(method, "needs_case", False):
            return None
        images = reference_magnitude(call.condition.reference_case(call.case))
        if images is None:
            return None
        return reference_fit(method, call.entry, images, call.case,
                             lambda out: self.check_output(call, out, call.label))

    def attack_surface(self, call: StageCall, method):
        """The weighted images of the scored pixels and the method as a map of them
        (:mod:`suite.stages.mapping.attack`; white box for a method with
        ``differentiable_map``)."""
        from suite.stages.mapping.attack import mapping_attack_surface

        if getattr(method, "needs_case", False):
            return None
        return mapping_attack_surface(call, method, _as_map)

    def output_of(self, call: StageCall, forward_output) -> np.ndarray:
        from suite.stages.mapping.attack import perturbed_map

        return perturbed_map(call, forward_output)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "timings": dict(QUANTITY_OF_TIMING)}

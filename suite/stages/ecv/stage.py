"""The ECV stage: extracellular volume from a subject's native and post-contrast T1 maps.

A derived stage consuming ``mapping``. Its job is the mapping job of a **post-contrast** T1
series (MOLLI, ShMOLLI, SASHA); its companion (:meth:`suite.stages.Stage.companions`) is the
**native** series of the same subject and sequence, found by the discovery tags ``subject``,
``sequence``, ``timing`` and ``contrast``. The runner runs the job's condition and method chain
on the native series too (each reconstruction and T1 fit, from the cache when the native job
already ran), so each method chain yields one ECV map, fitted by the same method twice:

``ECV = 100·(1 − Hct)·ΔR1_myo / ΔR1_blood`` per pixel, ``ΔR1 = 1/T1_post − 1/T1_native``, the
blood values being the means of the two fitted maps over the LV blood pool (its pure pixels,
by default: ``roi``) (:func:`suite.metrics.mapping.ecv_pct`; SCMR/EACVI consensus,
doi 10.1186/s12968-017-0389-8).

Rows (``stage = "ecv"``): the mapping metrics of quantity ``ecv`` (``ecv_mean``, ``ecv_bias``,
``ecv_relative_bias_pct``, ``ecv_rmse``, ... in %) per region and AHA segment
(:func:`suite.stages.mapping.scoring.map_rows`), ``profile = "truth"`` against the phantom's
truth ECV (exact: ``ECV = (1 − Hct)·λ`` holds by construction of its contrast model) and, under
an undersampled condition, ``profile = "reference-fit"`` against the ECV of the same method's
fits of the fully sampled native and post-contrast images; and one ``haematocrit`` row saying
which value was used and, in ``profile``, where it came from.

Haematocrit, first found of: the case's truth (``truth["haematocrit"]``: the phantom's contrast
model), the case's metadata (``meta.extra["haematocrit"]``, e.g. a reader's header value), the
protocol's ``metrics.ecv.haematocrit`` (a lab value for the cohort). Without one, no ECV rows.

``metrics.ecv`` (all optional; ``false``: no ECV rows)::

    regions: [myocardium]      # ROIs by region name ("myocardium": the LV wall incl. scar)
    segments: [insertion]      # AHA conventions; [] for none
    scores: false              # whole-map NMSE/PSNR/SSIM of the ECV map
    reference_fit: true        # also against the ECV of the fully sampled fits
    roi: pure                  # pure: pixels wholly inside their region (ROIs, segments and
                               #   the blood pool; suite.stages.mapping.scoring), all: every one
    haematocrit: 0.42          # fraction, used when the case carries none
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np

from suite.metrics.contract import NONE, MetricSpec, metric_row, register_metric
from suite.stages.base import Stage, StageCall
from suite.stages.mapping.inputs import QUANTITY_OF_TIMING

__all__ = ["EcvStage", "ECV_SETTINGS", "ecv_settings", "ecv_map_pct", "haematocrit_of",
           "HAEMATOCRIT_SOURCES"]

#: Keys of ``metrics.ecv`` and their defaults.
ECV_SETTINGS = {"regions": ("myocardium",), "segments": ("insertion",), "scores": False,
                "reference_fit": True, "roi": "pure", "haematocrit": None}
#: Where a haematocrit can come from, in the order they are tried (the row's ``profile``).
HAEMATOCRIT_SOURCES = ("case-truth", "case-meta", "protocol")
#: Discovery tags that must agree between a post-contrast series and its native companion.
PAIR_TAGS = ("subject", "sequence", "timing")

register_metric(MetricSpec("haematocrit", "1", NONE, "blood haematocrit used for ECV",
                           "ecv", "fraction; profile says where it came from: "
                           + ", ".join(HAEMATOCRIT_SOURCES)))


def ecv_settings(settings: Mapping[str, Any]) -> dict:
    """``metrics.ecv`` with defaults (``true``/absent → all defaults)."""
    from suite.stages.mapping.scoring import mapping_settings

    return mapping_settings(settings, "ecv", ECV_SETTINGS)


def haematocrit_of(case, cfg: Mapping[str, Any]) -> tuple[float | None, str]:
    """``(haematocrit, source)`` of a case (module docstring); ``(None, "")`` without one."""
    for source, value in (("case-truth", (case.truth or {}).get("haematocrit")),
                          ("case-meta", (case.meta.extra or {}).get("haematocrit")),
                          ("protocol", cfg.get("haematocrit"))):
        if value is not None:
            return float(value), source
    return None, ""


def ecv_map_pct(t1_native_ms, t1_post_ms, blood, haematocrit: float) -> np.ndarray:
    """Pixel-wise ECV (%) from native and post-contrast T1 maps ``(slice, y, x)`` (ms, NaN
    where a fit failed) with the blood T1s the means of each map over ``blood`` (bool mask)
    (:func:`suite.metrics.mapping.ecv_pct`); all NaN when the blood pool has no usable pixel."""
    from suite.metrics.mapping import ecv_pct

    native, post = np.asarray(t1_native_ms, float), np.asarray(t1_post_ms, float)
    b_native, b_post = native[blood], post[blood]
    b_native, b_post = b_native[np.isfinite(b_native)], b_post[np.isfinite(b_post)]
    if not b_native.size or not b_post.size:
        return np.full(native.shape, np.nan)
    return np.asarray(ecv_pct(native, post, b_native.mean(), b_post.mean(), haematocrit), float)


class EcvStage(Stage):
    """See the module docstring."""

    name = "ecv"
    consumes = ("mapping",)
    produces = "rows only: ECV (%) per region and AHA segment, against truth and reference fit"
    interface = ("derived from the mapping outputs of a subject's native and post-contrast T1 "
                 "series: ECV = 100 (1 - Hct) dR1_myo / dR1_blood")
    has_methods = False
    metric_groups = ("ecv",)

    def enabled(self, metrics: Mapping[str, Any]) -> bool:
        return metrics.get("ecv", True) is not False

    def companions(self, case_ref, case_refs) -> dict[str, Any]:
        tags = getattr(case_ref, "tags", None) or {}
        if (tags.get("contrast") != "post" or not tags.get("subject")
                or QUANTITY_OF_TIMING.get(tags.get("timing")) != "t1"):
            return {}
        for ref in case_refs:
            other = getattr(ref, "tags", None) or {}
            if other.get("contrast") == "native" and all(other.get(k) == tags.get(k)
                                                         for k in PAIR_TAGS):
                return {"native": ref}
        return {}

    def validate_settings(self, validator, metrics: Mapping[str, Any]) -> None:
        from suite.stages.mapping.scoring import validate_map_settings

        cfg = validate_map_settings(validator, metrics, "ecv", ECV_SETTINGS)
        if cfg is not None:
            validator.number(cfg, "haematocrit", minimum=0.01, maximum=0.99, prefix="metrics.ecv")

    def score(self, call: StageCall, output) -> list[dict]:
        from suite.stages.mapping.scoring import map_rows, region_masks, scoring_pixels

        native = call.companions.get("native")
        truth = call.case.truth or {}
        if native is None or "regions" not in truth:
            return []
        cfg = ecv_settings(call.settings)
        hct, source = haematocrit_of(call.case, cfg)
        blood = region_masks(truth, ("lv_blood",),
                             scoring_pixels(truth, cfg["roi"])).get("lv_blood")
        if hct is None or blood is None:
            return []
        ecv = ecv_map_pct(native.output, output, blood, hct)
        rows = [metric_row("haematocrit", hct, profile=source).to_dict()]
        if "ecv" in truth:
            rows += map_rows(100.0 * np.asarray(truth["ecv"], float), ecv, truth, "ecv", cfg,
                             reference_source="truth")
        if cfg["reference_fit"]:
            from suite.stages.mapping.stage import MappingStage

            mapping = MappingStage()
            post_ref = mapping.reference_fit(dataclasses.replace(
                call, stage=mapping.name, entry=call.entries.get(mapping.name) or {}))
            native_ref = mapping.reference_fit(native.call) if post_ref is not None else None
            if native_ref is not None:
                rows += map_rows(ecv_map_pct(native_ref, post_ref, blood, hct), ecv, truth,
                                 "ecv", cfg, reference_source="reference-fit")
        return [{**r, "stage": self.name} for r in rows]

"""Scoring of the mapping stage: rows of :mod:`suite.metrics.mapping` per region and AHA
segment, against the truth maps or against the fit of the fully sampled images.

``metrics.mapping`` (all optional)::

    regions: [myocardium, lv_blood]   # ROIs by region name; "myocardium" is the whole LV wall
                                      #   (myocardium and scar), others one region each
    segments: [insertion]             # AHA conventions (suite.metrics.aha.CONVENTIONS); [] none
    scores: true                      # whole-map NMSE/PSNR/SSIM (CMRxRecon map scoring)
    reference_fit: true               # also score against the same method's fit of the fully
                                      #   sampled images (profile "reference-fit")
    challenge_reference: {name, params}  # also score against this reference method's fit of the
                                      #   fully sampled images (profile "challenge-reference";
                                      #   suite.stages.mapping.audit)
    roi: pure                         # pure: only pixels wholly inside their region (the
                                      #   truth's ``purity`` map = 1), all: every pixel of it

ROIs and AHA segments hold only pure pixels by default: a pixel on a tissue boundary mixes the
signals of two tissues, and its apparent T1/T2 is neither tissue's truth (partial volume), so
scoring it against its majority region's value charges a method with an error of the voxel
size, not of the fit. A myocardial ROI drawn in practice avoids the blood-pool boundary for the
same reason (SCMR/EACVI consensus, Messroghli et al., JCMR 2017, doi
10.1186/s12968-017-0389-8). Cases without a ``purity`` map (real data) use every pixel.

Each row's ``profile`` says what the map is compared with: ``truth`` (the phantom's truth
maps, known exactly) or ``reference-fit`` (the conventional reference: the method's own fit of
the fully sampled images, which carries the fit's and the sequence's biases).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

__all__ = ["MAPPING_SETTINGS", "DEFAULT_REGIONS", "ROI_MODES", "mapping_settings",
           "scoring_pixels", "validate_map_settings", "region_masks", "aha_labels", "map_rows"]

#: Keys of ``metrics.mapping`` and their defaults.
MAPPING_SETTINGS = {"regions": ("myocardium", "lv_blood"), "segments": ("insertion",),
                    "scores": True, "reference_fit": True, "roi": "pure",
                    "challenge_reference": None}
#: Values of ``metrics.mapping.roi``.
ROI_MODES = ("pure", "all")
DEFAULT_REGIONS = MAPPING_SETTINGS["regions"]
_WALL = ("myocardium", "scar")  # the LV wall: what a myocardial ROI holds


def mapping_settings(settings: Mapping[str, Any], group: str = "mapping",
                     defaults: Mapping[str, Any] = MAPPING_SETTINGS) -> dict:
    """``metrics.<group>`` (default ``metrics.mapping``) with ``defaults`` (``true``/absent →
    all defaults)."""
    cfg = settings.get(group)
    out = dict(defaults)
    if isinstance(cfg, dict):
        out.update({k: v for k, v in cfg.items() if v is not None})
    return out


def validate_map_settings(validator, metrics: Mapping[str, Any], group: str,
                          keys) -> dict | None:
    """Check ``metrics.<group>`` — ``true``/``false`` or a mapping of ``keys`` with the shared
    map-scoring settings (``regions``, ``segments``, ``scores``, ``reference_fit``, ``roi``) —
    with the protocol's ``validator``; returns the mapping (None for a boolean) so a stage can
    check its own extra keys."""
    from suite.metrics.aha import CONVENTIONS

    cfg = metrics.get(group)
    if isinstance(cfg, dict):
        key = f"metrics.{group}"
        validator.unknown_keys(cfg, set(keys), key)
        validator.list_of_strings(cfg, "regions", non_empty=True, prefix=key)
        validator.list_of_strings(cfg, "segments", options=CONVENTIONS, prefix=key)
        validator.boolean(cfg, "scores", prefix=key)
        validator.boolean(cfg, "reference_fit", prefix=key)
        validator.option(cfg, "roi", ROI_MODES, prefix=key)
        return cfg
    if cfg is not None:
        validator.boolean(metrics, group, prefix="metrics")
    return None


def scoring_pixels(truth: Mapping[str, Any], roi: str = "pure") -> np.ndarray:
    """Pixels ``(slice, y, x)`` that may be scored: with ``roi="pure"`` those wholly inside
    their region (``truth["purity"] == 1``; every pixel when the case has no purity map),
    with ``roi="all"`` every pixel."""
    shape = np.shape(truth["regions"])
    if roi == "all" or truth.get("purity") is None:
        return np.ones(shape, bool)
    if roi != "pure":
        raise ValueError(f"scoring_pixels: `roi` must be one of {ROI_MODES}; got {roi!r}")
    return np.asarray(truth["purity"]) >= 1.0


def region_masks(truth: Mapping[str, Any], names, within=None) -> dict[str, np.ndarray]:
    """Boolean ROI masks ``(slice, y, x)`` by name from the case's ``regions`` codes and
    ``region_names`` (names the case does not have are left out), restricted to ``within``
    (a boolean mask, e.g. :func:`scoring_pixels`) when given."""
    codes = np.asarray(truth["regions"])
    index = {n: i for i, n in enumerate(truth.get("region_names") or ())}
    out = {}
    for name in names:
        members = _WALL if name == "myocardium" else (name,)
        ids = [index[m] for m in members if m in index]
        if ids:
            mask = np.isin(codes, ids)
            out[name] = mask if within is None else mask & within
    return out


def aha_labels(truth: Mapping[str, Any]) -> np.ndarray | None:
    """ACDC-convention labels ``(slice, y, x)`` (1 RV, 2 myocardium incl. scar, 3 LV cavity)
    from the regions, for :func:`suite.metrics.aha.aha_segments`; None without them."""
    masks = region_masks(truth, ("rv_blood", "myocardium", "lv_blood"))
    if len(masks) < 3:
        return None
    lab = np.zeros(np.shape(truth["regions"]), np.uint8)
    lab[masks["rv_blood"]], lab[masks["myocardium"]], lab[masks["lv_blood"]] = 1, 2, 3
    return lab


def map_rows(reference, prediction, truth: Mapping[str, Any], quantity: str,
             cfg: Mapping[str, Any], *, reference_source: str) -> list[dict]:
    """Rows (``stage = "mapping"``) of ``prediction`` against ``reference`` (maps
    ``(slice, y, x)``; NaN = failed) per ROI of ``cfg["regions"]`` (whole-map scores with the
    first ROI when ``cfg["scores"]``) and per AHA segment of each ``cfg["segments"]``
    convention (segments from the whole regions, scored on :func:`scoring_pixels`),
    ``profile = reference_source``."""
    from suite.metrics.aha import aha_segments
    from suite.metrics.mapping import mapping_rows, segmental_rows

    rows = []
    within = scoring_pixels(truth, cfg.get("roi", "pure"))
    for i, (name, roi) in enumerate(region_masks(truth, cfg["regions"], within).items()):
        rows += mapping_rows(reference, prediction, roi=roi, quantity=quantity,
                             reference_source=reference_source, structure=name,
                             scores=bool(cfg["scores"]) and i == 0)
    labels = aha_labels(truth) if cfg["segments"] else None
    for convention in (cfg["segments"] if labels is not None else ()):
        aha = aha_segments(labels, convention=convention)
        rows += segmental_rows(reference, prediction, aha, quantity=quantity,
                               reference_source=reference_source, within=within)
    return [{**r.to_dict(), "stage": "mapping"} for r in rows]

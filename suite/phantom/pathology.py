"""Pathology classes of the phantom cohort and their documented parameter ranges.

Classes follow the ACDC challenge (Bernard et al., IEEE TMI 2018;37:2514, doi
10.1109/TMI.2018.2837502): NOR, DCM, HCM, MINF, ARV. A subject of a class draws each quantity
uniformly from the class range; the LV and RV volume curves are solved so that the analytic
EF equals the drawn value exactly (``suite.phantom.anatomy``), so the truth always lands in
the documented range (tested).

Wall thickness is the end-diastolic LV wall thickness at the equator of the endocardial
ellipsoid (mm), outside an infarct. ``rv_edv_ratio`` is RV EDV / LV EDV. ``avpd_mm`` is the
systolic descent of the base towards the apex (atrioventricular plane displacement): cine MR
gave 16 ± 0 mm (mean ± SE, 12 healthy adults) and 7 ± 1 mm in dilated cardiomyopathy with EF
below 30 % (Carlsson et al., Am J Physiol Heart Circ Physiol 2007;292:H1452); mitral annular
excursion is also reduced in hypertrophic cardiomyopathy with normal EF (JCMR 2014;16:35,
doi 10.1186/1532-429X-16-35); the ranges of the hypertrophic and infarcted classes are
assumptions within those bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

__all__ = ["PathologyRanges", "PATHOLOGIES"]


@dataclass(frozen=True)
class PathologyRanges:
    """Uniform ranges ``(low, high)`` of one pathology class.

    Attributes
    ----------
    name : str
    acdc_class : str
        The ACDC group this class imitates.
    lv_edv_ml, lv_ef_pct, wall_thickness_mm, rv_edv_ratio, rv_ef_pct, heart_rate_bpm :
        tuple of float, (low, high), in mL, %, mm, ratio, % and beats/min.
    infarct : bool
        Whether a regional akinetic (non-thickening, non-moving) sector is drawn.
    description : str
    """

    name: str
    acdc_class: str
    lv_edv_ml: tuple[float, float]
    lv_ef_pct: tuple[float, float]
    wall_thickness_mm: tuple[float, float]
    rv_edv_ratio: tuple[float, float]
    rv_ef_pct: tuple[float, float]
    heart_rate_bpm: tuple[float, float]
    avpd_mm: tuple[float, float]
    infarct: bool
    description: str


PATHOLOGIES: Mapping[str, PathologyRanges] = {
    p.name: p
    for p in (
        PathologyRanges("normal", "NOR", (110, 160), (55, 70), (7, 10), (1.0, 1.2), (50, 65),
                        (55, 80), (13, 18), False, "normal size, wall and function"),
        PathologyRanges("dilated", "DCM", (210, 300), (15, 35), (5.5, 8), (0.8, 1.0),
                        (35, 55), (65, 95), (5, 9), False,
                        "dilated LV with low EF and a thin wall; spherical shape"),
        PathologyRanges("hypertrophic", "HCM", (85, 130), (68, 80), (15, 20), (0.9, 1.1),
                        (55, 70), (55, 75), (8, 12), False,
                        "concentric hypertrophy (thick wall), small cavity, high EF"),
        PathologyRanges("infarcted", "MINF", (150, 220), (28, 42), (7, 10), (0.7, 0.9),
                        (45, 60), (60, 85), (8, 12), True,
                        "regional akinesia: a 70-110 deg mid-apical sector that neither "
                        "thickens nor moves, thinned wall; reduced EF"),
        PathologyRanges("abnormal-rv", "ARV", (100, 150), (55, 68), (7, 10), (1.6, 2.2),
                        (20, 38), (60, 85), (12, 16), False, "dilated, poorly contracting RV"),
    )
}

"""Tissue classes of the phantom and their proton density, T1 and T2 at 1.5 T and 3 T.

Each value is chosen from a cited source (table in ``docs/phantom.md``). Proton density (PD)
is relative (water = 1) and field-independent; T1 and T2 are in ms.

Rendering codes (``CLASS_*``) index tissue classes on the simulation grid; ``ACDC_LABEL`` maps
them to the suite's label convention (0 bg, 1 RV blood pool, 2 LV myocardium, 3 LV blood pool).
The RV free wall is muscle but labelled background, as in ACDC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

__all__ = [
    "TissueProperties", "TISSUE_TABLE", "tissue_properties", "CLASS_NAMES", "CLASS",
    "CLASS_TISSUE", "BLOOD_CLASSES", "ACDC_LABEL", "EXTENDED_LABEL", "N_CLASSES",
]


@dataclass(frozen=True)
class TissueProperties:
    """Relaxation properties of one tissue at one field strength.

    Attributes
    ----------
    pd : float
        Relative proton density (water = 1).
    t1_ms, t2_ms : float
        Longitudinal and transverse relaxation times, ms.
    source : str
        Where the values come from (short citation; full references in docs/phantom.md).
    """

    pd: float
    t1_ms: float
    t2_ms: float
    source: str


_MRX = "PD: MRXCAT cine table (Wissmann et al., JCMR 2014;16:63)"
_STZ = "Stanisz et al., MRM 2005;54:507"
_GOLD = "Gold et al., AJR 2004;183:343"
_ASSUME = "assumption (air-filled lung: low PD), no measurement cited"
_SCAR = ("chronic infarct: T1 = 1.32 x myocardium (native T1 at 3 T 1621 +/- 110 vs remote "
         "1225 +/- 75 ms, multicentre study PMC7363195), T2 as myocardium (not raised in chronic "
         "infarcts, canine study PMC4077784)")
_PERI = "assumption (fibrous pericardium: low PD, short T2, dark in bSSFP), no measurement cited"

#: ``{field strength in T: {tissue: TissueProperties}}``.
TISSUE_TABLE: Mapping[float, Mapping[str, TissueProperties]] = {
    1.5: {
        "blood": TissueProperties(0.95, 1441.0, 290.0, f"{_MRX}; T1/T2 {_STZ}"),
        "myocardium": TissueProperties(
            0.80, 950.0, 52.0,
            f"{_MRX}; T1 Dabir et al., JCMR 2014 (MOLLI); T2 Hanson et al., Radiology 2020"),
        "muscle": TissueProperties(0.80, 1008.0, 44.0, f"{_MRX} (muscle); T1/T2 {_STZ}"),
        "fat": TissueProperties(0.70, 343.0, 58.0, f"{_MRX}; T1/T2 {_GOLD}"),
        "liver": TissueProperties(0.90, 576.0, 46.0, f"{_MRX}; T1/T2 {_STZ}"),
        "lung": TissueProperties(0.10, 1200.0, 40.0, _ASSUME),
        "scar": TissueProperties(0.80, 1254.0, 52.0, _SCAR),
        "pericardium": TissueProperties(0.40, 1008.0, 20.0, _PERI),
        "air": TissueProperties(0.0, 1000.0, 1.0, "no signal"),
    },
    3.0: {
        "blood": TissueProperties(0.95, 1932.0, 275.0, f"{_MRX}; T1/T2 {_STZ}"),
        "myocardium": TissueProperties(
            0.80, 1052.0, 46.0,
            f"{_MRX}; T1 Dabir et al., JCMR 2014 (MOLLI); T2 Hanson et al., Radiology 2020"),
        "muscle": TissueProperties(0.80, 1412.0, 50.0, f"{_MRX} (muscle); T1/T2 {_STZ}"),
        "fat": TissueProperties(0.70, 382.0, 68.0, f"{_MRX}; T1/T2 {_GOLD}"),
        "liver": TissueProperties(0.90, 812.0, 42.0, f"{_MRX}; T1/T2 {_STZ}"),
        "lung": TissueProperties(0.10, 1300.0, 35.0, _ASSUME),
        "scar": TissueProperties(0.80, 1389.0, 46.0, _SCAR),
        "pericardium": TissueProperties(0.40, 1412.0, 20.0, _PERI),
        "air": TissueProperties(0.0, 1000.0, 1.0, "no signal"),
    },
}

#: Rendering class codes → names (index = code).
CLASS_NAMES: tuple[str, ...] = (
    "air", "body", "fat", "lung", "liver", "vessel", "lv_blood", "lv_myo", "rv_blood", "rv_wall",
    "lv_papillary", "lv_trabeculae", "rv_trabeculae", "la_blood", "ra_blood", "aorta_blood",
    "pa_blood", "atrial_wall", "vessel_wall", "epicardial_fat", "pericardium", "scar", "mvo",
)
#: ``{name: code}`` of :data:`CLASS_NAMES`.
CLASS: Mapping[str, int] = {name: code for code, name in enumerate(CLASS_NAMES)}
N_CLASSES = len(CLASS_NAMES)
#: Tissue of each rendering class (keys of :data:`TISSUE_TABLE`).
CLASS_TISSUE: tuple[str, ...] = (
    "air", "muscle", "fat", "lung", "liver", "blood", "blood", "myocardium", "blood", "myocardium",
    "myocardium", "myocardium", "myocardium", "blood", "blood", "blood",
    "blood", "myocardium", "muscle", "fat", "pericardium", "scar", "scar",
)
#: Rendering classes whose signal is blood (flow modulation applies).
BLOOD_CLASSES: tuple[int, ...] = tuple(c for c, t in enumerate(CLASS_TISSUE) if t == "blood")
#: ACDC label of each rendering class (0 bg, 1 RV, 2 MYO, 3 LV): papillary muscles and
#: trabeculae count as cavity, scar as myocardium; atria, vessels, RV free wall, fat and
#: pericardium are background (ACDC contouring rules, Bernard et al. 2018).
ACDC_LABEL = np.array([0, 0, 0, 0, 0, 0, 3, 2, 1, 0, 3, 3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2],
                      dtype=np.uint8)
#: Extended label of each rendering class (:data:`suite.phantom.labels.EXTENDED_LABELS`).
EXTENDED_LABEL = np.array([0, 0, 0, 0, 0, 0, 3, 2, 1, 0, 4, 5, 6, 7, 8, 9, 10, 0, 0, 0, 0, 2, 2],
                          dtype=np.uint8)


def tissue_properties(field_strength_t: float) -> Mapping[str, TissueProperties]:
    """The tissue table at ``field_strength_t`` (1.5 or 3.0 T).

    Raises
    ------
    ValueError
        For a field strength without a table.

    Examples
    --------
    >>> tissue_properties(3.0)["myocardium"].t1_ms
    1052.0
    """
    for b0, table in TISSUE_TABLE.items():
        if abs(float(field_strength_t) - b0) < 1e-6:
            return table
    raise ValueError(
        f"tissue_properties: field_strength_t must be one of {sorted(TISSUE_TABLE)} T; "
        f"got {field_strength_t!r}"
    )

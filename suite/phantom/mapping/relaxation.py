"""Native and post-contrast relaxation of the mapping regions, with a known ECV.

Contrast model (two-compartment, fast water exchange): gadolinium stays extracellular, so a
tissue with extracellular volume fraction ``ECV`` holds ``C = ECV·C_p`` (``C_p`` plasma
concentration, mM) and blood, whose extracellular space is its plasma, ``(1 − Hct)·C_p``.
Relaxation rates add: ``R1 = R1,native + r1·C`` and ``R2 = R2,native + r2·C``. Hence the
partition coefficient ``λ = ΔR1,myo / ΔR1,blood = ECV / (1 − Hct)`` and the clinical formula
``ECV = (1 − Hct)·λ`` (SCMR/EACVI consensus, doi 10.1186/s12968-017-0389-8; Sharma et al.,
JMRI 2006, doi 10.1002/jmri.20504, for λ) recovers the truth exactly from the truth maps.

Native T1/T2/PD come from :data:`suite.phantom.tissue.TISSUE_TABLE` (blood, myocardium; the
body outside the heart is muscle). Default relaxivities are those of gadoterate in plasma,
r1 3.6 / r2 4.3 mM⁻¹s⁻¹ at 1.5 T and 3.5 / 4.9 at 3 T (Rohrer et al., Invest Radiol
2005;40:715, doi 10.1097/01.rli.0000184756.66360.d3; values quoted from memory, unconfirmed
here). Pathology multipliers and ECVs are assumptions inside published ranges, stated in
:data:`MYOCARDIAL_STATES` and docs/mapping-physics.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from suite.phantom.mapping.anatomy import REGIONS
from suite.phantom.tissue import TISSUE_TABLE

__all__ = ["ContrastModel", "MyocardialState", "MYOCARDIAL_STATES", "RelaxationMaps",
           "relaxation_maps", "MAPPING_PATHOLOGIES"]


@dataclass(frozen=True)
class MyocardialState:
    """Myocardial tissue state: multipliers of native T1/T2 and the ECV (fraction)."""

    t1_factor: float
    t2_factor: float
    ecv: float
    description: str


#: States of remote/diffuse myocardium and of the focal scar (assumptions; see module doc).
MYOCARDIAL_STATES = {
    "normal": MyocardialState(1.0, 1.0, 0.25, "healthy myocardium, ECV 25 %"),
    "diffuse-fibrosis": MyocardialState(1.08, 1.0, 0.35,
                                        "expanded interstitium: native T1 +8 %, ECV 35 %"),
    "oedema": MyocardialState(1.06, 1.25, 0.30, "increased water: T2 +25 %, native T1 +6 %, "
                                                "ECV 30 %"),
    "scar": MyocardialState(1.15, 1.1, 0.60, "focal replacement fibrosis: native T1 +15 %, "
                                             "ECV 60 %"),
}
#: Pathologies of the mapping phantom → (state of the myocardium, cine phantom pathology).
MAPPING_PATHOLOGIES = {
    "normal": ("normal", "normal"),
    "diffuse-fibrosis": ("diffuse-fibrosis", "normal"),
    "oedema": ("oedema", "normal"),
    "focal-scar": ("normal", "infarcted"),
}


@dataclass(frozen=True)
class ContrastModel:
    """Gadolinium contrast state.

    Attributes
    ----------
    plasma_mM : float
        Plasma concentration at the post-contrast scan (0.4 mM assumed ≈ 15 min after a
        0.15 mmol/kg dose; unconfirmed).
    haematocrit : float
        Blood haematocrit (fraction).
    r1, r2 : float or None
        Relaxivities, mM⁻¹s⁻¹; None = gadoterate at the field strength (module doc).
    body_ecv : float
        ECV of the skeletal muscle/body outside the heart (assumption).
    """

    plasma_mM: float = 0.4
    haematocrit: float = 0.42
    r1: float | None = None
    r2: float | None = None
    body_ecv: float = 0.15

    def relaxivities(self, field_strength_t: float) -> tuple[float, float]:
        d1, d2 = (3.6, 4.3) if field_strength_t < 2.0 else (3.5, 4.9)
        return (d1 if self.r1 is None else self.r1, d2 if self.r2 is None else self.r2)


@dataclass(frozen=True, eq=False)
class RelaxationMaps:
    """Per-region truth, ``(n_regions,)`` arrays indexed by region code (:data:`REGIONS`).

    Attributes
    ----------
    pd, t1_native_ms, t2_native_ms, t1_post_ms, t2_post_ms, ecv : ndarray, float64
        Air has PD 0 (its relaxation values are placeholders).
    contrast : ContrastModel
    field_strength_t : float
    myocardial_state : str
    """

    pd: np.ndarray
    t1_native_ms: np.ndarray
    t2_native_ms: np.ndarray
    t1_post_ms: np.ndarray
    t2_post_ms: np.ndarray
    ecv: np.ndarray
    contrast: ContrastModel = field(default_factory=ContrastModel)
    field_strength_t: float = 1.5
    myocardial_state: str = "normal"

    def table(self) -> list[dict]:
        """One row per region (truth table)."""
        return [{"region": name, "pd": float(self.pd[i]),
                 "t1_native_ms": float(self.t1_native_ms[i]),
                 "t2_native_ms": float(self.t2_native_ms[i]),
                 "t1_post_ms": float(self.t1_post_ms[i]), "t2_post_ms": float(self.t2_post_ms[i]),
                 "ecv": float(self.ecv[i]), "haematocrit": self.contrast.haematocrit,
                 "plasma_mM": self.contrast.plasma_mM, "field_strength_t": self.field_strength_t}
                for i, name in enumerate(REGIONS)]


def relaxation_maps(field_strength_t: float, myocardial_state: str = "normal",
                    contrast: ContrastModel | None = None) -> RelaxationMaps:
    """Truth relaxation of every region (:data:`REGIONS`) before and after contrast."""
    if myocardial_state not in MYOCARDIAL_STATES:
        raise ValueError(f"relaxation_maps: unknown myocardial state {myocardial_state!r}; "
                         f"one of {sorted(MYOCARDIAL_STATES)}")
    if float(field_strength_t) not in TISSUE_TABLE:
        raise ValueError(f"relaxation_maps: no tissue table at {field_strength_t} T; "
                         f"have {sorted(TISSUE_TABLE)}")
    cm = contrast or ContrastModel()
    if not (0.0 < cm.haematocrit < 1.0) or cm.plasma_mM < 0:
        raise ValueError(f"relaxation_maps: need 0 < haematocrit < 1 and plasma_mM >= 0; got "
                         f"{cm.haematocrit}, {cm.plasma_mM}")
    tab = TISSUE_TABLE[float(field_strength_t)]
    state, scar = MYOCARDIAL_STATES[myocardial_state], MYOCARDIAL_STATES["scar"]
    myo = tab["myocardium"]
    rows = {  # region: (pd, t1, t2, ecv)
        "air": (0.0, 1000.0, 1.0, 0.0),
        "body": (tab["muscle"].pd, tab["muscle"].t1_ms, tab["muscle"].t2_ms, cm.body_ecv),
        "lv_blood": (tab["blood"].pd, tab["blood"].t1_ms, tab["blood"].t2_ms, 1 - cm.haematocrit),
        "rv_blood": (tab["blood"].pd, tab["blood"].t1_ms, tab["blood"].t2_ms, 1 - cm.haematocrit),
        "myocardium": (myo.pd, myo.t1_ms * state.t1_factor, myo.t2_ms * state.t2_factor,
                       state.ecv),
        "scar": (myo.pd, myo.t1_ms * scar.t1_factor, myo.t2_ms * scar.t2_factor, scar.ecv),
    }
    a = np.array([rows[r] for r in REGIONS], dtype=np.float64)
    pd, t1, t2, ecv = a.T
    r1, r2 = cm.relaxivities(field_strength_t)
    conc = ecv * cm.plasma_mM                                   # mM in the tissue
    t1_post = 1.0 / (1.0 / t1 + r1 * conc / 1000.0)              # r in /mM/s, times in ms
    t2_post = 1.0 / (1.0 / t2 + r2 * conc / 1000.0)
    return RelaxationMaps(pd, t1, t2, t1_post, t2_post, ecv, cm, float(field_strength_t),
                          myocardial_state)

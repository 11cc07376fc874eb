"""Late gadolinium enhancement (LGE): post-contrast tissue T1 and the inversion-recovery contrast.

LGE images are inversion-recovery gradient-echo images acquired 10–20 min after gadolinium,
with the inversion time chosen to null normal myocardium: blood and scar (larger
extracellular space, shorter T1) are bright, remote myocardium dark, and microvascular
obstruction (MVO, no contrast in the core of an acute infarct) dark inside the bright scar.
The phantom renders one diastolic frame (RR phase :data:`LGE_PHASE`) of any view with the
signed IR signal of :func:`suite.phantom.signal.ir_gre_signal` (magnitude images are ``|S|``;
the sign is in the phase) and the scar and MVO of :mod:`suite.phantom.scar`.

Post-contrast T1 (ms), both field strengths (the phantom does not model the field dependence
after contrast):

=====================  ======  ==============================================================
tissue                 T1      source
=====================  ======  ==============================================================
myocardium (remote)    540     Lee et al., JCMR 2013;15:11 (MOLLI 15 min after contrast,
                               non-infarcted myocardium 540.5 ± 88.0 ms)
scar (infarct)         425     same study, infarcted myocardium 425.4 ± 68.1 ms
blood                  450     same study, LV blood 442–457 ms (apex to base)
MVO                    620     assumption: little contrast reaches the no-reflow core, so it
                               stays near the null of remote myocardium (dark in the scar)
fat, lung              native  assumption: fat and air take up no contrast
muscle                 600     assumption (skeletal muscle, extracellular uptake)
liver                  350     assumption (hepatic uptake)
pericardium            600     assumption
=====================  ======  ==============================================================

Timing: one inversion every other heartbeat (``T_rep = 2 RR``), flip angle 25°, TE 3 ms; the
default TI nulls remote myocardium (:func:`suite.phantom.signal.ir_null_ti_ms`); ``ti_ms``
overrides it (a TI set too short or too long is a classic LGE error).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from suite.phantom.contrast import ContrastModel
from suite.phantom.signal import ir_gre_signal, ir_null_ti_ms
from suite.phantom.tissue import CLASS_NAMES, CLASS_TISSUE, tissue_properties

__all__ = ["POST_CONTRAST_T1_MS", "LGE_PHASE", "LGE_FLIP_DEG", "LGE_TE_MS", "lge_contrast"]

#: Post-contrast T1 (ms) by tissue; None = native T1 (table in the module docstring).
POST_CONTRAST_T1_MS: Mapping[str, float | None] = {
    "myocardium": 540.0, "scar": 425.0, "mvo": 620.0, "blood": 450.0, "fat": None, "lung": None,
    "muscle": 600.0, "liver": 350.0, "pericardium": 600.0, "air": None,
}
#: RR phase of the LGE frame (mid-diastole).
LGE_PHASE = 0.75
LGE_FLIP_DEG = 25.0
LGE_TE_MS = 3.0


def lge_contrast(field_strength_t: float, rr_ms: float, ti_ms: float | None = None):
    """IR-GRE contrast of every rendering class; returns ``(ContrastModel, ti_ms)``."""
    props = tissue_properties(field_strength_t)
    rep = 2.0 * float(rr_ms)
    if ti_ms is None:
        ti_ms = ir_null_ti_ms(POST_CONTRAST_T1_MS["myocardium"], rep)
    n = len(CLASS_TISSUE)
    s0 = np.zeros(n)
    for code, tissue in enumerate(CLASS_TISSUE):
        p = props[tissue]
        if p.pd <= 0:
            continue
        t1 = POST_CONTRAST_T1_MS.get(CLASS_NAMES[code] if CLASS_NAMES[code] == "mvo" else tissue)
        t1 = p.t1_ms if t1 is None else t1
        s0[code] = ir_gre_signal(p.pd, t1, p.t2_ms, ti_ms, rep, LGE_TE_MS, LGE_FLIP_DEG)
    zeros = np.zeros(n)
    return ContrastModel("lge", s0, zeros, zeros, rep, LGE_TE_MS, LGE_FLIP_DEG), float(ti_ms)

"""Label sets of the phantom: the extended truth labels and the conventions derived from them.

``case.labels`` follows the **ACDC** convention (0 background, 1 RV cavity, 2 LV myocardium,
3 LV cavity), the suite's default: papillary muscles and trabeculae are counted as cavity,
the contours stop at the valves and the RV infundibulum is excluded (ACDC evaluation page,
creatis.insa-lyon.fr/Challenge/acdc/evaluation.html; Bernard et al., IEEE TMI
2018;37:2514). ``case.truth["labels_extended"]`` separates what the conventions disagree on
(:data:`EXTENDED_LABELS`); :func:`convert_labels` maps it to a named convention:

==========================  =========================================  ===================
convention                  papillary muscles / trabeculae             label numbers
==========================  =========================================  ===================
``"acdc"``                  in the LV / RV cavity                      1 RV, 2 MYO, 3 LV
``"mnms"``                  in the LV / RV cavity (unconfirmed: the    1 LV, 2 MYO, 3 RV
                            M&Ms annotation text was not retrievable)
``"papillary-myocardium"``  LV papillary muscles and trabeculae in the  1 RV, 2 MYO, 3 LV
                            myocardium, RV trabeculae excluded from
                            the cavity (the other contouring practice
                            the SCMR congenital consensus shows)
==========================  =========================================  ===================

M&Ms label numbers: Campello et al., IEEE TMI 2021;40:3543 (MarioProjects/MnMsCardiac
``README.md``). The SCMR practice variation (tracing papillary muscles and RV trabeculations
out of, or into, the blood pool): Fratz et al., JCMR 2013;15:51, figure 8.

A label map on the acquired grid takes, per pixel, the most frequent label of the fine
sub-pixels on all planes of its slab (majority by area/volume; ties to the lower label):
:func:`majority_labels`. The ACDC map is voted among ACDC labels (not converted from the
voted extended map), so both are the majority of their own label set.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from suite._validation import check_option

__all__ = ["EXTENDED_LABELS", "CONVENTIONS", "convert_labels", "majority_labels"]

#: Extended truth labels ``{code: name}``.
EXTENDED_LABELS: Mapping[int, str] = {
    0: "background", 1: "rv_blood_pool", 2: "lv_myocardium", 3: "lv_blood_pool",
    4: "lv_papillary_muscles", 5: "lv_trabeculae", 6: "rv_trabeculae", 7: "left_atrium",
    8: "right_atrium", 9: "aorta", 10: "rv_outflow_pulmonary_artery",
}

#: Look-up tables extended label → convention label.
CONVENTIONS: Mapping[str, np.ndarray] = {
    "acdc": np.array([0, 1, 2, 3, 3, 3, 1, 0, 0, 0, 0], np.uint8),
    "mnms": np.array([0, 3, 2, 1, 1, 1, 3, 0, 0, 0, 0], np.uint8),
    "papillary-myocardium": np.array([0, 1, 2, 3, 2, 2, 0, 0, 0, 0, 0], np.uint8),
}


def convert_labels(extended: np.ndarray, convention: str = "acdc") -> np.ndarray:
    """Extended labels → one of :data:`CONVENTIONS` (uint8, same shape).

    Examples
    --------
    >>> convert_labels(np.array([3, 4, 6], np.uint8), "acdc").tolist()
    [3, 3, 1]
    >>> convert_labels(np.array([3, 4, 6], np.uint8), "papillary-myocardium").tolist()
    [3, 2, 0]
    """
    check_option(convention, CONVENTIONS, name="convention", where="convert_labels")
    ext = np.asarray(extended)
    if ext.size and int(ext.max()) >= len(CONVENTIONS[convention]):
        raise ValueError(f"convert_labels: labels must be extended codes 0..{len(EXTENDED_LABELS) - 1};"
                         f" got a maximum of {int(ext.max())}")
    return CONVENTIONS[convention][ext]


def majority_labels(fine_labels: np.ndarray, q: int, n_labels: int = 4) -> np.ndarray:
    """Most frequent label over each ``q × q`` block and all planes (ties: lower label).

    Parameters
    ----------
    fine_labels : ndarray, uint8, (plane, q·h, q·w), values 0 .. n_labels − 1
    q : int
    n_labels : int

    Returns
    -------
    ndarray, uint8, (h, w)

    Examples
    --------
    >>> lab = np.zeros((1, 3, 3), np.uint8); lab[0, :2, :] = 3
    >>> majority_labels(lab, 3).tolist()
    [[3]]
    """
    n, h, w = fine_labels.shape
    hb, wb = h // q, w // q
    pix = (np.arange(hb)[:, None, None, None] * wb + np.arange(wb)[None, None, :, None])
    pix = np.broadcast_to(pix, (hb, q, wb, q))
    keys = (pix[None] * n_labels + fine_labels.reshape(n, hb, q, wb, q)).ravel()
    counts = np.bincount(keys, minlength=hb * wb * n_labels).reshape(hb, wb, n_labels)
    return np.argmax(counts, axis=-1).astype(np.uint8)

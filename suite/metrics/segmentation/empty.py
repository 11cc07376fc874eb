"""The metrics of a segmentation comparison, their declarations and the empty-mask policies.

One table (:data:`EMPTY_TABLE`) gives the value of every metric under every policy when the
reference, the prediction or both are empty (STYLE R4). "Not applicable" (both empty) and
"failure" (one empty) never share a value under the default ``"worst"`` policy.

=============  ===================  ===================  ====================
``empty=``     reference empty      prediction empty     both empty
=============  ===================  ===================  ====================
``"worst"``    Dice 0, NSD 0,       Dice 0, NSD 0,       Dice 1, NSD 1,
(default)      distances = W        distances = W        distances NaN (n/a)
``"acdc"``     Dice 0, NSD 0,       Dice 0, NSD 0,       Dice 1, NSD 1,
               distances 1          distances 1          distances 0
``"mnms"``     Dice 0, NSD 0,       Dice 0, NSD 0,       Dice 1, NSD 1,
               distances NaN [1]_   distances −1         distances −1
``"nan"``      Dice 0, NSD 0,       Dice 0, NSD 0,       all NaN
               distances NaN        distances NaN
=============  ===================  ===================  ====================

"distances" are HD, HD95, ASSD and MASD. ``W`` is the stated finite worst case: the diagonal
of the image volume in mm, ``sqrt((n_slice·dz)² + (n_y·dy)² + (n_x·dx)²)``, larger than any
distance two voxels of the volume can have.

.. [1] The M&Ms organisers' script (vicmancr/mnms_example ``metrics_mnms.py``) calls medpy
   ``hd``/``assd`` whenever the prediction is non-empty, and medpy raises ``RuntimeError`` for
   an empty reference, so that convention has no value here; the profile gives NaN with status
   ``reference_empty`` and the reduction counts the case as excluded.
"""

from __future__ import annotations

import math
from typing import Mapping

from suite.metrics.contract import HIGHER, LOWER, MetricSpec, register_metric

__all__ = [
    "METRICS", "HD95_MAX_DIRECTED", "DISTANCE_METRICS", "STATUSES", "EMPTY_POLICIES", "EMPTY_TABLE",
    "EMPTY_SENTINELS", "HD95_DEFINITIONS", "WORST", "empty_values", "mask_status",
    "metric_key",
]

#: Values a policy uses to mean "missing", to pass to ``aggregate(..., sentinels=...)``.
EMPTY_SENTINELS: Mapping[str, tuple[float, ...]] = {
    "worst": (), "acdc": (), "mnms": (-1.0,), "nan": (),
}


def _declare(name, description, unit, direction, definition, *, distance):
    return register_metric(MetricSpec(
        name, unit, direction, description, "segmentation", definition,
        optimum=0.0 if distance else 1.0, symmetric=True,
        sentinels=EMPTY_SENTINELS if distance else {}))


#: The metrics of :func:`suite.metrics.segmentation.score_masks`, in reporting order, declared
#: in the one contract (:mod:`suite.metrics.contract`).
#: ``R`` is the reference mask, ``P`` the prediction, ``∂`` the boundary voxels,
#: ``d(∂R→∂P)`` the directed surface distances (see :mod:`.surface`).
METRICS: Mapping[str, MetricSpec] = {
    "dice": _declare(
        "dice", "Dice similarity coefficient", "1", HIGHER,
        "2|R∩P| / (|R| + |P|), voxel counts of the 3-D volume (Dice 1945)", distance=False),
    "hd": _declare(
        "hd", "Hausdorff distance", "mm", LOWER,
        "max(max d(∂R→∂P), max d(∂P→∂R)), symmetric (Huttenlocher et al. 1993)", distance=True),
    "hd95": _declare(
        "hd95", "95th-percentile Hausdorff distance", "mm", LOWER,
        "95th percentile (numpy linear interpolation) of the pooled distances "
        "d(∂R→∂P) ∪ d(∂P→∂R), as medpy hd95; with hd95_definition='max_directed': "
        "max of the two directed 95th percentiles, as MONAI and Metrics Reloaded", distance=True),
    "assd": _declare(
        "assd", "average symmetric surface distance", "mm", LOWER,
        "(Σ d(∂R→∂P) + Σ d(∂P→∂R)) / (|∂R| + |∂P|), the mean of the pooled distances "
        "(Heimann et al. 2009; Metrics Reloaded ASSD; medpy >= 0.5 assd)", distance=True),
    "masd": _declare(
        "masd", "mean average surface distance", "mm", LOWER,
        "(mean d(∂R→∂P) + mean d(∂P→∂R)) / 2 (Metrics Reloaded MASD; medpy <= 0.4 assd, "
        "hence the 'ASSD' of the ACDC extended script)", distance=True),
    "nsd": _declare(
        "nsd", "normalised surface Dice", "1", HIGHER,
        "(|{d(∂R→∂P) <= τ}| + |{d(∂P→∂R) <= τ}|) / (|∂R| + |∂P|), boundary voxels counted "
        "(Nikolov et al. 2021, voxel rather than surfel-area weights)", distance=False),
}
#: The stored name of HD95 under ``hd95_definition="max_directed"`` (:func:`metric_key`).
HD95_MAX_DIRECTED = _declare(
    "hd95_max_directed", "95th-percentile Hausdorff distance, max of the directed percentiles",
    "mm", LOWER, "max(P95 d(∂R→∂P), P95 d(∂P→∂R)) (MONAI, Metrics Reloaded)", distance=True)

#: The distance metrics (mm); the others are overlap scores in [0, 1].
DISTANCE_METRICS = ("hd", "hd95", "assd", "masd")

#: Status of a (reference, prediction) pair of masks.
STATUSES = ("ok", "reference_empty", "prediction_empty", "both_empty")

#: Accepted ``empty=`` policies.
EMPTY_POLICIES = ("worst", "acdc", "mnms", "nan")

#: Accepted ``hd95_definition=`` values.
HD95_DEFINITIONS = ("pooled", "max_directed")

#: Placeholder in :data:`EMPTY_TABLE` for the finite worst-case distance ``W`` (mm).
WORST = "W"

_NAN = math.nan


def _row(dice, nsd, distance):
    out = {"dice": dice, "nsd": nsd}
    out.update({m: distance for m in DISTANCE_METRICS})
    return out


#: ``EMPTY_TABLE[policy][status][metric]`` → value (``WORST`` stands for ``W``).
EMPTY_TABLE: Mapping[str, Mapping[str, Mapping[str, float | str]]] = {
    "worst": {
        "reference_empty": _row(0.0, 0.0, WORST),
        "prediction_empty": _row(0.0, 0.0, WORST),
        "both_empty": _row(1.0, 1.0, _NAN),
    },
    "acdc": {
        "reference_empty": _row(0.0, 0.0, 1.0),
        "prediction_empty": _row(0.0, 0.0, 1.0),
        "both_empty": _row(1.0, 1.0, 0.0),
    },
    "mnms": {
        "reference_empty": _row(0.0, 0.0, _NAN),
        "prediction_empty": _row(0.0, 0.0, -1.0),
        "both_empty": _row(1.0, 1.0, -1.0),
    },
    "nan": {
        "reference_empty": _row(0.0, 0.0, _NAN),
        "prediction_empty": _row(0.0, 0.0, _NAN),
        "both_empty": _row(_NAN, _NAN, _NAN),
    },
}

#: One paragraph per policy: where it comes from and what it means for a reduction.
POLICY_TEXT: Mapping[str, str] = {
    "worst": (
        "empty='worst' (suite default): one mask empty = failure, Dice 0, NSD 0 and every "
        "distance = W, the diagonal of the image volume in mm; both empty = structure correctly "
        "absent, Dice 1 and NSD 1 (as Metrics Reloaded), distances NaN (not applicable, "
        "counted as excluded by suite.metrics.reduce.aggregate)."),
    "acdc": (
        "empty='acdc' (baumgach/acdc_segmenter metrics_acdc.py @ 185bb2b): both empty -> "
        "Dice 1, HD 0, ASSD 0; one empty -> Dice 0, HD 1, ASSD 1 (mm). The script computes "
        "only Dice, HD and ASSD; its HD value is used for HD95, its ASSD value for ASSD and "
        "MASD, and NSD follows Dice."),
    "mnms": (
        "empty='mnms' (vicmancr/mnms_example metrics_mnms.py @ 0fca23d): prediction empty -> "
        "HD = ASSD = -1 (sentinel, also when both are empty), Dice as medpy dc (0, or 1 when "
        "both empty); reference empty with a non-empty prediction makes the script raise (medpy "
        "RuntimeError), so distances are NaN. Pass sentinels=(-1,) to the reduction."),
    "nan": (
        "empty='nan' (MONAI-like): a value that is undefined is NaN: every distance when either "
        "mask is empty, Dice and NSD when both are (0/0); one empty gives Dice 0 and NSD 0. "
        "The reduction excludes NaN and counts it, so failures appear only in n_excluded."),
}


def mask_status(n_reference: int, n_prediction: int) -> str:
    """Status of a pair from the voxel counts: one of :data:`STATUSES`."""
    if n_reference > 0 and n_prediction > 0:
        return "ok"
    if n_reference > 0:
        return "prediction_empty"
    if n_prediction > 0:
        return "reference_empty"
    return "both_empty"


def empty_values(policy: str, status: str, worst_distance_mm: float) -> dict[str, float]:
    """Metric values for an empty-mask case under ``policy`` (``status`` ≠ ``"ok"``).

    Parameters
    ----------
    policy : one of :data:`EMPTY_POLICIES`
    status : ``"reference_empty"``, ``"prediction_empty"`` or ``"both_empty"``
    worst_distance_mm : float
        The value ``W`` substituted for :data:`WORST`.

    Returns
    -------
    dict
        metric name → value, for every metric of :data:`METRICS`.
    """
    row = EMPTY_TABLE[policy][status]
    return {m: (float(worst_distance_mm) if v == WORST else float(v)) for m, v in row.items()}


def metric_key(metric: str, hd95_definition: str) -> str:
    """Name of a metric in long-format rows: ``"hd95"`` is the pooled definition only.

    Under ``hd95_definition="max_directed"`` the HD95 row is named ``"hd95_max_directed"``,
    so two definitions never share a name in a results store.
    """
    if metric == "hd95" and hd95_definition == "max_directed":
        return "hd95_max_directed"
    return metric

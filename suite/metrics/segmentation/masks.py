"""All segmentation metrics of one pair of binary masks (one structure, one phase)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from suite._serialise import jsonable
from suite._validation import check_option, check_same_shape, check_spacing
from suite.metrics.segmentation.empty import (
    EMPTY_POLICIES, HD95_DEFINITIONS, METRICS, empty_values, mask_status,
)
from suite.metrics.segmentation.surface import boundary, check_mask, directed_distances

__all__ = ["score_masks", "MaskScores", "volume_diagonal_mm", "mask_scores", "check_tolerance"]


@dataclass(frozen=True)
class MaskScores:
    """Dice, HD, HD95, ASSD, MASD and NSD of one reference/prediction pair.

    Attributes
    ----------
    dice, nsd : float
        Overlap scores in [0, 1], higher is better (see :data:`.empty.METRICS`).
    hd, hd95, assd, masd : float
        Distances in mm, lower is better.
    status : {"ok", "reference_empty", "prediction_empty", "both_empty"}
        Which masks were empty; when not ``"ok"`` the values come from the ``empty`` policy.
    n_reference, n_prediction : int
        Voxel counts of the masks.
    n_reference_boundary, n_prediction_boundary : int
        Boundary-voxel counts (``|∂R|``, ``|∂P|``).
    tolerance_mm : float
        NSD tolerance τ.
    empty : str
        Empty-mask policy used.
    hd95_definition : {"pooled", "max_directed"}
        Which HD95 ``hd95`` is.
    worst_distance_mm : float
        The finite worst case ``W`` used by ``empty="worst"``.
    """

    dice: float
    hd: float
    hd95: float
    assd: float
    masd: float
    nsd: float
    status: str
    n_reference: int
    n_prediction: int
    n_reference_boundary: int
    n_prediction_boundary: int
    tolerance_mm: float
    empty: str
    hd95_definition: str
    worst_distance_mm: float

    def values(self) -> dict[str, float]:
        """Metric name → value, in the order of :data:`.empty.METRICS` (full precision)."""
        return {m: getattr(self, m) for m in METRICS}

    def to_dict(self) -> dict:
        """JSON-safe dict of every field (NaN → ``None``), full precision."""
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})


def volume_diagonal_mm(shape, spacing_mm) -> float:
    """Diagonal of an image volume in mm: ``sqrt(Σ (n_i · spacing_i)²)``.

    The finite worst-case distance of ``empty="worst"``: no two voxel centres of the volume
    are farther apart (their largest distance is ``sqrt(Σ ((n_i − 1) · spacing_i)²)``).

    Examples
    --------
    >>> volume_diagonal_mm((2, 3, 4), (6.0, 1.0, 3.0))    # sqrt(12² + 3² + 12²)
    17.233687939614086
    """
    return float(math.sqrt(sum((n * s) ** 2 for n, s in zip(shape, spacing_mm))))


def mask_scores(ref: np.ndarray, pred: np.ndarray, spacing: tuple[float, ...],
                tolerance_mm: float, empty: str, hd95_definition: str, worst: float) -> MaskScores:
    """The scores of two checked masks: the core shared by :func:`score_masks` and
    :func:`suite.metrics.segmentation.stack.evaluate`, which check their inputs first."""
    n_r, n_p = int(np.count_nonzero(ref)), int(np.count_nonzero(pred))
    status = mask_status(n_r, n_p)
    common = dict(status=status, n_reference=n_r, n_prediction=n_p, tolerance_mm=tolerance_mm,
                  empty=empty, hd95_definition=hd95_definition, worst_distance_mm=worst)
    if status != "ok":
        b_r = int(np.count_nonzero(boundary(ref))) if n_r else 0
        b_p = int(np.count_nonzero(boundary(pred))) if n_p else 0
        return MaskScores(**empty_values(empty, status, worst), n_reference_boundary=b_r,
                          n_prediction_boundary=b_p, **common)
    inter = int(np.count_nonzero(ref & pred))
    d_rp, d_pr, b_r, b_p = directed_distances(ref, pred, spacing)
    pooled = np.concatenate([d_rp, d_pr])
    if hd95_definition == "pooled":
        hd95 = float(np.percentile(pooled, 95))
    else:
        hd95 = float(max(np.percentile(d_rp, 95), np.percentile(d_pr, 95)))
    within = int(np.count_nonzero(d_rp <= tolerance_mm) + np.count_nonzero(d_pr <= tolerance_mm))
    return MaskScores(
        dice=2.0 * inter / (n_r + n_p),
        hd=float(max(d_rp.max(), d_pr.max())),
        hd95=hd95,
        assd=float(pooled.mean()),
        masd=float(0.5 * (d_rp.mean() + d_pr.mean())),
        nsd=within / (b_r + b_p),
        n_reference_boundary=b_r,
        n_prediction_boundary=b_p,
        **common,
    )


def check_tolerance(tolerance_mm, where: str) -> float:
    """``tolerance_mm`` as a finite float ≥ 0, or ``ValueError``."""
    try:
        tol = float(tolerance_mm)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: `tolerance_mm` must be a number in mm; got {tolerance_mm!r}") \
            from None
    if not math.isfinite(tol) or tol < 0:
        raise ValueError(f"{where}: `tolerance_mm` must be finite and >= 0 mm; got {tol}")
    return tol


def score_masks(
    reference_mask,
    prediction_mask,
    spacing_mm,
    *,
    tolerance_mm: float = 2.0,
    empty: str = "worst",
    hd95_definition: str = "pooled",
    worst_distance_mm: float | None = None,
) -> MaskScores:
    """Dice, HD, HD95, ASSD, MASD and NSD of two binary masks of any dimension.

    Parameters
    ----------
    reference_mask, prediction_mask : ndarray, bool, same shape
        E.g. one structure of one phase, ``(slice, y, x)``.
    spacing_mm : sequence of float, one per axis, mm
        For ``(slice, y, x)``: ``(dz, dy, dx)``, slice spacing then row and column spacing.
    tolerance_mm : float, default 2.0
        NSD tolerance τ in mm (``d <= τ`` counts as within).
    empty : {"worst", "acdc", "mnms", "nan"}, default "worst"
        Empty-mask policy (table below).
    hd95_definition : {"pooled", "max_directed"}, default "pooled"
        ``"pooled"``: 95th percentile of both directions concatenated (medpy ``hd95``).
        ``"max_directed"``: the larger of the two directed 95th percentiles (MONAI
        ``HausdorffDistanceMetric(percentile=95)``, Metrics Reloaded ``hd_perc``).
    worst_distance_mm : float, optional
        ``W`` for ``empty="worst"``; default the diagonal of the mask array,
        :func:`volume_diagonal_mm`.

    Returns
    -------
    MaskScores

    Raises
    ------
    ValueError
        Masks not bool or of different shapes, bad spacing, negative tolerance, unknown option.

    Notes
    -----
    Definitions (boundary = voxels with a face neighbour outside the mask, distances between
    voxel centres in mm, see :mod:`suite.metrics.segmentation.surface`):

    * Dice = 2|R∩P| / (|R| + |P|) (Dice 1945);
    * HD = max of the two directed maxima (Huttenlocher et al. 1993);
    * HD95 = 95th percentile of the pooled distances (default) or max of the directed ones;
    * ASSD = mean of the pooled distances; MASD = mean of the two directed means;
    * NSD = fraction of boundary voxels of both masks within τ of the other boundary
      (Nikolov et al. 2021, counted per voxel, not weighted by surfel area).

    Empty masks (W = ``worst_distance_mm``; "distances" = HD, HD95, ASSD, MASD):

    ===========  ========================  ========================  ========================
    empty        reference empty           prediction empty          both empty
    ===========  ========================  ========================  ========================
    worst        Dice 0, NSD 0, dist. W    Dice 0, NSD 0, dist. W    Dice 1, NSD 1, dist. NaN
    acdc         Dice 0, NSD 0, dist. 1    Dice 0, NSD 0, dist. 1    Dice 1, NSD 1, dist. 0
    mnms         Dice 0, NSD 0, dist. NaN  Dice 0, NSD 0, dist. −1   Dice 1, NSD 1, dist. −1
    nan          Dice 0, NSD 0, dist. NaN  Dice 0, NSD 0, dist. NaN  all NaN
    ===========  ========================  ========================  ========================

    References
    ----------
    Dice LR. Ecology 26(3):297–302, 1945. Huttenlocher DP et al. IEEE TPAMI 15(9):850–863,
    1993. Nikolov S et al. J Med Internet Res 23(7):e26151, 2021 (arXiv 1809.04430).
    Maier-Hein L et al. Metrics Reloaded, Nat Methods 21:195–212, 2024.

    Examples
    --------
    >>> r = np.zeros((3, 8, 8), bool); r[1, 2:6, 2:6] = True
    >>> s = score_masks(r, np.roll(r, 1, axis=2), (8.0, 1.0, 1.0))
    >>> s.status, s.dice, s.hd
    ('ok', 0.75, 1.0)
    >>> score_masks(r, np.zeros_like(r), (8.0, 1.0, 1.0), empty="acdc").hd
    1.0
    """
    where = "score_masks"
    ref = check_mask(reference_mask, "reference_mask", where)
    pred = check_mask(prediction_mask, "prediction_mask", where)
    check_same_shape(ref, pred, names=("reference_mask", "prediction_mask"), where=where)
    spacing = check_spacing(spacing_mm, ref.ndim, where=where)
    tol = check_tolerance(tolerance_mm, where)
    check_option(empty, EMPTY_POLICIES, name="empty", where=where)
    check_option(hd95_definition, HD95_DEFINITIONS, name="hd95_definition", where=where)
    if worst_distance_mm is None:
        worst = volume_diagonal_mm(ref.shape, spacing)
    else:
        worst = float(worst_distance_mm)
        if not (math.isfinite(worst) and worst > 0):
            raise ValueError(f"{where}: `worst_distance_mm` must be finite and > 0; got {worst}")
    return mask_scores(ref, pred, spacing, tol, empty, hd95_definition, worst)

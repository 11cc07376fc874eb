"""Image-quality metrics (NMSE, PSNR, SSIM) on magnitude images, with named scoring profiles.

Profiles reproduce published conventions exactly (DESIGN.md, "Scoring profiles").

``fastmri`` (facebookresearch/fastMRI ``fastmri/evaluate.py`` at 91f2df4):

* the whole case is one volume: images ``(slice, frame, y, x)`` are flattened to
  ``(n_images, y, x)``;
* NMSE = ||ref − pred||² / ||ref||² over the volume;
* PSNR = 10·log10(data_range² / MSE) over the volume with ``data_range = max(ref)``
  (the reference *volume* maximum, not the per-image maximum, and not max − min);
* SSIM per 2-D image with a 7×7 uniform window, K1 = 0.01, K2 = 0.03, sample covariance
  (N/(N−1) correction), data range = ``max(ref)`` of the volume, the SSIM map averaged over the
  image after removing a 3-pixel border (as ``skimage.metrics.structural_similarity``), then the
  mean over images.

``cmrxrecon2023`` (CmrxRecon/CMRxRecon ``CMRxReconDemo/run4Ranking.m``, ``Evaluation/Evaluation.py``):

* the ranking selection of :mod:`suite.metrics.cmrxrecon_profile`
  (:func:`~suite.metrics.cmrxrecon_profile.cmrxrecon_select`): central two slices, MATLAB
  ``round(ns/2)-1 : round(ns/2)`` (1-based; all slices when ns < 3); first three frames (all
  frames when fewer); centre crop to ``round(nx/3)`` along the readout (x) and ``round(ny/2)``
  along the phase encode (y), with the offsets of Lustig's ``crop.m``: 0-based start
  ``floor(m/2) + ceil(-s/2)`` (differs by one pixel from fastMRI's ``(m - s)//2`` when m is even
  and s is odd); MATLAB ``round`` rounds halves away from zero;
* each 2-D image divided by its own maximum, reference and prediction separately;
* NMSE, PSNR and SSIM per image with the fastMRI functions (data range = max of the normalised
  reference = 1), then the mean over images.

``cmrxrecon2024`` (CmrxRecon2025-snippets ``evaluation-2024/Evaluation.py``): as 2023 but each
image is z-scored, ``(x − mean) / (std + 1e-8)`` (population std), and the data range is the
maximum of the normalised reference. The organisers' ``Val_Score2024.py`` swaps the arguments in
one branch, so their data range there is the maximum of the normalised *prediction*; this profile
follows the documented signature (reference first), not that quirk.

``cmrxrecon2025`` (``evaluation-2025/Evaluation.py``): as 2023 but each image is divided by the
99.5th percentile of its magnitude (numpy's default linear interpolation; no clipping).

Arguments follow the scikit-learn order: reference first, prediction second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from suite._validation import check_finite, check_ndim, check_option, check_same_shape
from suite.metrics.cmrxrecon_profile import cmrxrecon_select
from suite.metrics.contract import (HIGHER, LOWER, MetricFamily, MetricRow, MetricSpec,
                                    metric_row, register_family, register_metric)

__all__ = ["nmse", "psnr", "ssim_per_image", "score", "image_rows", "ImageScores", "PROFILES",
           "IMAGE_METRICS"]

PROFILES = ("fastmri", "cmrxrecon2023", "cmrxrecon2024", "cmrxrecon2025")

#: Declarations of the stored image metrics (names of :class:`ImageScores` fields).
IMAGE_METRICS = (
    register_metric(MetricSpec(
        "nmse", "1", LOWER, "normalised mean squared error", "image",
        "||ref - pred||^2 / ||ref||^2 (fastMRI evaluate.py nmse); under the CMRxRecon profiles "
        "per image, then averaged", optimum=0.0)),
    register_metric(MetricSpec(
        "psnr", "dB", HIGHER, "peak signal-to-noise ratio", "image",
        "10 log10(data_range^2 / MSE), data range from the reference (see the profile)",
        optimum=float("inf"))),
    register_metric(MetricSpec(
        "ssim", "1", HIGHER, "structural similarity", "image",
        "Wang et al. 2004, 7x7 uniform window, K1 0.01, K2 0.03, sample covariance",
        optimum=1.0)),
)


def _prepare(reference, prediction, where, *, finite=True):
    """Validated float64 views (copies only for other dtypes); ``finite=False`` leaves the
    finiteness check to the caller (:func:`_check_finite_pair`, after its own pass)."""
    ref = np.asarray(reference)
    pred = np.asarray(prediction)
    check_same_shape(ref, pred, names=("reference", "prediction"), where=where)
    for name, a in (("reference", ref), ("prediction", pred)):
        if a.dtype.kind == "c":
            raise ValueError(f"{where}: `{name}` must be real magnitude; got dtype {a.dtype}")
    if finite:
        _check_finite_pair(ref, pred, where)
    return np.asarray(ref, dtype=np.float64), np.asarray(pred, dtype=np.float64)


def _check_finite_pair(ref, pred, where):
    for name, a in (("reference", ref), ("prediction", pred)):
        check_finite(a, name=name, where=where)


def nmse(reference, prediction) -> float:
    """Normalised mean squared error ``||ref − pred||² / ||ref||²`` over all elements.

    Lower is better; 0 for a perfect prediction. Raises ``ValueError`` for an all-zero reference.
    """
    ref, pred = _prepare(reference, prediction, "nmse")
    denom = float(np.sum(ref**2))
    if denom == 0.0:
        raise ValueError("nmse: `reference` is all zero, NMSE is undefined")
    return float(np.sum((ref - pred) ** 2) / denom)


def psnr(reference, prediction, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB: ``10·log10(data_range² / MSE)``.

    ``data_range`` defaults to ``max(reference)`` (fastMRI convention). Returns ``inf`` when the
    prediction equals the reference.
    """
    ref, pred = _prepare(reference, prediction, "psnr")
    dr = float(ref.max()) if data_range is None else float(data_range)
    mse = float(np.mean((ref - pred) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(dr**2 / mse))


def ssim_per_image(
    reference,
    prediction,
    data_range: float | None = None,
    win_size: int = 7,
    k1: float = 0.01,
    k2: float = 0.03,
) -> np.ndarray:
    """SSIM of each 2-D image (Wang et al., IEEE TIP 2004), uniform window, sample covariance.

    Parameters
    ----------
    reference, prediction : ndarray, real, ``(..., y, x)``
    data_range : float, default ``max(reference)`` over the whole array

    Returns
    -------
    ndarray, float64, shape ``(...)``: one SSIM per image, higher is better, 1 when equal.

    Notes
    -----
    Equals ``skimage.metrics.structural_similarity(ref, pred, win_size=7, data_range=..., K1,
    K2, use_sample_covariance=True, gaussian_weights=False)`` per image: local statistics by a
    uniform ``win_size²`` filter, covariances scaled by N/(N−1), the SSIM map averaged over the
    valid region (border of ``(win_size − 1) // 2`` pixels removed).
    """
    ref, pred = _prepare(reference, prediction, "ssim_per_image")
    check_ndim(ref, range(2, 8), name="reference", where="ssim_per_image", axes="(..., y, x)")
    if min(ref.shape[-2:]) < win_size:
        raise ValueError(
            f"ssim_per_image: images must be at least {win_size}x{win_size}; got {ref.shape[-2:]}"
        )
    dr = float(ref.max()) if data_range is None else float(data_range)
    return _ssim_values(ref, pred, dr, win_size, k1, k2)


def _ssim_values(ref, pred, dr, win_size=7, k1=0.01, k2=0.03, errors=None):
    """SSIM per image of validated float64 arrays ``(..., y, x)``; shape ``(...)``.

    Computed from window *sums* of ``u = x + y``, ``v = x − y``, ``u²`` and ``v²`` (the
    identities ``2μxμy = (μu² − μv²)/2``, ``μx² + μy² = (μu² + μv²)/2``, ``σx² + σy² =
    (σu² + σv²)/2``, ``2σxy = (σu² − σv²)/2``), which gives the SSIM of Wang et al. with four
    filtered maps instead of five and the covariance factor cancelled. With the window sums
    ``a = S(u)``, ``b = S(v)``, ``A = S(u²)``, ``B = S(v²)``, ``N = win_size²``,
    ``c1' = 2N²C1``, ``c2' = 2N(N−1)C2``:

        den1 = a² + b² + c1',   num1 = den1 − 2b²
        den2 = N(A + B) − (a² + b²) + c2',   num2 = den2 − 2(N·B − b²)

    so ``SSIM = (1 − 2s)(1 − 2t)`` with ``s = b²/den1`` and ``t = (N·B − b²)/den2``, and the
    mean SSIM of an image is ``1 − 2 mean(s) − 2 mean(t) + 4 mean(s·t)`` over the valid
    region (border of ``(win_size − 1) // 2`` pixels removed): twelve array operations per
    pixel after the window sums.

    The window sums are separable (pairwise sums, then every other pairwise sum: a width of 7
    costs 4 additions per axis), over strips of rows stored as flat rows, so that every
    operation is one long contiguous loop over buffers of a few hundred kB that stay in the
    core's cache; sums that would straddle two rows are computed and then dropped with the
    border. The buffers are allocated once per call and reused for every strip and image.

    With ``errors``, a ``(2, n_images)`` float64 array, row 0 receives each image's
    ``Σ (x − y)²`` and row 1 its ``Σ x²``, from the maps while they are in cache (NMSE and PSNR
    of the fastMRI profile without another pass over the volume).
    """
    lead = ref.shape[:-2]
    ny, nx = ref.shape[-2:]
    x_all = ref.reshape(-1, ny * nx)
    y_all = pred.reshape(-1, ny * nx)
    work = _SSIMWorkspace(ny, nx, win_size)
    n = win_size * win_size
    c1 = 2.0 * n * n * (k1 * dr) ** 2
    c2 = 2.0 * n * (n - 1) * (k2 * dr) ** 2
    values = np.empty(x_all.shape[0])
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for i in range(x_all.shape[0]):
            values[i] = work.ssim(x_all[i], y_all[i], c1, c2, errors=errors, index=i)
    return values.reshape(lead)


#: Flat length (elements per map, with the strip's border rows) a strip of
#: :class:`_SSIMWorkspace` aims at: 40 960 float64 values, so 256-wide images go in two strips
#: of 125 output rows (buffers of four maps ≈ 1 MiB each); measured fastest among 8-64 k.
_STRIP_ELEMENTS = 40960


class _SSIMWorkspace:
    """Buffers and the strip-wise per-image computation of :func:`_ssim_values` for
    ``(ny, nx)`` images and a ``w × w`` window."""

    def __init__(self, ny: int, nx: int, w: int):
        self.ny, self.nx, self.w = ny, nx, w
        self.n_out = ny - w + 1  # output rows (window inside the image)
        n_strips = -(-self.n_out // max(1, _STRIP_ELEMENTS // nx - (w - 1)))
        self.rows = -(-self.n_out // n_strips)  # output rows per strip, balanced
        rows_in = self.rows + w - 1
        self.maps = np.empty((4, rows_in * nx))  # u, v, u², v²; later the 2-D window sums
        self.pairs = np.empty((4, rows_in * nx))  # pairwise sums along y, then along x
        self.sums = np.empty((4, self.rows * nx))  # window sums along y
        self.terms = np.empty((3, self.rows * nx))  # b², then s, then s·t
        self._views: dict[int, tuple] = {}

    @staticmethod
    def _terms(src, pairs, step, w, length):
        """Views whose sum is the width-``w`` window sum along ``step``: every other pairwise
        sum (``pairs[i] = src[i] + src[i + step]``) and, for odd ``w``, the last entry."""
        views = [pairs[:, 2 * j * step: 2 * j * step + length] for j in range(w // 2)]
        if w % 2:
            views.append(src[:, (w - 1) * step: (w - 1) * step + length])
        return views

    def _strip_views(self, rows: int) -> tuple:
        """Buffer views of a strip of ``rows`` output rows (cached per strip height)."""
        views = self._views.get(rows)
        if views is None:
            w, nx = self.w, self.nx
            length_in = (rows + w - 1) * nx
            length = rows * nx
            maps = self.maps[:, :length_in]
            pairs_y = self.pairs[:, :length_in - nx]
            sums = self.sums[:, :length]
            pairs_x = self.pairs[:, :length - 1]
            valid = length - (w - 1)
            out = self.maps[:, :length]
            views = (
                maps, (maps[:, :-nx], maps[:, nx:], pairs_y),
                sums, self._terms(maps, pairs_y, nx, w, length),
                (sums[:, :-1], sums[:, 1:], pairs_x),
                out, out[:, :valid], self._terms(sums, pairs_x, 1, w, valid),
                self.terms[:, :length],
            )
            self._views[rows] = views
        return views

    @staticmethod
    def _window_sum(terms, out) -> None:
        if len(terms) == 1:
            np.copyto(out, terms[0])
            return
        np.add(terms[0], terms[1], out=out)
        for t in terms[2:]:
            out += t

    def ssim(self, x: np.ndarray, y: np.ndarray, c1: float, c2: float, *,
             errors: np.ndarray | None = None, index: int = 0) -> float:
        """Mean SSIM of one image pair given as flat float64 rows (see :func:`_ssim_values`);
        with ``errors``, ``Σ (x − y)²`` and ``Σ x²`` go to ``errors[:, index]``."""
        w, nx, n_out = self.w, self.nx, self.n_out
        n = float(w * w)
        total_s = total_t = total_st = 0.0
        sq_err = energy = 0.0
        for r0 in range(0, n_out, self.rows):
            rows = min(self.rows, n_out - r0)
            (maps, (y_lo, y_hi, pairs_y), sums, y_terms, (x_lo, x_hi, pairs_x), out, valid,
             x_terms, terms) = self._strip_views(rows)
            lo, hi = r0 * nx, (r0 + rows + w - 1) * nx
            xs, ys = x[lo:hi], y[lo:hi]
            u, v, uu, vv = maps
            np.add(xs, ys, out=u)
            np.subtract(xs, ys, out=v)
            np.multiply(u, u, out=uu)
            np.multiply(v, v, out=vv)
            if errors is not None:  # the rows this strip owns: its own, the last strip all
                own = hi - lo if r0 + rows == n_out else rows * nx
                sq_err += vv[:own].sum()
                sq = self.pairs[0, :own]  # free until the pairwise sums below
                np.multiply(xs[:own], xs[:own], out=sq)
                energy += sq.sum()
            np.add(y_lo, y_hi, out=pairs_y)
            self._window_sum(y_terms, sums)
            np.add(x_lo, x_hi, out=pairs_x)
            self._window_sum(x_terms, valid)
            out[:, valid.shape[1]:] = 1.0  # straddling tail (finite), dropped below
            a, b, aa, bb = out
            sq, s, st = terms
            np.multiply(a, a, out=a)  # a²
            np.multiply(b, b, out=sq)  # b²
            a += sq  # a² + b²
            np.add(a, c1, out=s)  # den1
            np.divide(sq, s, out=s)  # s = b² / den1
            aa += bb
            aa *= n
            aa -= a
            aa += c2  # den2 = N(A + B) − (a² + b²) + c2'
            bb *= n
            bb -= sq  # N·B − b²
            bb /= aa  # t
            s.reshape(rows, nx)[:, nx - w + 1:] = 0.0  # border and straddling sums
            bb.reshape(rows, nx)[:, nx - w + 1:] = 0.0
            total_s += s.sum()
            total_t += bb.sum()
            np.multiply(s, bb, out=st)
            total_st += st.sum()
        if errors is not None:
            errors[0, index] = sq_err
            errors[1, index] = energy
        count = float(n_out * (nx - w + 1))
        return 1.0 - 2.0 * (total_s / count) - 2.0 * (total_t / count) + 4.0 * (total_st / count)


@dataclass(frozen=True)
class ImageScores:
    """NMSE, PSNR (dB) and SSIM of one case under a named profile."""

    nmse: float
    psnr: float
    ssim: float
    profile: str
    n_images: int

    def to_dict(self) -> dict:
        return {"nmse": self.nmse, "psnr": self.psnr, "ssim": self.ssim,
                "profile": self.profile, "n_images": self.n_images}

    def summary(self) -> str:
        return (f"NMSE {self.nmse:.4g}  PSNR {self.psnr:.2f} dB  SSIM {self.ssim:.4f} "
                f"({self.profile} profile, {self.n_images} images)")


def _normalise(img: np.ndarray, profile: str) -> np.ndarray:
    """Per-image normalisation of ``(n_images, y, x)`` under a CMRxRecon profile."""
    if profile == "cmrxrecon2023":
        peak = img.max(axis=(-2, -1), keepdims=True)
        if np.any(peak == 0):
            raise ValueError(f"score: an image is all zero, cannot normalise by its maximum ({profile})")
        return img / peak
    if profile == "cmrxrecon2024":
        mean = img.mean(axis=(-2, -1), keepdims=True)
        std = img.std(axis=(-2, -1), keepdims=True)
        return (img - mean) / (std + 1e-8)
    # cmrxrecon2025
    p = np.percentile(np.abs(img), 99.5, axis=(-2, -1), keepdims=True)
    if np.any(p == 0):
        raise ValueError(f"score: an image has a zero 99.5th percentile ({profile})")
    return np.abs(img) / p


def score(reference, prediction, profile: str = "fastmri") -> ImageScores:
    """Score a magnitude prediction against its reference under a named profile.

    Parameters
    ----------
    reference, prediction : ndarray, real, ``(slice, frame, y, x)`` or ``(slice, y, x)``
        (a 3-D volume is treated as one frame per slice).
    profile : str
        One of :data:`PROFILES` (see the module docstring).

    Returns
    -------
    ImageScores
        NMSE (lower is better), PSNR in dB and SSIM (higher is better) and the number of 2-D
        images scored.
    """
    check_option(profile, PROFILES, name="profile", where="score")
    fastmri = profile == "fastmri"
    ref, pred = _prepare(reference, prediction, "score", finite=not fastmri)
    check_ndim(ref, (3, 4), name="reference", where="score", axes="(slice, frame, y, x)")
    if ref.ndim == 3:
        ref, pred = ref[:, None], pred[:, None]
    if fastmri:
        vol_ref = ref.reshape(-1, *ref.shape[-2:])
        vol_pred = pred.reshape(-1, *pred.shape[-2:])
        dr = float(vol_ref.max())
        errors = np.empty((2, vol_ref.shape[0]))  # per image: Σ(ref − pred)², Σ ref²
        ssim = float(np.mean(_ssim_values(vol_ref, vol_pred, dr, errors=errors)))
        sq_err, energy = (float(v) for v in errors.sum(axis=1))
        if not (np.isfinite(sq_err) and np.isfinite(energy)):
            # NaN or ±inf in either input makes one of these sums non-finite (finite inputs
            # only when a square overflows): the finiteness check runs only then
            _check_finite_pair(ref, pred, "score")
        return ImageScores(
            nmse=sq_err / energy,
            psnr=float(10.0 * np.log10(dr**2 / (sq_err / vol_ref.size))) if sq_err else float("inf"),
            ssim=ssim,
            profile=profile,
            n_images=int(vol_ref.shape[0]),
        )
    imgs_ref = _normalise(cmrxrecon_select(ref), profile)
    imgs_pred = _normalise(cmrxrecon_select(pred), profile)
    n_img = imgs_ref.shape[0]
    nm, ps, ss = [], [], []
    for a, b in zip(imgs_ref, imgs_pred):
        dr = float(a.max())
        nm.append(nmse(a, b))
        ps.append(psnr(a, b, data_range=dr))
        ss.append(float(_ssim_values(a, b, dr)))
    return ImageScores(nmse=float(np.mean(nm)), psnr=float(np.mean(ps)), ssim=float(np.mean(ss)),
                       profile=profile, n_images=int(n_img))


def image_rows(reference, prediction, *, profile: str = "fastmri") -> list[MetricRow]:
    """NMSE, PSNR and SSIM of one case as stored rows (:mod:`suite.metrics.contract`).

    Parameters
    ----------
    reference, prediction : ndarray, real, ``(slice, frame, y, x)``
        Magnitude images; the reference is the fully sampled image the profile scores against.
    profile : str
        One of :data:`PROFILES`; stored as the rows' ``profile``.

    Returns
    -------
    list of MetricRow
        One row per metric of :data:`IMAGE_METRICS`. Non-finite values in either input, or a
        reference the profile cannot normalise (all zero), give rows with ``value=None`` and
        status ``undefined`` rather than a number.
    """
    check_option(profile, PROFILES, name="profile", where="image_rows")
    ref, pred = np.asarray(reference), np.asarray(prediction)
    check_same_shape(ref, pred, names=("reference", "prediction"), where="image_rows",
                     axes="(slice, frame, y, x)")
    try:
        s = score(ref, pred, profile=profile)
    except ValueError:  # non-finite values (score checks them), or a reference the profile
        # cannot normalise (an all-zero image)
        return [metric_row(m.name, None, status="undefined", profile=profile)
                for m in IMAGE_METRICS]
    return [metric_row(m.name, getattr(s, m.name), profile=profile) for m in IMAGE_METRICS]


def _example(rng):
    ref = rng.random((2, 3, 16, 16)) + 0.5
    pred = ref + 0.1 * rng.standard_normal(ref.shape)
    return ref, np.abs(pred), {"profile": "fastmri"}


register_family(MetricFamily("image", tuple(m.name for m in IMAGE_METRICS), image_rows, _example))

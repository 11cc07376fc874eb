"""Small-feature recovery: insert tiny discs into raw data, measure whether a method keeps them.

Insertion (:func:`insert_features`)
------------------------------------
A feature is a static disc of radius ``radius_px`` pixels centred on a pixel centre, present
in every frame of one slice. Its image is

    d(y, x, t) = A · c(y, x) · exp(i ∠x(y, x, t))

with ``c`` the fraction of the pixel covered by the disc (8 × 8 sub-samples per pixel), ``A``
the amplitude and ``∠x`` the phase of the clean complex image ``x``, so the feature adds
exactly ``A·c`` to the magnitude ``|x|`` (a brighter spot for ``A > 0``, darker for
``A < 0``). The k-space is re-synthesised consistently,

    k' = k + M ⊙ F S d              (centred orthonormal FFT, all frames, coil maps S)

so the feature follows the same acquisition path as the anatomy: the case's mask applies to
it, and any condition applied afterwards (undersampling, noise) treats it like real signal.
``S`` is ``case.coil_maps`` if given, else the phantom's true maps (``case.truth``), else
ESPIRiT maps estimated from the fully sampled data (real data: a feature added to real
k-space). The complex reference becomes ``reference + combine(S d)`` (Roemer combination, the
phantom's reference convention); the phantom's noise is unchanged. The feature is drawn on the
acquired grid, so the fully sampled data represent it exactly: whatever a method loses is the
method's loss (Antun et al. 2020 "symbols", Darestani et al. 2021 "artificial features",
Cheng et al. 2020 "false-negative features").

Amplitude: ``A = contrast × level`` with ``level`` the image maximum of the slice
(``relative_to="max"``: ``max |x|`` over the slice's frames, as Darestani's features scale
with the image maximum) or the local tissue (``relative_to="local"``: mean ``|x|`` under the
disc over frames). Positions: random pixel centres (seeded) where the disc lies inside the
``region`` in **every** frame (``"heart"`` any cardiac label, the default; ``"lv"`` LV blood
pool; ``"myo"`` myocardium, often too thin at coarse resolution; ``"body"`` time-mean magnitude above 10 % of its 99th percentile), at least
``radius_px + 0.5`` pixels from the region's border, no feature's disc inside another
feature's window; or given explicitly as ``positions``.

Recovery (:func:`feature_recovery`)
-----------------------------------
Each feature has a square window of half-width ``ceil(radius_px) + 2`` pixels around it.

* ``nrmse_window``: per frame, recon and featured reference windows (magnitudes) are each
  normalised to zero mean and unit standard deviation, and the root-mean-square difference is
  taken (Darestani et al. 2021 use the MSE inside the window after this normalisation);
  mean over frames. 0 for a perfect window; about 1.41 for an uncorrelated one.
* ``contrast_recovery``: a matched filter with a local offset, the least-squares fit
  ``W ≈ a·c + b`` of a magnitude window ``W`` (template ``c``), gives the feature's contrast
  relative to its surroundings, ``κ(W) = a / b``. It is scale-invariant, so a method's
  intensity scale (RSS against the coil-combined reference, zero-filled without density
  compensation) cancels. ``contrast_recovery = Δκ(recon) / Δκ(reference)``, with
  ``Δκ(recon) = κ(recon) − κ(baseline)`` averaged over frames and
  ``Δκ(reference) = κ(featured reference) − κ(clean reference) = A / b_clean`` (exact: adding
  ``A·c`` changes only ``a``). Subtracting the baseline removes the anatomy's own projection
  on the template. The baseline is the method's reconstruction of the case **without**
  features (``reference_without``) when given, which isolates the method's response to the
  feature, else the clean reference stored at insertion. 1 = full contrast, 0 = lost;
  ``contrast_error = |1 − contrast_recovery|``.
* ``cnr`` and ``detected``: always against the clean reference (``Δκ₀ = κ(recon) −
  κ(clean reference)``), so that the method's whole error field (aliasing, noise
  amplification, hallucination) is the background a reader would have to see the feature
  through. ``Δκ₀`` at background windows of the same slice (discs fully inside the body, no
  feature inside the window) gives the distribution of the estimator without a feature;
  ``cnr = sign(A) · (Δκ₀ − mean(Δκ₀_bg)) / sd(Δκ₀_bg)`` (ddof = 1; the sign makes a recovered dark
  feature positive too), detected when ``cnr > cnr_threshold`` (default 5, the Rose
  criterion). An exact reconstruction has no error, so its CNR is very large (or +inf).

References
----------
Antun V et al. On instabilities of deep learning in image reconstruction and the potential
costs of AI. PNAS 117(48):30088–30095, 2020.
Darestani MZ, Chaudhari AS, Heckel R. Measuring robustness in deep learning based compressive
sensing. ICML 2021 (arXiv 2102.06103); MLI-lab/Robustness-CS.
Cheng K, Calivá F, Shah R, Han M, Majumdar S, Pedoia V. Addressing the false negative problem
of deep learning MRI reconstruction models by adversarial attacks and robust training. MIDL
2020, PMLR 121:121–135.
Rose A. The sensitivity performance of the human eye on an absolute scale. J Opt Soc Am
38(2):196–208, 1948; Burgess AE. The Rose model, revisited. JOSA A 16(3):633–646, 1999.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from suite._serialise import jsonable
from suite._validation import check_option

__all__ = ["Feature", "FeatureSet", "FeatureRecovery", "insert_features", "feature_recovery",
           "REGIONS", "RELATIVE_TO", "DEFAULT_CNR_THRESHOLD"]

REGIONS = ("lv", "myo", "heart", "body")
RELATIVE_TO = ("max", "local")
#: Rose criterion (Rose 1948; Burgess 1999).
DEFAULT_CNR_THRESHOLD = 5.0
_MARGIN_PX = 2
_SUBSAMPLES = 8


@dataclass(frozen=True)
class Feature:
    """One inserted disc. Pixel coordinates ``(y, x)`` on the image grid of the Case.

    Attributes
    ----------
    index : int
    slice : int
    centre : (int, int)
        Pixel ``(y, x)`` at the disc centre.
    radius_px : float
    amplitude : float
        ``A``: magnitude added at full coverage, image units.
    contrast : float
        The requested contrast (``A / level``).
    level : float
        The reference level (image maximum or local tissue, :data:`RELATIVE_TO`).
    tissue : str
        ACDC structure under the centre at the first annotated frame (``"background"``,
        ``"rv"``, ``"myo"``, ``"lv"``), or ``"unknown"`` without labels.
    window : (int, int, int, int)
        ``(y0, y1, x0, x1)``, the half-open window analysed.
    """

    index: int
    slice: int
    centre: tuple[int, int]
    radius_px: float
    amplitude: float
    contrast: float
    level: float
    tissue: str
    window: tuple[int, int, int, int]

    def to_dict(self) -> dict[str, Any]:
        return jsonable(dataclasses.asdict(self))


@dataclass(frozen=True)
class FeatureSet:
    """What :func:`feature_recovery` needs about the inserted features.

    Attributes
    ----------
    features : tuple of Feature
    template : ndarray float64 ``(wy, wx)``
        Disc coverage ``c`` in a window (the same for every feature).
    featured_windows, clean_windows : tuple of ndarray float64 ``(frame, wy, wx)``
        ``|reference|`` with and without the features, per feature window.
    background : tuple of ndarray int ``(n_bg, 2)``
        Window origins ``(y0, x0)`` of the background windows of each feature's slice.
    background_clean : tuple of ndarray float64 ``(n_bg, frame, wy, wx)``
        Clean ``|reference|`` at those windows.
    image_shape : (slice, frame, y, x)
    region, relative_to : str
    coil_maps : str
        Which maps synthesised the features (``"given"``, ``"truth"``, or an estimator).
    """

    features: tuple[Feature, ...]
    template: np.ndarray
    featured_windows: tuple[np.ndarray, ...]
    clean_windows: tuple[np.ndarray, ...]
    background: tuple[np.ndarray, ...]
    background_clean: tuple[np.ndarray, ...]
    image_shape: tuple[int, int, int, int]
    region: str
    relative_to: str
    coil_maps: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description (no arrays)."""
        return jsonable({"n_features": len(self.features), "region": self.region,
                         "relative_to": self.relative_to, "coil_maps": self.coil_maps,
                         "image_shape": self.image_shape,
                         "n_background": [len(b) for b in self.background],
                         "features": [f.to_dict() for f in self.features]})

    def summary(self) -> str:
        lines = [f"{len(self.features)} feature(s), region {self.region}, amplitude relative to "
                 f"the {'slice maximum' if self.relative_to == 'max' else 'local tissue'}, "
                 f"maps {self.coil_maps}"]
        for f in self.features:
            lines.append(f"  #{f.index}: slice {f.slice}, centre (y, x) = {f.centre}, radius "
                         f"{f.radius_px:g} px, contrast {f.contrast:g} (A = {f.amplitude:.4g})")
        return "\n".join(lines)


@dataclass(frozen=True)
class FeatureRecovery:
    """Per-feature recovery and the means over features.

    Attributes
    ----------
    rows : tuple of dict
        One per feature: ``index, slice, y, x, tissue, radius_px, contrast, amplitude,
        inserted_relative_contrast, recovered_relative_contrast, nrmse_window,
        contrast_recovery, contrast_error, cnr, detected, n_background``.
    mean : dict
        ``nrmse_window, contrast_recovery, contrast_error, cnr`` (means over the features
        with finite values; a CNR is NaN with fewer than 3 background windows and +inf when
        the background estimates do not vary, e.g. an exact reconstruction: both are left
        out of the mean and counted in ``n_nonfinite_cnr``) and ``detected_fraction``.
    cnr_threshold : float
    baseline : str
        ``"reference_without"`` or ``"clean_reference"``.
    """

    rows: tuple[dict, ...]
    mean: dict
    cnr_threshold: float
    baseline: str

    def to_dict(self) -> dict[str, Any]:
        """``{"mean": {...}, "features": [...], "settings": {...}}``, JSON-safe."""
        return jsonable({"mean": self.mean, "features": list(self.rows),
                         "settings": {"cnr_threshold": self.cnr_threshold,
                                      "baseline": self.baseline,
                                      "n_features": len(self.rows)}})

    def summary(self) -> str:
        """A text table, one row per feature, then the means."""
        head = (f"{'#':>3} {'slice':>5} {'(y, x)':>10} {'nrmse_win':>9} {'contrast':>8} "
                f"{'cnr':>8} detected")
        lines = [f"Small-feature recovery (baseline: {self.baseline}; detected if CNR > "
                 f"{self.cnr_threshold:g})", head]
        for r in self.rows:
            lines.append(f"{r['index']:>3} {r['slice']:>5} {str((r['y'], r['x'])):>10} "
                         f"{r['nrmse_window']:>9.3f} {r['contrast_recovery']:>8.3f} "
                         f"{r['cnr']:>8.2f} {'yes' if r['detected'] else 'no'}")
        m = self.mean
        lines.append(f"mean: nrmse_window {m['nrmse_window']:.3f}, contrast recovery "
                     f"{m['contrast_recovery']:.3f}, CNR {m['cnr']:.2f}, detected "
                     f"{m['detected_fraction']:.0%}")
        return "\n".join(lines)


# ============================================================================ insertion
def _coverage(radius: float, half: int) -> np.ndarray:
    """Disc coverage fraction on a ``(2 half + 1)²`` window centred on a pixel centre."""
    q = _SUBSAMPLES
    sub = (np.arange(q) + 0.5) / q - 0.5
    offs = np.arange(-half, half + 1, dtype=np.float64)
    pos = (offs[:, None] + sub[None, :]).ravel()                      # ((2h+1)·q,)
    inside = (pos[:, None] ** 2 + pos[None, :] ** 2) <= radius ** 2
    n = 2 * half + 1
    return inside.reshape(n, q, n, q).mean(axis=(1, 3))


def _region_mask(case, region: str, mag: np.ndarray) -> np.ndarray:
    """bool ``(slice, y, x)``: pixels inside ``region`` in every frame."""
    if region == "body":
        mean = mag.mean(axis=1)
        return mean > 0.1 * np.percentile(mean, 99)
    if case.labels is None:
        raise ValueError(f"insert_features: region {region!r} needs case.labels; this case has "
                         "none, use region='body' or give positions")
    lab = case.labels
    sel = {"lv": lab == 3, "myo": lab == 2, "heart": lab > 0}[region]
    frames = case.meta.annotated_frames
    if frames is not None and len(frames) < lab.shape[1]:
        sel = sel[:, list(frames)]
    return sel.all(axis=1)


def _candidates(inside: np.ndarray, radius: float, half: int) -> np.ndarray:
    """Pixel centres ``(slice, y, x)`` whose disc stays ``radius + 0.5`` px inside and whose
    window fits in the image."""
    from scipy.ndimage import distance_transform_edt

    out = []
    ns, ny, nx = inside.shape
    for s in range(ns):
        if not inside[s].any():
            continue
        dist = distance_transform_edt(inside[s])
        ok = dist > radius + 0.5
        ok[:half, :] = ok[ny - half:, :] = False
        ok[:, :half] = ok[:, nx - half:] = False
        ys, xs = np.nonzero(ok)
        out.append(np.stack([np.full(ys.size, s), ys, xs], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 3), int)


def _place(cand: np.ndarray, n: int, sep: int, rng, attempts: int = 200) -> list:
    """Up to ``n`` centres from ``cand`` at least ``sep`` px apart (Chebyshev, same slice).

    Random sequential placement, restarted up to ``attempts`` times until ``n`` fit; the
    largest placement found is returned. Slices are visited in turn so that features spread
    over the stack.
    """
    best: list = []
    slices = np.unique(cand[:, 0]) if len(cand) else np.zeros(0, int)
    for _ in range(attempts):
        pools = {int(s): [tuple(int(v) for v in c) for c in cand[cand[:, 0] == s]]
                 for s in slices}
        for pool in pools.values():
            order = rng.permutation(len(pool))
            pool[:] = [pool[i] for i in order]
        chosen: list = []
        progress = True
        while len(chosen) < n and progress:
            progress = False
            for s in rng.permutation(slices):
                pool = pools[int(s)]
                while pool:
                    p = pool.pop()
                    if _far(p, chosen, sep):
                        chosen.append(p)
                        progress = True
                        break
                if len(chosen) == n:
                    break
        if len(chosen) > len(best):
            best = chosen
        if len(best) >= n:
            break
    return best


def _far(p, chosen, n: int) -> bool:
    return all(p[0] != c[0] or max(abs(p[1] - c[1]), abs(p[2] - c[2])) >= n for c in chosen)


def _tissue(case, s: int, y: int, x: int) -> str:
    if case.labels is None:
        return "unknown"
    frames = case.meta.annotated_frames
    f = frames[0] if frames else 0
    names = {0: "background", 1: "rv", 2: "myo", 3: "lv"}
    return names.get(int(case.labels[s, f, y, x]), "unknown")


def _physical_maps(case) -> tuple[np.ndarray, str]:
    if case.coil_maps is not None:
        return case.coil_maps, "given"
    truth = case.truth or {}
    if truth.get("coil_maps") is not None:
        return np.asarray(truth["coil_maps"], np.complex64), "truth"
    from reference_impls.recon.coil_maps import estimate_coil_maps

    return estimate_coil_maps(case, "espirit")


def insert_features(case, *, n_features: int = 3, radius_px: float = 1.5, contrast: float = 0.3,
                    seed: int = 0, region: str = "heart", relative_to: str = "max",
                    positions: Sequence[tuple[int, int, int]] | None = None,
                    n_background: int = 16):
    """Insert ``n_features`` small discs into a Case's raw data (module docstring).

    Parameters
    ----------
    case : Case
        With ``kspace``; a complex ``reference`` (phantom) is used for the phase and the
        levels, otherwise the coil combination of the fully sampled k-space.
    n_features : int, default 3
    radius_px : float, default 1.5
        Disc radius in pixels (≥ 0.5).
    contrast : float, default 0.3
        Amplitude relative to ``relative_to`` (negative: a dark feature); non-zero.
    seed : int
        Positions and background windows.
    region : {"heart", "lv", "myo", "body"}, default "heart"
        Where centres may lie (module docstring); each feature records the tissue under its
        centre at the first annotated frame (``Feature.tissue``).
    relative_to : {"max", "local"}, default "max"
    positions : sequence of (slice, y, x), optional
        Explicit centres (``n_features`` is then their number).
    n_background : int, default 16
        Background windows per slice holding a feature (for the CNR).

    Returns
    -------
    (Case, FeatureSet)
        The Case with ``kspace`` and ``reference`` carrying the features (labels unchanged;
        ``truth["inserted_features"]`` and ``meta.extra["inserted_features"]`` describe them),
        and the :class:`FeatureSet` for :func:`feature_recovery`.

    Raises
    ------
    ValueError
        No k-space, bad parameters, a region without room for the features (with the
        number of candidate positions found), or a position too close to the border.
    """
    where = "insert_features"
    check_option(region, REGIONS, name="region", where=where)
    check_option(relative_to, RELATIVE_TO, name="relative_to", where=where)
    if case.kspace is None:
        raise ValueError(f"{where}: case {case.case_id!r} has no k-space; features are inserted "
                         "into raw data")
    radius = float(radius_px)
    if not (math.isfinite(radius) and radius >= 0.5):
        raise ValueError(f"{where}: radius_px must be >= 0.5; got {radius_px!r}")
    contrast = float(contrast)
    if not math.isfinite(contrast) or contrast == 0:
        raise ValueError(f"{where}: contrast must be finite and non-zero; got {contrast!r}")
    from suite.mr import combine_coils, fft2c, ifft2c

    maps, maps_used = _physical_maps(case)
    maps = np.asarray(maps, np.complex64)
    if case.reference is not None and np.iscomplexobj(case.reference):
        x = case.reference
    else:
        full = np.broadcast_to(case.mask, case.kspace.shape)
        if not full.all():
            raise ValueError(f"{where}: case {case.case_id!r} has neither a complex reference nor "
                             "fully sampled k-space; insert features before undersampling")
        x = combine_coils(ifft2c(case.kspace), maps[:, None]).astype(np.complex64)
    mag = np.abs(x).astype(np.float64)
    ns, nf, ny, nx = mag.shape
    half = int(math.ceil(radius)) + _MARGIN_PX
    n_win = 2 * half + 1
    # windows may overlap, but no window may hold a pixel of another feature's disc
    sep = half + int(math.ceil(radius)) + 1
    cov = _coverage(radius, half)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed) & 0xFFFFFFFF, 0xFEA7]))

    if positions is not None:
        chosen = [tuple(int(v) for v in p) for p in positions]
        for p in chosen:
            if len(p) != 3 or not (0 <= p[0] < ns and half <= p[1] < ny - half
                                   and half <= p[2] < nx - half):
                raise ValueError(f"{where}: position {p} (slice, y, x) must lie in slices "
                                 f"0..{ns - 1} and at least {half} px from the image border")
        if not all(_far(p, chosen[:i], sep) for i, p in enumerate(chosen)):
            raise ValueError(f"{where}: a feature lies in another feature's window; keep "
                             f"centres in one slice at least {sep} px apart (Chebyshev)")
    else:
        if not isinstance(n_features, (int, np.integer)) or n_features < 1:
            raise ValueError(f"{where}: n_features must be an int >= 1; got {n_features!r}")
        cand = _candidates(_region_mask(case, region, mag), radius, half)
        chosen = _place(cand, int(n_features), sep, rng)
        if len(chosen) < n_features:
            raise ValueError(
                f"{where}: region {region!r} of case {case.case_id!r} has room for only "
                f"{len(chosen)} of {n_features} discs of radius {radius:g} px ({len(cand)} "
                "candidate centres inside the region in every frame); lower n_features or "
                f"radius_px, or use one of {[r for r in REGIONS if r != region]}")

    d = np.zeros((ns, nf, ny, nx), np.complex64)
    feats = []
    for i, (s, cy, cx) in enumerate(chosen):
        win = (cy - half, cy + half + 1, cx - half, cx + half + 1)
        wsl = (slice(win[0], win[1]), slice(win[2], win[3]))
        if relative_to == "max":
            level = float(mag[s].max())
        else:
            core = cov >= 0.5
            level = float(mag[s][:, wsl[0], wsl[1]][:, core].mean())
        amp = contrast * level
        phase = np.exp(1j * np.angle(x[s][:, wsl[0], wsl[1]]))
        d[s][:, wsl[0], wsl[1]] += (amp * cov[None] * phase).astype(np.complex64)
        feats.append(Feature(i, int(s), (int(cy), int(cx)), radius, float(amp), contrast,
                             level, _tissue(case, s, cy, cx), win))

    mask_full = np.broadcast_to(case.mask, case.kspace.shape)
    kspace = case.kspace.copy()
    add_ref = np.zeros_like(d)
    for s in sorted({f.slice for f in feats}):
        coil_images = maps[s][None] * d[s][:, None]                      # (frame, coil, y, x)
        kspace[s] += (fft2c(coil_images) * mask_full[s]).astype(np.complex64)
        add_ref[s] = combine_coils(coil_images, maps[s][None]).astype(np.complex64)
    if case.reference is None:
        reference = None
    elif np.iscomplexobj(case.reference):
        reference = (case.reference + add_ref).astype(case.reference.dtype)
    else:
        reference = (case.reference + np.abs(add_ref)).astype(case.reference.dtype)
    featured_mag = np.abs(x + add_ref).astype(np.float64)

    bg_origins, bg_clean = [], []
    body_all = _region_mask(case, "body", mag)
    for f in feats:
        body = body_all[f.slice:f.slice + 1]
        cand = _candidates(body, radius, half)
        cand = [(f.slice, int(c[1]), int(c[2])) for c in cand[rng.permutation(len(cand))]]
        picked = []
        for c in cand:
            if _far(c, [(g.slice, *g.centre) for g in feats if g.slice == f.slice], sep) \
                    and _far(c, picked, n_win):
                picked.append(c)
                if len(picked) == n_background:
                    break
        org = np.array([(c[1] - half, c[2] - half) for c in picked], int).reshape(-1, 2)
        bg_origins.append(org)
        bg_clean.append(np.stack([mag[f.slice][:, y0:y0 + n_win, x0:x0 + n_win]
                                  for y0, x0 in org]) if len(org) else
                        np.zeros((0, nf, n_win, n_win)))

    def crop(a, f):
        y0, y1, x0, x1 = f.window
        return a[f.slice][:, y0:y1, x0:x1].copy()

    fset = FeatureSet(
        features=tuple(feats), template=cov,
        featured_windows=tuple(crop(featured_mag, f) for f in feats),
        clean_windows=tuple(crop(mag, f) for f in feats),
        background=tuple(bg_origins), background_clean=tuple(bg_clean),
        image_shape=(ns, nf, ny, nx), region=region if positions is None else "given",
        relative_to=relative_to, coil_maps=maps_used)
    described = [f.to_dict() for f in feats]
    truth = dict(case.truth or {})
    truth["inserted_features"] = described
    meta = dataclasses.replace(case.meta, extra={**case.meta.extra,
                                                 "inserted_features": described})
    return case.replace(kspace=kspace, reference=reference, truth=truth, meta=meta), fset


# ============================================================================ recovery
def _relative_contrast(window: np.ndarray, template: np.ndarray) -> np.ndarray:
    """``κ = a / b`` of the least-squares fit ``window ≈ a·template + b``.

    ``window`` ``(..., wy, wx)`` → ``(...)``; NaN where the local level ``b`` is not positive.
    Adding ``A·template`` to a window changes ``a`` by exactly ``A`` and leaves ``b``
    unchanged, and ``κ`` does not change when the window is scaled, so a method's global or
    slowly varying intensity scale (e.g. RSS against a coil-combined reference) cancels.
    """
    t = template - template.mean()
    w = window - window.mean(axis=(-2, -1), keepdims=True)
    a = (w * t).sum(axis=(-2, -1)) / (t * t).sum()
    b = window.mean(axis=(-2, -1)) - a * template.mean()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.nan)


def _zscore(a: np.ndarray) -> np.ndarray:
    sd = a.std(axis=(-2, -1), keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (a - a.mean(axis=(-2, -1), keepdims=True)) / np.where(sd > 0, sd, np.nan)


def feature_recovery(recon, feature_set: FeatureSet, *, reference_without=None,
                     cnr_threshold: float = DEFAULT_CNR_THRESHOLD) -> FeatureRecovery:
    """How well a reconstruction of the featured case recovers each feature.

    Parameters
    ----------
    recon : array ``(slice, frame, y, x)``, complex or real
        The method's output on the featured (and conditioned) Case; its magnitude is used.
    feature_set : FeatureSet
        From :func:`insert_features`.
    reference_without : array ``(slice, frame, y, x)``, optional
        The same method's output on the same Case without features (same condition and
        mask); the baseline of ``contrast_recovery`` (module docstring), recommended: it
        removes the aliasing of the anatomy from the contrast estimate. Default: the clean
        reference stored in ``feature_set``. The CNR always uses the clean reference.
    cnr_threshold : float, default 5 (Rose criterion)

    Returns
    -------
    FeatureRecovery
        Per-feature rows and means (module docstring for the definitions).

    Raises
    ------
    ValueError
        ``recon`` or ``reference_without`` not of the feature set's image shape.
    """
    where = "feature_recovery"
    shape = tuple(feature_set.image_shape)
    rec = np.abs(np.asarray(recon)).astype(np.float64)
    if rec.shape != shape:
        raise ValueError(f"{where}: recon shape {rec.shape} does not match the featured case "
                         f"(slice, frame, y, x) = {shape}")
    base = None
    if reference_without is not None:
        base = np.abs(np.asarray(reference_without)).astype(np.float64)
        if base.shape != shape:
            raise ValueError(f"{where}: reference_without shape {base.shape} does not match "
                             f"(slice, frame, y, x) = {shape}")
    tmpl = feature_set.template
    n_win = tmpl.shape[0]
    rows = []
    for f, feat_win, clean_win, org, bg_clean in zip(
            feature_set.features, feature_set.featured_windows, feature_set.clean_windows,
            feature_set.background, feature_set.background_clean):
        y0, y1, x0, x1 = f.window
        rec_win = rec[f.slice][:, y0:y1, x0:x1]
        base_win = clean_win if base is None else base[f.slice][:, y0:y1, x0:x1]
        inserted = float(np.mean(_relative_contrast(feat_win, tmpl)
                                 - _relative_contrast(clean_win, tmpl)))
        k_rec = _relative_contrast(rec_win, tmpl)
        kappa = float(np.mean(k_rec - _relative_contrast(base_win, tmpl)))
        kappa_clean = float(np.mean(k_rec - _relative_contrast(clean_win, tmpl)))
        err = np.sqrt(np.mean((_zscore(rec_win) - _zscore(feat_win)) ** 2, axis=(-2, -1)))
        nrmse = float(np.mean(err)) if np.isfinite(err).all() else float("nan")
        if len(org):
            rec_bg = np.stack([rec[f.slice][:, yy:yy + n_win, xx:xx + n_win] for yy, xx in org])
            k_bg = np.mean(_relative_contrast(rec_bg, tmpl) - _relative_contrast(bg_clean, tmpl),
                           axis=1)
            k_bg = k_bg[np.isfinite(k_bg)]
        else:
            k_bg = np.zeros(0)
        if k_bg.size >= 3 and math.isfinite(kappa_clean):
            sd = float(np.std(k_bg, ddof=1))
            diff = math.copysign(1.0, f.amplitude) * (kappa_clean - float(k_bg.mean()))
            cnr = diff / sd if sd > 0 else (math.copysign(math.inf, diff) if diff else 0.0)
        else:
            cnr = float("nan")
        ratio = kappa / inserted if inserted != 0 else float("nan")
        rows.append({"index": f.index, "slice": f.slice, "y": f.centre[0], "x": f.centre[1],
                     "tissue": f.tissue, "radius_px": f.radius_px, "contrast": f.contrast,
                     "amplitude": f.amplitude, "inserted_relative_contrast": inserted,
                     "recovered_relative_contrast": kappa, "nrmse_window": nrmse,
                     "contrast_recovery": ratio, "contrast_error": abs(1.0 - ratio),
                     "cnr": cnr, "detected": bool(cnr > cnr_threshold),
                     "n_background": int(k_bg.size)})

    def mean_of(key):
        vals = np.array([r[key] for r in rows], float)
        vals = vals[np.isfinite(vals)]
        return float(vals.mean()) if vals.size else float("nan")

    mean = {"nrmse_window": mean_of("nrmse_window"),
            "contrast_recovery": mean_of("contrast_recovery"),
            "contrast_error": mean_of("contrast_error"), "cnr": mean_of("cnr"),
            "detected_fraction": float(np.mean([r["detected"] for r in rows])),
            "n_nonfinite_cnr": int(sum(not np.isfinite(r["cnr"]) for r in rows))}
    return FeatureRecovery(rows=tuple(rows), mean=mean, cnr_threshold=float(cnr_threshold),
                           baseline="clean_reference" if base is None else "reference_without")

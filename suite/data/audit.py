"""Data-crime audit: detect k-space that was synthesised from processed images.

Shimron, Tamir, Wang & Lustig (PNAS 2022, "Implicit data crimes") showed that reconstruction
methods trained and evaluated on k-space *synthesised* from processed images — zero-padded
k-space, magnitude images, JPEG-compressed images — score 25-48 % better than on raw data,
because the processing removed exactly what makes reconstruction hard (high frequencies,
phase, noise, fine texture). :func:`audit_case` looks for the fingerprints of such processing
in one :class:`~suite.case.Case`; :func:`suite.conditions.commit_crime` makes crimed copies of an
honest Case so the inflation can be measured (docs/robustness-audit.md).

Detectors (each a score, a threshold and a flag; thresholds in :data:`THRESHOLDS`, with the
margins measured on the phantom and on crimed data in docs/robustness-audit.md):

=====================  =======================================================================
flag                   fingerprint
=====================  =======================================================================
zero_padded            contiguous bands of acquired k-space rows (ky) or columns (kx) on *both*
                       sides of k-space whose power is ≤ ``zero_band_rel_power`` × the peak
                       row/column power (exact zeros or round-off). A band on one side only is
                       partial Fourier / asymmetric echo and is reported, not flagged.
hermitian_symmetric    per coil and image, k(−k) = conj k(k) up to a global phase: the
                       anti-Hermitian energy fraction ``h`` ≤ ``hermitian_max`` (a real-valued
                       image times e^{iθ}); also on the coil combination when the Case has maps.
real_valued_object     multi-coil data whose coil images are ``S_c · m`` with ``m`` real ≥ 0 (a
                       magnitude image times coil maps): in noise-only pixels the coil vectors
                       of pixels ``d`` apart stay phase-coherent (score ≥ ``coherence_min``);
                       real complex noise is incoherent (score ≈ 0).
quantised              the magnitude image (RSS of fully sampled k-space, and the stored
                       reference) sits on a coarse lattice of levels: distinct levels / values
                       ≤ ``level_ratio_max`` on a 10⁻⁵-of-maximum grid.
jpeg_blocking          8×8 block boundaries: mean 2×2 cross difference on the strongest block
                       row/column phase over the median phase ≥ ``blockiness_min``
                       (:func:`blockiness`; an additional score, thin margin, see the docs).
=====================  =======================================================================

Conventions: k-space ``(slice, frame, coil, ky, kx)``, centred orthonormal FFT
(:mod:`suite.mr.fft`), so the DC sample is at index ``N // 2`` and the mirror of index ``i``
is ``(2 (N // 2) − i) mod N`` along each axis (even and odd N). Only acquired samples
(``case.mask``) are judged: zero *lines* of undersampled data are not a crime.

References
----------
Shimron E, Tamir JI, Wang K, Lustig M. Implicit data crimes: Machine learning bias arising from
misuse of public data. PNAS 2022;119(13):e2117203119. doi:10.1073/pnas.2117203119
Fan Z, de Queiroz RL. Identification of bitmap compression history: JPEG detection and quantizer
estimation. IEEE Trans Image Process 2003;12(2):230-235.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from suite._serialise import jsonable
from suite._table import SummaryTable
from suite._validation import check_option
from suite.case import Case

__all__ = ["audit_case", "AuditResult", "AUDIT_FLAGS", "CRIMES", "CRIME_FLAGS", "THRESHOLDS",
           "hermitian_error", "level_ratio", "blockiness"]

#: Crimes :func:`suite.conditions.commit_crime` can commit (Shimron et al. 2022).
CRIMES = ("zero-padded", "magnitude", "quantised", "jpeg")

#: The audit flags that reveal each crime (any one of them suffices).
CRIME_FLAGS: Mapping[str, tuple[str, ...]] = {
    "zero-padded": ("zero_padded",),
    "magnitude": ("hermitian_symmetric", "real_valued_object"),
    "quantised": ("quantised",),
    "jpeg": ("jpeg_blocking", "quantised"),
}

#: Default thresholds (override per call with ``audit_case(case, thresholds={...})``).
THRESHOLDS: Mapping[str, float] = {
    # row/column power relative to the peak row/column power below which a row is "empty"
    "zero_band_rel_power": 1e-8,
    # a band must span at least this many rows/columns on each side ...
    "zero_band_min_lines": 2,
    # ... and at least this fraction of the axis
    "zero_band_min_fraction": 0.02,
    # anti-Hermitian energy fraction at or below which k-space counts as Hermitian symmetric
    "hermitian_max": 1e-3,
    # phase coherence of noise-only pixels at or above which the object counts as real-valued
    "coherence_min": 0.5,
    # noise-only pixels: mean RSS² within [noise_guard_low, noise_guard] × the k-space corner
    # floor (above: signal, not noise; below: noise-free or denoised data)
    "noise_guard": 10.0,
    "noise_guard_low": 0.005,
    # pixel lag of the coherence test
    "coherence_lag": 4,
    # distinct levels / values at or below which an image counts as quantised
    "level_ratio_max": 0.25,
    # values sampled for the level count (and the minimum needed to judge)
    "level_sample": 20000,
    "level_min_values": 2000,
    # relative bin width of the level count (fraction of the image maximum). 1e-6, not 1e-5:
    # at 1e-5 a full-size honest cine (10 slices x 25 frames of mostly dark pixels) put its
    # 20,000 sampled values into few enough bins to fall under 0.25 (measured 0.21, a false
    # flag); at 1e-6 the same case gives 0.76 while 8-bit data stays below 0.02 (float32
    # round-off after the FFT round trip is ~1e-7 of the maximum, adjacent bins are merged).
    "level_bin": 1e-6,
    # values at or below this fraction of the maximum are left out of the level count
    "level_floor": 0.02,
    # 8x8 blockiness (strongest block phase / median phase) at or above which JPEG is flagged;
    # the mean- and the median-pooled scores must both reach it (see blockiness)
    "blockiness_min": 1.3,
}

#: Every flag :func:`audit_case` can raise.
AUDIT_FLAGS = ("zero_padded", "hermitian_symmetric", "real_valued_object", "quantised",
               "jpeg_blocking")


# ====================================================================== result
@dataclass(frozen=True)
class AuditResult:
    """Data-crime audit of one Case.

    Attributes
    ----------
    case_id : str
    flags : dict[str, bool]
        One entry per detector that could be evaluated (:data:`CRIME_FLAGS` values); a
        detector that could not judge this Case is absent here and listed in ``not_assessed``.
    scores : dict[str, float]
        The statistics behind the flags (see :func:`audit_case`, Returns).
    thresholds : dict[str, float]
        The thresholds used.
    details : dict[str, str]
        One sentence per detector: what was found, including one-sided (partial Fourier)
        bands and informational findings that are not flags.
    not_assessed : dict[str, str]
        Detector → reason it could not judge (e.g. image-only Case, no noise-only pixels).
    info : dict[str, bool]
        Findings that are facts, not crimes: ``quantised_images`` for an image-only Case whose
        stored images sit on a coarse lattice (normal for DICOM/NIfTI; a crime only if
        k-space is synthesised from them, which :func:`commit_crime` would then flag).
    """

    case_id: str
    flags: dict[str, bool]
    scores: dict[str, float]
    thresholds: dict[str, float]
    details: dict[str, str]
    not_assessed: dict[str, str] = field(default_factory=dict)
    info: dict[str, bool] = field(default_factory=dict)

    @property
    def flagged(self) -> bool:
        """True when any detector fired."""
        return any(self.flags.values())

    @property
    def suspected_crimes(self) -> tuple[str, ...]:
        """Crimes of :data:`CRIMES` whose fingerprint (:data:`CRIME_FLAGS`) was found."""
        return tuple(c for c in CRIMES if any(self.flags.get(f, False) for f in CRIME_FLAGS[c]))

    def to_dict(self) -> dict:
        """JSON-safe dict (NaN → None), ready for ``CaseMeta.audit_flags``."""
        return jsonable({"case_id": self.case_id, "flagged": self.flagged,
                         "suspected_crimes": list(self.suspected_crimes),
                         "flags": self.flags, "scores": self.scores,
                         "thresholds": self.thresholds, "details": self.details,
                         "not_assessed": self.not_assessed, "info": self.info})

    def summary(self, format: str = "text") -> str:
        """Table of detectors: flag, detail; thresholds and non-assessed detectors as notes."""
        rows = []
        for name in AUDIT_FLAGS:
            if name in self.flags:
                rows.append((name, "FLAG" if self.flags[name] else "ok",
                             self.details.get(name, "")))
            elif name in self.not_assessed:
                rows.append((name, "n/a", self.not_assessed[name]))
        notes = ["Shimron et al., PNAS 2022 (implicit data crimes): k-space synthesised from "
                 "zero-padded, magnitude or JPEG images inflates reconstruction scores.",
                 "Thresholds: " + ", ".join(f"{k}={v:g}" for k, v in self.thresholds.items())]
        verdict = ("suspected: " + ", ".join(self.suspected_crimes)) if self.flagged \
            else "no data-crime fingerprint found"
        return SummaryTable(f"Data-crime audit of {self.case_id} ({verdict})",
                            ("detector", "result", "detail"), tuple(rows),
                            tuple(notes)).render(format)


# ====================================================================== statistics
def _mirror(n: int) -> np.ndarray:
    """Index of −k for each centred index (DC at n // 2), even and odd n."""
    return (2 * (n // 2) - np.arange(n)) % n


def hermitian_error(kspace: np.ndarray, pairs: np.ndarray | None = None) -> np.ndarray:
    """Anti-Hermitian energy fraction of centred k-space after the best global phase.

    Parameters
    ----------
    kspace : ndarray, complex, shape (..., ky, kx)
        Centred k-space (DC at ``(ky // 2, kx // 2)``).
    pairs : ndarray, bool, broadcastable to ``kspace``, optional
        Samples whose mirror is also acquired; others are ignored.

    Returns
    -------
    ndarray, float64, shape ``kspace.shape[:-2]``
        ``h = (Σ|X|² − |Σ X(k) X(−k)|) / (2 Σ|X|²)`` per image, in [0, 1/2]: the fraction of the
        energy in the imaginary part of ``e^{iθ} x`` minimised over θ (since Σ_k X(k) X(−k) =
        Σ_r x(r)²). 0 for a real-valued image times any e^{iθ}; 1/2 for circular complex noise.
        NaN where no energy.

    Examples
    --------
    >>> from suite.mr.fft import fft2c
    >>> x = np.random.default_rng(0).random((6, 7))
    >>> float(hermitian_error(fft2c((x * np.exp(0.3j)).astype(np.complex64)))) < 1e-6
    True
    """
    k = np.asarray(kspace)
    ny, nx = k.shape[-2:]
    # k(−k): one gather of the mirrored flat indices (k[..., _mirror(ny), :][..., _mirror(nx)])
    mirrored = (_mirror(ny)[:, None] * nx + _mirror(nx)[None, :]).ravel()
    km = np.take(k.reshape(*k.shape[:-2], ny * nx), mirrored, axis=-1).reshape(k.shape)
    if pairs is not None:
        w = np.broadcast_to(pairs, k.shape)
        k = np.where(w, k, 0)
        km = np.where(w, km, 0)
    k64, km64 = k.astype(np.complex128), km.astype(np.complex128)
    e = np.sum(np.abs(k64) ** 2, axis=(-2, -1))
    s = np.abs(np.sum(k64 * km64, axis=(-2, -1)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(e > 0, (e - s) / (2 * e), np.nan)


def level_ratio(image: np.ndarray, *, bin_width: float = 1e-5, sample: int = 20000,
                floor: float | None = None) -> tuple:
    """Distinct intensity levels per value of a magnitude image (quantisation statistic).

    Parameters
    ----------
    image : ndarray, real or complex, any shape
        Its magnitude is scaled to its maximum; values ≤ ``bin_width`` (background zeros) are
        left out.
    bin_width : float
        Level resolution as a fraction of the maximum (far above float32 round-off, far below
        an 8- or 12-bit step: 1/255 ≈ 3.9e-3, 1/4095 ≈ 2.4e-4).
    sample : int
        At most this many values, taken at an even stride (deterministic).

    floor : float, optional
        Values at or below this fraction of the maximum are left out (default ``bin_width``).
        The audit uses 0.02: the dark background and noise floor crowd a few bins near zero
        and would pull the ratio of an honest image towards a lattice's.

    Returns
    -------
    (ratio, n_levels, n_values, step) : (float, int, int, float)
        ``ratio`` = distinct bins occupied / values (≈ 1 for continuous intensities, ≤ 2 L / n
        for L levels); ``step`` = median gap between distinct levels relative to the maximum.

    Examples
    --------
    >>> img = np.round(np.random.default_rng(0).random(5000) * 255) / 255
    >>> r, n_levels, n, step = level_ratio(img)
    >>> n_levels <= 256 and r < 0.1 and abs(step * 255 - 1) < 1e-6
    True
    """
    a = np.abs(np.asarray(image)).astype(np.float64).ravel()
    top = a.max() if a.size else 0.0
    if top <= 0:
        return (float("nan"), 0, 0, float("nan"))
    a = a / top
    a = a[a > (bin_width if floor is None else max(floor, bin_width))]
    if a.size > sample:
        a = a[:: int(np.ceil(a.size / sample))]
    if a.size == 0:
        return (float("nan"), 0, 0, float("nan"))
    idx = np.round(a / bin_width).astype(np.int64)
    bins = np.unique(idx)
    # adjacent occupied bins are one level split by round-off
    starts = np.concatenate([[True], np.diff(bins) > 1])
    n_levels = int(starts.sum())
    level_of_bin = np.cumsum(starts) - 1
    level = level_of_bin[np.searchsorted(bins, idx)]
    centres = np.bincount(level, weights=a) / np.bincount(level)
    step = float(np.median(np.diff(centres))) if centres.size > 1 else float("nan")
    return (bins.size / a.size, n_levels, int(a.size), step)


def blockiness(images: np.ndarray, block: int = 8, *, statistic: str = "mean") -> float:
    """8×8 blocking score of magnitude images (JPEG fingerprint).

    Parameters
    ----------
    images : ndarray, real, shape (..., y, x)
    block : int
        Block size (8 for JPEG).
    statistic : {"mean", "median"}
        How the cross differences of one block phase are pooled (below).

    Returns
    -------
    float
        With the cross difference ``E(i, j) = |a(i,j) − a(i,j+1) − a(i+1,j) + a(i+1,j+1)|``
        (zero for any locally linear intensity, so smooth shading and straight edges count
        little) and ``M(p, q)`` its mean (or median) over all pixels with ``i mod block = p``,
        ``j mod block = q`` (pooled over images): the mean over the two axes of ``max /
        median`` of the row means and of the column means of ``M``. JPEG raises the cross
        difference along every block boundary of the image, so one row and one column of
        ``M`` rise (wherever the grid starts); without a grid the score is ≈ 1 (Fan & de
        Queiroz, IEEE TIP 2003, blocking statistic in a phase-free form). The two statistics
        fail differently: the mean lets a few large differences at the corners of a
        piecewise-constant object through (a clean simulated object at SNR 1000 scored 2.8
        with the mean, 1.04 with the median), the median follows the content of small, nearly
        noise-free images (honest 60 × 72 phantoms reach 1.9); JPEG raises both, which is what
        :func:`audit_case` requires. NaN if an axis is shorter than ``2 · block``, or if the
        images have no texture at all (every median zero: noise-free constant regions).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> smooth = 0.05 * rng.random((4, 64, 64))
    >>> blocky = smooth + np.kron(rng.random((4, 8, 8)), np.ones((8, 8)))  # block constants
    >>> blockiness(smooth) < 1.1 < 1.5 < blockiness(blocky)
    True
    """
    a = np.abs(np.asarray(images)).astype(np.float64)
    if a.shape[-1] < 2 * block or a.shape[-2] < 2 * block:
        return float("nan")
    a = a.reshape(-1, *a.shape[-2:])
    e = np.abs(a[:, :-1, :-1] - a[:, :-1, 1:] - a[:, 1:, :-1] + a[:, 1:, 1:])
    check_option(statistic, ("mean", "median"), name="statistic", where="blockiness")
    pool = np.mean if statistic == "mean" else np.median
    m = np.array([[pool(e[:, p::block, q::block]) for q in range(block)]
                  for p in range(block)])
    out = []
    for prof in (m.mean(axis=1), m.mean(axis=0)):
        med = np.median(prof)
        if med > 0:
            out.append(prof.max() / med)
    return float(np.mean(out)) if out else float("nan")


def _edge_band(profile: np.ndarray, low: np.ndarray) -> tuple[int, int]:
    """Widths of the low bands at the start and end of a profile (NaN = not acquired)."""
    widths = []
    for seq_p, seq_l in ((profile, low), (profile[::-1], low[::-1])):
        width, any_low = 0, False
        for p, lo in zip(seq_p, seq_l):
            if np.isnan(p):
                width += 1
                continue
            if not lo:
                break
            width += 1
            any_low = True
        widths.append(width if any_low else 0)
    return widths[0], widths[1]


def _coherence(coil_images: np.ndarray, lag: int, select: np.ndarray) -> tuple[float, float]:
    """Phase coherence between coil vectors ``lag`` pixels apart at selected pixels.

    coil_images (coil, y, x) complex; select (y, x) bool. Returns (Σ Re z, Σ |z|) with
    z = Σ_c conj(v_c(r + d)) v_c(r) over the four shifts ±lag in y and x.
    """
    re_sum, abs_sum = 0.0, 0.0
    v = coil_images[:, select]
    ys, xs = np.nonzero(select)  # the order of boolean indexing
    ny, nx = select.shape
    for shift, axis in ((lag, -1), (-lag, -1), (lag, -2), (-lag, -2)):
        # np.roll(coil_images, shift, axis)[:, select], gathering the selected pixels only
        w = (coil_images[:, ys, (xs - shift) % nx] if axis == -1
             else coil_images[:, (ys - shift) % ny, xs])
        z = np.sum(np.conj(w) * v, axis=0)
        re_sum += float(np.sum(z.real))
        abs_sum += float(np.sum(np.abs(z)))
    return re_sum, abs_sum


# ====================================================================== audit
def audit_case(case: Case, *, thresholds: Mapping[str, float] | None = None) -> AuditResult:
    """Look for data-crime fingerprints in one Case (module docstring: the detectors).

    Parameters
    ----------
    case : Case
        With k-space (judged on acquired samples only) and/or a reference image. Image-only
        Cases (``kspace`` None) get the image checks (quantised, JPEG blocking) and the
        k-space checks are listed in ``not_assessed``; there a quantised lattice goes to
        ``info["quantised_images"]``, not to the flags (stored images are integers).
    thresholds : mapping, optional
        Overrides of :data:`THRESHOLDS` (unknown keys raise ValueError).

    Returns
    -------
    AuditResult
        ``scores``: ``zero_band_ky_start/end``, ``zero_band_kx_start/end`` (rows/columns),
        ``zero_band_fraction`` (largest two-sided band / axis length), ``zero_band_rel_power``
        (mean power in the bands / peak, 0 for exact zeros), ``periphery_rel_power`` (power of
        the outermost live row/column / peak); ``hermitian_error`` (median over coil images of
        :func:`hermitian_error`), ``hermitian_error_min``, ``hermitian_error_combined`` (with
        ``case.coil_maps``); ``noise_coherence`` (Σ Re z / Σ |z|, see :func:`_coherence`) and
        ``noise_pixels``; ``level_ratio``, ``n_levels``, ``level_step`` (of the RSS image and of
        the reference: suffixes ``_rss``, ``_reference``); ``blockiness``.

    Raises
    ------
    ValueError
        Unknown threshold key.

    Notes
    -----
    Memory: k-space is processed one (slice, frame) image at a time; the RSS image of a fully
    sampled Case (float32, ``(slice, frame, y, x)``) is the largest array kept.
    The coherence test needs noise-only pixels: pixels whose RSS is in the lowest decile of
    their image, with a mean RSS² between ``noise_guard_low`` and ``noise_guard`` times the
    noise floor estimated from the outer eighth of k-space (corners: Σ_c median|k_c|² / ln 2,
    the mean of an exponential variable) — otherwise the image is skipped (a body filling the
    field of view; noise-free or denoised data, where nothing is noise-only).

    Examples
    --------
    >>> from suite.conditions import commit_crime
    >>> from suite.phantom import simulate
    >>> case = simulate(seed=1, preset="tiny", n_frames=2, n_slices=1)
    >>> audit_case(case).flagged
    False
    >>> audit_case(commit_crime(case, "zero-padded")).flags["zero_padded"]
    True
    """
    where = "audit_case"
    thr = dict(THRESHOLDS)
    for key, value in (thresholds or {}).items():
        check_option(key, THRESHOLDS, name="threshold", where=where)
        thr[key] = float(value)
    flags: dict[str, bool] = {}
    scores: dict[str, float] = {}
    details: dict[str, str] = {}
    not_assessed: dict[str, str] = {}
    rss_image = None
    info: dict[str, bool] = {}
    if case.kspace is None:
        for name in ("zero_padded", "hermitian_symmetric", "real_valued_object"):
            not_assessed[name] = "image-only Case (no k-space)"
    else:
        rss_image = _audit_kspace(case, thr, flags, scores, details, not_assessed)
    _audit_images(case, rss_image, thr, flags, scores, details, not_assessed, info)
    return AuditResult(case_id=case.case_id, flags=flags, scores=scores, thresholds=thr,
                       details=details, not_assessed=not_assessed, info=info)


def _audit_kspace(case, thr, flags, scores, details, not_assessed):
    from suite.mr.coils import rss
    from suite.mr.fft import fft2c, ifft2c

    k_all = case.kspace
    ns, nf, nc, ny, nx = k_all.shape
    row_pow, row_n = np.zeros(ny), np.zeros(ny)
    col_pow, col_n = np.zeros(nx), np.zeros(nx)
    herm, herm_comb = [], []
    re_sum = abs_sum = 0.0
    n_noise_px = 0
    coherence_blocked = 0
    full = bool(np.all(case.mask))
    rss_image = np.empty((ns, nf, ny, nx), np.float32) if full else None
    lag = int(thr["coherence_lag"])
    cy, cx = max(1, ny // 8), max(1, nx // 8)
    for s in range(ns):
        mask_s = case.mask[s if case.mask.shape[0] > 1 else 0]
        for f in range(nf):
            k = k_all[s, f]  # (coil, ky, kx): one image at a time bounds the memory
            p = k.real.astype(np.float64) ** 2 + k.imag.astype(np.float64) ** 2
            if not full:
                m = np.broadcast_to(mask_s[f if mask_s.shape[0] > 1 else 0], k.shape)
                row_pow += np.sum(p * m, axis=(0, 2))
                row_n += np.sum(m, axis=(0, 2))
                col_pow += np.sum(p * m, axis=(0, 1))
                col_n += np.sum(m, axis=(0, 1))
                pairs = m & m[..., _mirror(ny), :][..., _mirror(nx)]
                herm.append(hermitian_error(k, pairs).ravel())
                continue
            # fully sampled: the mask is all true, so p * m is p, the mask sums are nc * nx
            # and nc * ny, and every sample has its mirror (the same values, to the bit)
            row_pow += np.sum(p, axis=(0, 2))
            row_n += nc * nx
            col_pow += np.sum(p, axis=(0, 1))
            col_n += nc * ny
            herm.append(hermitian_error(k).ravel())
            x = ifft2c(k)  # (coil, y, x)
            r = rss(x, dim=0).astype(np.float64)
            rss_image[s, f] = r
            if case.coil_maps is not None:
                maps = case.coil_maps[s]
                comb = np.sum(np.conj(maps) * x, axis=0) / np.maximum(
                    np.sum(np.abs(maps) ** 2, axis=0), 1e-12)
                herm_comb.append(hermitian_error(fft2c(comb.astype(np.complex64))).ravel())
            if nc < 2:
                continue
            corners = np.concatenate([p[:, :cy, :cx].reshape(nc, -1),
                                      p[:, :cy, -cx:].reshape(nc, -1),
                                      p[:, -cy:, :cx].reshape(nc, -1),
                                      p[:, -cy:, -cx:].reshape(nc, -1)], axis=-1)
            # noise RSS² per pixel: Σ_c E|n_c|²; |n|² of complex Gaussian noise is exponential,
            # mean = median / ln 2 (the median resists high-frequency signal in the corners)
            floor = float(np.sum(np.median(corners, axis=-1)) / np.log(2.0))
            sel = (r <= np.quantile(r, 0.10)) & (r > 0)
            level = np.mean(r[sel] ** 2) / floor if floor > 0 else np.nan
            if sel.sum() < 50 or not thr["noise_guard_low"] <= level <= thr["noise_guard"]:
                coherence_blocked += 1
                continue
            a, b = _coherence(x, lag, sel)
            re_sum += a
            abs_sum += b
            n_noise_px += int(sel.sum())

    # --- zero-padded periphery
    with np.errstate(invalid="ignore", divide="ignore"):
        prow = np.where(row_n > 0, row_pow / np.maximum(row_n, 1), np.nan)
        pcol = np.where(col_n > 0, col_pow / np.maximum(col_n, 1), np.nan)
    bands = {}
    rel_band_pow = []
    for axis, prof in (("ky", prow), ("kx", pcol)):
        peak = np.nanmax(prof)
        low = prof <= thr["zero_band_rel_power"] * peak
        a, b = _edge_band(prof, low)
        bands[axis] = (a, b, prof.size)
        scores[f"zero_band_{axis}_start"] = float(a)
        scores[f"zero_band_{axis}_end"] = float(b)
        band_vals = np.concatenate([prof[:a], prof[prof.size - b:]])
        band_vals = band_vals[~np.isnan(band_vals)]
        if band_vals.size:
            rel_band_pow.append(float(band_vals.mean() / peak))
        live = np.flatnonzero(~np.isnan(prof) & ~low)
        if live.size:
            edge = min(prof[live[0]], prof[live[-1]])
            scores[f"periphery_rel_power_{axis}"] = float(edge / peak)
    two_sided, one_sided = [], []
    for axis, (a, b, n) in bands.items():
        need = max(thr["zero_band_min_lines"], np.ceil(thr["zero_band_min_fraction"] * n))
        if min(a, b) >= need:
            two_sided.append(f"{axis}: {a} + {b} of {n} lines empty")
        elif max(a, b) >= need:
            side = "negative" if a >= b else "positive"  # index 0 is -k_max
            one_sided.append(f"{axis}: {max(a, b)} of {n} lines empty on the {side}-frequency "
                             f"side only")
    scores["zero_band_fraction"] = float(max(min(a, b) / n for a, b, n in bands.values()))
    scores["zero_band_rel_power"] = float(max(rel_band_pow)) if rel_band_pow else float("nan")
    flags["zero_padded"] = bool(two_sided)
    if two_sided:
        details["zero_padded"] = ("symmetric empty bands at the k-space periphery ("
                                  + "; ".join(two_sided) + "): k-space of a lower-resolution "
                                  "acquisition zero-padded to this grid")
    else:
        details["zero_padded"] = "no symmetric empty periphery band"
    if one_sided:
        details["zero_padded"] += ("; one-sided empty band (" + "; ".join(one_sided) +
                                   "): partial Fourier / asymmetric echo, not zero padding")

    # --- Hermitian symmetry
    h = np.concatenate(herm)
    h = h[~np.isnan(h)]
    if h.size == 0:
        not_assessed["hermitian_symmetric"] = "no mirrored pairs of acquired samples"
    else:
        scores["hermitian_error"] = float(np.median(h))
        scores["hermitian_error_min"] = float(h.min())
        is_h = scores["hermitian_error"] <= thr["hermitian_max"]
        detail = (f"median anti-Hermitian energy fraction {scores['hermitian_error']:.3g} over "
                  f"{h.size} coil images (real-valued image: 0; complex data with phase and "
                  "noise: > 0)")
        if herm_comb:
            hc = np.concatenate(herm_comb)
            scores["hermitian_error_combined"] = float(np.nanmedian(hc))
            is_h = is_h or scores["hermitian_error_combined"] <= thr["hermitian_max"]
            detail += (f"; coil combination with the Case's maps: "
                       f"{scores['hermitian_error_combined']:.3g}")
        flags["hermitian_symmetric"] = bool(is_h)
        details["hermitian_symmetric"] = detail

    # --- real-valued object (multi-coil noise coherence)
    if not full:
        not_assessed["real_valued_object"] = "undersampled Case (needs fully sampled coil images)"
    elif nc < 2:
        not_assessed["real_valued_object"] = "single-coil Case (the Hermitian test covers it)"
    elif n_noise_px == 0 or abs_sum <= 0:
        not_assessed["real_valued_object"] = (
            "no noise-only pixels: in every image the lowest-decile RSS² is outside "
            f"[{thr['noise_guard_low']:g}, {thr['noise_guard']:g}] × the k-space corner floor "
            "(above: no air in the field of view; below: noise-free or denoised data)")
    else:
        scores["noise_coherence"] = re_sum / abs_sum
        scores["noise_pixels"] = float(n_noise_px)
        flags["real_valued_object"] = bool(scores["noise_coherence"] >= thr["coherence_min"])
        details["real_valued_object"] = (
            f"phase coherence {scores['noise_coherence']:.3f} of coil vectors {lag} px apart "
            f"over {n_noise_px} noise-only pixels ({ns * nf - coherence_blocked} of {ns * nf} "
            "images usable; complex noise: ≈ 0, magnitude image × coil maps: ≈ 1)")
    return rss_image


def _audit_images(case, rss_image, thr, flags, scores, details, not_assessed, info):
    sources = {}
    if rss_image is not None:
        sources["rss"] = rss_image
    if case.reference is not None:
        sources["reference"] = np.abs(case.reference)
    if not sources:
        for name in ("quantised", "jpeg_blocking"):
            not_assessed[name] = "no fully sampled k-space and no reference image"
        return
    q_hits, q_text, assessed = [], [], False
    for name, img in sources.items():
        ratio, n_levels, n_values, step = level_ratio(
            img, bin_width=thr["level_bin"], sample=int(thr["level_sample"]),
            floor=thr["level_floor"])
        scores[f"level_ratio_{name}"] = ratio
        scores[f"n_levels_{name}"] = float(n_levels)
        scores[f"level_step_{name}"] = step
        if n_values < thr["level_min_values"]:
            q_text.append(f"{name}: too few values ({n_values})")
            continue
        assessed = True
        hit = ratio <= thr["level_ratio_max"]
        if hit:
            q_hits.append(name)
        q_text.append(f"{name}: {n_levels} levels in {n_values} values (ratio {ratio:.3g}"
                      + (f", step {step:.3g} of max ≈ {1 / step:.0f} levels full scale"
                         if hit and step > 0 else "") + ")")
    if not assessed:
        not_assessed["quantised"] = "; ".join(q_text)
    elif case.kspace is None:
        # image-only: a coarse lattice is a property of the stored images, not a crime
        flags["quantised"] = False
        info["quantised_images"] = bool(q_hits)
        details["quantised"] = "; ".join(q_text) + (
            " — quantised stored images: normal for DICOM/NIfTI, a data crime only if k-space "
            "is synthesised from them" if q_hits else "")
    else:
        flags["quantised"] = bool(q_hits)
        details["quantised"] = "; ".join(q_text)
    img = sources.get("rss", sources.get("reference"))
    flat = img.reshape(-1, *img.shape[-2:])
    b, b_med = blockiness(flat), blockiness(flat, statistic="median")
    if np.isnan(b) or np.isnan(b_med):
        not_assessed["jpeg_blocking"] = ("image smaller than 16 pixels along an axis, or "
                                         "without texture (noise-free constant regions)")
    else:
        scores["blockiness"] = b
        scores["blockiness_median"] = b_med
        flags["jpeg_blocking"] = bool(min(b, b_med) >= thr["blockiness_min"])
        details["jpeg_blocking"] = (f"8x8 blockiness {b:.3f} (mean) and {b_med:.3f} (median "
                                    "over each block phase); both must reach the threshold "
                                    "(no block grid ≈ 1; JPEG boundaries raise both)")

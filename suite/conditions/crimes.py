"""Data crimes (Shimron et al. 2022) as conditions: k-space synthesised from processed images.

:func:`commit_crime` makes a "crimed" copy of an honest, fully sampled Case (zero-padded
k-space, k-space from magnitude images, from quantised or JPEG-compressed images), so that the
score inflation a crime causes can be measured: the same condition (same mask: the generator is
the condition's) and the same method, scored against the crimed reference, beside the honest
score (:mod:`suite.analysis.robustness`, ``crime_inflation``). :class:`DataCrime` is the
condition form (``apply(case, rng)``). The audit that detects these fingerprints stays with the
readers (:func:`suite.data.audit.audit_case`).

References
----------
Shimron E, Tamir JI, Wang K, Lustig M. Implicit data crimes: Machine learning bias arising from
misuse of public data. PNAS 2022;119(13):e2117203119. doi:10.1073/pnas.2117203119
mikgroup/data_crimes (GitHub), ``zpad_merge_scale``: the zero-padding chain of their crime 1.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from suite._serialise import jsonable
from suite._validation import check_option
from suite.case import Case
from suite.conditions.base import Condition
from suite.data.audit import AUDIT_FLAGS, CRIMES
from suite.metrics.contract import NONE, MetricSpec, register_metric

__all__ = ["commit_crime", "DataCrime", "CRIMES", "AUDIT_FLAG_METRICS"]

#: Rows a crime experiment stores beside the scores: did the on-load audit flag the crimed
#: data (1) or not (0)? One per flag of :data:`suite.data.audit.AUDIT_FLAGS`.
AUDIT_FLAG_METRICS = tuple(
    register_metric(MetricSpec(f"audit_{flag}", "1", NONE,
                               f"audit flag {flag!r} raised on the crimed data (1) or not (0)",
                               "robustness", "suite.data.audit.audit_case"))
    for flag in AUDIT_FLAGS)


def _full_kspace(case: Case, where: str) -> np.ndarray:
    if case.kspace is None:
        if case.reference is None:
            raise ValueError(f"{where}: Case {case.case_id!r} has neither k-space nor a reference "
                             "image to synthesise crimed k-space from")
        from suite.mr.fft import fft2c
        return fft2c(case.reference.astype(np.complex64))[:, :, None]
    if not np.all(case.mask):
        raise ValueError(
            f"{where}: Case {case.case_id!r} is undersampled (sampled fraction "
            f"{case.sampled_fraction:.3f}); crimes are synthesised from fully sampled k-space — "
            "pass the fully sampled Case and undersample the crimed one afterwards")
    return case.kspace


def _sensitivities(coil_images: np.ndarray, calib: int) -> np.ndarray:
    """Smooth maps from the central ``calib`` k-space lines: low-res coil images / their RSS.

    coil_images (frame, coil, y, x) → maps (coil, y, x) from the frame average, normalised so
    Σ_c |S_c|² = 1 at every pixel (as ESPIRiT maps inside the object).
    """
    from suite.mr.fft import fft2c, ifft2c

    k = fft2c(coil_images.mean(axis=0).astype(np.complex64))
    ny, nx = k.shape[-2:]
    wy = np.zeros(ny, np.float32)
    wx = np.zeros(nx, np.float32)
    hy, hx = min(calib, ny) // 2, min(calib, nx) // 2
    wy[ny // 2 - hy: ny // 2 + hy] = np.hanning(2 * hy + 2)[1:-1]
    wx[nx // 2 - hx: nx // 2 + hx] = np.hanning(2 * hx + 2)[1:-1]
    low = ifft2c(k * wy[:, None] * wx[None, :])
    norm = np.sqrt(np.sum(np.abs(low) ** 2, axis=0, keepdims=True))
    return (low / np.maximum(norm, 1e-30)).astype(np.complex64)


def _jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("L"), dtype=np.uint8)


def commit_crime(case: Case, crime: str, *, seed: int = 0, fraction: float = 0.5,
                 bits: int = 8, quality: int = 75, coils: str = "keep",
                 calib: int = 24) -> Case:
    """A "crimed" copy of a fully sampled Case: k-space synthesised from processed images.

    Parameters
    ----------
    case : Case
        Fully sampled (``mask`` all True), or image-only with a ``reference`` (then single-coil
        k-space is synthesised from it).
    crime : {"zero-padded", "magnitude", "quantised", "jpeg"}
        * ``"zero-padded"``: every coil's k-space outside the central ``fraction`` of ky and kx
          set to zero — a lower-resolution acquisition zero-padded to the full grid (scanners'
          "interpolation"). With ``coils="single"`` Shimron's full chain (their crime 1,
          mikgroup/data_crimes ``zpad_merge_scale``): zero-pad, RSS magnitude, FFT of the
          magnitude — the magnitude spreads the spectrum again, so that copy is caught by the
          Hermitian test rather than the zero-band test.
        * ``"magnitude"``: k-space synthesised from the RSS magnitude image ``m`` (the phase and
          complex noise are lost): ``fft2c(S_c · m)`` with smooth maps ``S_c`` (below), or
          ``fft2c(m)`` single-coil — Hermitian symmetric.
        * ``"quantised"``: as ``"magnitude"`` with ``m`` quantised to ``bits`` bits of its
          maximum (a DICOM/PNG export) before synthesis.
        * ``"jpeg"``: as ``"quantised"`` (8 bit) and each (slice, frame) image JPEG-compressed
          at ``quality`` with Pillow (Shimron 2022, crime 2: magnitude / max → uint8 → JPEG;
          they used single-coil k-space, ``coils="single"`` here).
    seed : int
        Recorded in ``meta.extra["data_crime"]``; the crimes are deterministic.
    fraction : float
        ``"zero-padded"``: kept central fraction along each of ky and kx, in (0, 1].
    bits : int
        ``"quantised"``: bits per pixel, 1-16.
    quality : int
        ``"jpeg"``: Pillow JPEG quality, 1-95.
    coils : {"keep", "single"}
        ``"zero-padded"``: see above. Image-based crimes: ``"keep"`` multiplies ``m`` by maps estimated from the Case's own
        central ``calib`` k-space lines (low-resolution coil images / their RSS, so
        Σ_c |S_c|² = 1 and the RSS of the crimed k-space is ``m`` itself); ``"single"`` gives
        one coil (always the case for single-coil and image-only input).
    calib : int
        Central lines for the map estimate.

    Returns
    -------
    Case
        ``kspace`` complex64 ``(slice, frame, coil, ky, kx)`` crimed, ``mask`` all True
        ``(1, 1, 1, ky, 1)``, ``reference`` the RSS of the crimed k-space (complex64 with zero
        phase, or float32 if the input reference was float32), ``labels``/``truth``/
        ``coil_maps`` as the input (``coil_maps`` None when ``coils="single"``), and
        ``meta.series`` suffixed ``+<crime>`` (distinct ``case_id``, same subject for paired
        analysis), ``meta.extra["data_crime"]`` = crime, parameters, seed and citation.

    Raises
    ------
    ValueError
        Unknown crime or option, out-of-range parameter, undersampled Case.

    References
    ----------
    Shimron E, Tamir JI, Wang K, Lustig M. Implicit data crimes. PNAS 2022;119:e2117203119.
    """
    where = "commit_crime"
    check_option(crime, CRIMES, name="crime", where=where)
    check_option(coils, ("keep", "single"), name="coils", where=where)
    if not 0 < fraction <= 1:
        raise ValueError(f"{where}: `fraction` must be in (0, 1]; got {fraction}")
    if not 1 <= int(bits) <= 16:
        raise ValueError(f"{where}: `bits` must be 1-16; got {bits}")
    if not 1 <= int(quality) <= 95:
        raise ValueError(f"{where}: `quality` must be 1-95 (Pillow); got {quality}")
    from suite.mr.coils import rss
    from suite.mr.fft import fft2c, ifft2c

    k = _full_kspace(case, where)
    ns, nf, nc, ny, nx = k.shape
    if nc == 1:
        coils = "single"  # maps from one coil would only re-impose the low-resolution phase
    params: dict[str, Any] = {}
    if crime == "zero-padded":
        ky_keep = max(1, int(round(fraction * ny)))
        kx_keep = max(1, int(round(fraction * nx)))
        wy = np.zeros(ny, bool)
        wx = np.zeros(nx, bool)
        wy[ny // 2 - ky_keep // 2: ny // 2 - ky_keep // 2 + ky_keep] = True
        wx[nx // 2 - kx_keep // 2: nx // 2 - kx_keep // 2 + kx_keep] = True
        out = (k * (wy[:, None] & wx[None, :])).astype(np.complex64)
        params = {"fraction": fraction, "kept_matrix": [ky_keep, kx_keep], "coils": coils}
        coil_maps = case.coil_maps
        if coils == "single" and nc > 1:
            # Shimron's chain: zero-pad, RSS magnitude, FFT of the magnitude (single coil)
            out = np.stack([fft2c(rss(ifft2c(out[s]), dim=1).astype(np.complex64))[:, None]
                            for s in range(ns)])
            coil_maps = None
    else:
        levels = 2 ** int(bits) - 1 if crime == "quantised" else 255
        n_out = 1 if coils == "single" else nc
        out = np.empty((ns, nf, n_out, ny, nx), np.complex64)
        top = 0.0
        mags = []
        for s in range(ns):
            x = ifft2c(k[s])
            m = rss(x, dim=1).astype(np.float64)
            mags.append(m)
            top = max(top, float(m.max()))
        for s in range(ns):
            m = mags[s]
            if crime in ("quantised", "jpeg") and top > 0:
                q = np.round(m / top * levels)
                if crime == "jpeg":
                    q = np.stack([_jpeg(q[f].astype(np.uint8), quality) for f in range(nf)])
                m = q.astype(np.float64) * (top / levels)
            if coils == "single":
                out[s] = fft2c(m.astype(np.complex64))[:, None]
            else:
                maps = _sensitivities(ifft2c(k[s]), calib)
                out[s] = fft2c((maps[None] * m[:, None]).astype(np.complex64))
        params = {"coils": coils, "calib": calib, "image": "RSS magnitude of the fully "
                  "sampled k-space", "scale_max": top}
        if crime == "quantised":
            params["bits"] = int(bits)
        if crime == "jpeg":
            params.update(bits=8, quality=int(quality), codec="Pillow JPEG")
        coil_maps = None if coils == "single" else case.coil_maps
    ref = rss(ifft2c(out), dim=2)
    if case.reference is not None and case.reference.dtype == np.float32:
        ref = ref.astype(np.float32)
    else:
        ref = ref.astype(np.complex64)
    extra = {**case.meta.extra, "data_crime": {
        "crime": crime, "params": jsonable(params), "seed": int(seed),
        "reference": "RSS of the crimed fully sampled k-space",
        "citation": "Shimron E, Tamir JI, Wang K, Lustig M. PNAS 2022;119:e2117203119"}}
    meta = case.meta.replace(series=f"{case.meta.series}+{crime}", extra=extra)
    return Case(kspace=out, mask=np.ones((1, 1, 1, ny, 1), bool), reference=ref,
                labels=case.labels, coil_maps=coil_maps, truth=case.truth, meta=meta)


class DataCrime(Condition):
    """The condition form of :func:`commit_crime` (deterministic: ``rng`` is not used)."""

    type = "crime"
    needs_kspace = False

    def __init__(self, name: str, crime: str, seed: int = 0, **options: Any):
        super().__init__(name)
        check_option(crime, CRIMES, name="crime", where="DataCrime")
        self.crime, self.seed, self.options = crime, int(seed), dict(options)

    def apply(self, case: Case, rng: np.random.Generator) -> tuple[Case, dict[str, Any]]:
        crimed = commit_crime(case, self.crime, seed=self.seed, **self.options)
        return crimed, {}

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "crime": self.crime, "seed": self.seed, **self.options}

"""Executing one job: read the case, apply the condition, run the method(s), score.

:func:`run_job` is a plain function of a job description and the run context, safe to call in
a worker process (local pool or Dask): it reads its inputs from files, writes only to the
content-addressed cache, and returns the result rows; the single writer of the store is the
runner's main process. Any exception propagates and is recorded by the runner as the job's
failure (error class and message).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from suite.runner.jobs import IMAGES_RECON, REFERENCE_RECON, JobSpec

__all__ = ["RunContext", "run_job", "load_case", "apply_condition", "condition_rng",
           "reference_magnitude", "recon_cache_key", "recon_cache_path",
           "stable_int"]


@dataclass(frozen=True)
class RunContext:
    """What every job needs besides its spec (picklable)."""

    protocol_raw: dict
    protocol_base_dir: str
    seed: int
    cache_dir: str
    examples_dir: str | None = None  # worst-case examples of robustness jobs

    @property
    def metrics(self) -> dict:
        return self.protocol_raw.get("metrics") or {}


def stable_int(text: str) -> int:
    """A stable 32-bit integer from a string (for seeding; never Python's salted ``hash``)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


def condition_rng(seed: int, case_id: str, condition: str) -> np.random.Generator:
    """The generator of a (case, condition): the same for every method, so methods see the same
    mask and noise; derived with ``SeedSequence`` from the protocol seed (STYLE R10)."""
    return np.random.default_rng(np.random.SeedSequence([seed, stable_int(case_id),
                                                         stable_int(condition)]))


def load_case(ref, audit: bool = False):
    """Read the Case of a :class:`~suite.runner.jobs.CaseRef` through the generic readers.

    With ``audit`` the data-crime audit (:func:`suite.data.audit.audit_case`: zero-padded or
    Hermitian-symmetric k-space, quantised intensities) runs on load and its result goes into
    ``case.meta.audit_flags``, hence into the store's ``cases`` table and the report. The
    runner audits each case once, in its first recon job (``JobSpec.audit``); the store keeps
    the flags when later jobs of the case record it again.
    """
    from suite.data.loader import Unit, read_unit

    unit = Unit(Path(ref.path), ref.format, tuple(Path(f) for f in ref.files))
    case = read_unit(unit, **(ref.reader_options or {}))
    case.meta.dataset = ref.dataset
    if audit:
        from suite.data.audit import audit_case

        case.meta.audit_flags = audit_case(case).to_dict()
    return case


def apply_condition(case, condition: dict, rng: np.random.Generator):
    """The Case a method sees under ``condition`` and the condition's own metrics.

    ``noise``: complex Gaussian noise with sigma = ``relative_sigma`` × RMS of the acquired
    k-space samples is added to the acquired samples (real and imaginary parts each with that
    sigma). ``undersample``: the mask of the named pattern is intersected with the acquired
    mask and applied to k-space, after the optional noise (same rule: an undersample condition
    with ``relative_sigma`` is an SNR shift at that acceleration). ``fully-sampled``: the case
    unchanged; ``as-acquired``: the case unchanged (its own mask, e.g. a challenge's
    undersampled file), with its effective acceleration. The mask is drawn from ``rng`` first and the noise after it, so adding noise to
    a condition does not change its mask for a given condition name.
    """
    kind = condition["type"]
    info: dict = {}
    if kind == "fully-sampled" or case.kspace is None:
        return case, info
    if kind == "as-acquired":
        sampled = int(np.broadcast_to(case.mask, case.kspace.shape).sum())
        info["effective_acceleration"] = float(case.kspace.size / max(sampled, 1))
        nominal = (case.meta.extra or {}).get("acceleration")  # e.g. CMRxRecon's R
        if nominal:
            info["nominal_acceleration"] = float(nominal)
        return case, info
    if kind not in ("undersample", "noise"):
        raise ValueError(f"apply_condition: unknown condition type {kind!r}")
    mask = None
    if kind == "undersample":
        from suite.mr import make_mask

        sampling = make_mask(condition["pattern"], case.kspace.shape, condition["acceleration"],
                             acs_lines=condition.get("acs_lines", 24), rng=rng)
        mask = np.broadcast_to(sampling.mask, np.broadcast_shapes(sampling.mask.shape, case.mask.shape))
        mask = np.ascontiguousarray((mask & case.mask) if case.mask is not None else mask)
        info |= {"effective_acceleration": float(np.prod(case.kspace.shape)
                                                 / np.broadcast_to(mask, case.kspace.shape).sum()),
                 "nominal_acceleration": float(condition["acceleration"])}
    if condition.get("relative_sigma"):
        full = np.broadcast_to(case.mask, case.kspace.shape)
        rms = float(np.sqrt(np.mean(np.abs(case.kspace[full]) ** 2)))
        sigma = condition["relative_sigma"] * rms
        noise = (rng.standard_normal(case.kspace.shape) + 1j * rng.standard_normal(case.kspace.shape))
        noisy = case.kspace + (sigma * noise * full).astype(np.complex64)
        info["added_noise_sigma"] = sigma
        case = case.replace(kspace=noisy.astype(np.complex64))
    if mask is not None:
        case = case.replace(kspace=(case.kspace * mask).astype(np.complex64), mask=mask)
    return case, info


def reference_magnitude(case) -> np.ndarray | None:
    """The magnitude reconstructions are scored against, ``(slice, frame, y, x)`` float64.

    The RSS of the k-space when it is fully sampled; otherwise (and for image-only cases) the
    magnitude of ``case.reference`` when the reader supplied one (e.g. a CMRxRecon
    undersampled file paired with its ``FullSample`` file); else None (no reference: no image
    metrics).
    """
    from suite.mr import ifft2c, rss

    if case.kspace is None or not np.broadcast_to(case.mask, case.kspace.shape).all():
        return None if case.reference is None else np.abs(case.reference).astype(np.float64)
    return np.asarray(rss(ifft2c(case.kspace), dim=2), dtype=np.float64)


# ====================================================================== reconstruction
def recon_cache_key(case, spec: JobSpec, ident: dict, seed: int) -> str:
    """SHA-256 naming a reconstruction in the run's cache: source file hash, case, condition,
    run seed and method identity (name, version, parameters, weights hash). The file is
    ``cache_dir / key[:2] / f"{key}.npy"`` (:func:`recon_cache_path`)."""
    payload = json.dumps({"source": case.meta.source_sha256 or spec.case_id,
                          "case": spec.case_id, "condition": spec.condition, "seed": seed,
                          "method": ident}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def recon_cache_path(cache_dir, key: str) -> Path:
    """Where the reconstruction named ``key`` (:func:`recon_cache_key`) is stored."""
    return Path(cache_dir) / key[:2] / f"{key}.npy"


def _cached(cache_dir: str, key: str, compute):
    path = recon_cache_path(cache_dir, key)
    if path.exists():
        return np.load(path, allow_pickle=False), True
    out = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}.npy")
    np.save(tmp, out, allow_pickle=False)
    os.replace(tmp, path)  # atomic: a killed job never leaves half a file
    return out, False


def reconstruct(spec: JobSpec, ctx: RunContext, case, conditioned):
    """Magnitude images ``(slice, frame, y, x)`` of the job's reconstruction (cached)."""
    from suite.mr import ifft2c, rss
    from suite.runner.methods import method_identity, resolve_method

    name = spec.recon.get("name")
    if name == IMAGES_RECON:
        return np.abs(case.reference).astype(np.float32), {"name": IMAGES_RECON}
    if name == REFERENCE_RECON:  # the reference the metrics use, when the case has one
        ref = reference_magnitude(conditioned)
        images = ref if ref is not None else rss(ifft2c(conditioned.kspace), dim=2)
        return np.asarray(images, np.float32), {"name": REFERENCE_RECON}
    method = resolve_method(spec.recon, "recon", base_dir=Path(ctx.protocol_base_dir),
                            plugin_paths=ctx.protocol_raw.get("plugin_paths"))
    ident = method_identity(method)
    key = recon_cache_key(case, spec, ident, ctx.seed)

    def compute():
        if getattr(method, "needs_case", False):
            out = method.predict(conditioned, spec.condition_name)
        else:
            out = method(conditioned)
        out = np.asarray(out)
        if out.shape != case.image_shape:
            raise ValueError(f"recon method {ident['name']!r} returned shape {out.shape}; "
                             f"expected (slice, frame, y, x) = {case.image_shape}")
        if not np.isfinite(out).all():
            raise ValueError(f"recon method {ident['name']!r} returned non-finite values")
        return np.abs(out).astype(np.float32)

    images, _ = _cached(ctx.cache_dir, key, compute)
    return images, ident


# ====================================================================== rows
def _base_row(spec: JobSpec, case) -> dict:
    return {"job_id": spec.job_id, "case_id": spec.case_id, "subject": case.meta.subject,
            "dataset": spec.case.dataset, "condition": spec.condition_name,
            "recon": spec.recon_label, "segmentation": spec.seg_label}


def _image_rows(base, reference, images, profiles) -> list[dict]:
    from suite.metrics.image import score

    rows = []
    units = {"nmse": ("1", "lower is better"), "psnr": ("dB", "higher is better"),
             "ssim": ("1", "higher is better")}
    for prof in profiles:
        s = score(reference, images, profile=prof)
        for metric, (unit, direction) in units.items():
            rows.append({**base, "stage": "recon", "metric": metric, "value": getattr(s, metric),
                         "unit": unit, "direction": direction, "profile": prof, "status": "ok"})
    return rows


def _temporal_rows(base, reference, images, case) -> list[dict]:
    from suite.metrics.temporal import temporal_fidelity

    res = temporal_fidelity(reference, images, case.labels, case.meta.pixel_spacing_mm,
                            case.meta.temporal_resolution_ms).to_dict()
    rows = []
    for part in ("profile", "spectrum", "lv_curve"):
        d = res.get(part) or {}
        units, directions = d.get("units", {}), d.get("directions", {})
        for metric, unit in units.items():
            value = d.get(metric)
            if isinstance(value, (int, float)) or value is None:
                rows.append({**base, "stage": "temporal", "metric": metric, "value": value,
                             "unit": unit, "direction": directions.get(metric, ""),
                             "profile": part, "status": "ok" if value is not None else "undefined"})
    return rows


def _spacing_3d(case) -> tuple[float, float, float]:
    dz = case.meta.slice_spacing_mm or case.meta.slice_thickness_mm
    if dz is None or case.meta.pixel_spacing_mm is None:
        raise ValueError(f"case {case.case_id!r}: slice or pixel spacing unknown; the reader must "
                         "fill meta.pixel_spacing_mm and meta.slice_spacing_mm")
    return (float(dz), *map(float, case.meta.pixel_spacing_mm))


def _segmentation_rows(base, case, labels, seg_cfg) -> list[dict]:
    from suite.metrics.segmentation import evaluate

    res = evaluate(case.labels, labels, _spacing_3d(case), ed_frame=case.meta.ed_frame,
                   es_frame=case.meta.es_frame, tolerance_mm=seg_cfg.get("tolerance_mm", 2.0),
                   empty=seg_cfg.get("empty", "worst"),
                   annotated_frames=case.meta.annotated_frames)
    return [{**base, "stage": "segmentation", "metric": r["metric"], "structure": r["structure"],
             "phase": r["phase"], "value": r["value"], "unit": r["unit"],
             "direction": r["direction"], "profile": r.get("empty"), "status": r["status"]}
            for r in res.rows()]


CLINICAL_KEYS = {"lv_edv_ml": "mL", "lv_esv_ml": "mL", "lv_sv_ml": "mL", "lv_ef_pct": "%",
                 "lv_mass_g": "g", "rv_edv_ml": "mL", "rv_esv_ml": "mL", "rv_ef_pct": "%"}


def _clinical_rows(base, case, labels) -> list[dict]:
    from suite.metrics.clinical import clinical_parameters

    spacing = _spacing_3d(case)
    pred = clinical_parameters(labels, spacing, ed_frame=case.meta.ed_frame,
                               es_frame=case.meta.es_frame,
                               annotated_frames=case.meta.annotated_frames).to_dict()
    if case.truth is not None and all(k in case.truth for k in CLINICAL_KEYS):
        ref, source = case.truth, "truth"
    elif case.labels is not None:
        ref = clinical_parameters(case.labels, spacing, ed_frame=case.meta.ed_frame,
                                  es_frame=case.meta.es_frame,
                                  annotated_frames=case.meta.annotated_frames).to_dict()
        source = "reference-labels"
    else:
        ref, source = {}, "none"
    return [{**base, "stage": "clinical", "metric": key, "value": pred.get(key),
             "reference_value": ref.get(key), "unit": unit, "direction": "closer is better",
             "profile": source, "status": "ok" if pred.get(key) is not None else "undefined"}
            for key, unit in CLINICAL_KEYS.items()]


# ====================================================================== entry point
def run_job(spec_dict: dict, ctx: RunContext) -> dict:
    """Run one job; returns ``{"rows": [...], "case": {...}, "seconds": float}``.

    Jobs run with ``CMRSUITE_THREADS_PER_JOB`` (default 1) torch and BLAS threads: parallelism
    comes from running jobs side by side, and multi-threaded OpenBLAS turns small SVDs into
    seconds-long stalls when the cores are busy (observed: 133×288 SVD 4 s vs 0.03 s).
    """
    from threadpoolctl import threadpool_limits

    threads = max(1, int(os.environ.get("CMRSUITE_THREADS_PER_JOB", "1")))
    with threadpool_limits(limits=threads):
        return _run_job(spec_dict, ctx, threads)


def _run_job(spec_dict: dict, ctx: RunContext, threads: int) -> dict:
    import torch

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    spec = JobSpec.from_dict(spec_dict)
    case = load_case(spec.case, audit=spec.audit)
    rng = condition_rng(ctx.seed, spec.case_id, spec.condition_name)
    conditioned, cond_info = apply_condition(case, spec.condition, rng)
    base = _base_row(spec, case)
    rows: list[dict] = []
    metrics = ctx.metrics
    if spec.phase == "robustness":
        from suite.runner.robustness_job import run_robustness_job

        rows += run_robustness_job(spec, ctx, case, base)
        return _job_output(spec, case, rows, t0)
    images, _ = reconstruct(spec, ctx, case, conditioned)
    if spec.phase == "recon":
        for key, value in cond_info.items():
            rows.append({**base, "stage": "condition", "metric": key, "value": value, "unit": "",
                         "direction": "", "profile": None, "status": "ok"})
        reference = reference_magnitude(case)
        is_reference = spec.recon.get("name") in (REFERENCE_RECON, IMAGES_RECON)
        if reference is not None and not is_reference:
            profiles = (metrics.get("image") or {}).get("profiles", ["fastmri"])
            rows += _image_rows(base, reference, images.astype(np.float64), profiles)
            if metrics.get("temporal") and case.labels is not None and case.n_frames >= 4:
                rows += _temporal_rows(base, reference, images.astype(np.float64), case)
    else:
        from suite.runner.methods import resolve_method

        method = resolve_method(spec.segmentation, "segmentation",
                                base_dir=Path(ctx.protocol_base_dir),
                                plugin_paths=ctx.protocol_raw.get("plugin_paths"))
        if getattr(method, "needs_case", False):
            labels = method.predict(case, spec.condition_name, spec.recon_label)
        else:
            labels = method(images, case.meta.pixel_spacing_mm)
        labels = np.asarray(labels)
        if labels.shape != case.image_shape or labels.dtype != np.uint8:
            raise ValueError(f"segmentation method {spec.seg_label!r} returned {labels.dtype} "
                             f"{labels.shape}; expected uint8 {case.image_shape}")
        seg_cfg = metrics.get("segmentation") if isinstance(metrics.get("segmentation"), dict) else {}
        if case.labels is not None and metrics.get("segmentation", True):
            rows += _segmentation_rows(base, case, labels, seg_cfg or {})
        if metrics.get("clinical", True):
            rows += _clinical_rows(base, case, labels)
    return _job_output(spec, case, rows, t0)


def _job_output(spec: JobSpec, case, rows: list[dict], t0: float) -> dict:
    meta = case.meta.to_dict()
    truth = {k: v for k, v in (case.truth or {}).items()
             if isinstance(v, (int, float, str, bool)) or v is None}
    return {"rows": rows, "case": {"case_id": spec.case_id, "meta": meta, "truth": truth},
            "seconds": time.perf_counter() - t0}

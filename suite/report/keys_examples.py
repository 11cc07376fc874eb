"""Evidence key ``examples.images``: example cases shown as images, error maps and x-t profiles.

For the highest-acceleration condition and each reconstruction method, the case with the
median SSIM (first image profile) is shown: the fully sampled reference, the reconstruction
and ``|reconstruction - reference|`` of the middle slice at the first frame, and the x-t
profile (the vertical line through the image centre over all frames) of both. The
reconstruction is read from the run's content-addressed cache (the exact array the metrics
were computed on) and the reference from the case file, so no image is recomputed by a method.
The table cites the SSIM row and the job; the figure shows pixels, not new numbers.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from suite.report.evidence import Evidence, RunData, Table, evidence_key, unavailable

__all__: list[str] = []


def _cached_images(run: RunData, job) -> tuple[np.ndarray, np.ndarray, Path]:
    """(reconstruction, reference, cache file) of a recon job; raises ValueError with the
    reason when the cache file or the case file is gone."""
    from suite.runner.execute import (load_case, recon_cache_key, recon_cache_path,
                                      reference_magnitude)
    from suite.runner.jobs import JobSpec
    from suite.runner.methods import method_identity, resolve_method

    spec = JobSpec.from_dict(json.loads(job.spec))
    base = Path(run.protocol_source).parent if run.protocol_source else run.run_dir
    try:
        case = load_case(spec.case)
    except Exception as exc:  # noqa: BLE001 - any read error: the example is unavailable
        raise ValueError(f"case file {spec.case.path} cannot be read ({type(exc).__name__})") from None
    method = resolve_method(spec.recon, "recon", base_dir=base,
                            plugin_paths=run.protocol.get("plugin_paths"))
    key = recon_cache_key(case, spec, method_identity(method), int(run.protocol.get("seed", 0)))
    cache = Path(run.manifest.get("cache_dir") or run.run_dir / "cache")
    path = recon_cache_path(cache, key)
    if not path.is_file():
        raise ValueError(f"cached reconstruction {path} is missing (cache moved or pruned)")
    ref = reference_magnitude(case)
    if ref is None:
        raise ValueError(f"case {spec.case_id} has no fully sampled reference")
    return np.load(path, allow_pickle=False), ref, path


@evidence_key("examples.images", "Example cases: images, error maps and x-t profiles")
def _examples(run: RunData) -> Evidence:
    r = run.results
    prof = (((run.protocol.get("metrics") or {}).get("image") or {}).get("profiles") or ["fastmri"])[0]
    ssim = r[(r["stage"] == "recon") & (r["metric"] == "ssim") & (r["profile"] == prof)
             & r["value"].notna() & (r["attack"].fillna("") == "")]
    accel = r[(r["stage"] == "condition") & (r["metric"] == "nominal_acceleration")]
    r_of = accel.groupby("condition")["value"].first().to_dict()
    if ssim.empty or not r_of:
        return unavailable("examples.images", "the run has no reconstruction of an undersampled "
                           "condition scored with SSIM")
    top = max(r_of, key=r_of.get)
    jobs = run.jobs.set_index("job_id")
    rows, panels, problems = [], [], []
    for rec, g in ssim[ssim["condition"] == top].groupby("recon", sort=True):
        g = g.sort_values(["value", "case_id"])
        pick = g.iloc[(len(g) - 1) // 2]
        try:
            images, ref, path = _cached_images(run, jobs.loc[pick["job_id"]])
        except (ValueError, KeyError) as exc:
            problems.append(f"{rec}: {exc}")
            continue
        rows.append({"method": rec, "condition": top, "case": pick["case_id"],
                     "ssim": float(pick["value"]), "profile": prof,
                     "cache_file": str(path),
                     "cache_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                     "sources": {"results": [int(pick["row_id"])], "jobs": [pick["job_id"]]}})
        panels.append((rec, pick["case_id"], images, ref))
    if not rows:
        return unavailable("examples.images", "; ".join(problems))
    from suite.report.figures import example_cases

    figs = example_cases(panels, top, run.figure_dir, run.draw)
    return Evidence(
        key="examples.images", title="Example cases: images, error maps and x-t profiles",
        status="measured", reason="; ".join(problems),
        query=f"SELECT rowid, * FROM results WHERE stage='recon' AND metric='ssim' AND "
              f"profile='{prof}' AND condition='{top}' (median case per method)",
        computation="the median-SSIM case per method (lower middle for an even count); images "
                    "from the run's reconstruction cache and the case's fully sampled k-space (RSS)",
        tables=(Table("examples", f"Example cases at {top}",
                      (("method", "reconstruction"), ("condition", "condition"), ("case", "case"),
                       ("ssim", "SSIM"), ("profile", "profile"), ("cache_sha256", "cache SHA-256")),
                      tuple(rows)),),
        figures=tuple(figs))

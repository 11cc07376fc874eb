"""Evidence key ``examples.images``: example cases shown as images, error maps and x-t profiles.

The cases and their images come from :func:`suite.analysis.examples.example_cases` (the
median-SSIM case per reconstruction method at the highest acceleration, images read from the
run's cache and checked against their recorded SHA-256); this key renders them. The table cites
the SSIM row and the job; the figure shows pixels, not new numbers.
"""

from __future__ import annotations

from suite.analysis.examples import example_cases
from suite.report.evidence import Evidence, RunData, Table, evidence_key, unavailable
from suite.report.figures import example_cases as draw

__all__: list[str] = []


@evidence_key("examples.images", "Example cases: images, error maps and x-t profiles")
def _examples(run: RunData) -> Evidence:
    ex = example_cases(run)
    if not ex.cases:
        return unavailable("examples.images", ex.reason)
    rows = [{"method": c.method, "condition": c.condition, "case": c.case_id, "ssim": c.ssim,
             "profile": c.profile, "cache_key": c.cache_key, "cache_sha256": c.cache_sha256,
             "cache_file": c.cache_file,
             "sources": {"results": [c.row_id], "jobs": [c.job_id]}} for c in ex.cases]
    figs = draw(ex, run.figure_dir, run.draw)
    return Evidence(
        key="examples.images", title="Example cases: images, error maps and x-t profiles",
        status="measured", reason="; ".join(ex.problems),
        query=f"SELECT rowid, * FROM results WHERE stage='recon' AND metric='ssim' AND "
              f"profile='{ex.profile}' AND condition='{ex.condition}' (median case per method)",
        computation="suite.analysis.examples.example_cases: the median-SSIM case per method "
                    "(lower middle for an even count); its reconstruction and scoring "
                    "reference as the job cached them (outputs table, SHA-256 checked)",
        tables=(Table("examples", f"Example cases at {ex.condition}",
                      (("method", "reconstruction"), ("condition", "condition"), ("case", "case"),
                       ("ssim", "SSIM"), ("profile", "profile"), ("cache_sha256", "cache SHA-256")),
                      tuple(rows)),),
        figures=tuple(figs))

"""Evidence reports: guideline documents (CLAIM 2024, TRIPOD+AI, MINIMAR, PRIME 2.0, an
FDA-style performance summary, a model card) rendered from a run's store through named
evidence keys, with figures and a machine-readable ``evidence.json``; and the run summary
(``summary.md``, CSV tables, figures) rendered from :func:`suite.analysis.summarise`.

The report computes no number: every value comes from :mod:`suite.analysis`, which reads the
run through :class:`suite.store.RunView`.

See ``docs/reports.md`` and ``docs/guidelines.md``.
"""

from suite.report.evidence import EVIDENCE_KEYS, Evidence, RunData, Table
from suite.report.keys import compute_evidence
from suite.report.guidelines import GUIDELINES, Guideline, load_guideline
from suite.report.render import ReportResult, build_report, resolve_items
from suite.report.sponsor import SponsorMetadata, load_sponsor
from suite.report.summary import write_summary

__all__ = ["build_report", "ReportResult", "resolve_items", "compute_evidence", "RunData",
           "Evidence", "Table", "EVIDENCE_KEYS", "GUIDELINES", "Guideline", "load_guideline",
           "SponsorMetadata", "load_sponsor", "write_summary"]

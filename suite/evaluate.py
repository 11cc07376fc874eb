"""``evaluate_run``: what happens to a run after its jobs: acceptance, analysis, summary.

The runner stores numbers; :func:`evaluate_run` reads them back through the one reader of a
run (:class:`suite.store.RunView`), checks the protocol's pre-specified acceptance criteria
(:func:`suite.analysis.summary.check_acceptance`), computes the run summary
(:func:`suite.analysis.summarise`) and renders it into ``RUN_DIR/report``
(:func:`suite.report.summary.write_summary`: ``summary.md``, CSV tables, figures).
``suite.runner.run_protocol(analyse=True)`` (what ``cmrsuite run`` and ``cmrsuite demo`` do)
calls it at the end of a run; it can be called again on any finished run folder.

Layering: runner → evaluate → analysis, report → store. Nothing here is imported by the
analysis or the report, so no import cycle arises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from suite._process import fewer_collections
from suite.analysis.run_summary import RunSummary, summarise
from suite.analysis.summary import check_acceptance
from suite.report.summary import write_summary
from suite.store import RunView

__all__ = ["Evaluation", "evaluate_run"]


@dataclass(frozen=True)
class Evaluation:
    """Outcome of :func:`evaluate_run`.

    Attributes
    ----------
    run_dir : Path
    acceptance : list of dict
        One verdict per acceptance criterion (:func:`~suite.analysis.summary.check_acceptance`).
    run_summary : RunSummary
    files : dict
        Name → path of every file written (``summary.md``, CSV, figures).
    """

    run_dir: Path
    acceptance: list
    run_summary: RunSummary = field(repr=False)
    files: dict = field(repr=False)

    @property
    def passed(self) -> bool:
        """True when every acceptance criterion holds (also with none)."""
        return all(a["passed"] for a in self.acceptance)

    def to_dict(self) -> dict:
        return {"run_dir": str(self.run_dir), "acceptance": self.acceptance,
                "files": dict(self.files)}

    def summary(self) -> str:
        lines = [f"evaluation of {self.run_dir}: {self.run_summary.summary()}"]
        lines += [f"  acceptance {'pass' if a['passed'] else 'FAIL'}: {a['description']}"
                  for a in self.acceptance]
        return "\n".join(lines)


@fewer_collections()  # the analysis builds many objects: fewer garbage-collector passes
def evaluate_run(run_dir, out_dir=None) -> Evaluation:
    """Acceptance, analysis and summary of a finished run (module docstring).

    Parameters
    ----------
    run_dir : path
        A run folder (``results.sqlite`` and ``protocol.json``).
    out_dir : path, optional
        Where the summary goes; default ``run_dir/report``.
    """
    view = RunView(run_dir)
    acceptance = check_acceptance(view.results, view.protocol.get("acceptance") or [])
    summary = summarise(view)
    files = write_summary(summary, Path(out_dir) if out_dir else view.run_dir / "report")
    return Evaluation(run_dir=view.run_dir, acceptance=acceptance, run_summary=summary,
                      files=files)

"""The key tables of a run for a terminal (``cmrsuite summary``): rendered, not computed.

Every number comes from :mod:`suite.analysis` (``metric_summary`` and ``agreement_results``);
this module chooses what to show and formats it: image quality (every image metric under each
profile), temporal fidelity (every stored scalar with its part), segmentation (Dice and HD95),
clinical agreement with the reference (bias and limits of agreement of the primary analysis,
with the number of excluded implausible values) and the metrics of any other stage.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["console_tables"]

_FLOAT = "{:.4g}".format


def _table(frame: pd.DataFrame, cols: list[str]) -> str:
    cols = [c for c in cols if c in frame.columns]
    keep = frame[cols]
    keep = keep.loc[:, [c for c in cols if not (keep[c].astype(str) == "").all()]]
    with pd.option_context("display.max_rows", 1000, "display.width", 220):
        return keep.to_string(index=False, float_format=_FLOAT)


def console_tables(metrics: pd.DataFrame, agreement, method_stages) -> str:
    """Sections of text: ``metrics`` from :func:`suite.analysis.summary.metric_summary`,
    ``agreement`` the :class:`~suite.analysis.agreement.AgreementResult` objects."""
    methods = list(method_stages)
    stats = ["mean", "ci_low", "ci_high", "n_subjects", "n_excluded"]
    out = []
    plain = metrics[metrics["attack"].astype(str) == ""] if "attack" in metrics else metrics
    sections = (
        ("Image quality", plain[plain["stage"] == "recon"],
         ["metric", "profile", "condition", *methods] + stats),
        ("Temporal fidelity (profile = part of the measure)", plain[plain["stage"] == "temporal"],
         ["metric", "profile", "condition", *methods] + stats + ["direction"]),
        ("Segmentation", plain[(plain["stage"] == "segmentation")
                               & plain["metric"].isin(["dice", "hd95"])],
         ["metric", "structure", "phase", "condition", *methods] + stats),
    )
    for title, frame, cols in sections:
        if not frame.empty:
            out += [f"== {title}", _table(frame, cols), ""]
    primary = [r.to_dict() for r in agreement if r.keys.get("analysis") == "primary"]
    if primary:
        table = pd.DataFrame(primary)
        out += ["== Clinical agreement with the reference (test - reference; primary analysis, "
                "implausible values excluded and counted)",
                _table(table, ["metric", "condition", *methods, "reference", "n", "n_excluded",
                               "bias", "loa_lower", "loa_upper", "unit"]), ""]
    builtin = {"recon", "temporal", "segmentation", "clinical", "condition", "robustness",
               "robustness-clinical"}
    other = plain[~plain["stage"].isin(builtin)]
    if not other.empty:  # every grouping column some row fills (e.g. segment, profile)
        lead = [c for c in ("stage", "metric", "structure", "phase", "segment", "convention",
                            "profile", "condition", *methods)
                if c in ("stage", "metric") or (c in other and (other[c].astype(str) != "").any())]
        out += ["== Other stages", _table(other, lead + stats), ""]
    return "\n".join(out)

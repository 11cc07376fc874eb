"""``write_summary``: a run's ``summary.md``, CSV tables and figures, rendered from a
:class:`~suite.analysis.run_summary.RunSummary` (``suite.analysis.summarise``).

Files written into ``out_dir`` (``RUN_DIR/report`` for a run):

=========================== ==============================================================
``metrics_summary.csv``     :func:`~suite.analysis.summary.metric_summary` of every row
``strata_<stratum>.csv``    per stratum (:func:`~suite.analysis.summary.stratum_summary`)
``clinical_agreement.csv``  agreement, primary and sensitivity (``analysis`` column)
``implausible_values.csv``  the values the primary agreement analysis excluded, with reasons
``error_propagation.csv``   LV EF bias and limits of agreement against acceleration
``data_audit.csv``          data-crime audit flags per case
``reference_comparison.csv`` scores against truth next to scores against other references
                           (:func:`~suite.analysis.references.reference_comparison`)
robustness CSVs             ``robustness_curves``, ``instability_ratios``,
                            ``robustness_ef_error``, ``crime_inflation``, ``shift_strata``
                            (with a ``robustness`` section)
``*.png``, ``*.svg``        figures (:mod:`suite.report.summary_figures`)
``summary.md``              the tables above for people, with the figures
``files.json``              name → path of everything written
=========================== ==============================================================

Nothing here computes a number: the tables are the result object's, rounded only when printed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from suite.report.summary_figures import robustness_figures, summary_figures

__all__ = ["write_summary", "format_table"]


def format_table(df: pd.DataFrame, cols: list[str], digits: int = 4) -> str:
    """A Markdown table of ``df[cols]`` (missing columns skipped), floats to ``digits``
    significant digits; ``_no rows_`` when empty."""
    if df.empty:
        return "_no rows_\n"
    cols = [c for c in cols if c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df[cols].iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, (float, np.floating)):
                cells.append(f"{v:.{digits}g}")
            elif isinstance(v, tuple):
                cells.append(", ".join(map(str, v)))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _csv(frame: pd.DataFrame, out: Path, name: str, files: dict) -> None:
    frame.to_csv(out / f"{name}.csv", index=False)
    files[name] = str(out / f"{name}.csv")


def write_summary(summary, out_dir) -> dict:
    """Write the tables, figures and ``summary.md`` of a run summary (module docstring).

    Parameters
    ----------
    summary : RunSummary
        From :func:`suite.analysis.summarise`.
    out_dir : path
        Folder to write into (created).

    Returns
    -------
    dict
        Name → path of every file written (also saved as ``files.json``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    s = summary
    files: dict = {}
    _csv(s.metrics, out, "metrics_summary", files)
    for name, t in s.strata.items():
        _csv(t, out, f"strata_{name}", files)
    agree = s.agreement_table
    _csv(agree, out, "clinical_agreement", files)
    _csv(s.implausible, out, "implausible_values", files)
    _csv(s.propagation, out, "error_propagation", files)
    files.update(summary_figures(s, out))
    md = _header(s) + _performance(s) + _references(s, out, files) + _clinical(s, agree) \
        + _strata(s) + _failures(s)
    rob_md, rob_files = _robustness(s, out)
    md += rob_md
    files.update(rob_files)
    figs = [k for k in files if k.startswith("figure")]
    if figs:
        md += ["\n## Figures\n"] + [f"![{k}]({Path(files[k]).name})\n" for k in figs]
    (out / "summary.md").write_text("".join(md))
    files["summary"] = str(out / "summary.md")
    (out / "files.json").write_text(json.dumps(files, indent=2) + "\n")
    return files


def _header(s) -> list[str]:
    kw, jobs = s.settings, s.jobs
    return [f"# Summary of run `{s.name}`\n",
            f"Protocol SHA-256 `{s.protocol_sha256}`. Jobs: {jobs['total']}, done "
            f"{jobs['done']}, failed {jobs['failed']}. Inputs not read: "
            f"{len(s.input_failures)}.\n",
            "All values are means over subjects (each subject's values averaged first) with "
            f"{kw['n_resamples']}-resample subject-bootstrap {100 * (1 - kw['alpha']):.0f}% "
            "percentile CIs; n counts subjects; excluded values (undefined, empty masks, "
            "implausible) are counted, never averaged in.\n"]


def _performance(s) -> list[str]:
    summ = s.metrics
    if summ.empty:
        return []
    md = []
    img = summ[summ["stage"] == "recon"]
    md += ["\n## Image quality\n", format_table(img, ["metric", "profile", "condition", "recon",
                                                      "mean", "ci_low", "ci_high", "n_subjects",
                                                      "unit"])]
    tem = summ[summ["stage"] == "temporal"]
    if not tem.empty:
        md += ["\n## Temporal fidelity\n", format_table(tem, ["metric", "profile", "condition", "recon",
                                                              "mean", "ci_low", "ci_high",
                                                              "n_subjects", "unit"])]
    seg = summ[(summ["stage"] == "segmentation") & (summ["metric"].isin(["dice", "hd95"]))]
    if not seg.empty:
        md += ["\n## Segmentation (Dice, HD95)\n",
               format_table(seg, ["metric", "structure", "phase", "condition", "recon",
                                  "segmentation", "mean", "ci_low", "ci_high", "n_subjects",
                                  "n_excluded", "unit"])]
    for stage in s.other_stages:
        t = summ[summ["stage"] == stage]
        lead = [c for c in ("metric", "structure", "phase", "segment", "convention", "profile",
                            "condition", *s.method_stages) if c in t and (t[c].astype(str) != "").any()]
        md += [f"\n## Stage `{stage}`\n",
               format_table(t, lead + ["mean", "ci_low", "ci_high", "n_subjects", "n_excluded",
                                       "excluded", "unit", "direction"])]
    return md


def _references(s, out: Path, files: dict) -> list[str]:
    refs = s.references
    if refs.empty:
        return []
    _csv(refs, out, "reference_comparison", files)
    region = refs[refs["segment"] == ""] if "segment" in refs else refs
    return ["\n## Against the truth and against other references\n",
            "Each quantity scored against the known truth (`truth`) next to its scores against "
            "the other references the stage used (e.g. a fit of the fully sampled data, a "
            "challenge's reference procedure): a good score against a reference that departs "
            "from the truth measures agreement with the reference's errors. The `truth` column "
            "of a reference procedure listed as a method is its own error. Subject means; "
            "per segment in `reference_comparison.csv`.\n",
            format_table(region, list(region.columns))]


_AGREE_COLS = ["metric", "condition", "recon", "segmentation", "reference", "n", "n_excluded",
               "excluded", "unit", "bias", "loa_lower", "loa_upper", "ccc", "icc_2_1"]


def _clinical(s, agree: pd.DataFrame) -> list[str]:
    md = []
    if not agree.empty:
        excl = s.excluded
        n_excl = sum(excl.values())
        why = ", ".join(f"{n} {reason}" for reason, n in excl.items())
        cols = [c for c in _AGREE_COLS if c not in ("recon", "segmentation")]
        cols[2:2] = [m for m in s.method_stages if m in agree.columns]
        primary = agree[agree["analysis"] == "primary"]
        sensitivity = agree[agree["analysis"] != "primary"]
        md += ["\n## Clinical agreement with the reference (test − reference)\n",
               "Primary analysis: values with an exclusion are left out and counted: "
               "implausible values (outside the physiological range the parameter declares, "
               "or inconsistent such as ESV > EDV; each one's reason is listed below) and "
               "missing values. ",
               (f"**{n_excl} value(s) excluded from the primary analysis: {why}** (listed "
                "below).\n\n" if n_excl else "No value was excluded.\n\n"),
               format_table(primary, cols)]
        if not sensitivity.empty:
            md += ["\n### Sensitivity analysis: implausible values included\n",
                   "The same agreement statistics with the implausible values put back, for "
                   "each method chain that had any.\n\n", format_table(sensitivity, cols)]
    if not s.implausible.empty:
        imp = s.implausible
        md += ["\n### Excluded values (implausible)\n",
               f"{len(imp)} value(s) stored as implausible, never averaged in:\n\n",
               format_table(imp, ["metric", "case_id", "condition",
                                  *[m for m in s.method_stages if m in imp], "value",
                                  "reference_value", "unit", "reason"])]
    prop = s.propagation
    if not prop.empty:
        md += ["\n## Error propagation: LV EF against acceleration\n",
               format_table(prop, list(prop.columns))]
    return md


def _strata(s) -> list[str]:
    md = []
    for name, t in s.strata.items():
        sub = t[(t["stage"] == "recon") & (t["metric"] == "ssim")]
        if not sub.empty:
            md += [f"\n## SSIM by {name}\n", format_table(sub, [name, "profile", "condition",
                                                                "recon", "mean", "ci_low",
                                                                "ci_high", "n_subjects"])]
    return md


def _failures(s) -> list[str]:
    if s.failed_jobs.empty and s.input_failures.empty:
        return []
    md = ["\n## Failures\n"]
    for _, r in s.input_failures.iterrows():
        md.append(f"- input `{r['path']}`: {r['error']}: {r['reason']}\n")
    for _, r in s.failed_jobs.iterrows():
        md.append(f"- {r['n_jobs']} job(s) failed with {r['error']}: {r['message']}\n")
    return md


def _robustness(s, out: Path) -> tuple[list[str], dict]:
    files: dict = {}
    md: list[str] = []
    audit = s.audit
    _csv(audit, out, "data_audit", files)
    if not audit.empty:
        n_flag = int(audit["flagged"].sum())
        md += ["\n## Data-crime audit on load\n",
               f"{int(audit['audited'].sum())} of {len(audit)} cases audited; {n_flag} flagged "
               "(zero-padded or Hermitian-symmetric k-space, quantised intensities: Shimron et "
               "al. 2022).\n\n"]
        if n_flag:
            md.append(format_table(audit[audit["flagged"]], ["case_id", "dataset", "flags"]))
    rob = s.robustness
    if rob is None:
        return md, files
    curves, ratios, ef, crimes = rob.curves, rob.ratios, rob.ef_error, rob.crimes
    for name, table in (("robustness_curves", curves), ("instability_ratios", ratios),
                        ("robustness_ef_error", ef), ("crime_inflation", crimes)):
        _csv(table, out, name, files)
    if not ratios.empty:
        main = ratios[ratios["measure"].isin(["deviation", "label_change"])]
        md += ["\n## Adversarial robustness: instability ratios\n",
               "Degradation under the adversarial perturbation divided by the degradation under "
               "a random perturbation of the same norm (subject means; CI by subject bootstrap). "
               "Degradation: output deviation ‖f(y+e) − f(y)‖/‖f(y)‖ (reconstruction) or "
               "fraction of changed labels (segmentation). Full table incl. SSIM and Dice loss "
               "in `instability_ratios.csv`.\n\n",
               format_table(main, ["condition", "recon", "segmentation", "attack", "random",
                                   "budget", "adversarial", "random_degradation", "ratio",
                                   "ratio_ci_low", "ratio_ci_high", "n_subjects"])]
    if not curves.empty:
        sel = curves[curves["metric"].isin(["ssim"]) | ((curves["metric"] == "dice")
                                                        & (curves["phase"] == "ED"))]
        md += ["\n## Robustness curves (metric against budget)\n",
               format_table(sel, ["metric", "structure", "condition", "recon", "segmentation",
                                  "attack", "budget", "mean", "ci_low", "ci_high", "n_subjects"])]
        feats = curves[curves["attack"] == "features"]
        if not feats.empty:
            md += ["\n## Small-feature recovery\n",
                   format_table(feats, ["metric", "condition", "recon", "budget", "mean",
                                        "ci_low", "ci_high", "n_subjects"])]
    if not ef.empty:
        md += [f"\n## LV EF error under perturbation (|EF − truth|, {ef['unit'].iloc[0]})\n",
               format_table(ef, ["condition", "recon", "segmentation", "attack", "budget",
                                 "mean_abs_error", "ci_low", "ci_high", "n_subjects"])]
    if not crimes.empty:
        md += ["\n## Data crimes: score inflation (crimed − honest)\n",
               format_table(crimes, ["crime", "condition", "recon", "metric", "honest", "crimed",
                                     "inflation", "ci_low", "ci_high", "relative_pct",
                                     "n_subjects", "flagged_fraction"])]
    if rob.shift is not None:
        _csv(rob.shift, out, "shift_strata", files)
        if not rob.shift.empty:
            md += ["\n## Domain shift: per-stratum analysis\n",
                   format_table(rob.shift, list(rob.shift.columns))]
    files.update(robustness_figures(rob, out))
    return md, files

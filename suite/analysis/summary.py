"""Analysis of a run's store: summaries with subject-level CIs, strata, clinical agreement.

Everything here reads the results store and computes from it; nothing reaches back upstream,
and every number written to ``RUN_DIR/report/`` is recomputable from the store (the CSV files
carry the grouping keys and counts).

* :func:`metric_summary` — per (stage, metric, structure, phase, profile, condition, recon,
  segmentation): mean over subjects (each subject's values averaged first), n subjects,
  bootstrap percentile CI over subjects (seeded), through :func:`suite.metrics.reduce.aggregate`
  semantics (NaN/undefined values excluded and counted).
* :func:`stratum_summary` — the same per stratum (vendor, field strength, pathology, ...).
* :func:`clinical_agreement` — for each clinical parameter, condition and method pair: Bland–
  Altman (test − reference, ddof 1, 1.96, approximate CIs), Lin's CCC and ICC(2,1) of the
  method against the reference value (phantom truth or reference labels).
* :func:`error_propagation` — EF (and other parameters) bias and limits of agreement against
  the nominal acceleration, per reconstruction and segmentation method.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["load_results", "metric_summary", "stratum_summary", "clinical_agreement",
           "error_propagation", "check_acceptance", "write_summary"]

GROUP = ["stage", "metric", "structure", "phase", "profile", "condition", "recon", "segmentation",
         "attack"]


def load_results(store) -> pd.DataFrame:
    """Results joined with case strata (one row per stored metric value)."""
    res = store.frame("results")
    cases = store.frame("cases")[["case_id", "vendor", "field_strength_t", "site", "pathology",
                                  "preset"]]
    out = res.merge(cases, on="case_id", how="left")
    for col in GROUP:
        out[col] = out[col].fillna("")
    return out


def _boot(values: np.ndarray, seed: int, n_resamples: int, alpha: float):
    from suite.stats import bootstrap_ci

    if values.size < 2 or np.allclose(values, values[0]):
        return (float("nan"), float("nan")) if values.size < 2 else (float(values[0]),) * 2
    r = bootstrap_ci(values, np.mean, seed=seed, n_resamples=n_resamples, alpha=alpha)
    return tuple(float(v) for v in r.ci)


def metric_summary(df: pd.DataFrame, *, by: list[str] | None = None, seed: int = 0,
                   n_resamples: int = 1000, alpha: float = 0.05) -> pd.DataFrame:
    """Mean over subjects with a subject-bootstrap CI, per group (see module docstring)."""
    keys = GROUP + ["budget"] + (by or [])
    rows = []
    for key, g in df.groupby(keys, sort=True, dropna=False):
        valid = g[g["value"].notna()]
        per_subject = valid.groupby("subject")["value"].mean()
        vals = per_subject.to_numpy(dtype=float)
        lo, hi = _boot(vals, seed, n_resamples, alpha) if vals.size else (np.nan, np.nan)
        rows.append(dict(zip(keys, key)) | {
            "mean": float(vals.mean()) if vals.size else np.nan,
            "ci_low": lo, "ci_high": hi, "n_subjects": int(vals.size),
            "n_excluded": int(g["value"].isna().sum()),
            "unit": g["unit"].iloc[0], "direction": g["direction"].iloc[0]})
    return pd.DataFrame(rows)


def stratum_summary(df: pd.DataFrame, stratum: str, **kw) -> pd.DataFrame:
    """:func:`metric_summary` split by one stratum column (e.g. ``vendor``)."""
    if stratum not in df.columns:
        raise ValueError(f"stratum_summary: unknown stratum {stratum!r}; available "
                         f"{['vendor', 'field_strength_t', 'site', 'pathology', 'preset']}")
    return metric_summary(df.assign(**{stratum: df[stratum].astype(str)}), by=[stratum], **kw)


def clinical_agreement(df: pd.DataFrame, *, parameters: list[str] | None = None) -> pd.DataFrame:
    """Agreement of clinical parameters with their reference per (condition, recon, seg)."""
    from suite.stats import bland_altman, ccc, icc

    clin = df[(df["stage"] == "clinical") & df["value"].notna() & df["reference_value"].notna()]
    if parameters:
        clin = clin[clin["metric"].isin(parameters)]
    rows = []
    for (metric, cond, rec, seg, source), g in clin.groupby(
            ["metric", "condition", "recon", "segmentation", "profile"], sort=True):
        g = g.sort_values("subject")
        test, ref = g["value"].to_numpy(float), g["reference_value"].to_numpy(float)
        row = {"metric": metric, "condition": cond, "recon": rec, "segmentation": seg,
               "reference": source, "n": len(g), "unit": g["unit"].iloc[0]}
        if len(g) >= 3:
            ba = bland_altman(test, ref)
            row |= {"bias": ba.bias, "sd": ba.sd, "loa_lower": ba.loa_lower,
                    "loa_upper": ba.loa_upper, "bias_ci_low": ba.bias_ci[0],
                    "bias_ci_high": ba.bias_ci[1]}
            try:
                c = ccc(test, ref)
                row |= {"ccc": c.ccc, "ccc_ci_low": c.ci[0], "ccc_ci_high": c.ci[1]}
            except ValueError:
                row |= {"ccc": np.nan}
            long = pd.DataFrame({"target": np.r_[g["subject"], g["subject"]],
                                 "rater": ["test"] * len(g) + ["reference"] * len(g),
                                 "score": np.r_[test, ref]})
            try:
                form = icc(long["target"], long["rater"], long["score"])["ICC(2,1)"]
                row |= {"icc_2_1": form.icc, "icc_ci_low": form.ci[0], "icc_ci_high": form.ci[1]}
            except (ValueError, KeyError):
                row |= {"icc_2_1": np.nan}
        else:
            row["note"] = "fewer than 3 subjects: agreement statistics not computed"
        rows.append(row)
    return pd.DataFrame(rows)


def error_propagation(df: pd.DataFrame, parameter: str = "lv_ef_pct") -> pd.DataFrame:
    """Bias and limits of agreement of ``parameter`` against the nominal acceleration."""
    agree = clinical_agreement(df, parameters=[parameter])
    if agree.empty:
        return agree
    accel = df[(df["stage"] == "condition") & (df["metric"] == "nominal_acceleration")]
    r_of = accel.groupby("condition")["value"].first().to_dict()
    agree["nominal_acceleration"] = agree["condition"].map(lambda c: r_of.get(c, 1.0))
    cols = ["recon", "segmentation", "condition", "nominal_acceleration", "n", "bias", "loa_lower",
            "loa_upper"]
    cols = [c for c in cols if c in agree.columns]
    return agree.sort_values(["segmentation", "recon", "nominal_acceleration"])[cols]


def check_acceptance(store, protocol) -> list[dict]:
    """Evaluate the protocol's acceptance criteria on the subject-mean of each metric."""
    if not protocol.acceptance:
        return []
    df = load_results(store)
    out = []
    for crit in protocol.acceptance:
        sel = df[df["metric"] == crit["metric"]]
        for col in ("stage", "recon", "segmentation", "condition", "structure", "phase", "profile"):
            if col in crit:
                sel = sel[sel[col] == crit[col]]
        vals = sel[sel["value"].notna()].groupby("subject")["value"].mean()
        stat = crit.get("statistic", "mean")
        value = float(getattr(vals, stat)()) if len(vals) else float("nan")
        passed = bool(len(vals)) and ("min" not in crit or value >= crit["min"]) and \
            ("max" not in crit or value <= crit["max"])
        where = ", ".join(f"{k}={crit[k]}" for k in ("stage", "recon", "segmentation", "condition",
                                                      "structure", "phase", "profile") if k in crit)
        bound = " and ".join(f"{'>=' if b == 'min' else '<='} {crit[b]}" for b in ("min", "max")
                             if b in crit)
        out.append({"description": f"{stat} {crit['metric']} ({where}) {bound}: "
                    f"{value:.4g} over {len(vals)} subjects", "value": value,
                    "n_subjects": int(len(vals)), "passed": passed, "criterion": crit})
    return out


def _fmt_table(df: pd.DataFrame, cols: list[str], digits: int = 4) -> str:
    if df.empty:
        return "_no rows_\n"
    cols = [c for c in cols if c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df[cols].iterrows():
        cells = []
        for c in cols:
            v = r[c]
            cells.append(f"{v:.{digits}g}" if isinstance(v, (float, np.floating)) else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_summary(store, protocol, out_dir) -> dict:
    """Write CSV tables, figures and ``summary.md`` into ``out_dir``; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = load_results(store)
    boot = (protocol.analyses.get("bootstrap") or {}) if protocol is not None else {}
    kw = {"seed": protocol.seed if protocol is not None else 0,
          "n_resamples": int(boot.get("n_resamples", 1000)), "alpha": float(boot.get("alpha", 0.05))}
    files = {}
    summ = metric_summary(df, **kw) if not df.empty else pd.DataFrame()
    summ.to_csv(out / "metrics_summary.csv", index=False)
    files["metrics_summary"] = str(out / "metrics_summary.csv")
    strata = (protocol.analyses.get("strata") if protocol is not None else None) or ["vendor"]
    strata_tables = {}
    for s in strata:
        if not df.empty:
            t = stratum_summary(df, s, **kw)
            t.to_csv(out / f"strata_{s}.csv", index=False)
            files[f"strata_{s}"] = str(out / f"strata_{s}.csv")
            strata_tables[s] = t
    params = (protocol.analyses.get("agreement") if protocol is not None else None) or None
    agree = clinical_agreement(df, parameters=params) if not df.empty else pd.DataFrame()
    agree.to_csv(out / "clinical_agreement.csv", index=False)
    files["clinical_agreement"] = str(out / "clinical_agreement.csv")
    prop = error_propagation(df) if not df.empty else pd.DataFrame()
    prop.to_csv(out / "error_propagation.csv", index=False)
    files["error_propagation"] = str(out / "error_propagation.csv")
    files.update(_figures(df, summ, out))
    jobs = store.frame("jobs")
    failures = store.frame("failures")
    md = [f"# Summary of run `{protocol.name if protocol else ''}`\n",
          f"Protocol SHA-256 `{protocol.sha256 if protocol else ''}`. Jobs: {len(jobs)}, done "
          f"{int((jobs['status'] == 'done').sum())}, failed {int((jobs['status'] == 'failed').sum())}. "
          f"Inputs not read: {len(failures)}.\n",
          "All values are means over subjects (each subject's values averaged first) with "
          f"{kw['n_resamples']}-resample subject-bootstrap {100 * (1 - kw['alpha']):.0f}% "
          "percentile CIs; n counts subjects; excluded values (undefined, empty masks) are "
          "counted, never averaged in.\n"]
    if not summ.empty:
        img = summ[summ["stage"] == "recon"]
        md += ["\n## Image quality\n", _fmt_table(img, ["metric", "profile", "condition", "recon",
                                                        "mean", "ci_low", "ci_high", "n_subjects"])]
        tem = summ[summ["stage"] == "temporal"]
        if not tem.empty:
            md += ["\n## Temporal fidelity\n", _fmt_table(tem, ["metric", "condition", "recon", "mean",
                                                                "ci_low", "ci_high", "n_subjects"])]
        seg = summ[(summ["stage"] == "segmentation") & (summ["metric"].isin(["dice", "hd95"]))]
        if not seg.empty:
            md += ["\n## Segmentation (Dice, HD95)\n",
                   _fmt_table(seg, ["metric", "structure", "phase", "condition", "recon",
                                    "segmentation", "mean", "ci_low", "ci_high", "n_subjects",
                                    "n_excluded"])]
    if not agree.empty:
        md += ["\n## Clinical agreement with the reference (test − reference)\n",
               _fmt_table(agree, ["metric", "condition", "recon", "segmentation", "reference", "n",
                                  "bias", "loa_lower", "loa_upper", "ccc", "icc_2_1"])]
    if not prop.empty:
        md += ["\n## Error propagation: LV EF against acceleration\n",
               _fmt_table(prop, list(prop.columns))]
    for s, t in strata_tables.items():
        sub = t[(t["stage"] == "recon") & (t["metric"] == "ssim")]
        if not sub.empty:
            md += [f"\n## SSIM by {s}\n", _fmt_table(sub, [s, "profile", "condition", "recon",
                                                          "mean", "ci_low", "ci_high", "n_subjects"])]
    failed = jobs[jobs["status"] == "failed"]
    if not failed.empty or not failures.empty:
        md += ["\n## Failures\n"]
        for _, r in failures.iterrows():
            md.append(f"- input `{r['path']}`: {r['error']}: {r['reason']}\n")
        for (err, msg), g in failed.groupby(["error", "message"]):
            md.append(f"- {len(g)} job(s) failed with {err}: {str(msg).splitlines()[0]}\n")
    from suite.analysis.robustness import write_robustness_summary

    rob_md, rob_files = write_robustness_summary(df, store, protocol, out, kw, _fmt_table)
    md += rob_md
    files.update(rob_files)
    figs = [k for k in files if k.startswith("figure")]
    if figs:
        md += ["\n## Figures\n"] + [f"![{k}]({Path(files[k]).name})\n" for k in figs]
    (out / "summary.md").write_text("".join(md))
    files["summary"] = str(out / "summary.md")
    (out / "files.json").write_text(json.dumps(files, indent=2) + "\n")
    return files


def _figures(df: pd.DataFrame, summ: pd.DataFrame, out: Path) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = {}
    if summ.empty:
        return files
    ssim = summ[(summ["stage"] == "recon") & (summ["metric"] == "ssim")]
    accel = df[(df["stage"] == "condition") & (df["metric"] == "nominal_acceleration")]
    r_of = accel.groupby("condition")["value"].first().to_dict()
    if not ssim.empty and r_of:
        fig, ax = plt.subplots(figsize=(6, 4))
        for (rec, prof), g in ssim.groupby(["recon", "profile"]):
            g = g.assign(R=g["condition"].map(r_of)).dropna(subset=["R"]).sort_values("R")
            ax.errorbar(g["R"], g["mean"], yerr=[g["mean"] - g["ci_low"], g["ci_high"] - g["mean"]],
                        marker="o", capsize=3, label=f"{rec} ({prof})")
        ax.set_xlabel("nominal acceleration R")
        ax.set_ylabel("SSIM (mean over subjects, 95% CI)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        for ext in ("png", "svg"):
            fig.savefig(out / f"ssim_vs_acceleration.{ext}")
        plt.close(fig)
        files["figure_ssim_vs_acceleration"] = str(out / "ssim_vs_acceleration.png")
    from suite.stats import bland_altman
    from suite.stats.plots import bland_altman_plot

    clin = df[(df["stage"] == "clinical") & (df["metric"] == "lv_ef_pct") & df["value"].notna()
              & df["reference_value"].notna()]
    for (cond, rec, seg), g in clin.groupby(["condition", "recon", "segmentation"]):
        if len(g) < 3:
            continue
        g = g.sort_values("subject")
        ba = bland_altman(g["value"].to_numpy(float), g["reference_value"].to_numpy(float), unit="%")
        fig = bland_altman_plot(ba, title=f"LV EF: {rec} + {seg} ({cond})")
        name = f"ba_lv_ef_{cond}_{rec}_{seg}".replace("/", "_").replace(":", "_")
        for ext in ("png", "svg"):
            fig.savefig(out / f"{name}.{ext}")
        plt.close(fig)
        files[f"figure_{name}"] = str(out / f"{name}.png")
    return files

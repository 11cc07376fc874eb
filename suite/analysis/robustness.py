"""Analysis of a run's robustness results: curves, instability ratios, crimes, shift, audit.

Reads only the store (the ``results`` rows with ``stage`` ``robustness`` /
``robustness-clinical`` and the ``cases`` table), like :mod:`suite.analysis.summary`; the
worst-case example files are picked by :func:`suite.analysis.examples.robustness_examples`:

* :func:`robustness_curves` — each robustness metric against the budget ε per (method,
  condition, attack): subject mean with a subject-bootstrap CI (the robustness curve);
  budget 0 is the clean output.
* :func:`instability_ratios` — at each budget, the degradation under the adversarial
  perturbation divided by the degradation under a random perturbation of the same norm
  (Antun et al. 2020 compare worst-case and random perturbations the same way). Degradation
  is the output deviation ‖f(y+e) − f(y)‖/‖f(y)‖ for reconstructions, the fraction of changed
  labels for segmentations, and the loss of SSIM / Dice from the clean output. A ratio ≫ 1
  means the method is unstable: small worst-case perturbations do much more harm than noise.
* :func:`ef_error_curves` — |EF(perturbed) − EF(truth)| against the budget.
* :func:`crime_inflation` — the score on crimed data minus the honest score of the same case,
  condition and method (Shimron et al. 2022), with a subject-bootstrap CI, and how often the
  audit flagged the crimed data.
* :func:`audit_table` — the data-crime audit flags each case got on load.
* :func:`shift_tables` — per-stratum analysis (:func:`suite.robustness.shift.stratum_analysis`)
  of the metrics the protocol names under ``robustness.shift``.
* :func:`anchored_curves` — curves of the perturbation attacks, each starting from the clean
  output (the data of the robustness figures).

Rendering (CSV, Markdown, figures) is :mod:`suite.report.summary`'s job.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from suite.analysis.summary import bootstrap_mean_ci, method_columns, subject_reduction

__all__ = ["robustness_curves", "instability_ratios", "ef_error_curves", "crime_inflation",
           "audit_table", "shift_tables", "anchored_curves", "RANDOM_COUNTERPART"]

#: The random perturbation each adversarial attack is compared with (same norm and budget).
RANDOM_COUNTERPART = {"kspace-pgd": "kspace-random", "image-pgd": "image-random",
                      "random-search": "kspace-random", "fgsm": "random-linf",
                      "pgd": "random-linf", "pgd-l2": "random-l2",
                      "input-pgd": "input-random", "input-random-search": "input-random"}
def _method_keys(df: pd.DataFrame) -> list[str]:
    """The condition and the method column of every stage of the run (recon, segmentation and
    any other method stage), so that two methods of any stage never share a curve."""
    return ["condition", *method_columns(df)]


def _subject_mean(g: pd.DataFrame, col: str = "value") -> pd.Series:
    """Each subject's mean of its usable values (:func:`suite.analysis.summary.subject_reduction`,
    the one subject-level reduction)."""
    agg = subject_reduction(g, col)
    return pd.Series(dict(agg.subject_means), dtype=float)


def _ci(values: np.ndarray, seed: int, n_resamples: int, alpha: float) -> tuple[float, float]:
    return bootstrap_mean_ci(values, seed, n_resamples, alpha) if values.size else (np.nan, np.nan)


def robustness_curves(df: pd.DataFrame, *, seed: int = 0, n_resamples: int = 1000,
                      alpha: float = 0.05) -> pd.DataFrame:
    """Subject-mean of every robustness metric per (method, condition, attack, budget).

    Returns columns ``condition, recon, segmentation, attack, budget, metric, structure,
    phase, profile, mean, ci_low, ci_high, n_subjects, unit, direction``.
    """
    rob = df[df["stage"] == "robustness"]
    rows = []
    keys = _method_keys(df) + ["attack", "budget", "metric", "structure", "phase", "profile"]
    for key, g in rob.groupby(keys, sort=True, dropna=False):
        vals = _subject_mean(g).to_numpy(float)
        lo, hi = _ci(vals, seed, n_resamples, alpha)
        rows.append(dict(zip(keys, key)) | {
            "mean": float(vals.mean()) if vals.size else np.nan, "ci_low": lo, "ci_high": hi,
            "n_subjects": int(vals.size), "unit": g["unit"].iloc[0],
            "direction": g["direction"].iloc[0]})
    return pd.DataFrame(rows)


def _degradation(df: pd.DataFrame) -> pd.DataFrame:
    """Per-case degradation of each perturbed output: deviation-type metrics as they are,
    quality metrics (ssim, dice) as the loss from the clean (budget 0) value of the same job."""
    rob = df[df["stage"] == "robustness"]
    out = []
    direct = rob[rob["metric"].isin(["deviation", "label_change"])]
    out.append(direct.assign(measure=direct["metric"], degradation=direct["value"]))
    quality = rob[rob["metric"].isin(["ssim", "dice"])]
    if not quality.empty:
        key = ["job_id", "metric", "structure", "phase"]
        clean = quality[quality["attack"] == "none"][key + ["value"]].rename(
            columns={"value": "clean"})
        pert = quality[quality["attack"] != "none"].merge(clean, on=key, how="inner")
        structure = pert["structure"].replace("", np.nan)
        label = np.where(structure.notna(), pert["metric"] + " loss " + structure.fillna("")
                         + " " + pert["phase"].fillna(""), pert["metric"] + " loss")
        out.append(pert.assign(measure=pd.Series(label, index=pert.index).str.strip(),
                               degradation=pert["clean"] - pert["value"]))
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def instability_ratios(df: pd.DataFrame, *, seed: int = 0, n_resamples: int = 1000,
                       alpha: float = 0.05) -> pd.DataFrame:
    """Adversarial / random degradation at equal budget (see the module docstring).

    The ratio is of subject means (mean adversarial degradation over subjects divided by the
    mean random degradation); its CI resamples subjects (paired: the same subjects in both).
    Returns columns ``condition, recon, segmentation, attack, random, budget, measure,
    adversarial, random_degradation, ratio, ratio_ci_low, ratio_ci_high, n_subjects``.
    """
    deg = _degradation(df)
    if deg.empty:
        return pd.DataFrame()
    rows = []
    mkeys = _method_keys(df)
    for key, g in deg.groupby(mkeys + ["attack", "budget", "measure"], sort=True, dropna=False):
        chain = dict(zip(mkeys, key[:len(mkeys)]))
        attack, budget, measure = key[len(mkeys):]
        counterpart = RANDOM_COUNTERPART.get(attack)
        if counterpart is None:
            continue
        sel = (deg["attack"] == counterpart) & (deg["budget"] == budget) \
            & (deg["measure"] == measure)
        for col, value in chain.items():
            sel &= deg[col] == value
        r = deg[sel]
        if r.empty:
            continue
        a_subj = _subject_mean(g, "degradation")
        r_subj = _subject_mean(r, "degradation")
        both = a_subj.index.intersection(r_subj.index)
        a, b = a_subj[both].to_numpy(float), r_subj[both].to_numpy(float)
        if a.size == 0:
            continue
        ratio = a.mean() / b.mean() if b.mean() != 0 else np.inf
        lo = hi = np.nan
        if a.size >= 2:
            rng = np.random.default_rng(seed)
            idx = rng.integers(0, a.size, size=(n_resamples, a.size))
            with np.errstate(divide="ignore", invalid="ignore"):
                boots = a[idx].mean(axis=1) / b[idx].mean(axis=1)
            boots = boots[np.isfinite(boots)]
            if boots.size:
                lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
        rows.append(chain | {"attack": attack,
                     "random": counterpart, "budget": budget, "measure": measure,
                     "adversarial": float(a.mean()), "random_degradation": float(b.mean()),
                     "ratio": float(ratio), "ratio_ci_low": float(lo), "ratio_ci_high": float(hi),
                     "n_subjects": int(a.size)})
    return pd.DataFrame(rows)


def ef_error_curves(df: pd.DataFrame, parameter: str = "lv_ef_pct", **kw) -> pd.DataFrame:
    """Mean |parameter(perturbed) − truth| per (method, condition, attack, budget)."""
    clin = df[(df["stage"] == "robustness-clinical") & (df["metric"] == parameter)
              & df["value"].notna() & df["reference_value"].notna()]
    if clin.empty:
        return pd.DataFrame()
    clin = clin.assign(abs_error=(clin["value"] - clin["reference_value"]).abs())
    rows = []
    mkeys = _method_keys(df)
    for key, g in clin.groupby(mkeys + ["attack", "budget"], sort=True, dropna=False):
        agg = subject_reduction(g, "abs_error")
        vals = agg.values()
        lo, hi = _ci(vals, kw.get("seed", 0), kw.get("n_resamples", 1000), kw.get("alpha", 0.05))
        rows.append(dict(zip(mkeys + ["attack", "budget"], key)) | {
            "parameter": parameter, "mean_abs_error": agg.value, "ci_low": lo,
            "ci_high": hi, "n_subjects": agg.n_subjects, "n_excluded": agg.n_excluded,
            "excluded": ", ".join(f"{n} {r}" for r, n in agg.excluded_by),
            "unit": g["unit"].iloc[0]})
    return pd.DataFrame(rows)


def crime_inflation(df: pd.DataFrame, **kw) -> pd.DataFrame:
    """Crimed-minus-honest score per (crime, condition, method, metric) with a CI.

    The honest score is the ordinary ``recon`` row of the same case, condition, method and
    profile. Positive ``inflation`` for SSIM/PSNR (or negative for NMSE) means the crime made
    the method look better than it is. ``relative_pct`` is 100 × inflation / |honest mean|.
    ``flagged_fraction`` is the share of crimed cases any audit flag caught.
    """
    crimes = df[(df["stage"] == "robustness") & df["attack"].astype(str).str.startswith("crime:")]
    if crimes.empty:
        return pd.DataFrame()
    scores = crimes[crimes["metric"].isin(["ssim", "nmse", "psnr"])]
    honest = df[(df["stage"] == "recon") & df["metric"].isin(["ssim", "nmse", "psnr"])]
    key = ["case_id", "condition", "recon", "metric", "profile"]
    paired = scores.merge(honest[key + ["value", "exclusion"]].rename(
        columns={"value": "honest", "exclusion": "honest_exclusion"}), on=key, how="inner")
    # a pair counts only when both scores are usable
    paired = paired.assign(diff=paired["value"] - paired["honest"],
                           exclusion=paired["exclusion"].where(
                               paired["exclusion"].notna(), paired["honest_exclusion"]))
    flags = crimes[crimes["metric"].str.startswith("audit_")]
    rows = []
    for (attack, cond, rec, metric, prof), g in paired.groupby(
            ["attack", "condition", "recon", "metric", "profile"], sort=True):
        diff_agg = subject_reduction(g, "diff")
        diff = diff_agg.values()
        honest_mean = float(subject_reduction(g, "honest").value)
        crimed_mean = float(subject_reduction(g, "value").value)
        lo, hi = _ci(diff, kw.get("seed", 0), kw.get("n_resamples", 1000), kw.get("alpha", 0.05))
        f = flags[(flags["attack"] == attack) & (flags["condition"] == cond)
                  & (flags["recon"] == rec)]
        caught = f.groupby("case_id")["value"].max() if not f.empty else pd.Series(dtype=float)
        rows.append({"crime": attack.split(":", 1)[1], "condition": cond, "recon": rec,
                     "metric": metric, "profile": prof,
                     "crimed": crimed_mean,
                     "honest": honest_mean, "inflation": float(diff.mean()), "ci_low": lo,
                     "ci_high": hi,
                     "relative_pct": float(100 * diff.mean() / abs(honest_mean))
                     if honest_mean else np.nan,
                     "n_subjects": int(diff.size), "n_excluded": diff_agg.n_excluded,
                     "flagged_fraction": float(caught.mean()) if caught.size else np.nan})
    return pd.DataFrame(rows)


def audit_table(cases) -> pd.DataFrame:
    """One row per case: whether the on-load data-crime audit flagged it, and which flags.

    ``cases``: the store's ``cases`` table (a DataFrame, or a view with a ``cases`` attribute).
    """
    cases = cases if isinstance(cases, pd.DataFrame) else cases.cases
    rows = []
    for _, c in cases.iterrows():
        meta = json.loads(c["meta"]) if isinstance(c["meta"], str) else {}
        audit = meta.get("audit_flags") or {}
        flags = audit.get("flags") or {}
        rows.append({"case_id": c["case_id"], "dataset": c["dataset"],
                     "audited": bool(audit),
                     "flagged": bool(audit.get("flagged", any(flags.values()))),
                     "flags": ", ".join(sorted(k for k, v in flags.items() if v)) or "none"})
    return pd.DataFrame(rows)


def _select(df: pd.DataFrame, spec: dict) -> pd.DataFrame:
    sel = df[df["metric"] == spec["metric"]]
    for col in ("stage", "profile", "structure", "phase", "segment", "convention",
                *method_columns(df)):
        if col in spec:
            sel = sel[sel[col].fillna("").astype(str) == str(spec[col])]
    if "stage" not in spec:
        sel = sel[~sel["stage"].isin(["robustness", "robustness-clinical"])]
    return sel


def shift_tables(df: pd.DataFrame, shift: dict, **kw) -> pd.DataFrame:
    """Per-stratum analysis of the protocol's ``robustness.shift`` metrics.

    For each metric selection, stratum column and (condition, method columns) group — the
    condition is only held fixed when it is not itself the stratum — one
    :func:`suite.robustness.shift.stratum_analysis`; the rows of its table are concatenated
    with the selection, column and group added.

    * Rows without a level of the stratum (a case that does not belong to that stratum, e.g.
      a series of another shift factor's sweep) are outside that analysis, not excluded values.
    * A reference level matches a stored level by its text or, for numbers, by value
      (``60`` matches ``60.0``).
    * A "closer is better" metric (a signed bias) is analysed as its distance to the metric's
      target, ``|value − target|`` (``target``, else ``optimum``, else 0; lower is better), and
      the selection label says so.
    """
    from suite.robustness.shift import stratum_analysis

    tables = []
    reference = shift.get("reference") or {}
    for spec in shift.get("metrics") or []:
        sel = _select(df, spec)
        if sel.empty:
            continue
        sel, direction, label = _shift_direction(sel, spec)
        for column in shift.get("strata") or ["vendor"]:
            if column not in sel.columns:
                continue
            fixed = [k for k in _method_keys(df) if k != column]
            present = sel[column].map(lambda v: v is not None and v == v and str(v) != "")
            for group, g in sel[present].groupby(fixed, sort=True, dropna=False):
                g = g.assign(**{column: g[column].astype(str)})
                levels = sorted(g[column].unique())
                if len(levels) < 2:
                    continue
                ref = _match_reference(levels, reference.get(column),
                                       lambda: _default_reference(g, column))
                if ref is None:
                    continue
                res = stratum_analysis(g, stratum_col=column, reference=ref,
                                       direction=direction, seed=kw.get("seed", 0),
                                       n_resamples=kw.get("n_resamples", 1000),
                                       alpha=kw.get("alpha", 0.05))
                t = res.table.copy()
                for k, v in zip(fixed, group):
                    t.insert(0, k, v)
                t.insert(0, "stratum_column", column)
                t.insert(0, "selection", label)
                tables.append(t)
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def _shift_direction(sel: pd.DataFrame, spec: dict):
    """``(rows, "higher"|"lower", selection label)``; a closer-is-better metric becomes its
    distance to the target (lower is better)."""
    from suite.metrics.contract import DIRECTIONS, direction_word, metric_spec

    word = str(sel["direction"].iloc[0])
    word = direction_word(word) if word in DIRECTIONS else word.split(" ")[0]
    if word != "closer":
        return sel, ("lower" if word == "lower" else "higher"), _selection_label(spec)
    try:
        m = metric_spec(str(spec["metric"]))
        target = m.target if m.target is not None else (m.optimum or 0.0)
    except KeyError:
        target = 0.0
    out = sel.assign(value=(sel["value"] - target).abs())
    return out, "lower", f"|{_selection_label(spec)} − {target:g}|"


def _match_reference(levels: list, wanted, default):
    """The level ``wanted`` names (by text, or by value for numbers); ``default()`` when not
    given; None when it names no level."""
    if wanted is None:
        return str(default())
    if str(wanted) in levels:
        return str(wanted)
    try:
        num = float(wanted)
    except (TypeError, ValueError):
        return None
    for lv in levels:
        try:
            if float(lv) == num:
                return lv
        except ValueError:
            continue
    return None


def _default_reference(g: pd.DataFrame, column: str) -> str:
    """The most frequent level (ties: the first in sorted order)."""
    counts = g.groupby(column)["subject"].nunique()
    return str(counts.sort_index().idxmax())


def _selection_label(spec: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in spec.items())


def anchored_curves(curves: pd.DataFrame) -> pd.DataFrame:
    """The perturbation curves of ``curves``, each starting at the clean value.

    Parameters
    ----------
    curves : DataFrame
        Rows of :func:`robustness_curves` (usually one metric, structure and phase).

    Returns
    -------
    DataFrame
        The rows of every attack with a budget axis (not ``none``, not the feature insertion
        ``features``, not a data crime ``crime:*``), plus, for each such attack, a copy of
        the clean rows (``attack == "none"``, budget 0) relabelled with that attack, so that
        every curve starts from the clean output of the same method and condition.
    """
    attack = curves["attack"].astype(str)
    perturbed = curves[(attack != "none") & (attack != "features")
                       & ~attack.str.startswith("crime:")]
    clean = curves[attack == "none"]
    parts = [perturbed] + [clean.assign(attack=a) for a in perturbed["attack"].unique()]
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else perturbed.reset_index(
        drop=True)

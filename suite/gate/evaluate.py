"""``run_gate``: compare a candidate run with a baseline run, criterion by criterion.

Per-case values
---------------
A criterion selects rows of the results table by ``metric`` and ``where`` (rows of stage
``robustness`` only when ``where`` or ``per`` names ``stage``, ``attack`` or ``budget``); within one stratum
every case must then have exactly one row (otherwise the criterion is ambiguous and the error
names the columns that still vary, to add to ``where`` or ``per``). For metrics whose
``direction`` is "closer is better" (clinical parameters), the gate works on the absolute error
``|value − reference_value|`` (lower is better); ``agreement`` criteria use the signed
difference ``value − reference_value`` (test − reference).

Kinds
-----
``floor``
    The candidate's statistic (mean or median over subjects of the subject means) against an
    absolute ``min``/``max``; ``use: bound`` requires the one-sided ``1 − α`` subject-bootstrap
    bound (lower for ``min``, upper for ``max``) to meet it instead of the point estimate.
``noninferiority``
    Paired per-case differences candidate − baseline; see :mod:`suite.gate.inference`.
    ``relative_margin`` is a fraction of |mean over subjects of the baseline|.
``agreement``
    Bland–Altman of the candidate's clinical parameter against its reference (d = test −
    reference, SD ddof = 1, half-width 1.96·SD): ``max_loa_half_width``, ``max_abs_bias`` and
    ``max_half_width_increase`` (candidate − baseline half-width). Bounds: the half-width's
    one-sided upper bound from the χ² interval of an SD, SD·√((n − 1)/χ²_{α, n−1})
    (``ci: chi2``, normal differences) or a subject-clustered bootstrap (``ci: bootstrap``);
    |bias| upper bound max(|b ± t_{1−α, n−1}·SD/√n|).
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from suite._serialise import jsonable
from suite.gate.criteria import CASE_COLUMNS, Criterion, GateCriteriaError, GateSettings
from suite.gate.inference import bootstrap_lower_bound, t_lower_bound, wilcoxon_lower_bound
from suite.gate.runs import KEY_COLUMNS, GateNotComparable, RunData, check_comparable, load_run

__all__ = ["Verdict", "GateResult", "run_gate", "criteria_from_acceptance"]

_HIGHER = {"higher", "higher is better"}
_LOWER = {"lower", "lower is better"}
_CLOSER = {"closer", "closer is better"}
#: Method labels that do not name a method under test: "" (no method of that stage) and the
#: recon label of the fully sampled reference images.
_METHOD_FREE = ("", "reference")


@dataclass(frozen=True)
class Verdict:
    """The outcome of one criterion in one stratum (one JUnit test case).

    Attributes
    ----------
    name : str
        Criterion name, plus ``[column=value, ...]`` for a stratum and `` · limit`` for an
        agreement limit.
    criterion, kind, metric, quantity : str
        ``quantity`` says what ``estimate`` measures (e.g. "mean difference candidate −
        baseline", "LoA half-width").
    stratum : dict
        Column → value of the stratum (empty for all cases).
    estimate : float
        Point estimate in ``unit``.
    ci : tuple of float
        One-sided ``1 − alpha`` interval (the open side is ±inf), or NaN when not computed.
    limit : float
        The bound the criterion applies; ``comparison`` is ">=", "<=", ">" or "<".
    passed : bool
    method : str
        Test or interval method.
    p_value : float or None
    n_cases, n_subjects : int
    unit, direction : str
    message : str
        Why it passed or failed, in words.
    """

    name: str
    criterion: str
    kind: str
    metric: str
    quantity: str
    stratum: dict
    estimate: float
    ci: tuple
    limit: float
    comparison: str
    passed: bool
    method: str
    p_value: float | None
    n_cases: int
    n_subjects: int
    unit: str
    direction: str
    alpha: float
    message: str

    def to_dict(self) -> dict:
        return jsonable({k: getattr(self, k) for k in self.__dataclass_fields__})

    def summary(self) -> str:
        return (f"{'PASS' if self.passed else 'FAIL'} {self.name}: {self.quantity} "
                f"{_f(self.estimate)}{_u(self.unit)}, {_ci(self.ci, self.alpha)}; required "
                f"{self.comparison} {_f(self.limit)} ({self.method}; {self.n_subjects} subjects, "
                f"{self.n_cases} cases). {self.message}")


def _f(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if isinstance(v, float) and math.isinf(v):
        return "∞" if v > 0 else "−∞"
    return f"{v + 0.0:.4g}"  # + 0.0: no "-0"


def _u(unit: str) -> str:
    return "" if unit in ("", "1") else f" {unit}"


def _ci(ci, alpha) -> str:
    lo, hi = ci
    if all(isinstance(x, float) and math.isnan(x) for x in (lo, hi)):
        return "no CI"
    return f"one-sided {100 * (1 - alpha):g} % CI [{_f(lo)}, {_f(hi)}]"


@dataclass
class GateResult:
    """Verdicts of a gate, with what was compared; ``exit_code`` 0 (all pass) or 1."""

    candidate: str
    baseline: str
    basis: str
    candidate_protocol_sha256: str
    baseline_protocol_sha256: str
    evaluation_sha256: str
    method_mapping: dict
    settings: GateSettings
    criteria: list
    verdicts: list = field(default_factory=list)
    created: str = ""

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    @property
    def n_failed(self) -> int:
        return sum(not v.passed for v in self.verdicts)

    def to_dict(self) -> dict:
        return jsonable({
            "candidate": self.candidate, "baseline": self.baseline, "basis": self.basis,
            "candidate_protocol_sha256": self.candidate_protocol_sha256,
            "baseline_protocol_sha256": self.baseline_protocol_sha256,
            "evaluation_sha256": self.evaluation_sha256, "method_mapping": self.method_mapping,
            "settings": self.settings.to_dict(), "criteria": [c.to_dict() for c in self.criteria],
            "verdicts": [v.to_dict() for v in self.verdicts], "passed": self.passed,
            "n_failed": self.n_failed, "exit_code": self.exit_code, "created": self.created})

    def summary(self, format: str = "markdown") -> str:
        """Markdown (default) or plain-text table of every verdict with numbered notes."""
        if format not in ("markdown", "text"):
            raise ValueError(f"GateResult.summary: `format` must be 'markdown' or 'text'; got "
                             f"{format!r}")
        head = "PASSED" if self.passed else f"FAILED ({self.n_failed} of {len(self.verdicts)})"
        lines = [f"# Release gate: {head}", "",
                 f"- candidate: `{self.candidate}` (protocol sha256 "
                 f"{self.candidate_protocol_sha256[:12]})",
                 f"- baseline: `{self.baseline}` (protocol sha256 "
                 f"{self.baseline_protocol_sha256[:12]})",
                 f"- comparable by: {self.basis} (evaluation plan sha256 "
                 f"{self.evaluation_sha256[:12]})"]
        if self.method_mapping:
            lines.append("- method mapping (baseline → candidate): " + ", ".join(
                f"{st}: {b} → {c}" for st, (b, c) in sorted(self.method_mapping.items())))
        lines.append("")
        if format == "text":
            lines += [v.summary() for v in self.verdicts]
        else:
            lines += ["| verdict | criterion | quantity | estimate | one-sided CI | required | "
                      "n subjects (cases) | method |", "|---|---|---|---|---|---|---|---|"]
            for v in self.verdicts:
                ci = "—" if all(math.isnan(x) for x in v.ci) else f"[{_f(v.ci[0])}, {_f(v.ci[1])}]"
                lines.append(f"| {'✅ pass' if v.passed else '❌ FAIL'} | {v.name} | "
                             f"{v.quantity} ({v.unit or 'unitless'}) | {_f(v.estimate)} | {ci} | "
                             f"{v.comparison} {_f(v.limit)} | {v.n_subjects} ({v.n_cases}) | "
                             f"{v.method} |")
            failed = [v for v in self.verdicts if not v.passed]
            if failed:
                lines += ["", "## Failed criteria", ""] + [f"- **{v.name}**: {v.message}"
                                                           for v in failed]
        a = self.settings.alpha
        lines += ["", "Notes:",
                  f"1. One-sided confidence level {100 * (1 - a):g} % (alpha {a:g}); differences "
                  "are candidate − baseline, paired by case.",
                  "2. Subject-level analysis: the bootstrap resamples subjects "
                  f"({self.settings.n_resamples} resamples, seed {self.settings.seed}); t and "
                  "Wilcoxon tests use one subject-mean difference per subject.",
                  "3. Clinical parameters ('closer is better') are gated on the absolute error "
                  "|value − reference|; agreement limits use the signed difference (test − "
                  "reference), SD ddof = 1, half-width 1.96·SD."]
        return "\n".join(lines) + "\n"

    def to_junit(self) -> str:
        """JUnit XML (one test case per verdict); see :mod:`suite.gate.junit`."""
        from suite.gate.junit import verdicts_to_junit

        return verdicts_to_junit(self)

    def write(self, out_dir) -> dict:
        """Write ``gate.md``, ``gate.xml`` (JUnit) and ``gate.json`` into ``out_dir``."""
        import json

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"markdown": out / "gate.md", "junit": out / "gate.xml", "json": out / "gate.json"}
        paths["markdown"].write_text(self.summary("markdown"))
        paths["junit"].write_text(self.to_junit())
        paths["json"].write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return paths


# ---------------------------------------------------------------------- helpers
def _norm_value(v) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, (int, float)):
        return repr(float(v))
    return str(v)


def _col_as_str(s: pd.Series) -> pd.Series:
    return s.map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v))
                 else _norm_value(v))


def _select(df: pd.DataFrame, crit: Criterion) -> pd.DataFrame:
    sel = df[df["metric"] == crit.metric]
    if not {"stage", "attack", "budget"} & (set(crit.where) | set(crit.per)):
        sel = sel[sel["stage"] != "robustness"]  # attacked rows only when a criterion asks
    for col, val in crit.where.items():
        if col not in sel.columns:
            raise GateCriteriaError("criteria", f"{crit.name}.where.{col}",
                                    f"names a column the runs lack; available: "
                                    f"{sorted(set(KEY_COLUMNS) | set(CASE_COLUMNS))}")
        sel = sel[_col_as_str(sel[col]) == _norm_value(val)]
    return sel


def _direction(rows: pd.DataFrame, crit: Criterion) -> str:
    dirs = {str(d) for d in rows["direction"].dropna().unique() if str(d)}
    if len(dirs) != 1:
        raise GateCriteriaError("criteria", crit.name,
                                f"selects rows with directions {sorted(dirs) or 'none'}; a "
                                "criterion must select one metric with one direction")
    d = dirs.pop()
    if d in _HIGHER:
        return "higher"
    if d in _LOWER:
        return "lower"
    if d in _CLOSER:
        return "closer"
    raise GateCriteriaError("criteria", crit.name, f"metric direction {d!r} is not understood; "
                            "expected higher/lower/closer is better")


def _one_row_per_case(rows: pd.DataFrame, crit: Criterion, who: str) -> pd.DataFrame:
    dup = rows["case_id"].duplicated(keep=False)
    if dup.any():
        d = rows[dup]
        varying = [c for c in KEY_COLUMNS if c in d.columns
                   and (d.groupby("case_id")[c].nunique() > 1).any()]
        detail = "; ".join(f"`{c}` takes {sorted(d[c].astype(str).unique())[:6]}"
                           for c in varying) or "duplicate rows"
        raise GateCriteriaError(
            "criteria", crit.name,
            f"selects several {who} rows per case for metric {crit.metric!r} ({detail}); add "
            "these columns to `where` (one value) or to `per` (one verdict per value)")
    return rows.set_index("case_id")


def _strata(crit: Criterion, cand: pd.DataFrame, base: pd.DataFrame):
    out = []
    if crit.overall or not crit.per:
        out.append(({}, None))
    if crit.per:
        both = pd.concat([cand[list(crit.per)], base[list(crit.per)]]).astype(str)
        for key in sorted(set(map(tuple, both.to_numpy().tolist()))):
            out.append((dict(zip(crit.per, key)), key))
    return out


def _in_stratum(df: pd.DataFrame, crit: Criterion, key) -> pd.DataFrame:
    if key is None:
        return df
    mask = np.ones(len(df), bool)
    for col, val in zip(crit.per, key):
        mask &= (df[col].astype(str) == val).to_numpy()
    return df[mask]


def _label(crit: Criterion, stratum: dict, suffix: str = "") -> str:
    s = f"{crit.name}" + (f" [{', '.join(f'{k}={v}' for k, v in stratum.items())}]"
                          if stratum else "")
    return s + (f" · {suffix}" if suffix else "")


def _score(rows: pd.DataFrame, direction: str) -> pd.Series:
    if direction == "closer":
        return (rows["value"] - rows["reference_value"]).abs()
    return rows["value"].astype(float)


def _subject_stat(values: pd.Series, subjects: pd.Series, statistic: str) -> tuple[float, np.ndarray]:
    per = values.groupby(subjects, sort=True).mean().to_numpy(float)
    return (float(np.mean(per)) if statistic == "mean" else float(np.median(per))), per


# ---------------------------------------------------------------------- criteria
def _floor(crit, stratum, c_rows, direction, settings) -> list[Verdict]:
    p, a = crit.params, settings.alpha
    vals = _score(c_rows, direction)
    ok = vals.notna()
    n_nan = int((~ok).sum())
    vals, subj = vals[ok], c_rows.loc[ok, "subject"]
    unit = str(c_rows["unit"].iloc[0]) if len(c_rows) else ""
    quantity = (f"{p['statistic']} over subjects"
                + (" of |value − reference|" if direction == "closer" else ""))
    out = []
    for b in ("min", "max"):
        if b not in p:
            continue
        limit, comparison = p[b], (">=" if b == "min" else "<=")
        if not len(vals):
            out.append(Verdict(_label(crit, stratum, b if "min" in p and "max" in p else ""),
                               crit.name, "floor", crit.metric, quantity, stratum, math.nan,
                               (math.nan, math.nan), limit, comparison, False, "none", None, 0, 0,
                               unit, direction, a, f"no candidate values ({n_nan} undefined)"))
            continue
        est, per = _subject_stat(vals, subj, p["statistic"])
        lo = hi = math.nan
        if per.size >= 2 and np.ptp(per) > 0:
            from suite.stats import bootstrap_ci

            fn = np.mean if p["statistic"] == "mean" else np.median
            r = bootstrap_ci(per, fn, seed=settings.seed, n_resamples=settings.n_resamples,
                             alpha=2 * a)
            lo, hi = r.ci
        elif per.size >= 2:
            lo = hi = est
        ci = (lo, math.inf) if b == "min" else (-math.inf, hi)
        value = est if p["use"] == "estimate" else (lo if b == "min" else hi)
        passed = bool(not math.isnan(value) and (value >= limit if b == "min" else value <= limit))
        what = "estimate" if p["use"] == "estimate" else "one-sided confidence bound"
        msg = (f"{what} {_f(value)} {comparison} {_f(limit)}" if passed else
               f"{what} {_f(value)} does not meet {comparison} {_f(limit)}")
        if n_nan:
            msg += f"; {n_nan} undefined candidate value(s) excluded"
        if p["use"] == "bound" and math.isnan(value):
            msg = "fewer than 2 subjects: no confidence bound"
        out.append(Verdict(_label(crit, stratum, b if "min" in p and "max" in p else ""),
                           crit.name, "floor", crit.metric, quantity, stratum, est, ci, limit,
                           comparison, passed, f"subject bootstrap ({settings.n_resamples})",
                           None, int(len(vals)), int(per.size), unit, direction, a, msg))
    return out


def _noninferiority(crit, stratum, c_rows, b_rows, direction, settings) -> list[Verdict]:
    p, a = crit.params, settings.alpha
    cand = _score(c_rows, direction)
    base = _score(b_rows, direction)
    missing_c = sorted(set(base.index) - set(cand.index))
    missing_b = sorted(set(cand.index) - set(base.index))
    if missing_c or missing_b:
        reasons = []
        for who, miss in (("candidate", missing_c), ("baseline", missing_b)):
            if miss:
                reasons.append(f"criterion {crit.name!r}: the {who} has no {crit.metric} row for "
                               f"{len(miss)} case(s) the other run has ({', '.join(miss[:10])}"
                               f"{' …' if len(miss) > 10 else ''}); a job failed or the methods "
                               "differ (see --candidate-method/--baseline-method)")
        raise GateNotComparable(reasons)
    idx = sorted(base.index)
    cand, base = cand.loc[idx], base.loc[idx]
    subj = b_rows.loc[idx, "subject"]
    undefined_c = cand.isna() & base.notna()
    both = cand.notna() & base.notna()
    unit = str(b_rows["unit"].iloc[0]) if len(b_rows) else ""
    better = "lower" if direction in ("lower", "closer") else "higher"
    base_mean, _ = _subject_stat(base[both], subj[both], "mean") if both.any() else (math.nan, None)
    margin = p["margin"] if "margin" in p else p["relative_margin"] * abs(base_mean)
    d = (cand - base)[both].to_numpy(float)
    gain = d if better == "higher" else -d
    quantity = ("mean difference candidate − baseline" if p["method"] != "wilcoxon"
                else "pseudo-median difference candidate − baseline")
    if direction == "closer":
        quantity += " of |value − reference|"
    comparison, limit = (">", -margin) if better == "higher" else ("<", margin)
    label = _label(crit, stratum)
    try:
        if undefined_c.any():
            raise ValueError(f"the candidate's {crit.metric} is undefined (NaN) for "
                             f"{int(undefined_c.sum())} case(s) where the baseline's is defined: "
                             f"{', '.join(list(undefined_c[undefined_c].index)[:10])}")
        fn = {"bootstrap": bootstrap_lower_bound, "t": t_lower_bound,
              "wilcoxon": wilcoxon_lower_bound}[p["method"]]
        kw = dict(n_resamples=settings.n_resamples, seed=settings.seed) \
            if p["method"] == "bootstrap" else {}
        if gain.size == 0:
            raise ValueError("no case has a defined value in both runs")
        r = fn(gain, subj[both].to_numpy(), null=-margin, alpha=a, **kw)
    except ValueError as exc:
        return [Verdict(label, crit.name, "noninferiority", crit.metric, quantity, stratum,
                        math.nan, (math.nan, math.nan), limit, comparison, False, p["method"],
                        None, int(both.sum()), int(subj[both].nunique()), unit, direction, a,
                        f"not evaluable: {exc}")]
    est = r.estimate if better == "higher" else -r.estimate
    ci = (r.lower, math.inf) if better == "higher" else (-math.inf, -r.lower)
    bound = ci[0] if better == "higher" else ci[1]
    passed = r.rejected
    msg = (f"one-sided bound {_f(bound)} {comparison} {_f(limit)}: non-inferior"
           if passed else
           f"one-sided bound {_f(bound)} is not {comparison} {_f(limit)}: non-inferiority not "
           f"shown (candidate {'worse' if (est < 0) == (better == 'higher') else 'better'}"
           f" by {_f(abs(est))}{_u(unit)} on average; margin {_f(margin)})")
    if "relative_margin" in p:
        msg += f" [margin = {p['relative_margin']:g} × |baseline mean {_f(base_mean)}|]"
    return [Verdict(label, crit.name, "noninferiority", crit.metric, quantity, stratum, est, ci,
                    limit, comparison, passed, r.method, r.p_value, r.n_cases, r.n_subjects,
                    unit, direction, a, msg)]


def _half_width_bounds(d: np.ndarray, subj: np.ndarray, how: str, alpha: float, settings):
    n = d.size
    sd = float(np.std(d, ddof=1))
    if how == "chi2":
        lo = sd * math.sqrt((n - 1) / stats.chi2.ppf(1 - alpha, n - 1))
        hi = sd * math.sqrt((n - 1) / stats.chi2.ppf(alpha, n - 1))
        return 1.96 * lo, 1.96 * hi
    from suite.stats import bootstrap_ci

    df = pd.DataFrame({"subject": subj, "d": d})
    r = bootstrap_ci(df, lambda x: 1.96 * float(np.std(x["d"].to_numpy(), ddof=1)),
                     seed=settings.seed, cluster="subject", n_resamples=settings.n_resamples,
                     alpha=2 * alpha)
    return r.ci


def _agreement(crit, stratum, c_rows, b_rows, settings) -> list[Verdict]:
    from suite.stats import bland_altman

    p, a = crit.params, settings.alpha
    unit = str(c_rows["unit"].iloc[0]) if len(c_rows) else ""
    out = []

    def ba(rows):
        ok = rows["value"].notna() & rows["reference_value"].notna()
        r = rows[ok]
        if len(r) < 3:
            raise ValueError(f"{len(r)} case(s) with a value and a reference; at least 3 needed")
        res = bland_altman(r["value"].to_numpy(float), r["reference_value"].to_numpy(float))
        d = (r["value"] - r["reference_value"]).to_numpy(float)
        return res, d, r["subject"].to_numpy(), int((~ok).sum())

    try:
        res, d, subj, n_nan = ba(c_rows)
    except ValueError as exc:
        for lim in [k for k in p if k.startswith("max_")]:
            out.append(Verdict(_label(crit, stratum, lim), crit.name, "agreement", crit.metric,
                               lim, stratum, math.nan, (math.nan, math.nan), p[lim], "<=", False,
                               "Bland-Altman", None, len(c_rows), int(c_rows["subject"].nunique()),
                               unit, "closer", a, f"not evaluable: {exc}"))
        return out
    n, n_sub = int(d.size), int(pd.Series(subj).nunique())
    hw = 1.96 * res.sd
    extra = f"; {n_nan} case(s) without a value excluded" if n_nan else ""
    if "max_loa_half_width" in p:
        lo, hi = _half_width_bounds(d, subj, p["ci"], a, settings)
        value = hw if p["use"] == "estimate" else hi
        lim = p["max_loa_half_width"]
        ok = bool(value <= lim)
        out.append(Verdict(
            _label(crit, stratum, "LoA half-width"), crit.name, "agreement", crit.metric,
            "LoA half-width 1.96·SD (test − reference)", stratum, hw, (-math.inf, float(hi)), lim,
            "<=", ok, f"Bland-Altman, {p['ci']} bound", None, n, n_sub, unit, "closer", a,
            f"{'estimate' if p['use'] == 'estimate' else 'upper bound'} {_f(value)} "
            f"{'<=' if ok else '>'} {_f(lim)}{_u(unit)} (bias {_f(res.bias)}, LoA "
            f"[{_f(res.loa_lower)}, {_f(res.loa_upper)}]){extra}"))
    if "max_abs_bias" in p:
        half = float(stats.t.ppf(1 - a, n - 1)) * res.sd / math.sqrt(n)
        ub = max(abs(res.bias - half), abs(res.bias + half))
        value = abs(res.bias) if p["use"] == "estimate" else ub
        lim = p["max_abs_bias"]
        ok = bool(value <= lim)
        out.append(Verdict(
            _label(crit, stratum, "|bias|"), crit.name, "agreement", crit.metric,
            "|bias| (test − reference)", stratum, abs(res.bias), (-math.inf, ub), lim, "<=", ok,
            "Bland-Altman, t bound", None, n, n_sub, unit, "closer", a,
            f"bias {_f(res.bias)}{_u(unit)}; {'estimate' if p['use'] == 'estimate' else 'upper bound'}"
            f" of |bias| {_f(value)} {'<=' if ok else '>'} {_f(lim)}{extra}"))
    if "max_half_width_increase" in p:
        lim = p["max_half_width_increase"]
        try:
            bres, *_ = ba(b_rows)
            inc = hw - 1.96 * bres.sd
            ok = bool(inc <= lim)
            msg = (f"candidate half-width {_f(hw)} − baseline {_f(1.96 * bres.sd)} = {_f(inc)} "
                   f"{'<=' if ok else '>'} {_f(lim)}{_u(unit)} (point estimates)")
        except ValueError as exc:
            inc, ok, msg = math.nan, False, f"baseline not evaluable: {exc}"
        out.append(Verdict(
            _label(crit, stratum, "half-width increase"), crit.name, "agreement", crit.metric,
            "LoA half-width increase candidate − baseline", stratum, inc, (math.nan, math.nan),
            lim, "<=", ok, "Bland-Altman point estimates", None, n, n_sub, unit, "closer", a, msg))
    return out


# ---------------------------------------------------------------------- entry point
def criteria_from_acceptance(protocol: dict) -> list[Criterion]:
    """The protocol's ``acceptance`` entries as floor criteria on the candidate."""
    out = []
    for i, acc in enumerate(protocol.get("acceptance") or []):
        where = {k: acc[k] for k in ("stage", "recon", "segmentation", "condition", "structure",
                                     "phase", "profile") if k in acc}
        params = {b: float(acc[b]) for b in ("min", "max") if b in acc}
        params |= {"statistic": acc.get("statistic", "mean"), "use": "estimate"}
        out.append(Criterion(name=f"acceptance-{i}-{acc['metric']}", metric=acc["metric"],
                             kind="floor", params=params, where=where))
    return out


def _apply_mapping(base: pd.DataFrame, cand_map: dict, base_map: dict) -> tuple[pd.DataFrame, dict]:
    if set(cand_map) != set(base_map):
        raise ValueError("method mapping: give --candidate-method and --baseline-method for the "
                         f"same stages; got candidate {cand_map or '{}'} and baseline "
                         f"{base_map or '{}'} (e.g. --candidate-method recon=my-net "
                         "--baseline-method recon=cg-sense)")
    mapping = {}
    base = base.copy()
    for stage, c_label in cand_map.items():
        b_label = base_map[stage]
        if not (base[stage] == b_label).any():
            raise ValueError(f"method mapping: the baseline run has no {stage} method "
                             f"{b_label!r}; it has {sorted(set(base[stage]) - {''})}")
        base = base[base[stage].isin([b_label, *_METHOD_FREE])].copy()
        base.loc[base[stage] == b_label, stage] = c_label
        mapping[stage] = (b_label, c_label)
    return base, mapping


def _keep_mapped(cand: pd.DataFrame, cand_map: dict) -> pd.DataFrame:
    for stage, label in cand_map.items():
        if not (cand[stage] == label).any():
            raise ValueError(f"method mapping: the candidate run has no {stage} method {label!r}; "
                             f"it has {sorted(set(cand[stage]) - {''})}")
        cand = cand[cand[stage].isin([label, *_METHOD_FREE])]
    return cand


def run_gate(candidate, baseline, criteria: list[Criterion] | None = None, *,
             settings: GateSettings | None = None, candidate_method: dict | None = None,
             baseline_method: dict | None = None) -> GateResult:
    """Compare a candidate run with a baseline run.

    Parameters
    ----------
    candidate, baseline : path or RunData
        Run folders (``cmrsuite run --out``) or loaded runs.
    criteria : list of Criterion, optional
        From :func:`suite.gate.load_criteria`; default: the baseline protocol's ``acceptance``
        entries as floors on the candidate.
    settings : GateSettings, optional
    candidate_method, baseline_method : dict, optional
        ``{"recon": label}`` / ``{"segmentation": label}``; override ``settings``.

    Returns
    -------
    GateResult

    Raises
    ------
    GateNotComparable
        Different evaluation plans or cases missing from either run (exit code 2).
    GateCriteriaError
        A criterion that is ambiguous on these runs (exit code 2).
    """
    settings = settings or GateSettings()
    cand = candidate if isinstance(candidate, RunData) else load_run(candidate)
    base = baseline if isinstance(baseline, RunData) else load_run(baseline)
    basis = check_comparable(cand, base)
    if criteria is None:
        criteria = criteria_from_acceptance(base.protocol)
        if not criteria:
            raise ValueError(f"no criteria: the baseline protocol {base.protocol.get('name')!r} "
                             "has no `acceptance` entries; give --criteria FILE.yaml "
                             "(docs/gate.md)")
    cmap = dict(settings.candidate_method) | dict(candidate_method or {})
    bmap = dict(settings.baseline_method) | dict(baseline_method or {})
    base_res, mapping = _apply_mapping(base.results, cmap, bmap)
    cand_res = _keep_mapped(cand.results, cmap)
    verdicts: list[Verdict] = []
    for crit in criteria:
        c_sel, b_sel = _select(cand_res, crit), _select(base_res, crit)
        if c_sel.empty and b_sel.empty:
            raise GateCriteriaError(
                "criteria", crit.name,
                f"selects no rows in either run (metric {crit.metric!r}, where {crit.where}); "
                f"metrics in the runs: {sorted(set(cand_res['metric']))[:30]}")
        direction = _direction(pd.concat([c_sel, b_sel]), crit)
        for stratum, key in _strata(crit, c_sel, b_sel):
            c_rows = _one_row_per_case(_in_stratum(c_sel, crit, key), crit, "candidate")
            b_rows = _one_row_per_case(_in_stratum(b_sel, crit, key), crit, "baseline")
            if crit.kind == "floor":
                verdicts += _floor(crit, stratum, c_rows, direction, settings)
            elif crit.kind == "noninferiority":
                verdicts += _noninferiority(crit, stratum, c_rows, b_rows, direction, settings)
            else:
                if direction != "closer":
                    raise GateCriteriaError(
                        "criteria", crit.name, f"agreement needs a clinical parameter with a "
                        f"reference value ('closer is better'); {crit.metric!r} is "
                        f"{direction}-is-better")
                verdicts += _agreement(crit, stratum, c_rows, b_rows, settings)
    return GateResult(candidate=str(cand.path), baseline=str(base.path), basis=basis,
                      candidate_protocol_sha256=cand.protocol_sha256,
                      baseline_protocol_sha256=base.protocol_sha256,
                      evaluation_sha256=base.evaluation_sha256, method_mapping=mapping,
                      settings=settings, criteria=list(criteria), verdicts=verdicts,
                      created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))

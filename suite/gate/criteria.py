"""Release-gate criteria: a YAML file, loaded with ``yaml.safe_load`` and validated key by key.

Schema (``docs/gate.md`` has a worked example; every key path in an error message follows it).
The ``gate`` mapping is the whole file, or one section of a protocol file (other keys are then
ignored, so a protocol can carry its own release criteria)::

    gate:
      alpha: 0.05                      # one-sided level of every test / confidence bound
      n_resamples: 2000                # bootstrap resamples (>= 100)
      seed: 0                          # bootstrap seed
      candidate_method: {recon: NAME}  # optional method mapping (see suite.gate.runs)
      baseline_method: {recon: NAME}
      criteria:                        # required, non-empty
        - name: str                    # unique; the JUnit test-case name
          metric: str                  # a `metric` of the results table (ssim, dice, lv_ef_pct ...)
          where: {column: value, ...}  # row filter on results columns (stage, condition, recon,
                                       #   segmentation, structure, phase, profile, attack, budget,
                                       #   dataset) or case strata (vendor, field_strength_t, site,
                                       #   pathology, preset)
          per: [column, ...]           # evaluate separately in every stratum of these columns
          overall: true                # with `per`: also evaluate over all cases (default true)
          # exactly one of:
          floor: {min: x, max: x, statistic: mean|median, use: estimate|bound}
          noninferiority: {margin: x | relative_margin: x, method: bootstrap|t|wilcoxon}
          agreement: {max_loa_half_width: x, max_abs_bias: x, max_half_width_increase: x,
                      use: estimate|bound, ci: chi2|bootstrap}

Units of ``min``/``max``/``margin``/limits are those of the metric (``unit`` column).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any


from suite._validation import KeyPathError, read_yaml_file

__all__ = ["Criterion", "GateSettings", "GateCriteriaError", "load_criteria", "parse_criteria",
           "KINDS", "NONINFERIORITY_METHODS", "ROW_COLUMNS", "CASE_COLUMNS"]

KINDS = ("floor", "noninferiority", "agreement")
NONINFERIORITY_METHODS = ("bootstrap", "t", "wilcoxon")
#: Results-table columns a criterion may filter on or stratify by.
ROW_COLUMNS = ("stage", "condition", "recon", "segmentation", "structure", "phase", "profile",
               "attack", "budget", "dataset")
#: Case strata (``cases`` table) a criterion may filter on or stratify by.
CASE_COLUMNS = ("vendor", "field_strength_t", "site", "pathology", "preset")
_FLOOR_KEYS = {"min", "max", "statistic", "use"}
_NI_KEYS = {"margin", "relative_margin", "method"}
_AGREE_KEYS = {"max_loa_half_width", "max_abs_bias", "max_half_width_increase", "use", "ci"}
_SETTINGS_KEYS = {"alpha", "n_resamples", "seed", "candidate_method", "baseline_method",
                  "criteria"}


class GateCriteriaError(KeyPathError):
    """A criteria file that does not validate; names the file and the key path."""


@dataclass(frozen=True)
class Criterion:
    """One validated criterion (see the module docstring for the meaning of each field)."""

    name: str
    metric: str
    kind: str
    params: dict
    where: dict = field(default_factory=dict)
    per: tuple = ()
    overall: bool = True

    def to_dict(self) -> dict:
        return {"name": self.name, "metric": self.metric, "kind": self.kind,
                "params": dict(self.params), "where": dict(self.where), "per": list(self.per),
                "overall": self.overall}

    def describe(self) -> str:
        """One line: metric, selection and the rule."""
        sel = ", ".join(f"{k}={v}" for k, v in self.where.items())
        p = self.params
        if self.kind == "floor":
            rule = " and ".join(f"{p.get('statistic', 'mean')} {'>=' if b == 'min' else '<='} "
                                f"{p[b]:g}" for b in ("min", "max") if b in p)
        elif self.kind == "noninferiority":
            m = (f"margin {p['margin']:g}" if "margin" in p
                 else f"margin {100 * p['relative_margin']:g} % of the baseline mean")
            rule = f"non-inferior to the baseline ({m}, {p.get('method', 'bootstrap')})"
        else:
            rule = ", ".join(f"{k.replace('_', ' ')} {v:g}" for k, v in p.items()
                             if k.startswith("max_"))
        return f"{self.metric}" + (f" ({sel})" if sel else "") + f": {rule}"


@dataclass(frozen=True)
class GateSettings:
    """Settings shared by every criterion."""

    alpha: float = 0.05
    n_resamples: int = 2000
    seed: int = 0
    candidate_method: dict = field(default_factory=dict)
    baseline_method: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"alpha": self.alpha, "n_resamples": self.n_resamples, "seed": self.seed,
                "candidate_method": dict(self.candidate_method),
                "baseline_method": dict(self.baseline_method)}


def load_criteria(path) -> tuple[GateSettings, list[Criterion]]:
    """Load and validate a criteria YAML file.

    Raises
    ------
    GateCriteriaError
        Missing file, YAML syntax error or a key that does not validate (the message names the
        file, the key path, what was expected and what was found).
    """
    raw, p = read_yaml_file(path, GateCriteriaError,
                            "a criteria YAML file (see docs/gate.md for the schema)")
    return parse_criteria(raw, source=str(p))


def _near(value: Any, options) -> str:
    close = difflib.get_close_matches(str(value), [str(o) for o in options], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _number(src, d, key, path, *, positive=False, minimum=None, maximum=None):
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise GateCriteriaError(src, f"{path}.{key}", f"must be a number; got {v!r}")
    if positive and not v > 0:
        raise GateCriteriaError(src, f"{path}.{key}", f"must be > 0; got {v!r}")
    if minimum is not None and v < minimum:
        raise GateCriteriaError(src, f"{path}.{key}", f"must be >= {minimum}; got {v!r}")
    if maximum is not None and v > maximum:
        raise GateCriteriaError(src, f"{path}.{key}", f"must be <= {maximum}; got {v!r}")
    return float(v)


def _keys(src, d, allowed, path):
    if not isinstance(d, dict):
        raise GateCriteriaError(src, path, f"must be a mapping; got {type(d).__name__}")
    for k in d:
        if k not in allowed:
            raise GateCriteriaError(src, f"{path}.{k}" if path else str(k),
                                    f"is not a known key; expected one of {sorted(allowed)}"
                                    f"{_near(k, allowed)}")


def _option(src, d, key, options, path, default):
    v = d.get(key, default)
    if v not in options:
        raise GateCriteriaError(src, f"{path}.{key}",
                                f"is {v!r}; expected one of {list(options)}{_near(v, options)}")
    return v


def _method_map(src, value, path) -> dict:
    if value is None:
        return {}
    _keys(src, value, {"recon", "segmentation"}, path)
    for k, v in value.items():
        if not isinstance(v, str) or not v:
            raise GateCriteriaError(src, f"{path}.{k}", f"must be a method label; got {v!r}")
    return dict(value)


def parse_criteria(raw: Any, *, source: str = "<criteria>") -> tuple[GateSettings, list[Criterion]]:
    """Validate a criteria dict (as loaded from YAML); see the module docstring."""
    src = source
    if not isinstance(raw, dict) or "gate" not in raw:
        raise GateCriteriaError(src, "gate", "is required: a criteria file is a mapping with one "
                                "`gate` section holding settings and `criteria` (docs/gate.md)")
    s = raw["gate"]
    _keys(src, s, _SETTINGS_KEYS, "gate")
    settings = GateSettings(
        alpha=_number(src, s, "alpha", "gate", minimum=1e-6, maximum=0.5) if "alpha" in s else 0.05,
        n_resamples=int(_number(src, s, "n_resamples", "gate", minimum=100)) if "n_resamples" in s else 2000,
        seed=int(_number(src, s, "seed", "gate", minimum=0)) if "seed" in s else 0,
        candidate_method=_method_map(src, s.get("candidate_method"), "gate.candidate_method"),
        baseline_method=_method_map(src, s.get("baseline_method"), "gate.baseline_method"))
    items = s.get("criteria")
    if not isinstance(items, list) or not items:
        raise GateCriteriaError(src, "gate.criteria", "must be a non-empty list of criteria; got "
                                f"{items!r}")
    out, names = [], set()
    for i, c in enumerate(items):
        path = f"gate.criteria[{i}]"
        _keys(src, c, {"name", "metric", "where", "per", "overall", *KINDS}, path)
        for req in ("name", "metric"):
            if not isinstance(c.get(req), str) or not c[req]:
                raise GateCriteriaError(src, f"{path}.{req}", f"is required (a string); got "
                                        f"{c.get(req)!r}")
        if c["name"] in names:
            raise GateCriteriaError(src, f"{path}.name", f"repeats {c['name']!r}; names must be "
                                    "unique (they name the JUnit test cases)")
        names.add(c["name"])
        kinds = [k for k in KINDS if k in c]
        if len(kinds) != 1:
            raise GateCriteriaError(src, path, f"needs exactly one of {list(KINDS)}; got "
                                    f"{kinds or 'none'}")
        kind = kinds[0]
        where = c.get("where") or {}
        _keys(src, where, set(ROW_COLUMNS) | set(CASE_COLUMNS), f"{path}.where")
        per = c.get("per") or []
        if isinstance(per, str):
            per = [per]
        if not isinstance(per, list):
            raise GateCriteriaError(src, f"{path}.per", f"must be a list of columns; got {per!r}")
        for j, col in enumerate(per):
            allowed = ROW_COLUMNS + CASE_COLUMNS
            if col not in allowed:
                raise GateCriteriaError(src, f"{path}.per[{j}]", f"is {col!r}; expected one of "
                                        f"{list(allowed)}{_near(col, allowed)}")
        overall = c.get("overall", True)
        if not isinstance(overall, bool):
            raise GateCriteriaError(src, f"{path}.overall", f"must be true or false; got {overall!r}")
        params = dict(c[kind] or {})
        kp = f"{path}.{kind}"
        if kind == "floor":
            _keys(src, params, _FLOOR_KEYS, kp)
            if "min" not in params and "max" not in params:
                raise GateCriteriaError(src, kp, "needs `min` or `max` (the bound the candidate "
                                        "statistic must meet)")
            for b in ("min", "max"):
                if b in params:
                    params[b] = _number(src, params, b, kp)
            params["statistic"] = _option(src, params, "statistic", ("mean", "median"), kp, "mean")
            params["use"] = _option(src, params, "use", ("estimate", "bound"), kp, "estimate")
        elif kind == "noninferiority":
            _keys(src, params, _NI_KEYS, kp)
            if ("margin" in params) == ("relative_margin" in params):
                raise GateCriteriaError(src, kp, "needs exactly one of `margin` (metric units) or "
                                        "`relative_margin` (fraction of the baseline mean)")
            for b in ("margin", "relative_margin"):
                if b in params:
                    params[b] = _number(src, params, b, kp, positive=True)
            params["method"] = _option(src, params, "method", NONINFERIORITY_METHODS, kp,
                                       "bootstrap")
        else:
            _keys(src, params, _AGREE_KEYS, kp)
            limits = [k for k in params if k.startswith("max_")]
            if not limits:
                raise GateCriteriaError(src, kp, "needs at least one limit: max_loa_half_width, "
                                        "max_abs_bias or max_half_width_increase")
            for b in limits:
                params[b] = _number(src, params, b, kp, minimum=0.0)
            params["use"] = _option(src, params, "use", ("estimate", "bound"), kp, "estimate")
            params["ci"] = _option(src, params, "ci", ("chi2", "bootstrap"), kp, "chi2")
        out.append(Criterion(name=c["name"], metric=c["metric"], kind=kind, params=params,
                             where=dict(where), per=tuple(per), overall=overall))
    return settings, out

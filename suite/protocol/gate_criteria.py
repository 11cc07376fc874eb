"""Release-gate criteria: a YAML file, loaded with ``yaml.safe_load`` and validated key by key.

The schema lives with the protocol because a protocol may carry its own criteria (its optional
``gate:`` section, validated with the protocol); :mod:`suite.gate` evaluates them and
re-exports the names of this module (``suite.gate.load_criteria``, ``parse_criteria``, ...).

Schema (``docs/gate.md`` has a worked example; every key path in an error message follows it).
The ``gate`` mapping is the whole file, or one section of a protocol file (other keys are then
ignored, so a protocol can carry its own release criteria)::

    gate:
      alpha: 0.05                      # one-sided level of every test / confidence bound
      n_resamples: 2000                # bootstrap resamples (>= 100)
      seed: 0                          # bootstrap seed
      candidate_method: {recon: NAME}  # optional method mapping, any stage (suite.gate.runs)
      baseline_method: {recon: NAME}
      criteria:                        # required, non-empty
        - name: str                    # unique; the JUnit test-case name
          metric: str                  # a `metric` of the results table (ssim, dice, lv_ef_pct ...)
          where: {column: value, ...}  # row filter on results columns (stage, condition, recon,
                                       #   segmentation, structure, phase, profile, attack, budget,
                                       #   dataset, segment, convention, frame; a part column left
                                       #   unset selects the whole: suite.analysis.selection),
                                       #   case strata (vendor, field_strength_t, site,
                                       #   pathology, preset) or any method stage's column
          per: [column, ...]           # evaluate separately in every stratum of these columns
          overall: true                # with `per`: also evaluate over all cases (default true)
          # exactly one of:
          floor: {min: x, max: x, statistic: mean|median, use: estimate|bound}
          noninferiority: {margin: x | relative_margin: x, method: bootstrap|t|wilcoxon}
          agreement: {max_loa_half_width: x, max_abs_bias: x, max_half_width_increase: x,
                      use: estimate|bound, ci: chi2|bootstrap}

Units of ``min``/``max``/``margin``/limits are those of the metric (``unit`` column).

Columns of ``where`` and ``per``: the fixed columns (:data:`ROW_COLUMNS`,
:data:`suite.case.STRATA_COLUMNS`) or the column of a method stage, which a plugin stage may
add (a lower-case name, :func:`suite._validation.check_column_name`). Which method stages a run
has is known only when the gate reads the runs, so the gate checks there that the runs have the
column; here a name within a letter or two of a fixed column (:func:`difflib.SequenceMatcher`
ratio >= :data:`MISSPELLING_CUTOFF`) is refused as a misspelling of it, with the hint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


from suite._schema import KeyPathValidator
from suite._validation import KeyPathError, check_column_name, near, read_yaml_file
from suite.case import STRATA_COLUMNS

__all__ = ["Criterion", "GateSettings", "GateCriteriaError", "load_criteria", "parse_criteria",
           "KINDS", "NONINFERIORITY_METHODS", "ROW_COLUMNS", "MISSPELLING_CUTOFF"]

KINDS = ("floor", "noninferiority", "agreement")
NONINFERIORITY_METHODS = ("bootstrap", "t", "wilcoxon")
#: Results-table columns a criterion may filter on or stratify by (besides the case strata,
#: :data:`suite.case.STRATA_COLUMNS`, and the columns of other method stages).
ROW_COLUMNS = ("stage", "condition", "recon", "segmentation", "structure", "phase", "profile",
               "attack", "budget", "dataset", "segment", "convention", "frame")
_FIXED_COLUMNS = ROW_COLUMNS + STRATA_COLUMNS
#: Least similarity to a fixed column at which a ``where``/``per`` name is taken for its
#: misspelling rather than for a method stage ("vendr", "conditon"; not "motion").
MISSPELLING_CUTOFF = 0.8
_KIND_KEYS = {"floor": {"min", "max", "statistic", "use"},
              "noninferiority": {"margin", "relative_margin", "method"},
              "agreement": {"max_loa_half_width", "max_abs_bias", "max_half_width_increase",
                            "use", "ci"}}
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


def _method_map(v: KeyPathValidator, s: dict, key: str) -> dict:
    """``gate.<key>``: ``{stage: label, ...}`` for any method stage (``recon``,
    ``segmentation``, a plugin stage); the gate checks the stages against the runs'."""
    m = v.section(s, key, prefix="gate")
    for stage in m:
        try:
            check_column_name(str(stage))
        except ValueError as exc:
            v.fail(f"gate.{key}.{stage}", str(exc))
        v.string(m, stage, required=True, non_empty=True, prefix=f"gate.{key}")
    return dict(m)


def _column(v: KeyPathValidator, name: Any, key: str, found: str) -> str:
    """``name`` (at key path ``key``) if a criterion may name it in ``where`` or ``per``: a
    fixed column, or a method stage's column that is not a misspelling of a fixed column."""
    if name in _FIXED_COLUMNS:
        return name
    typo = near(name, _FIXED_COLUMNS, cutoff=MISSPELLING_CUTOFF)
    try:
        check_column_name(name)
    except ValueError:
        typo = typo or near(name, _FIXED_COLUMNS)
    else:
        if not typo:
            return name
    v.fail(key, f"{found}; expected one of {list(_FIXED_COLUMNS)} or the column of a method "
           f"stage of the runs (lower-case letters, digits and '_'){typo}")


def _params(v: KeyPathValidator, c: dict, kind: str, path: str) -> dict:
    """The validated rule of the criterion ``c`` at ``path`` (``c[kind]``, defaults filled in)."""
    kp = f"{path}.{kind}"
    params = dict(v.section(c, kind, _KIND_KEYS[kind], prefix=path))
    if kind == "floor":
        if "min" not in params and "max" not in params:
            v.fail(kp, "needs `min` or `max` (the bound the candidate statistic must meet)")
        for b in ("min", "max"):
            if b in params:
                params[b] = v.number(params, b, required=True, prefix=kp)
        params["statistic"] = v.option(params, "statistic", ("mean", "median"), default="mean",
                                       prefix=kp)
        params["use"] = v.option(params, "use", ("estimate", "bound"), default="estimate",
                                 prefix=kp)
    elif kind == "noninferiority":
        if ("margin" in params) == ("relative_margin" in params):
            v.fail(kp, "needs exactly one of `margin` (metric units) or `relative_margin` "
                   "(fraction of the baseline mean)")
        for b in ("margin", "relative_margin"):
            if b in params:
                params[b] = v.number(params, b, positive=True, required=True, prefix=kp)
        params["method"] = v.option(params, "method", NONINFERIORITY_METHODS,
                                    default="bootstrap", prefix=kp)
    else:
        limits = [k for k in params if k.startswith("max_")]
        if not limits:
            v.fail(kp, "needs at least one limit: max_loa_half_width, max_abs_bias or "
                   "max_half_width_increase")
        for b in limits:
            params[b] = v.number(params, b, minimum=0.0, required=True, prefix=kp)
        params["use"] = v.option(params, "use", ("estimate", "bound"), default="estimate",
                                 prefix=kp)
        params["ci"] = v.option(params, "ci", ("chi2", "bootstrap"), default="chi2", prefix=kp)
    return params


def parse_criteria(raw: Any, *, source: str = "<criteria>") -> tuple[GateSettings, list[Criterion]]:
    """Validate a criteria dict (as loaded from YAML); see the module docstring."""
    v = KeyPathValidator(source, GateCriteriaError)
    if not isinstance(raw, dict) or raw.get("gate") is None:
        v.fail("gate", "is required: a criteria file is a mapping with one `gate` section "
               "holding settings and `criteria` (docs/gate.md)")
    s = v.section(raw, "gate", _SETTINGS_KEYS)
    settings = GateSettings(
        alpha=v.number(s, "alpha", minimum=1e-6, maximum=0.5, default=0.05, prefix="gate"),
        n_resamples=v.integer(s, "n_resamples", minimum=100, default=2000, prefix="gate"),
        seed=v.integer(s, "seed", minimum=0, default=0, prefix="gate"),
        candidate_method=_method_map(v, s, "candidate_method"),
        baseline_method=_method_map(v, s, "baseline_method"))
    out, names = [], set()
    items = v.list_of_mappings(s, "criteria", required=True, non_empty=True, prefix="gate")
    for i, c in enumerate(items):
        path = f"gate.criteria[{i}]"
        v.unknown_keys(c, {"name", "metric", "where", "per", "overall", *KINDS}, path)
        name = v.string(c, "name", required=True, non_empty=True, prefix=path)
        metric = v.string(c, "metric", required=True, non_empty=True, prefix=path)
        if name in names:
            v.fail(f"{path}.name", f"repeats {name!r}; names must be unique (they name the JUnit "
                   "test cases)")
        names.add(name)
        kinds = [k for k in KINDS if k in c]
        if len(kinds) != 1:
            v.fail(path, f"needs exactly one of {list(KINDS)}; got {kinds or 'none'}")
        kind = kinds[0]
        where = v.section(c, "where", prefix=path)
        for col in where:
            _column(v, col, f"{path}.where.{col}", "is not a known column")
        if isinstance(c.get("per"), str):  # one column may be written without brackets
            c = {**c, "per": [c["per"]]}
        per = v.list_of_strings(c, "per", default=[], prefix=path)
        for j, col in enumerate(per):
            _column(v, col, f"{path}.per[{j}]", f"is {col!r}")
        overall = v.boolean(c, "overall", default=True, prefix=path)
        params = _params(v, c, kind, path)
        out.append(Criterion(name=name, metric=metric, kind=kind, params=params,
                             where=dict(where), per=tuple(per), overall=overall))
    return settings, out

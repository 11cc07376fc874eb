"""A challenge definition: tasks, submission formats, scoring profile and ranking settings.

Loaded with ``yaml.safe_load`` and validated key by key (:class:`ChallengeError` names the file
and the key path). Schema (``docs/leaderboard.md`` has a worked example)::

    name: str                              # required
    description: str
    tasks:                                 # required, non-empty; task names are folder names
      - name: recon-R4
        kind: reconstruction               # CMRxRecon-style .mat v7.3 per case
        variable: img4ranking              #   variable name (default img4ranking)
        profile: cmrxrecon2023             #   suite.metrics.image.PROFILES
        metric: ssim                       #   ssim | psnr | nmse (ranking metric)
      - name: segmentation
        kind: segmentation                 # NIfTI label map per case (ACDC labels 0-3)
        metric: dice                       #   dice | hd95 | assd | nsd ...
        structures: [LV, MYO, RV]          #   averaged per case (default all three)
        phases: [ED, ES]                   #   ED/ES detected from the truth's LV volume curve
      - name: clinical
        kind: clinical                     # one CSV per submission: <task>/<file>
        file: clinical.csv                 #   columns: case, <parameter>, ...
        parameter: lv_ef_pct               #   ranked by the absolute error (lower is better)
    ranking:
      aggregate: mean | median             # FUN of aggregate-then-rank and rank-then-aggregate
      primary: rank-then-aggregate         # the method of the leaderboard order and bootstrap
      alpha: 0.05                          # test-then-rank level (one-sided Wilcoxon)
      p_adjust: holm | none                # multiplicity correction of the pairwise tests
      n_bootstrap: 1000                    # cases resampled with replacement
      seed: 0
    limits:                                # archive safety limits
      max_total_mb: 4096                   # uncompressed size of one submission
      max_member_mb: 1024                  # one file
      max_members: 20000                   # number of files and folders
      max_ratio: 200                       # uncompressed / compressed size of a zip member

Submission layout: ``<team>/<task>/<case>.mat`` (reconstruction), ``<team>/<task>/<case>.nii.gz``
(segmentation; ``.nii`` also accepted), ``<team>/<task>/<file>`` (clinical), where ``<case>`` is
the path of the matching truth file ``<truth>/<task>/<case>.<ext>`` below the task folder
without its extension (it may hold folders, e.g. the CMRxRecon tree
``Cine/TestSet/AccFactor04/P001/cine_sax``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any


from suite._validation import KeyPathError, read_yaml_file

__all__ = ["Challenge", "TaskSpec", "RankingSpec", "Limits", "ChallengeError", "load_challenge",
           "parse_challenge", "TASK_KINDS", "RANKING_METHODS"]

TASK_KINDS = ("reconstruction", "segmentation", "clinical")
RANKING_METHODS = ("aggregate-then-rank", "rank-then-aggregate", "test-then-rank")
_RECON_METRICS = {"ssim": "higher", "psnr": "higher", "nmse": "lower"}
_SEG_METRICS = {"dice": "higher", "nsd": "higher", "hd": "lower", "hd95": "lower",
                "assd": "lower", "masd": "lower"}


class ChallengeError(KeyPathError):
    """A challenge definition that does not validate; names the file and the key path."""


@dataclass(frozen=True)
class TaskSpec:
    """One task: what a submission holds and how it is scored (module docstring)."""

    name: str
    kind: str
    metric: str
    direction: str
    profile: str = "fastmri"
    variable: str = "img4ranking"
    structures: tuple = ("LV", "MYO", "RV")
    phases: tuple = ("ED", "ES")
    file: str = "clinical.csv"
    parameter: str = ""

    @property
    def metric_label(self) -> str:
        if self.kind == "reconstruction":
            return f"{self.metric} ({self.profile} profile)"
        if self.kind == "segmentation":
            return f"{self.metric} (mean over {'/'.join(self.structures)} × {'/'.join(self.phases)})"
        return f"absolute error of {self.parameter}"

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in self.__dict__.items()} | {"metric_label": self.metric_label}


@dataclass(frozen=True)
class RankingSpec:
    aggregate: str = "mean"
    primary: str = "rank-then-aggregate"
    alpha: float = 0.05
    p_adjust: str = "holm"
    n_bootstrap: int = 1000
    seed: int = 0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Limits:
    """Archive limits (bytes and counts)."""

    max_total_bytes: int = 4096 * 2**20
    max_member_bytes: int = 1024 * 2**20
    max_members: int = 20000
    max_ratio: float = 200.0

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Challenge:
    name: str
    tasks: tuple
    ranking: RankingSpec = field(default_factory=RankingSpec)
    limits: Limits = field(default_factory=Limits)
    description: str = ""
    source: str = "<challenge>"

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description,
                "tasks": [t.to_dict() for t in self.tasks], "ranking": self.ranking.to_dict(),
                "limits": self.limits.to_dict()}


def _near(value, options) -> str:
    close = difflib.get_close_matches(str(value), [str(o) for o in options], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _V:
    def __init__(self, src):
        self.src = src

    def keys(self, d, allowed, path):
        if not isinstance(d, dict):
            raise ChallengeError(self.src, path or "(top level)",
                                 f"must be a mapping; got {type(d).__name__}")
        for k in d:
            if k not in allowed:
                raise ChallengeError(self.src, f"{path}.{k}" if path else str(k),
                                     f"is not a known key; expected one of {sorted(allowed)}"
                                     f"{_near(k, allowed)}")

    def option(self, d, key, options, path, default=None):
        v = d.get(key, default)
        if v not in options:
            raise ChallengeError(self.src, f"{path}.{key}" if path else key,
                                 f"is {v!r}; expected one of {list(options)}{_near(v, options)}")
        return v

    def string(self, d, key, path, default=None):
        v = d.get(key, default)
        if not isinstance(v, str) or not v:
            raise ChallengeError(self.src, f"{path}.{key}" if path else key,
                                 f"must be a non-empty string; got {v!r}")
        return v

    def number(self, d, key, path, default, *, minimum=None, maximum=None, integer=False):
        v = d.get(key, default)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and int(v) != v):
            raise ChallengeError(self.src, f"{path}.{key}",
                                 f"must be {'an integer' if integer else 'a number'}; got {v!r}")
        if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
            raise ChallengeError(self.src, f"{path}.{key}",
                                 f"must be in [{minimum}, {maximum}]; got {v!r}")
        return int(v) if integer else float(v)


def load_challenge(path) -> Challenge:
    """Load and validate a challenge definition (YAML)."""
    raw, p = read_yaml_file(path, ChallengeError,
                            "the challenge definition YAML (see docs/leaderboard.md)")
    return parse_challenge(raw, source=str(p))


def parse_challenge(raw: Any, *, source: str = "<challenge>") -> Challenge:
    """Validate a challenge dict (as loaded from YAML)."""
    from suite.metrics.image import PROFILES

    v = _V(source)
    v.keys(raw, {"name", "description", "tasks", "ranking", "limits"}, "")
    name = v.string(raw, "name", "")
    tasks_raw = raw.get("tasks")
    if not isinstance(tasks_raw, list) or not tasks_raw:
        raise ChallengeError(source, "tasks", f"must be a non-empty list of tasks; got {tasks_raw!r}")
    tasks, names = [], set()
    for i, t in enumerate(tasks_raw):
        path = f"tasks[{i}]"
        v.keys(t, {"name", "kind", "metric", "profile", "variable", "structures", "phases",
                   "file", "parameter"}, path)
        tname = v.string(t, "name", path)
        if tname in names or "/" in tname or tname.startswith("."):
            raise ChallengeError(source, f"{path}.name", f"{tname!r} repeats or is not a plain "
                                 "folder name")
        names.add(tname)
        kind = v.option(t, "kind", TASK_KINDS, path)
        if kind == "reconstruction":
            v.keys(t, {"name", "kind", "metric", "profile", "variable"}, path)
            metric = v.option(t, "metric", list(_RECON_METRICS), path, "ssim")
            spec = TaskSpec(tname, kind, metric, _RECON_METRICS[metric],
                            profile=v.option(t, "profile", PROFILES, path, "fastmri"),
                            variable=v.string(t, "variable", path, "img4ranking"))
        elif kind == "segmentation":
            v.keys(t, {"name", "kind", "metric", "structures", "phases"}, path)
            metric = v.option(t, "metric", list(_SEG_METRICS), path, "dice")
            structs = tuple(t.get("structures", ["LV", "MYO", "RV"]))
            phases = tuple(t.get("phases", ["ED", "ES"]))
            for j, s in enumerate(structs):
                if s not in ("LV", "MYO", "RV"):
                    raise ChallengeError(source, f"{path}.structures[{j}]",
                                         f"is {s!r}; expected LV, MYO or RV{_near(s, ['LV', 'MYO', 'RV'])}")
            for j, s in enumerate(phases):
                if s not in ("ED", "ES"):
                    raise ChallengeError(source, f"{path}.phases[{j}]", f"is {s!r}; expected ED or ES")
            if not structs or not phases:
                raise ChallengeError(source, path, "needs at least one structure and one phase")
            spec = TaskSpec(tname, kind, metric, _SEG_METRICS[metric], structures=structs,
                            phases=phases)
        else:
            v.keys(t, {"name", "kind", "metric", "file", "parameter"}, path)
            v.option(t, "metric", ["abs_error"], path, "abs_error")
            spec = TaskSpec(tname, kind, "abs_error", "lower",
                            file=v.string(t, "file", path, "clinical.csv"),
                            parameter=v.string(t, "parameter", path))
        tasks.append(spec)
    r = raw.get("ranking") or {}
    v.keys(r, {"aggregate", "primary", "alpha", "p_adjust", "n_bootstrap", "seed"}, "ranking")
    ranking = RankingSpec(
        aggregate=v.option(r, "aggregate", ("mean", "median"), "ranking", "mean"),
        primary=v.option(r, "primary", RANKING_METHODS, "ranking", "rank-then-aggregate"),
        alpha=v.number(r, "alpha", "ranking", 0.05, minimum=1e-6, maximum=0.5),
        p_adjust=v.option(r, "p_adjust", ("holm", "none"), "ranking", "holm"),
        n_bootstrap=v.number(r, "n_bootstrap", "ranking", 1000, minimum=10, integer=True),
        seed=v.number(r, "seed", "ranking", 0, minimum=0, integer=True))
    lim = raw.get("limits") or {}
    v.keys(lim, {"max_total_mb", "max_member_mb", "max_members", "max_ratio"}, "limits")
    limits = Limits(
        max_total_bytes=int(v.number(lim, "max_total_mb", "limits", 4096, minimum=0) * 2**20),
        max_member_bytes=int(v.number(lim, "max_member_mb", "limits", 1024, minimum=0) * 2**20),
        max_members=v.number(lim, "max_members", "limits", 20000, minimum=1, integer=True),
        max_ratio=v.number(lim, "max_ratio", "limits", 200, minimum=1))
    return Challenge(name=name, tasks=tuple(tasks), ranking=ranking, limits=limits,
                     description=str(raw.get("description", "")), source=source)

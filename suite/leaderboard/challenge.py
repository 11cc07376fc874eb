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
      max_ratio: 200                       # uncompressed / compressed (zip member, tar)
      max_seconds: 3600                    # wall time to extract and score one submission

Submission layout: ``<team>/<task>/<case>.mat`` (reconstruction), ``<team>/<task>/<case>.nii.gz``
(segmentation; ``.nii`` also accepted), ``<team>/<task>/<file>`` (clinical), where ``<case>`` is
the path of the matching truth file ``<truth>/<task>/<case>.<ext>`` below the task folder
without its extension (it may hold folders, e.g. the CMRxRecon tree
``Cine/TestSet/AccFactor04/P001/cine_sax``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


from suite._schema import KeyPathValidator
from suite._validation import KeyPathError, read_yaml_file

__all__ = ["Challenge", "TaskSpec", "RankingSpec", "Limits", "ChallengeError", "load_challenge",
           "parse_challenge", "TASK_KINDS", "RANKING_METHODS"]

TASK_KINDS = ("reconstruction", "segmentation", "clinical")
RANKING_METHODS = ("aggregate-then-rank", "rank-then-aggregate", "test-then-rank")
_RECON_METRICS = {"ssim": "higher", "psnr": "higher", "nmse": "lower"}
_SEG_METRICS = {"dice": "higher", "nsd": "higher", "hd": "lower", "hd95": "lower",
                "assd": "lower", "masd": "lower"}
_TASK_KEYS = {"reconstruction": {"name", "kind", "metric", "profile", "variable"},
              "segmentation": {"name", "kind", "metric", "structures", "phases"},
              "clinical": {"name", "kind", "metric", "file", "parameter"}}


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
    """Submission limits: archive sizes and counts (bytes), and the wall time (s) to extract
    and score one submission (:mod:`suite.leaderboard.isolate`)."""

    max_total_bytes: int = 4096 * 2**20
    max_member_bytes: int = 1024 * 2**20
    max_members: int = 20000
    max_ratio: float = 200.0
    max_seconds: float = 3600.0

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


def load_challenge(path) -> Challenge:
    """Load and validate a challenge definition (YAML)."""
    raw, p = read_yaml_file(path, ChallengeError,
                            "the challenge definition YAML (see docs/leaderboard.md)")
    return parse_challenge(raw, source=str(p))


def parse_challenge(raw: Any, *, source: str = "<challenge>") -> Challenge:
    """Validate a challenge dict (as loaded from YAML)."""
    v = KeyPathValidator(source, ChallengeError)
    v.mapping(raw, "(top level)")
    v.unknown_keys(raw, {"name", "description", "tasks", "ranking", "limits"})
    name = v.string(raw, "name", required=True, non_empty=True)
    tasks, names = [], set()
    for i, t in enumerate(v.list_of_mappings(raw, "tasks", required=True, non_empty=True)):
        tasks.append(_task(v, t, f"tasks[{i}]", names))
    r = v.section(raw, "ranking", {"aggregate", "primary", "alpha", "p_adjust", "n_bootstrap",
                                   "seed"})
    ranking = RankingSpec(
        aggregate=v.option(r, "aggregate", ("mean", "median"), default="mean", prefix="ranking"),
        primary=v.option(r, "primary", RANKING_METHODS, default="rank-then-aggregate",
                         prefix="ranking"),
        alpha=v.number(r, "alpha", minimum=1e-6, maximum=0.5, default=0.05, prefix="ranking"),
        p_adjust=v.option(r, "p_adjust", ("holm", "none"), default="holm", prefix="ranking"),
        n_bootstrap=v.integer(r, "n_bootstrap", minimum=10, default=1000, prefix="ranking"),
        seed=v.integer(r, "seed", minimum=0, default=0, prefix="ranking"))
    lim = v.section(raw, "limits", {"max_total_mb", "max_member_mb", "max_members", "max_ratio",
                                    "max_seconds"})
    limits = Limits(
        max_total_bytes=int(v.number(lim, "max_total_mb", minimum=0, default=4096,
                                     prefix="limits") * 2**20),
        max_member_bytes=int(v.number(lim, "max_member_mb", minimum=0, default=1024,
                                      prefix="limits") * 2**20),
        max_members=v.integer(lim, "max_members", minimum=1, default=20000, prefix="limits"),
        max_ratio=v.number(lim, "max_ratio", minimum=1, default=200.0, prefix="limits"),
        max_seconds=v.number(lim, "max_seconds", minimum=1, default=3600.0, prefix="limits"))
    return Challenge(name=name, tasks=tuple(tasks), ranking=ranking, limits=limits,
                     description=v.string(raw, "description", default=""), source=source)


def _task(v: KeyPathValidator, t: dict, path: str, names: set) -> TaskSpec:
    """One validated task (``tasks[i]``); ``names`` collects the task names seen so far."""
    from suite.metrics.image import PROFILES

    v.unknown_keys(t, set().union(*_TASK_KEYS.values()), path)
    tname = v.string(t, "name", required=True, non_empty=True, prefix=path)
    if tname in names or "/" in tname or tname.startswith("."):
        v.fail(f"{path}.name", f"must be a unique plain folder name; got {tname!r}")
    names.add(tname)
    kind = v.option(t, "kind", TASK_KINDS, required=True, prefix=path)
    v.unknown_keys(t, _TASK_KEYS[kind], path)
    if kind == "reconstruction":
        metric = v.option(t, "metric", list(_RECON_METRICS), default="ssim", prefix=path)
        return TaskSpec(tname, kind, metric, _RECON_METRICS[metric],
                        profile=v.option(t, "profile", PROFILES, default="fastmri", prefix=path),
                        variable=v.string(t, "variable", non_empty=True, default="img4ranking",
                                          prefix=path))
    if kind == "segmentation":
        metric = v.option(t, "metric", list(_SEG_METRICS), default="dice", prefix=path)
        structs = v.list_of_strings(t, "structures", options=("LV", "MYO", "RV"),
                                    non_empty=True, default=["LV", "MYO", "RV"], prefix=path)
        phases = v.list_of_strings(t, "phases", options=("ED", "ES"), non_empty=True,
                                   default=["ED", "ES"], prefix=path)
        return TaskSpec(tname, kind, metric, _SEG_METRICS[metric], structures=tuple(structs),
                        phases=tuple(phases))
    v.option(t, "metric", ["abs_error"], default="abs_error", prefix=path)
    return TaskSpec(tname, kind, "abs_error", "lower",
                    file=v.string(t, "file", non_empty=True, default="clinical.csv", prefix=path),
                    parameter=v.string(t, "parameter", required=True, non_empty=True,
                                       prefix=path))

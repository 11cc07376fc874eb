"""The validated protocol object and the labels of its method entries."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from suite.stages.entries import method_label, normalise_method
from suite.trust import AllowList

__all__ = ["Protocol", "normalise_method", "method_label", "canonical_json"]


def canonical_json(raw: dict) -> str:
    """Sorted keys, no spaces: the text whose SHA-256 is the protocol hash."""
    return json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class Protocol:
    """A validated protocol. ``raw`` is the canonical dict; ``sha256`` its hash.

    ``allowed`` is the :class:`suite.trust.AllowList` it was validated under: the plugins and
    plugin folders the user allowed (not part of the protocol, nor of its hash).
    """

    raw: dict
    source: str
    sha256: str
    base_dir: Path = field(default=Path("."))
    allowed: AllowList = field(default_factory=AllowList, compare=False)

    @property
    def name(self) -> str:
        return self.raw["name"]

    @property
    def seed(self) -> int:
        return int(self.raw.get("seed") or 0)

    @property
    def failure_tolerance(self) -> float:
        return float(self.raw.get("failure_tolerance") or 0.0)

    @property
    def datasets(self) -> list[dict]:
        return self.raw["datasets"]

    @property
    def conditions(self) -> list[dict]:
        """The conditions of the run: the protocol's entries, each ``repeats: N`` entry
        expanded into its N repeats (:func:`suite.conditions.repeats.expand_repeats`)."""
        from suite.conditions.repeats import expand_repeats

        return expand_repeats(self.raw.get("conditions")
                              or [{"name": "fully-sampled", "type": "fully-sampled"}])

    def dataset(self, name: str) -> dict:
        """The dataset entry called ``name``."""
        return next(d for d in self.datasets if d["name"] == name)

    def methods(self, stage: str, dataset: dict | str | None = None) -> list[dict]:
        """Normalised method entries of a stage: dicts with one of name/plugin/entry_point/
        predictions and ``params``; with ``dataset`` (entry or name), only those the dataset's
        ``methods`` subset names for the stage (all when it names none)."""
        entries = [normalise_method(m) for m in (self.raw.get("methods") or {}).get(stage) or []]
        if isinstance(dataset, str):
            dataset = self.dataset(dataset)
        subset = ((dataset or {}).get("methods") or {}).get(stage)
        if subset is None:
            return entries
        return [e for e in entries if method_label(e) in subset]

    def conditions_of(self, dataset: dict | str | None = None) -> list[dict]:
        """The conditions a dataset runs under: those its ``conditions`` subset names (in the
        protocol's order; a repeated condition's name selects all its repeats), else all of
        :attr:`conditions`."""
        if isinstance(dataset, str):
            dataset = self.dataset(dataset)
        subset = (dataset or {}).get("conditions")
        if subset is None:
            return self.conditions
        return [c for c in self.conditions
                if c["name"] in subset or c.get("repeat_of") in subset]

    def split(self, dataset: dict | str) -> str:
        """How a dataset's cases are cut into jobs of its pipeline's first method stage:
        ``"case"`` (default, one job per case) or ``"slice"`` (one job per slice, then the
        case's job assembles them; :mod:`suite.runner.jobs`)."""
        if isinstance(dataset, str):
            dataset = self.dataset(dataset)
        return str(dataset.get("split") or "case")

    def pipeline(self, dataset: dict | str | None = None) -> list[str]:
        """The stage names a dataset runs, in order: the dataset's ``pipeline``, else the
        protocol's, else the default (:func:`suite.stages.default_pipeline`)."""
        from suite.stages import default_pipeline

        if isinstance(dataset, str):
            dataset = self.dataset(dataset)
        if dataset is not None and dataset.get("pipeline"):
            return list(dataset["pipeline"])
        if self.raw.get("pipeline"):
            return list(self.raw["pipeline"])
        return default_pipeline(self.raw.get("methods") or {}, self.metrics)

    def stages(self) -> dict:
        """The stages this protocol can use, by name (its ``stages:`` plugins imported under
        :attr:`allowed`; :func:`suite.stages.load_stages`)."""
        from suite.stages import load_stages

        return load_stages(self.raw, self.base_dir, self.allowed)

    def method_stages(self) -> list[str]:
        """Names of the stages with methods over every dataset's pipeline, in pipeline order."""
        stages = self.stages()
        out: list[str] = []
        for ds in self.datasets:
            for name in self.pipeline(ds):
                if stages[name].has_methods and name not in out:
                    out.append(name)
        return out

    @property
    def metrics(self) -> dict:
        return self.raw.get("metrics") or {}

    @property
    def analyses(self) -> dict:
        return self.raw.get("analyses") or {}

    @property
    def acceptance(self) -> list[dict]:
        return self.raw.get("acceptance") or []

    def resolve(self, path: str) -> Path:
        """A path from the protocol, relative to the protocol file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def to_dict(self) -> dict:
        return {"name": self.name, "source": self.source, "sha256": self.sha256,
                "protocol": self.raw}

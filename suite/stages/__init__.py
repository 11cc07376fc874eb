"""Stages: the units a run is built from (:mod:`suite.stages.base` explains the interface).

Built-in stages: ``recon`` (:mod:`suite.stages.recon`), ``segmentation``
(:mod:`suite.stages.segmentation`), ``clinical`` (:mod:`suite.stages.clinical`, derived),
``mapping`` (:mod:`suite.stages.mapping`), ``ecv`` (:mod:`suite.stages.ecv`, derived from
the mapping outputs of a native and a post-contrast series) and ``mapseg`` (segmentation of the
fitted maps → segmental values, :mod:`suite.stages.mapping.segmental`).
A new stage is one folder with its declaration (a :class:`Stage` subclass), its metrics and its
methods, made known to a run either by :func:`register_stage` (built-in and installed stages)
or by the protocol's ``stages:`` mapping (``{name: {plugin: "module:attribute"}}``, imported
like a method plugin, with the protocol's ``plugin_paths``, only when the user allows it:
:mod:`suite.trust`).

A **pipeline** is the ordered list of stage names a dataset runs (``pipeline:`` at the top of
a protocol or per dataset); without one, the default pipeline is ``recon`` and
``segmentation`` when the protocol lists methods for them, then ``clinical`` after a
segmentation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

from suite._validation import near
from suite.stages.base import Companion, ExperimentCall, Stage, StageCall
from suite.stages.clinical import ClinicalStage
from suite.stages.ecv import EcvStage
from suite.stages.mapping import MappingStage, MapSegmentationStage
from suite.stages.recon import ReconStage
from suite.stages.segmentation import SegmentationStage
from suite.trust import import_plugin

__all__ = ["Stage", "StageCall", "ExperimentCall", "Companion", "register_stage", "get_stage",
           "load_stages", "registered_stages", "default_pipeline", "check_pipeline",
           "StageError"]


class StageError(ValueError):
    """A stage that cannot be loaded, or a pipeline that does not hold together."""


_REGISTRY: dict[str, Stage] = {}


def register_stage(stage: Stage) -> Stage:
    """Make ``stage`` (an instance) available by its name; a second, different stage of the same
    name raises."""
    if not isinstance(stage, Stage) or not stage.name:
        raise StageError(f"register_stage: expected a Stage instance with a name; got {stage!r}")
    old = _REGISTRY.get(stage.name)
    if old is not None and type(old) is not type(stage):
        raise StageError(f"register_stage: a stage named {stage.name!r} is already registered "
                         f"({type(old).__module__}.{type(old).__name__})")
    _REGISTRY[stage.name] = stage
    return stage


for _stage in (ReconStage(), SegmentationStage(), ClinicalStage(), MappingStage(), EcvStage(),
               MapSegmentationStage()):
    register_stage(_stage)


def registered_stages() -> dict[str, Stage]:
    return dict(_REGISTRY)


def _import_plugin(spec: str, base_dir: Path, plugin_paths: Iterable[str] | None, allow,
                   key: str) -> Stage:
    obj = import_plugin(spec, base_dir=base_dir, plugin_paths=plugin_paths, allow=allow,
                        error=StageError, key=key)
    stage = obj() if isinstance(obj, type) else obj
    if not isinstance(stage, Stage):
        raise StageError(f"stage plugin {spec!r} is not a suite.stages.Stage (got "
                         f"{type(stage).__name__})")
    return stage


def load_stages(protocol_raw: Mapping, base_dir=".", allow=None) -> dict[str, Stage]:
    """The stages a protocol can use: the registered ones plus its ``stages:`` plugins, each
    imported only if ``allow`` (a :class:`suite.trust.AllowList`) allows it and its
    ``plugin_paths``.

    Raises
    ------
    StageError
        A plugin that cannot be imported, is not a :class:`Stage`, or whose name differs from
        its key.
    suite.trust.PluginNotAllowedError
        A plugin or plugin path the user did not allow (nothing is imported).
    """
    stages = dict(_REGISTRY)
    for key, entry in (protocol_raw.get("stages") or {}).items():
        stage = _import_plugin(entry["plugin"], Path(base_dir), protocol_raw.get("plugin_paths"),
                               allow, f"stages.{key}.plugin")
        if stage.name != key:
            raise StageError(f"stage plugin {entry['plugin']!r} is named {stage.name!r}, not "
                             f"{key!r}")
        stages[key] = stage
    return stages


def get_stage(name: str, stages: Mapping[str, Stage] | None = None) -> Stage:
    """The stage ``name`` (from ``stages`` or the registry), with a nearest-match hint."""
    pool = stages if stages is not None else _REGISTRY
    if name not in pool:
        raise StageError(f"unknown stage {name!r}{near(name, pool)}; stages: {sorted(pool)}")
    return pool[name]


def default_pipeline(methods: Mapping[str, list], metrics: Mapping) -> list[str]:
    """``recon`` (always: it supplies the images), ``segmentation`` when it has methods, and
    ``clinical`` after it unless ``metrics.clinical`` is false."""
    out = ["recon"]
    if methods.get("segmentation"):
        out.append("segmentation")
        if ClinicalStage().enabled(metrics):
            out.append("clinical")
    return out


def check_pipeline(pipeline: list[str], stages: Mapping[str, Stage]) -> list[tuple[int, str]]:
    """Problems of a pipeline as ``(index, problem)`` pairs (empty when it holds together):
    unknown stages (with the nearest name), repeats, and a stage placed before a stage it
    consumes (or whose input is not in the pipeline)."""
    problems = []
    seen: list[str] = []
    for i, name in enumerate(pipeline):
        if name not in stages:
            problems.append((i, f"names unknown stage {name!r}{near(name, stages)}; stages: "
                                f"{sorted(stages)}"))
            continue
        if name in seen:
            problems.append((i, f"repeats stage {name!r}"))
        for need in stages[name].consumes:
            if need not in seen:
                problems.append((i, f"is stage {name!r}, which consumes {need!r}: {need!r} must "
                                    "come earlier in the pipeline"))
        seen.append(name)
    return problems

"""Protocols: the pre-specified evaluation plan of a run, loaded from YAML and validated.

A protocol fixes, before anything runs: the datasets, the conditions applied to each case, the
methods per stage, the metrics and scoring profiles, the analyses and the acceptance criteria.
It is loaded with ``yaml.safe_load`` and validated key by key; every error names the file, the
key path and what was expected (:class:`ProtocolError`). Its SHA-256 (of a canonical JSON form,
so comments and key order do not matter) goes into the run's provenance.

Schema (``protocols/quick.yaml`` is the worked example)::

    name: str                         # required
    description: str
    seed: int                         # default 0; all randomness derives from it
    failure_tolerance: float          # fraction of jobs allowed to fail (default 0)
    pipeline: [stage, ...]            # stages every dataset runs, in order (default: recon,
                                      #   then segmentation and clinical when they have methods)
    stages:                           # stages from plugins: {name: {plugin: "module:attr"}}
    datasets:                         # required, non-empty list
      - name: str                     # unique
        pipeline: [stage, ...]        #   optional: this dataset's own pipeline
        methods: {stage: [label]}     #   optional: the subset of a stage's methods it runs
        conditions: [name, ...]       #   optional: the subset of the conditions it runs under
        split: case | slice           #   optional (default case): jobs of the pipeline's first
                                      #   method stage per slice (suite.runner.jobs, docs/runner.md)
        phantom:                      # either a phantom cohort generated into the run ...
          kind: cine | mapping        #   suite.phantom.kinds (default cine; mapping keys:
                                      #   suite.phantom.mapping.cohort)
          subjects: int               #   per preset
          seed: int
          presets: [str]              #   suite.phantom.PRESETS
          pathologies: [str]          #   optional, cycled
          overrides: {key: value}     #   suite.phantom.OVERRIDES (e.g. matrix, n_frames)
        root: path                    # ... or a folder of files a reader understands
        card: str                     #   optional dataset card name (strata, verification)
        reader_options: {}            #   passed to suite.data.iter_cases
        max_cases: int                #   optional cap (first N in sorted order)
    conditions:                       # list; default: one "fully-sampled" condition
      - name: str
        type: fully-sampled | as-acquired | undersample | noise
                                      #   as-acquired: the data as read (e.g. CMRxRecon's own
                                      #   undersampled files), every recon method runs on it
        pattern: equispaced | variable-density | kt-interleaved | kt-gaussian   # undersample
        acceleration: number          # undersample
        acs_lines: int                # undersample (default 24)
        relative_sigma: number        # noise (required) or undersample (optional, SNR shift):
                                      #   added complex Gaussian noise, sigma relative to the
                                      #   RMS of the acquired k-space, added before sampling
        repeats: int                  # noise, undersample (>= 2): N re-draws <name>#1..#N
                                      #   (suite.conditions.repeats; repeatability analysis)
    methods:                          # one list per method stage of the pipelines
      recon: [method, ...]            # method = "name" | {name, params} | {plugin: "mod:Class",
      segmentation: [method, ...]     #   params} | {entry_point: "name"} | {predictions: dir,
                                      #   inputs: export dir, verify_inputs: true}
    metrics:                          # groups owned by the pipelines' stages, e.g.
      image: {profiles: [fastmri, ...]}       # recon
      temporal: bool                          # recon
      segmentation: {tolerance_mm: float, empty: worst|acdc|mnms|nan}
      clinical: bool                          # the clinical stage (default true)
    analyses:
      bootstrap: {n_resamples: int, alpha: float}
      strata: [vendor, field_strength_t, pathology, ...]
      agreement: [lv_ef_pct, lv_edv_ml, ...]
    gate: {criteria: [...]}           # optional release-gate criteria (suite.gate, docs/gate.md)
    robustness:                       # optional; see suite.protocol.robustness (docs/robustness.md)
      adversarial: {recon: {...}, segmentation: {...}}
      features: {...}
      crimes: {...}
      shift: {...}
    sponsor: path                     # optional sponsor metadata YAML (declared report items),
                                      #   relative to this file; see protocols/sponsors/example.yaml
    acceptance:                       # checked on the summary; a failed criterion sets exit 1
      - {metric: str, stage: str, statistic: mean, min: x | max: x,
         recon: str?, segmentation: str?, <method stage>: str?, condition: str?,
         structure, phase, segment, convention, profile: str?,
         dataset: str?}               # "" selects NULL; dataset names one of `datasets`
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from suite._schema import KeyPathValidator
from suite._validation import check_path_component, near, read_yaml_file
from suite.phantom.kinds import validate_phantom_entry
from suite.protocol.strata import declared_strata
from suite.protocol.errors import ProtocolError
from suite.protocol.gate_criteria import GateCriteriaError, parse_criteria
from suite.protocol.model import Protocol, canonical_json
from suite.trust import AllowList, check_protocol_code

__all__ = ["ProtocolError", "load_protocol", "validate_protocol"]

#: How a dataset's cases are cut into jobs of the first method stage of its pipeline.
SPLITS = ("case", "slice")

_TOP_KEYS = {"name", "description", "seed", "failure_tolerance", "datasets", "conditions",
             "methods", "metrics", "analyses", "acceptance", "plugin_paths", "version",
             "robustness", "sponsor", "gate", "pipeline", "stages"}


def load_protocol(path, *, allow_plugins=None) -> Protocol:
    """Load and validate a protocol YAML file.

    Parameters
    ----------
    allow_plugins : AllowList or iterable of str, optional
        The plugins (``"module:Class"``) and plugin folders the protocol may import
        (:class:`suite.trust.AllowList`); installed entry points count as allowed.

    Raises
    ------
    ProtocolError
        Unreadable file, YAML syntax error, or a key that does not validate.
    suite.trust.PluginNotAllowedError
        The protocol names a plugin, stage plugin or plugin folder not allowed (nothing is
        imported).
    """
    raw, p = read_yaml_file(path, ProtocolError,
                            "a path to a protocol YAML file (see protocols/quick.yaml)")
    return validate_protocol(raw, source=str(p), base_dir=p.parent, allow_plugins=allow_plugins)


def validate_protocol(raw: Any, *, source: str = "<protocol>", base_dir=".",
                      allow_plugins=None) -> Protocol:
    """Validate a protocol dict (as loaded from YAML) and return a :class:`Protocol`.

    Code runs only where ``allow_plugins`` allows it (:func:`load_protocol`): stage plugins are
    checked before they are imported, method plugins before the protocol is returned.
    """
    allow_list = AllowList.of(allow_plugins)
    v = KeyPathValidator(source, ProtocolError)
    v.mapping(raw, "(top level)")
    v.unknown_keys(raw, _TOP_KEYS, "")
    v.string(raw, "name", required=True)
    v.integer(raw, "seed", minimum=0)
    v.number(raw, "failure_tolerance", minimum=0.0, maximum=1.0)
    v.string(raw, "sponsor")  # sponsor metadata YAML for reports (suite.report.sponsor)
    stages = _validate_stages(v, raw, Path(base_dir), allow_list)
    datasets = v.list_of_mappings(raw, "datasets", required=True, non_empty=True)
    _unique_names(v, datasets, "datasets")
    for i, ds in enumerate(datasets):
        key = f"datasets[{i}]"
        v.unknown_keys(ds, {"name", "phantom", "root", "card", "reader_options", "max_cases",
                            "pipeline", "methods", "conditions", "split"}, key)
        v.option(ds, "split", SPLITS, prefix=key)
        if ("phantom" in ds) == ("root" in ds):
            raise ProtocolError(source, key, "needs exactly one of `phantom` (a generated cohort) "
                                "or `root` (a folder of files)")
        if "phantom" in ds:
            validate_phantom_entry(v, ds["phantom"], f"{key}.phantom")
        if "root" in ds:
            v.string(ds, "root", prefix=key)
        v.integer(ds, "max_cases", minimum=1, prefix=key)
    from suite.conditions import CONDITION_TYPES  # the condition objects (heavier imports)
    from suite.conditions.repeats import REPEATABLE_TYPES, expand_repeats

    conds = v.list_of_mappings(raw, "conditions")
    _unique_names(v, conds, "conditions")
    for i, c in enumerate(conds):
        key = f"conditions[{i}]"
        v.option(c, "type", CONDITION_TYPES, required=True, prefix=key)
        allowed = {"name", "type"}
        if c["type"] == "undersample":
            from suite.mr.sampling import PATTERNS

            v.option(c, "pattern", list(PATTERNS), required=True, prefix=key)
            v.number(c, "acceleration", minimum=1.0, required=True, prefix=key)
            v.integer(c, "acs_lines", minimum=0, prefix=key)
            v.number(c, "relative_sigma", minimum=0.0, prefix=key)
            allowed |= {"pattern", "acceleration", "acs_lines", "relative_sigma"}
        elif c["type"] == "noise":
            v.number(c, "relative_sigma", minimum=0.0, required=True, prefix=key)
            allowed |= {"relative_sigma"}
        if c["type"] in ("fully-sampled", "undersample", "noise"):
            v.integer(c, "virtual_coils", minimum=1, prefix=key)  # coil compression
            allowed |= {"virtual_coils"}
        if c["type"] in REPEATABLE_TYPES:  # re-draws (suite.conditions.repeats)
            v.integer(c, "repeats", minimum=2, prefix=key)
            allowed |= {"repeats"}
        v.unknown_keys(c, allowed, key)
    names = [c["name"] for c in conds]
    for i, c in enumerate(expand_repeats(conds)):
        if "repeat_of" in c and c["name"] in names:
            raise ProtocolError(source, f"conditions[{names.index(c['name'])}].name",
                                f"{c['name']!r} is the name of a repeat of condition "
                                f"{c['repeat_of']!r} (`repeats`); choose another name")
    methods = raw.get("methods") or {}
    v.mapping(methods, "methods")
    metrics = raw.get("metrics") or {}
    v.mapping(metrics, "metrics")
    pipelines = _validate_pipelines(v, raw, stages, methods, metrics)
    used = [stages[n] for n in dict.fromkeys(n for p in pipelines for n in p)]
    method_stages = [s.name for s in used if s.has_methods]
    v.unknown_keys(methods, {n for n, s in stages.items() if s.has_methods}, "methods")
    for stage in methods:
        if methods.get(stage) and stage not in method_stages:
            raise ProtocolError(source, f"methods.{stage}", f"lists methods, but no dataset's "
                                f"pipeline runs stage {stage!r} (pipelines: "
                                f"{sorted(set(map(tuple, pipelines)))}); add it to `pipeline`")
    if not any(methods.get(s) for s in method_stages):
        raise ProtocolError(source, "methods", "lists no method; give at least one under "
                            f"one of {[f'`{s}`' for s in method_stages]}")
    for stage in method_stages:
        entries = methods.get(stage) or []
        if not isinstance(entries, list):
            raise ProtocolError(source, f"methods.{stage}", f"must be a list; got {type(entries).__name__}")
        for i, m in enumerate(entries):
            _validate_method(v, m, f"methods.{stage}[{i}]", stages[stage])
    _validate_dataset_subsets(v, datasets, methods, conds, pipelines)
    owners = {g: s for s in stages.values() for g in s.metric_groups}
    v.unknown_keys(metrics, set(owners), "metrics")
    for s in dict.fromkeys(owners[g] for g in metrics):
        s.validate_settings(v, metrics)
    analyses = raw.get("analyses") or {}
    v.mapping(analyses, "analyses")
    v.unknown_keys(analyses, {"bootstrap", "strata", "agreement"}, "analyses")
    # strata are the store's fixed case columns and those the datasets declare (results join
    # them; summary and report split by them): another name would fail only after the run
    v.list_of_strings(analyses, "strata", options=declared_strata(raw), prefix="analyses")
    if "bootstrap" in analyses:
        boot = analyses["bootstrap"] or {}
        v.mapping(boot, "analyses.bootstrap")
        v.unknown_keys(boot, {"n_resamples", "alpha"}, "analyses.bootstrap")
        v.integer(boot, "n_resamples", minimum=100, prefix="analyses.bootstrap")
        v.number(boot, "alpha", minimum=0.0001, maximum=0.5, prefix="analyses.bootstrap")
    if raw.get("gate") is not None:  # release-gate criteria (suite.gate, docs/gate.md)
        try:
            parse_criteria({"gate": raw["gate"]}, source=source)
        except GateCriteriaError as exc:
            raise ProtocolError(source, exc.key, exc.problem) from None
    if raw.get("robustness") is not None:
        from suite.protocol.robustness import validate_robustness  # noqa: PLC0415

        validate_robustness(v, raw, stages)
    for i, crit in enumerate(v.list_of_mappings(raw, "acceptance")):
        key = f"acceptance[{i}]"
        v.string(crit, "metric", required=True, prefix=key)
        v.unknown_keys(crit, {"metric", "stage", "statistic", "min", "max", "condition",
                              "structure", "phase", "segment", "convention", "frame", "profile",
                              "dataset", *method_stages}, key)
        if "dataset" in crit:  # a typo would select nothing and fail the run for no reason
            v.option(crit, "dataset", [d["name"] for d in datasets], prefix=key)
        if "min" not in crit and "max" not in crit:
            raise ProtocolError(source, key, "needs `min` or `max` (the bound the statistic must meet)")
        for b in ("min", "max"):
            v.number(crit, b, prefix=key)
        v.option(crit, "statistic", ["mean", "median"], prefix=key)
    check_protocol_code(raw, base_dir, allow_list, source=source)  # method plugins, entry points
    raw = json.loads(canonical_json(raw))  # plain JSON types (tuples → lists), sorted on hashing
    digest = hashlib.sha256(canonical_json(raw).encode()).hexdigest()
    return Protocol(raw=raw, source=source, sha256=digest, base_dir=Path(base_dir),
                    allowed=allow_list)


def _validate_dataset_subsets(v: KeyPathValidator, datasets: list, methods: dict, conds: list,
                              pipelines: list) -> None:
    """A dataset's ``methods`` (``{stage: [label, ...]}``) and ``conditions`` (``[name, ...]``)
    name a non-empty subset of the protocol's method labels of a stage its pipeline runs and
    of the protocol's conditions."""
    from suite.stages.entries import method_label, normalise_method

    cond_names = [c["name"] for c in conds] or ["fully-sampled"]
    for i, (ds, pipeline) in enumerate(zip(datasets, pipelines)):
        key = f"datasets[{i}]"
        if "conditions" in ds:
            v.list_of_strings(ds, "conditions", options=cond_names, non_empty=True, prefix=key)
        if "methods" not in ds:
            continue
        subset = ds["methods"]
        v.mapping(subset, f"{key}.methods")
        v.unknown_keys(subset, set(pipeline) & set(methods), f"{key}.methods")
        for stage in subset:
            labels = [method_label(normalise_method(m)) for m in methods.get(stage) or []]
            v.list_of_strings(subset, stage, options=labels, non_empty=True,
                              prefix=f"{key}.methods")


def _unique_names(v: KeyPathValidator, entries: list, what: str) -> None:
    """Every entry of ``what`` has a ``name``, and no two share one."""
    seen = set()
    for i, entry in enumerate(entries):
        key = f"{what}[{i}]"
        v.string(entry, "name", required=True, prefix=key)
        try:
            check_path_component(entry["name"], "name")
        except ValueError as exc:
            raise ProtocolError(v.source, f"{key}.name", f"{exc} (names become folder and file "
                                "names of the run)") from None
        if entry["name"] in seen:
            raise ProtocolError(v.source, f"{key}.name",
                                f"repeats {entry['name']!r}; names must be unique")
        seen.add(entry["name"])


def _validate_stages(v: KeyPathValidator, raw: dict, base_dir: Path, allowed: AllowList) -> dict:
    """The stages this protocol can use (registered + its ``stages:`` plugins, imported only
    when ``allowed`` allows them and the ``plugin_paths``)."""
    from suite.stages import StageError, load_stages

    extra = raw.get("stages")
    if extra is not None:
        v.mapping(extra, "stages")
        for name, entry in extra.items():
            key = f"stages.{name}"
            v.mapping(entry, key)
            v.unknown_keys(entry, {"plugin"}, key)
            v.string(entry, "plugin", required=True, prefix=key)
            if ":" not in entry["plugin"]:
                raise ProtocolError(v.source, f"{key}.plugin",
                                    f"must be 'module:attribute'; got {entry['plugin']!r}")
    paths = raw.get("plugin_paths")
    if paths is not None and (not isinstance(paths, list) or not all(
            isinstance(p, str) and p.strip() and "\x00" not in p for p in paths)):
        raise ProtocolError(v.source, "plugin_paths", f"must be a list of folders; got {paths!r}")
    if extra:  # stage plugins are imported now: check them (and the folders) first
        check_protocol_code({"stages": extra, "plugin_paths": paths}, base_dir, allowed,
                            source=v.source)
    try:
        return load_stages(raw, base_dir, allowed)
    except StageError as exc:
        raise ProtocolError(v.source, "stages", str(exc)) from None


def _validate_pipelines(v, raw, stages, methods, metrics) -> list[list[str]]:
    from suite.stages import check_pipeline, default_pipeline

    def one(value, key):
        if not isinstance(value, list) or not value or not all(isinstance(x, str) for x in value):
            raise ProtocolError(v.source, key, "must be a non-empty list of stage names "
                                f"(stages: {sorted(stages)})")
        for i, problem in check_pipeline(value, stages):
            raise ProtocolError(v.source, f"{key}[{i}]", problem)
        return list(value)

    top = one(raw["pipeline"], "pipeline") if raw.get("pipeline") is not None else None
    out = []
    for i, ds in enumerate(raw.get("datasets") or []):
        if ds.get("pipeline") is not None:
            out.append(one(ds["pipeline"], f"datasets[{i}].pipeline"))
        else:
            out.append(top or default_pipeline(methods, metrics))
    return out


def _validate_method(v: KeyPathValidator, m: Any, key: str, stage) -> None:
    if isinstance(m, str):
        m = {"name": m}
    v.mapping(m, key)
    kinds = [k for k in ("name", "plugin", "entry_point", "predictions") if k in m]
    if len(kinds) != 1:
        raise ProtocolError(v.source, key, "needs exactly one of `name` (a reference method), "
                            "`plugin` ('module:Class'), `entry_point` or `predictions` (a folder)")
    v.unknown_keys(m, {"name", "plugin", "entry_point", "predictions", "params", "label",
                       "inputs", "verify_inputs"}, key)
    for only in ("inputs", "verify_inputs"):
        if only in m and "predictions" not in m:
            raise ProtocolError(v.source, f"{key}.{only}", "applies to a `predictions` folder "
                                "only (the exported inputs its reconstructions were made from)")
    if "verify_inputs" in m:
        v.boolean(m, "verify_inputs", prefix=key)
    if "inputs" in m and (not isinstance(m["inputs"], str) or not m["inputs"]):
        raise ProtocolError(v.source, f"{key}.inputs", "must be a folder written by "
                            "`cmrsuite conditions export`")
    if "name" in m:
        names = available_methods(stage)
        if m["name"] not in names:
            raise ProtocolError(v.source, f"{key}.name", f"is {m['name']!r}; {stage.name} "
                                f"reference methods are {names}{near(m['name'], names)}")
    if "plugin" in m and (not isinstance(m["plugin"], str) or ":" not in m["plugin"]):
        raise ProtocolError(v.source, f"{key}.plugin", f"must be 'module:Class'; got {m['plugin']!r}")
    if "params" in m and not isinstance(m["params"], dict):
        raise ProtocolError(v.source, f"{key}.params", "must be a mapping of keyword arguments")


def available_methods(stage) -> list[str]:
    """Names a protocol entry ``{name: ...}`` may use for ``stage``: the reference methods of
    :mod:`reference_impls` for that stage (for its :attr:`~suite.stages.Stage.method_kind`
    when it runs another stage's kind of method, with its own built-in methods; none for a
    stage it does not know)."""
    import reference_impls

    try:
        names = reference_impls.available(stage.method_kind or stage.name)
    except ValueError:  # a stage reference_impls does not know (a plugin stage)
        return sorted(stage.builtin_methods())
    return sorted({*names, *(stage.builtin_methods() if stage.method_kind else ())})

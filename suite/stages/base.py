"""The stage interface: what a processing stage consumes, produces, and how it is scored.

A run executes a **pipeline** of stages per dataset, e.g. ``[recon, segmentation, clinical]``
(later ``[recon, mapping]``, ``[recon, motion, strain]``). A stage is declared once, as a
:class:`Stage` subclass in its own folder, and registered (:func:`suite.stages.register_stage`,
or a protocol's ``stages:`` entry naming ``module:attribute`` for a stage from a plugin). The
runner expands and executes jobs from the pipeline without knowing any stage:

* a **method stage** (``has_methods``) runs the protocol's methods ``methods.<stage>``: one job
  per (case, condition, method chain) in pipeline order; its output is cached (content-
  addressed) so that later stages read it;
* a **derived stage** (no methods, e.g. clinical parameters from labels) is evaluated in the job
  of the stage it consumes, on that stage's output. It may also read the output of the stage
  it consumes on **other cases** of the run (:meth:`Stage.companions`, e.g. the native series
  of a post-contrast series for ECV): the job then runs the same condition and method chain on
  each companion case (from the content-addressed cache when its own job already ran) and
  passes them as ``call.companions``.

Each stage scores its own output (:meth:`Stage.score`) into rows of the one metric contract
(:mod:`suite.metrics.contract`) and may own robustness experiments (:meth:`Stage.experiment`).
A stage does no I/O: the runner reads cases, resolves methods, caches outputs and stores rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping, Sequence

import numpy as np

from suite.case import Case

__all__ = ["Stage", "StageCall", "ExperimentCall", "Companion", "spacing_3d", "example_index"]


def spacing_3d(case: Case) -> tuple[float, float, float]:
    """``(dz, dy, dx)`` in mm: the slice spacing (the thickness when the spacing is unknown),
    then the pixel spacing.

    Raises
    ------
    ValueError
        The reader did not fill the spacing.
    """
    dz = case.meta.slice_spacing_mm or case.meta.slice_thickness_mm
    if dz is None or case.meta.pixel_spacing_mm is None:
        raise ValueError(f"case {case.case_id!r}: slice or pixel spacing unknown; the reader must "
                         "fill meta.pixel_spacing_mm and meta.slice_spacing_mm")
    return (float(dz), *map(float, case.meta.pixel_spacing_mm))


def example_index(case: Case) -> tuple[int, int]:
    """(slice, frame) of a saved example: the middle slice at the ED frame (frame 0 if unknown)."""
    s = case.n_slices // 2
    f = case.meta.ed_frame if case.meta.ed_frame is not None else 0
    return s, f


@dataclass
class StageCall:
    """What a stage sees in one job.

    Attributes
    ----------
    case : Case
        The Case as read (its reference, labels and truth score the output).
    conditioned : Case
        The Case after the job's condition (what a method sees).
    condition : object
        The :class:`~suite.conditions.base.Condition`; ``condition_info`` what it applied.
    entry : dict
        The protocol's method entry of this stage (normalised; ``{"name": ...}`` for a
        built-in pseudo-method such as the recon stage's ``reference``).
    entries, labels : dict
        Method entry and label per method stage of the job's chain, e.g.
        ``{"recon": "cg-sense", "segmentation": "unet"}``.
    upstream : dict
        Outputs of the stages this one consumes, by stage name.
    settings : dict
        The protocol's ``metrics`` mapping (each stage reads its own groups).
    seed : int
        The protocol seed.
    resolve : callable(entry, stage) -> method
        Resolves a method entry of any stage (for experiments that chain methods).
    companions : dict of str to Companion
        For a derived stage with :meth:`Stage.companions`: the consumed stage's call and
        output on each companion case, by role (empty otherwise).
    """

    case: Case
    conditioned: Case
    condition: Any
    condition_info: dict
    entry: dict
    entries: dict
    labels: dict
    upstream: dict
    settings: dict
    seed: int
    resolve: Callable[[dict, str], Any] | None = None
    cached: Callable[[], np.ndarray] | None = None  # this stage's cached output (experiments)
    stage: str = ""
    companions: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The label of this stage's method (``""`` for a derived stage)."""
        return self.labels.get(self.stage, "")


@dataclass(frozen=True)
class Companion:
    """Another case's output of the stage a derived stage consumes, under the job's condition
    and method chain (see :meth:`Stage.companions`).

    Attributes
    ----------
    call : StageCall
        The consumed stage's call on the companion case (its Case, conditioned Case, method
        entries, ``resolve``), e.g. to refit its fully sampled data.
    output : ndarray
        The consumed stage's output on the companion case.
    """

    call: StageCall
    output: np.ndarray


@dataclass
class ExperimentCall:
    """What a stage's robustness experiment sees (see :meth:`Stage.experiment`)."""

    call: StageCall
    experiment: dict
    rng_factory: Callable[[], np.random.Generator]
    save_example: Callable[..., None] = field(default=lambda **arrays: None)


class Stage:
    """Base class of a stage declaration (see the module docstring).

    Class attributes
    ----------------
    name : str
        The stage's name in protocols, the store's ``stage`` column and method columns.
    consumes : tuple of str
        Stages whose output this one reads (empty: the Case itself).
    produces : str
        What the output is, with dtype, shape and units (documentation).
    interface : str
        The method call signature of the stage (documentation; methods are checked against it
        by :meth:`check_output`).
    has_methods : bool
        Method stage (True) or derived stage (False).
    metric_groups : tuple of str
        Keys of the protocol's ``metrics`` mapping this stage owns (validated by
        :meth:`validate_settings`).
    experiment_kinds : tuple of str
        Robustness experiment kinds this stage runs (:meth:`experiment`).
    chain_experiments : tuple of str
        Experiment kinds whose job loads the outputs of every method of its chain (from the
        cache, as ``call.upstream``), not only those up to this stage: e.g. a reconstruction
        attack that reports clinical parameters reuses the clean segmentation.
    row_stages : tuple of str
        Values of the store's ``stage`` column this stage writes (default ``(name,)``).
    method_kind : str
        The kind of method the stage runs, when it runs another stage's kind of method: the
        :mod:`reference_impls` registry its ``{name: ...}`` entries are looked up in and the
        ``stage`` attribute its plugins may declare (default ``""``: the stage's own name).
        E.g. the ``mapseg`` stage runs segmentation methods on maps, so any segmentation
        method, reference or plugin, can be listed under it.
    """

    name: ClassVar[str] = ""
    consumes: ClassVar[tuple[str, ...]] = ()
    produces: ClassVar[str] = ""
    interface: ClassVar[str] = ""
    has_methods: ClassVar[bool] = True
    metric_groups: ClassVar[tuple[str, ...]] = ()
    experiment_kinds: ClassVar[tuple[str, ...]] = ()
    chain_experiments: ClassVar[tuple[str, ...]] = ()
    row_stages: ClassVar[tuple[str, ...]] = ()
    method_kind: ClassVar[str] = ""

    # ------------------------------------------------------------------ planning
    def enabled(self, metrics: Mapping[str, Any]) -> bool:
        """Whether a derived stage runs under the protocol's ``metrics`` (method stages: always)."""
        return True

    def method_entries(self, protocol_entries: Sequence[dict], case_ref,
                       condition: Mapping[str, Any]) -> list[dict]:
        """The method entries to run on ``case_ref`` under ``condition`` (default: the
        protocol's ``methods.<stage>``; a stage may substitute pseudo-methods)."""
        return list(protocol_entries)

    def accepts(self, case_ref, condition: Mapping[str, Any]) -> bool:
        """Whether the stage can run on ``case_ref`` under ``condition`` (default True)."""
        return True

    def companions(self, case_ref, case_refs: Sequence) -> dict[str, Any]:
        """Other cases whose output of the consumed stage a derived stage reads beside the
        job's own, by role (``{"native": CaseRef}``), chosen among ``case_refs`` (the run's
        cases) from what discovery knows (``CaseRef.tags``); default none. The runner records
        them in the job (its id names them), runs the job's condition and method chain on each
        and passes the results as ``call.companions`` (:class:`Companion`)."""
        return {}

    def builtin_methods(self) -> Mapping[str, Callable[..., Any]]:
        """Reference methods the stage ships itself (name → factory); a protocol entry
        ``{name: ...}`` is looked up here before :mod:`reference_impls`."""
        return {}

    def validate_settings(self, validator, metrics: Mapping[str, Any]) -> None:
        """Check the stage's groups of the protocol's ``metrics`` (raise the validator's
        error with the key path). Default: groups must be mappings or booleans."""
        for group in self.metric_groups:
            value = metrics.get(group)
            if value is not None and not isinstance(value, (dict, bool)):
                validator.fail(f"metrics.{group}", f"must be a mapping or true/false; got "
                               f"{value!r}")

    # ------------------------------------------------------------------ execution
    def produce(self, call: StageCall, method) -> np.ndarray:
        """Run ``method`` on the job's inputs and return the stage's output."""
        raise NotImplementedError(f"stage {self.name!r} has no methods")

    def check_output(self, call: StageCall, output, method_label: str) -> np.ndarray:
        """Validate a method's output (shape, dtype, finiteness); default: as is."""
        return np.asarray(output)

    def score(self, call: StageCall, output) -> list[dict]:
        """Rows (dicts of the store's result columns) scoring ``output`` of this job."""
        return []

    def artifacts(self, call: StageCall, output) -> dict[str, np.ndarray]:
        """Arrays besides the output worth keeping in the run's cache for reports (e.g. the
        recon stage's scoring reference), by name; default none."""
        return {}

    def attack_surface(self, call: StageCall, method):
        """The stage's input and its method as a map of it
        (:class:`suite.robustness.AttackSurface`), for the generic input attack
        (``robustness.adversarial.<stage>``); ``None`` (default) when the stage offers none."""
        return None

    def output_of(self, call: StageCall, forward_output) -> np.ndarray:
        """The stage's output from what the attack surface's ``forward`` returned (default: as
        is); :meth:`check_output` validates it next."""
        return np.asarray(forward_output)

    def expand_experiments(self, robustness: Mapping[str, Any], protocol, case_ref,
                           upstream: Sequence["Stage"] = ()) -> list:
        """The robustness jobs of this stage for one case: ``(condition entry, method chain
        [(stage, entry), ...], experiment dict)`` triples from the protocol's ``robustness``
        section. ``upstream`` are the method stages before this one in the case's pipeline.

        Default: the generic input attack of ``robustness.adversarial.<stage>`` (``methods``,
        ``conditions`` — default the fully sampled ones —, ``attacks``, ``budgets`` (L2),
        ``linf_budgets``, ``steps``), one job per
        condition and method chain, the upstream stages running the methods they run in the
        ordinary jobs (the reference images under a fully sampled condition), and this stage
        the methods :meth:`method_entries` selects for the case."""
        from suite.stages.entries import method_label

        sec = (robustness.get("adversarial") or {}).get(self.name)
        if not sec or not self.has_methods:
            return []
        names = sec.get("conditions")
        conds = [c for c in protocol.conditions_of(case_ref.dataset)
                 if (c["name"] in names if names else c["type"] == "fully-sampled")]
        wanted = sec.get("methods")
        own = [m for m in protocol.methods(self.name, case_ref.dataset) if "predictions" not in m
               and (wanted is None or method_label(m) in wanted)]
        exp = {"kind": "input-attack", "stage": self.name,
               "attacks": list(sec.get("attacks") or ["pgd-l2"]),
               "budgets": [float(b) for b in sec.get("budgets") or ()],
               "linf_budgets": [float(b) for b in sec.get("linf_budgets") or ()],
               "steps": int(sec.get("steps") or 10)}
        out = []
        for cond in conds:
            if upstream and not upstream[0].accepts(case_ref, cond):
                continue
            chains = [[]]
            for st in upstream:
                chains = [c + [(st.name, e)] for c in chains
                          for e in st.method_entries(protocol.methods(st.name, case_ref.dataset),
                                                     case_ref, cond)]
            # the stage's own selection of its methods for this case (e.g. by timing)
            runs = self.method_entries(own, case_ref, cond)
            for chain in chains:
                for m in runs:
                    out.append((cond, chain + [(self.name, m)], dict(exp)))
        return out

    def experiment(self, kind: str, exp: ExperimentCall) -> list[dict]:
        """Rows of one robustness experiment of this stage (with ``attack`` and ``budget``);
        the base class runs the generic ``input-attack``
        (:func:`suite.stages.input_attack.input_attack`)."""
        if kind == "input-attack":
            from suite.stages.input_attack import input_attack

            return input_attack(self, exp)
        raise ValueError(f"stage {self.name!r} runs no experiment {kind!r}; it runs "
                         f"{list(self.experiment_kinds) + ['input-attack'] }")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "consumes": list(self.consumes), "produces": self.produces,
                "interface": self.interface, "has_methods": self.has_methods,
                "metric_groups": list(self.metric_groups),
                "experiments": list(self.experiment_kinds)}

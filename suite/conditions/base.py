"""The condition interface: a named, seeded transformation of a Case before a method sees it.

A condition is an object with a ``name`` (the protocol's), a ``type`` and
``apply(case, rng) -> (case, info)``: the Case the method sees and a dict of what was applied
(effective acceleration, noise level, ...), which the first stage of a pipeline stores as rows
of stage ``condition``. ``rng`` comes from :func:`suite.conditions.seeding.condition_rng`, so
every method sees the same inputs. A condition never modifies its input Case.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from suite.case import Case

__all__ = ["Condition"]


class Condition:
    """Base class of conditions (see the module docstring).

    Subclasses set ``type`` (the protocol's ``type:`` value), ``needs_kspace`` (whether the
    condition can only be applied to a Case with k-space) and implement :meth:`apply`.
    """

    type: ClassVar[str] = ""
    needs_kspace: ClassVar[bool] = False

    def __init__(self, name: str):
        self.name = str(name)
        self.repeat_of: str | None = None  # a repeat of a `repeats: N` entry: what it repeats
        self.repeat: int | None = None     # and its index, 1-based (suite.conditions.repeats)

    def repeat_info(self) -> dict[str, float]:
        """``{"repeat_index": k}`` for repeat ``k`` of a repeated condition, else ``{}`` (part
        of ``info``: stored as a condition row)."""
        return {} if self.repeat is None else {"repeat_index": float(self.repeat)}

    def apply(self, case: Case, rng: np.random.Generator) -> tuple[Case, dict[str, Any]]:
        raise NotImplementedError

    def reference_case(self, case: Case) -> Case:
        """The Case whose fully sampled data give the scoring reference under this condition:
        the Case itself, unless the condition changes what was acquired (coil compression to
        virtual coils: the reference is then the RSS of the compressed fully sampled k-space,
        as fastMRI's single-coil track scores against the emulated single coil)."""
        return case

    def reference_key(self) -> dict | None:
        """What makes :meth:`reference_case` differ from the Case (for cache keys), or None."""
        return None

    def to_dict(self) -> dict[str, Any]:
        """The protocol entry of the condition (``name``, ``type`` and its settings; a repeat's
        ``repeat_of`` and ``repeat``)."""
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.repeat is not None:
            out.update(repeat_of=self.repeat_of, repeat=self.repeat)
        return out

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "type")
        return f"{type(self).__name__}({settings})"

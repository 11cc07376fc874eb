"""What the suite can do today, read from its registries (never typed by hand).

:func:`capability_table` builds the Markdown table of the documentation's front page from the
stage registry (:mod:`suite.stages`), the reference methods (:mod:`reference_impls`), the metric
registry (:mod:`suite.metrics.contract`), the condition types, the scoring profiles, the readers
and the reporting guidelines. ``python -m suite.capabilities docs/index.md`` rewrites the block
between ``<!-- capabilities:start -->`` and ``<!-- capabilities:end -->``, and ``--check`` exits 1
when the page and the registries disagree (a test runs it in a fresh interpreter, so that the
page cannot go stale).
"""

from __future__ import annotations

import sys
from suite.docs.blocks import block_is_current, markers, update_block

__all__ = ["capability_table", "update_page", "check_page", "START", "END"]

START, END = markers("capabilities")

#: Documentation page of each built-in stage and of each metric family.
_STAGE_PAGES = {"recon": "recon-methods.md", "segmentation": "segmentation-methods.md",
                "clinical": "metrics-clinical.md", "mapping": "mapping-stage.md",
                "mapseg": "mapping-stage.md"}
_FAMILY_PAGES = {"image": "metrics-image.md", "temporal": "metrics-temporal.md",
                 "segmentation": "metrics-segmentation.md", "clinical": "metrics-clinical.md",
                 "robustness": "robustness.md", "condition": "conditions.md",
                 "mapping": "mapping-fits.md"}


def _code(names) -> str:
    return ", ".join(f"`{n}`" for n in names) or "—"


def _stage_methods(stage, methods) -> list[str]:
    """Reference methods a protocol may list for ``stage``: its own, or those of its
    ``method_kind`` with its built-in methods."""
    if not stage.method_kind:
        return methods.get(stage.name, [])
    return sorted({*methods.get(stage.method_kind, []), *stage.builtin_methods()})


def capability_table() -> str:
    """The Markdown capability table (module docstring)."""
    import reference_impls
    import suite.conditions  # noqa: F401  (declares condition metrics)
    import suite.metrics  # noqa: F401  (declares every built-in metric)
    from suite.conditions import CONDITION_TYPES
    from suite.data.loader import FORMATS
    from suite.metrics.contract import registered_metrics
    from suite.metrics.image import PROFILES
    from suite.report.guidelines import GUIDELINES
    from suite.stages import registered_stages

    methods = reference_impls.available()
    metrics = registered_metrics()
    lines = ["| stage | consumes → produces | reference methods | documentation |",
             "|---|---|---|---|"]
    for name, stage in registered_stages().items():
        page = _STAGE_PAGES.get(name)
        lines.append(f"| `{name}`{'' if stage.has_methods else ' (derived)'} | "
                     f"{', '.join(stage.consumes) or 'the Case'} → {stage.produces} | "
                     f"{_code(_stage_methods(stage, methods))} | "
                     f"{f'[{page}]({page})' if page else '[stages](stages.md)'} |")
    families: dict[str, list[str]] = {}
    for spec in metrics.values():
        families.setdefault(spec.family, []).append(spec.name)
    lines += ["", "| metric family | metrics (declared unit and direction in the registry) | "
              "documentation |", "|---|---|---|"]
    for family in sorted(families):
        page = _FAMILY_PAGES.get(family)
        lines.append(f"| {family} | {_code(sorted(families[family]))} | "
                     f"{f'[{page}]({page})' if page else '—'} |")
    lines += ["", "| also | what | documentation |", "|---|---|---|",
              f"| conditions | {_code(CONDITION_TYPES)} | [Conditions](conditions.md) |",
              f"| scoring profiles | {_code(PROFILES)} | [Image metrics](metrics-image.md) |",
              f"| readers | {_code(FORMATS)} | [Datasets and readers](datasets.md) |",
              f"| reporting guidelines | {_code(GUIDELINES)} | [Evidence reports](reports.md) |"]
    return "\n".join(lines) + "\n"


def update_page(path) -> bool:
    """Rewrite the capability block of ``path``; True when the page changed."""
    return update_block(path, "capabilities", capability_table())


def check_page(path) -> bool:
    """True when the capability block of ``path`` equals :func:`capability_table`."""
    return block_is_current(path, "capabilities", capability_table())


if __name__ == "__main__":  # pragma: no cover
    args = sys.argv[1:]
    check = "--check" in args
    pages = [a for a in args if a != "--check"] or ["docs/index.md"]
    stale = [p for p in pages if not check_page(p)] if check else []
    for page in pages:
        if check:
            print(f"{page}: {'STALE (python -m suite.capabilities ' + page + ')' if page in stale else 'up to date'}")
        else:
            print(f"{page}: {'updated' if update_page(page) else 'up to date'}")
    sys.exit(1 if stale else 0)

"""The conventional fits as registered reference methods of the ``mapping`` stage.

A mapping method is called as ``method(images, timings_ms) -> MapFit`` (weighted images
``(..., n_images)``, timings in ms broadcastable to them; see
:mod:`reference_impls.mapping.result`) and has ``name``, ``version``, ``stage`` and
``params()`` like every reference method (``reference_impls.get("mapping", "molli-3p",
polarity="shmolli")``), and ``timing``, the timing key it fits (``TI``, ``TS`` or ``TE``; the
mapping stage runs it only on series with that timing).
"""

from __future__ import annotations

from reference_impls.mapping.result import MapFit, check_choice
from reference_impls.mapping.t1 import POLARITY_RULES, fit_molli, fit_sasha
from reference_impls.mapping.t2 import fit_t2
from reference_impls.registry import register

__all__ = ["MolliFit", "SashaFit", "T2Fit"]


class _Fit:
    stage = "mapping"
    version = "1.0"
    name = ""

    def __init__(self, **options):
        self._options = dict(options)

    def params(self) -> dict:
        return dict(self._options)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self._options.items())})"


@register("mapping", "molli-3p")
class MolliFit(_Fit):
    """MOLLI/ShMOLLI 3-parameter fit with Look-Locker correction (:func:`fit_molli`);
    options ``polarity``, ``t1_max_ms``, ``max_iter``."""

    name = "molli-3p"
    timing = "TI"  # the timing it fits (the mapping stage runs it on TI series only)

    def __init__(self, **options):
        if "polarity" in options:  # refused when the method is built, not at its first fit
            check_choice(options["polarity"], POLARITY_RULES, name="polarity", where="molli-3p")
        super().__init__(**options)

    def __call__(self, images, timings_ms) -> MapFit:
        return fit_molli(images, timings_ms, **self._options)


class _ModelFit(_Fit):
    """A fit with a ``model`` option, named ``<prefix>-<model>``."""

    prefix = ""
    default_model = ""

    def __init__(self, model: str | None = None, **options):
        super().__init__(model=model or self.default_model, **options)
        self.name = f"{self.prefix}-{self._options['model']}"

    @staticmethod
    def _fit(images, timings_ms, **options) -> MapFit:
        raise NotImplementedError

    def __call__(self, images, timings_ms) -> MapFit:
        return type(self)._fit(images, timings_ms, **self._options)


@register("mapping", "sasha-3p")
class SashaFit(_ModelFit):
    """SASHA saturation-recovery fit (:func:`fit_sasha`), 3-parameter by default."""

    prefix, default_model, name = "sasha", "3p", "sasha-3p"
    timing = "TS"
    _fit = staticmethod(fit_sasha)


@register("mapping", "t2-2p")
class T2Fit(_ModelFit):
    """T2 fit of T2-prepared images (:func:`fit_t2`), 2-parameter by default."""

    prefix, default_model, name = "t2", "2p", "t2-2p"
    timing = "TE"
    _fit = staticmethod(fit_t2)


@register("mapping", "sasha-2p")
def _sasha_2p(**options) -> SashaFit:
    return SashaFit(model="2p", **options)


@register("mapping", "t2-loglinear")
def _t2_loglinear(**options) -> T2Fit:
    return T2Fit(model="loglinear", **options)


@register("mapping", "t2-3p")
def _t2_3p(**options) -> T2Fit:
    return T2Fit(model="3p", **options)


# ---- the base class, public for the other method modules (model-based methods, issue 13)
#: Reference-method protocol of the mapping methods (``stage``, ``version``, ``name``,
#: ``params()``, ``repr``); :mod:`reference_impls.mapping.model_based` subclasses it.
MappingMethod = _Fit
__all__ += ["MappingMethod"]

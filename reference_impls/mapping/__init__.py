"""Reference mapping methods: weighted images ``(..., n_images)`` + timings (ms) → maps.

Conventional fits (:mod:`~reference_impls.mapping.t1`, :mod:`~reference_impls.mapping.t2`)
return a :class:`~reference_impls.mapping.result.MapFit` with parameter maps, per-pixel goodness
of fit and a failure mask; :mod:`~reference_impls.mapping.methods` registers them as ``mapping``
methods (``molli-3p``, ``sasha-3p``, ``sasha-2p``, ``t2-loglinear``, ``t2-2p``, ``t2-3p``);
:mod:`~reference_impls.mapping.model_based` the model-based ones (``mrf-dictionary``,
``bloch-fit``), which are also given the acquisition description;
:mod:`~reference_impls.mapping.neural` the neural T1 estimator ``myomapnet``;
:mod:`~reference_impls.mapping.mrf_net` the neural cardiac-MRF estimator ``mrf-net`` (T1 and
T2, given the acquisition like the model-based methods).
"""

from reference_impls.mapping.methods import MolliFit, SashaFit, T2Fit
from reference_impls.mapping.model_based import BlochModelMethod, MRFDictionaryMethod
from reference_impls.mapping.mrf_net import MRFNetMethod
from reference_impls.mapping.neural import MyoMapNetT1
from reference_impls.mapping.result import MapFit
from reference_impls.mapping.t1 import POLARITY_RULES, fit_molli, fit_sasha
from reference_impls.mapping.t2 import T2_MODELS, fit_t2

__all__ = ["MapFit", "fit_molli", "fit_sasha", "fit_t2", "POLARITY_RULES", "T2_MODELS",
           "MolliFit", "SashaFit", "T2Fit", "MRFDictionaryMethod", "BlochModelMethod",
           "MyoMapNetT1", "MRFNetMethod"]

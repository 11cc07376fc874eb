"""A method's fit of the fully sampled images, remembered per process.

The mapping stage scores an undersampled job's map against the same method's fit of the fully
sampled images (``profile = "reference-fit"``) and, with ``challenge_reference``, against a
challenge procedure's fit of them. Every undersampled job of a series (one per reconstruction
method and condition) asks for the same fit of the same images; :func:`reference_fit` runs it
once per process and returns the remembered map to the next job that asks.

The memo is keyed by content, never by object identity: the method (its protocol entry, class,
version and ``params()``, which name a network's weights by their SHA-256), the arrays and
acquisition description it is called with, and what the stage's check of its output depends
on (the case's quantities and image shape). Only registered reference methods (an entry with
``name``) are remembered: a method of ``reference_impls`` gives the same map for the same
inputs, a plugin may be random or stateful and is re-run every time. Remembered maps are
read-only, so no caller can change what the next job gets.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import Any, Callable, Mapping

import numpy as np

from suite.case import Case
from suite.stages.mapping.acquisition import case_acquisition
from suite.stages.mapping.inputs import case_quantities, timings_array, weighted_images

__all__ = ["REFITS_KEPT", "fit_inputs", "reference_fit"]

#: Fits :func:`reference_fit` remembers per process (the most recently used).
REFITS_KEPT = 4
_REFITS: OrderedDict[str, np.ndarray] = OrderedDict()


def fit_inputs(method, images, case: Case) -> tuple:
    """The arguments ``method`` is called with on recon output ``images``
    ``(slice, frame, y, x)`` of ``case``: the weighted images ``(slice, y, x, n_images)`` and
    their timings ``(slice, 1, 1, n_images)``, and the acquisition description when the
    method declares ``needs_acquisition``."""
    args = (weighted_images(images), timings_array(case))
    if getattr(method, "needs_acquisition", False):
        return (*args, case_acquisition(case))
    return args


def reference_fit(method, entry: Mapping[str, Any], images, case: Case,
                  check: Callable[[Any], np.ndarray]) -> np.ndarray:
    """``check(method(*fit_inputs(method, images, case)))``, read-only, remembered for the
    last :data:`REFITS_KEPT` inputs of registered reference methods (module docstring).

    Parameters
    ----------
    method : callable
        The mapping method, resolved from the protocol ``entry``.
    images : array ``(slice, frame, y, x)``
        The fully sampled images (float64 magnitude).
    check : callable(output) -> array
        The stage's conversion of the method's output to the map (shape checked, failed
        pixels NaN); must return a new array.
    """
    args = fit_inputs(method, images, case)
    key = _key(method, entry, args, case)
    if key in _REFITS:
        _REFITS.move_to_end(key)
        return _REFITS[key]
    fit = check(method(*args))
    fit.setflags(write=False)
    if key is not None:
        _REFITS[key] = fit
        while len(_REFITS) > REFITS_KEPT:
            _REFITS.popitem(last=False)
    return fit


def _key(method, entry: Mapping[str, Any], args: tuple, case: Case) -> str | None:
    """SHA-256 of what the checked fit depends on; None when it is not remembered."""
    if "name" not in entry:
        return None
    try:
        ident = json.dumps([dict(entry), type(method).__module__, type(method).__qualname__,
                            str(getattr(method, "version", "")), method.params(),
                            case_quantities(case), list(case.image_shape)], sort_keys=True)
    except (AttributeError, TypeError, ValueError):  # no params(), or not JSON: re-run
        return None
    digest = hashlib.sha256(ident.encode())
    for arg in args:
        if isinstance(arg, np.ndarray):
            arr = np.ascontiguousarray(arg)
            digest.update(f"{arr.dtype.str}{arr.shape}".encode())
            digest.update(arr.data)
        else:
            digest.update(repr(arg).encode())
    return digest.hexdigest()

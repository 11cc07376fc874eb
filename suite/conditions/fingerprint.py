"""The fingerprint of a method's inputs: one SHA-256 naming what a method sees in a Case.

``cmrsuite conditions export`` records it beside every exported input
(:mod:`suite.runner.conditions_export`), and a folder of predictions is scored only when the
fingerprint in its record equals the fingerprint of the inputs the run gives every other method
(:class:`suite.runner.methods.PredictionsMethod`).
"""

from __future__ import annotations

import hashlib

import numpy as np

from suite.case import Case

__all__ = ["input_fingerprint"]


def input_fingerprint(case: Case) -> str:
    """SHA-256 of what a method sees: the k-space (complex64, C order) and the sampled lines
    (the mask broadcast to the k-space and reduced over coils, bit-packed). Signed zeros are
    folded (``-0.0`` and ``0.0`` are the same input).

    Two Cases with the same fingerprint present identical inputs, whatever the shape in which
    a reader stores their mask.
    """
    k = np.ascontiguousarray(case.kspace, dtype=np.complex64) + np.complex64(0)  # -0 → +0
    sampled = np.broadcast_to(case.mask, k.shape).any(axis=2)
    h = hashlib.sha256()
    h.update(str(k.shape).encode())
    h.update(k.tobytes())
    h.update(np.packbits(sampled).tobytes())
    return h.hexdigest()

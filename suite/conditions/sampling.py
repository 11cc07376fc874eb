"""Acquisition conditions: fully sampled, as acquired, undersampled, added noise.

Rules (the same for every method of a run):

``fully-sampled``
    the Case unchanged.
``as-acquired``
    the Case unchanged with its own mask (e.g. a CMRxRecon undersampled file); ``info`` gives
    its effective acceleration (k-space size / sampled samples) and the nominal one the reader
    recorded in ``meta.extra["acceleration"]``.
``virtual_coils: n`` (``fully-sampled``, ``undersample``, ``noise``)
    first of all, the k-space of each slice is compressed to ``n`` virtual coils
    (:func:`suite.mr.compress_coils`, matrices from the slice's fully sampled k-space), so a
    single-coil method (``n = 1``) sees a single-coil acquisition; the scoring reference is the
    RSS of the compressed fully sampled k-space (:meth:`Condition.reference_case`) and the
    user-supplied coil maps are dropped (they describe the physical coils).
``noise``
    complex Gaussian noise with σ = ``relative_sigma`` × RMS of the acquired k-space samples
    added to the acquired samples (real and imaginary parts each with that σ).
``repeats: N`` (``noise``, ``undersample``)
    the protocol entry stands for N repeats ``<name>#1`` … ``<name>#N`` whose draws differ by
    the seeding rule (:mod:`suite.conditions.repeats`); ``info`` holds ``repeat_index``.
``undersample``
    the mask of the named pattern (:func:`suite.mr.make_mask`, drawn from ``rng`` first) is
    intersected with the acquired mask and applied to k-space, after the optional noise (drawn
    second, same rule as ``noise``: an undersample condition with ``relative_sigma`` is an SNR
    shift at that acceleration). Drawing the mask first means adding noise to a condition does
    not change its mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from suite.case import Case
from suite.conditions.base import Condition
from suite.metrics.contract import NONE, MetricSpec, register_metric

__all__ = ["FullySampled", "AsAcquired", "Undersample", "Noise", "CONDITION_METRICS"]

#: What a condition's ``info`` holds, stored as rows of stage ``condition``.
CONDITION_METRICS = (
    register_metric(MetricSpec("effective_acceleration", "1", NONE,
                               "k-space samples / acquired samples (1 / sampled fraction)",
                               "condition")),
    register_metric(MetricSpec("nominal_acceleration", "1", NONE,
                               "the acceleration R the condition (or the file) names",
                               "condition")),
    register_metric(MetricSpec("added_noise_sigma", "a.u.", NONE,
                               "SD of the real and of the imaginary part of the added noise, "
                               "k-space units", "condition")),
    register_metric(MetricSpec("virtual_coils", "1", NONE,
                               "virtual coils the k-space was compressed to (SVD)",
                               "condition")),
    register_metric(MetricSpec("repeat_index", "1", NONE,
                               "index (1-based) of the draw of a repeated condition "
                               "(`repeats: N`, suite.conditions.repeats)", "condition")),
)


class _Compressing(Condition):
    """The optional ``virtual_coils`` step shared by the acquisition conditions."""

    def __init__(self, name: str, virtual_coils: int | None = None):
        super().__init__(name)
        self.virtual_coils = None if virtual_coils is None else int(virtual_coils)

    def reference_case(self, case: Case) -> Case:
        return self._compress(case)[0]

    def reference_key(self) -> dict | None:
        return {"virtual_coils": self.virtual_coils} if self.virtual_coils else None

    def _compress(self, case: Case) -> tuple[Case, dict[str, Any]]:
        if not self.virtual_coils or case.kspace is None:
            return case, {}
        from suite.mr import compress_coils

        full = np.broadcast_to(case.mask, case.kspace.shape).all()
        if not full:
            raise ValueError(f"condition {self.name!r}: `virtual_coils` needs the fully sampled "
                             f"k-space of case {case.case_id!r} to estimate the compression "
                             "(its data are undersampled)")
        k, _ = compress_coils(case.kspace, self.virtual_coils)
        mask = np.ones((1, 1, 1, k.shape[-2], 1), bool)
        return case.replace(kspace=k, mask=mask, coil_maps=None), \
            {"virtual_coils": float(self.virtual_coils)}

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.virtual_coils is not None:
            out["virtual_coils"] = self.virtual_coils
        return out


class FullySampled(_Compressing):
    """The Case as read (the reference condition), optionally compressed to virtual coils."""

    type = "fully-sampled"

    def apply(self, case: Case, rng: np.random.Generator) -> tuple[Case, dict[str, Any]]:
        return self._compress(case)


class AsAcquired(Condition):
    """The Case as read, with its own (possibly undersampled) mask."""

    type = "as-acquired"

    def apply(self, case: Case, rng: np.random.Generator) -> tuple[Case, dict[str, Any]]:
        if case.kspace is None:
            return case, {}
        sampled = int(np.broadcast_to(case.mask, case.kspace.shape).sum())
        info: dict[str, Any] = {"effective_acceleration": float(case.kspace.size / max(sampled, 1))}
        nominal = (case.meta.extra or {}).get("acceleration")  # e.g. CMRxRecon's R
        if nominal:
            info["nominal_acceleration"] = float(nominal)
        return case, info


def _add_noise(case: Case, relative_sigma: float, rng: np.random.Generator):
    full = np.broadcast_to(case.mask, case.kspace.shape)
    rms = float(np.sqrt(np.mean(np.abs(case.kspace[full]) ** 2)))
    sigma = relative_sigma * rms
    noise = rng.standard_normal(case.kspace.shape) + 1j * rng.standard_normal(case.kspace.shape)
    noisy = case.kspace + (sigma * noise * full).astype(np.complex64)
    return case.replace(kspace=noisy.astype(np.complex64)), sigma


class Noise(_Compressing):
    """Complex Gaussian noise, σ relative to the RMS of the acquired k-space."""

    type = "noise"
    needs_kspace = True

    def __init__(self, name: str, relative_sigma: float, virtual_coils: int | None = None):
        super().__init__(name, virtual_coils)
        self.relative_sigma = float(relative_sigma)

    def apply(self, case: Case, rng: np.random.Generator) -> tuple[Case, dict[str, Any]]:
        if case.kspace is None:
            return case, {}
        case, info = self._compress(case)
        info = {**info, **self.repeat_info()}
        if not self.relative_sigma:
            return case, info
        noisy, sigma = _add_noise(case, self.relative_sigma, rng)
        return noisy, {**info, "added_noise_sigma": sigma}

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "relative_sigma": self.relative_sigma}


class Undersample(_Compressing):
    """A sampling pattern at a nominal acceleration, optionally with added noise."""

    type = "undersample"
    needs_kspace = True

    def __init__(self, name: str, pattern: str, acceleration: float, acs_lines: int = 24,
                 relative_sigma: float | None = None, virtual_coils: int | None = None):
        super().__init__(name, virtual_coils)
        self.pattern = pattern
        self.acceleration = acceleration
        self.acs_lines = int(acs_lines)
        self.relative_sigma = relative_sigma

    def apply(self, case: Case, rng: np.random.Generator) -> tuple[Case, dict[str, Any]]:
        from suite.mr import make_mask

        if case.kspace is None:
            return case, {}
        case, compressed = self._compress(case)
        sampling = make_mask(self.pattern, case.kspace.shape, self.acceleration,
                             acs_lines=self.acs_lines, rng=rng)
        mask = np.broadcast_to(sampling.mask, np.broadcast_shapes(sampling.mask.shape,
                                                                   case.mask.shape))
        mask = np.ascontiguousarray((mask & case.mask) if case.mask is not None else mask)
        info: dict[str, Any] = {
            "effective_acceleration": float(np.prod(case.kspace.shape)
                                            / np.broadcast_to(mask, case.kspace.shape).sum()),
            "nominal_acceleration": float(self.acceleration), **compressed,
            **self.repeat_info()}
        if self.relative_sigma:
            case, info["added_noise_sigma"] = _add_noise(case, self.relative_sigma, rng)
        return case.replace(kspace=(case.kspace * mask).astype(np.complex64), mask=mask), info

    def to_dict(self) -> dict[str, Any]:
        out = {**super().to_dict(), "pattern": self.pattern, "acceleration": self.acceleration,
               "acs_lines": self.acs_lines}
        if self.relative_sigma is not None:
            out["relative_sigma"] = self.relative_sigma
        return out

"""The images a reconstruction is scored against, and the recon stage's pseudo-methods.

The scoring reference of a k-space Case is the root-sum-of-squares of its fully sampled
k-space (DESIGN conventions; fastMRI scores against ``reconstruction_rss`` the same way), or,
for undersampled files paired with a fully sampled one (CMRxRecon ``FullSample``), the
magnitude of ``case.reference`` that the reader filled from it.
"""

from __future__ import annotations

import numpy as np

from suite.case import Case

__all__ = ["reference_magnitude", "image_profiles", "ReferenceImages", "CaseImages",
           "PSEUDO_METHODS"]


def reference_magnitude(case: Case) -> np.ndarray | None:
    """The magnitude reconstructions are scored against, ``(slice, frame, y, x)`` float64.

    The RSS of the k-space when it is fully sampled; otherwise (and for image-only cases) the
    magnitude of ``case.reference`` when the reader supplied one; else ``None`` (no reference:
    no image metrics).

    The result is read-only and remembered for the last :data:`REFERENCES_KEPT` inputs (the
    same k-space, mask and reference arrays: a worker keeps the cases it read, and a job asks
    for the reference when it scores and again when it stores it), so a case's reference is
    computed once per worker process, not twice per job.
    """
    key = (case.kspace, case.mask, case.reference)
    for i, (k, ref) in enumerate(_REFERENCES):
        if all(a is b for a, b in zip(k, key)):
            _REFERENCES.append(_REFERENCES.pop(i))
            return ref
    ref = _reference_magnitude(case)
    if ref is not None:
        ref.setflags(write=False)
    _REFERENCES.append((key, ref))
    del _REFERENCES[:-REFERENCES_KEPT]
    return ref


#: References :func:`reference_magnitude` remembers (with the arrays they were computed from).
REFERENCES_KEPT = 2
_REFERENCES: list = []


def _reference_magnitude(case: Case) -> np.ndarray | None:
    from suite.mr import ifft2c, rss

    if case.kspace is None or not np.broadcast_to(case.mask, case.kspace.shape).all():
        return None if case.reference is None else np.abs(case.reference).astype(np.float64)
    return np.array(rss(ifft2c(case.kspace), dim=2), dtype=np.float64)


def image_profiles(settings) -> list[str]:
    """The protocol's image-quality profiles (``metrics.image.profiles``, default fastmri; the
    first is the headline profile of robustness experiments)."""
    return list((settings.get("image") or {}).get("profiles") or ["fastmri"])


class _PseudoMethod:
    """A recon-stage method that does no reconstruction (``pseudo = True``)."""

    version = "1"
    stage = "recon"
    pseudo = True

    def params(self) -> dict:
        return {}


class ReferenceImages(_PseudoMethod):
    """Pseudo-method ``reference``: the scoring reference of a fully sampled condition (the RSS
    of the fully sampled k-space), so that later stages run on the reference images too."""

    name = "reference"
    version = "2"  # 2: the centred FFT by sign modulation (same values up to rounding)

    def __call__(self, case: Case) -> np.ndarray:
        from suite.mr import ifft2c, rss

        ref = reference_magnitude(case)
        return ref if ref is not None else rss(ifft2c(case.kspace), dim=2)


class CaseImages(_PseudoMethod):
    """Pseudo-method ``images``: the magnitude images of an image-only Case (ACDC, DICOM)."""

    name = "images"

    def __call__(self, case: Case) -> np.ndarray:
        return np.abs(case.reference).astype(np.float32)


#: The recon stage's pseudo-methods by name.
PSEUDO_METHODS = {ReferenceImages.name: ReferenceImages, CaseImages.name: CaseImages}

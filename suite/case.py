"""The Case: one subject's one series, the only object stages exchange with the harness.

Array layouts (DESIGN.md, "Core objects"); all arrays are numpy arrays:

============  ===========  ==================================  =====================================
field         dtype        shape                               notes
============  ===========  ==================================  =====================================
kspace        complex64    (slice, frame, coil, ky, kx)        centred k-space, orthonormal FFT
mask          bool         (slice|1, frame|1, coil|1, ky, kx|1) broadcasts to ``kspace``
reference     complex64    (slice, frame, y, x)                or float32 for magnitude-only data
labels        uint8        (slice, frame, y, x)                ACDC: 0 bg, 1 RV, 2 MYO, 3 LV
coil_maps     complex64    (slice, coil, y, x)                 only maps a user would have
============  ===========  ==================================  =====================================

``y, x`` of images equal ``ky, kx`` of k-space when both are present (the image grid is the
k-space grid under the centred orthonormal FFT of :mod:`suite.mr.fft`).

``truth`` holds what a real scan would not give (phantom: analytic volumes, EF, mass, true coil
maps); a method must never read it. ``meta`` is a :class:`CaseMeta`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from suite._validation import check_finite

__all__ = ["Case", "CaseMeta", "LABELS_ACDC", "STRATA_COLUMNS"]

#: ACDC label convention used everywhere in the suite (DESIGN.md, Conventions).
LABELS_ACDC: Mapping[str, int] = {"background": 0, "rv": 1, "myo": 2, "lv": 3}

#: The strata a case is counted in and results are split by: the :class:`CaseMeta` fields
#: ``vendor``, ``field_strength_t`` (T) and ``site``, and the ``CaseMeta.strata`` keys
#: ``pathology`` and ``preset`` (columns of a run's ``cases`` table).
STRATA_COLUMNS = ("vendor", "field_strength_t", "site", "pathology", "preset")


@dataclass(frozen=True)
class CaseMeta:
    """Acquisition and subject metadata of a Case. Units: mm, ms, T, beats/min.

    Every field is optional because datasets differ in what they record; a reader fills what
    its format holds and leaves the rest ``None``. ``extra`` carries format-specific keys
    (e.g. TR/TE/flip angle, OCMR attributes) and ``audit_flags`` the data-crime audit results.

    A CaseMeta is immutable: assigning a field raises ``dataclasses.FrozenInstanceError``.
    Build the final values first and construct it once, or derive a changed copy with
    :meth:`replace`. The dict fields (``timings_ms``, ``strata``, ``audit_flags``, ``extra``)
    stay plain dicts so that :meth:`to_dict` and ``dataclasses.asdict`` serialise them, but no
    code may write into them after construction: pass a new dict to :meth:`replace` instead
    (e.g. ``meta.replace(extra={**meta.extra, "key": value})``).

    Examples
    --------
    >>> m = CaseMeta(subject="s1", extra={"tr_ms": 3.0})
    >>> m2 = m.replace(dataset="demo", extra={**m.extra, "te_ms": 1.5})
    >>> m.dataset, m2.dataset, sorted(m.extra), sorted(m2.extra)
    ('unknown', 'demo', ['tr_ms'], ['te_ms', 'tr_ms'])
    """

    subject: str = "unknown"
    dataset: str = "unknown"
    series: str = "cine_sax"
    vendor: str | None = None
    field_strength_t: float | None = None
    site: str | None = None
    sequence: str | None = None
    pixel_spacing_mm: tuple[float, float] | None = None  # (dy, dx)
    slice_thickness_mm: float | None = None
    slice_spacing_mm: float | None = None
    temporal_resolution_ms: float | None = None
    heart_rate_bpm: float | None = None
    ed_frame: int | None = None
    es_frame: int | None = None
    annotated_frames: tuple[int, ...] | None = None
    # e.g. {"TI": [...]} per frame, or one list per slice (MOLLI inversion times differ by slice)
    timings_ms: dict[str, list] = field(default_factory=dict)
    strata: dict[str, Any] = field(default_factory=dict)
    source_file: str | None = None
    source_sha256: str | None = None
    audit_flags: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def replace(self, **changes: Any) -> "CaseMeta":
        """A new CaseMeta with some fields changed (``dataclasses.replace``; unchanged dict
        fields are shared with this one, so pass a new dict to change their contents)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary of all fields."""
        out = dataclasses.asdict(self)
        for key in ("pixel_spacing_mm", "annotated_frames"):
            if out[key] is not None:
                out[key] = list(out[key])
        return out

    @property
    def voxel_volume_ml(self) -> float:
        """Voxel volume in mL: in-plane spacing² × slice spacing (mm³ / 1000).

        Raises ``ValueError`` when the spacing needed is unknown.
        """
        if self.pixel_spacing_mm is None:
            raise ValueError(f"case {self.subject!r}: pixel_spacing_mm is unknown")
        dz = self.slice_spacing_mm if self.slice_spacing_mm is not None else self.slice_thickness_mm
        if dz is None:
            raise ValueError(f"case {self.subject!r}: slice spacing and thickness are unknown")
        return float(self.pixel_spacing_mm[0] * self.pixel_spacing_mm[1] * dz / 1000.0)


def _err(case_id: str, field_name: str, problem: str) -> ValueError:
    return ValueError(f"Case {case_id!r}: field `{field_name}` {problem}")


@dataclass(eq=False, frozen=True)
class Case:
    """One subject's one series. See the module docstring for layouts.

    Construction validates dtypes, ranks, mutual shape consistency and finiteness and raises a
    ``ValueError`` naming the field and the problem. Arrays are not copied.

    A Case is frozen: assigning a field raises ``dataclasses.FrozenInstanceError``; derive a
    changed Case with :meth:`replace` (validated again) and a changed meta with
    :meth:`CaseMeta.replace`. Code of the suite never writes into a Case's arrays or dicts.

    Examples
    --------
    >>> import numpy as np
    >>> k = np.zeros((1, 2, 4, 8, 8), np.complex64)
    >>> c = Case(kspace=k, mask=np.ones((1, 1, 1, 8, 1), bool))
    >>> c.n_slices, c.n_frames, c.n_coils, c.matrix
    (1, 2, 4, (8, 8))
    """

    kspace: np.ndarray | None = None
    mask: np.ndarray | None = None
    reference: np.ndarray | None = None
    labels: np.ndarray | None = None
    coil_maps: np.ndarray | None = None
    truth: dict[str, Any] | None = None
    meta: CaseMeta = field(default_factory=CaseMeta)

    def __post_init__(self) -> None:
        if isinstance(self.meta, Mapping):
            object.__setattr__(self, "meta", CaseMeta(**self.meta))
        self.validate()

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Check every field; raise ``ValueError`` naming the first bad field."""
        cid = self.meta.subject
        if self.kspace is None and self.reference is None and self.labels is None:
            raise ValueError(
                f"Case {cid!r}: needs at least one of `kspace`, `reference` or `labels`"
            )
        if self.kspace is not None:
            k = self.kspace
            if not isinstance(k, np.ndarray) or k.dtype != np.complex64:
                raise _err(cid, "kspace", f"must be a complex64 numpy array; got {_describe(k)}")
            if k.ndim != 5:
                raise _err(
                    cid, "kspace",
                    f"must have 5 axes (slice, frame, coil, ky, kx); got shape {k.shape}",
                )
            _finite(k, cid, "kspace")
            if self.mask is None:
                raise _err(cid, "mask", "is required with `kspace` (all-True for fully sampled)")
        if self.mask is not None:
            m = self.mask
            if not isinstance(m, np.ndarray) or m.dtype != np.bool_:
                raise _err(cid, "mask", f"must be a bool numpy array; got {_describe(m)}")
            if self.kspace is None:
                raise _err(cid, "mask", "is given without `kspace`")
            if m.ndim != 5 or any(
                ms not in (1, ks) for ms, ks in zip(m.shape, self.kspace.shape)
            ):
                raise _err(
                    cid, "mask",
                    f"shape {m.shape} does not broadcast to kspace {self.kspace.shape} "
                    "(each axis must equal k-space's or be 1)",
                )
        if self.reference is not None:
            r = self.reference
            if not isinstance(r, np.ndarray) or r.dtype not in (np.complex64, np.float32):
                raise _err(
                    cid, "reference", f"must be a complex64 or float32 array; got {_describe(r)}"
                )
            if r.ndim != 4:
                raise _err(
                    cid, "reference", f"must have 4 axes (slice, frame, y, x); got shape {r.shape}"
                )
            _finite(r, cid, "reference")
            if self.kspace is not None:
                s, f, _, ky, kx = self.kspace.shape
                if r.shape != (s, f, ky, kx):
                    raise _err(
                        cid, "reference",
                        f"shape {r.shape} does not match kspace (slice, frame, ky, kx) = "
                        f"{(s, f, ky, kx)}",
                    )
        if self.labels is not None:
            lab = self.labels
            if not isinstance(lab, np.ndarray) or lab.dtype != np.uint8:
                raise _err(cid, "labels", f"must be a uint8 array; got {_describe(lab)}")
            if lab.ndim != 4:
                raise _err(
                    cid, "labels", f"must have 4 axes (slice, frame, y, x); got shape {lab.shape}"
                )
            expected = self.image_shape
            if expected is not None and lab.shape != expected:
                raise _err(
                    cid, "labels",
                    f"shape {lab.shape} does not match the images (slice, frame, y, x) = {expected}",
                )
            top = int(lab.max()) if lab.size else 0
            if top > 3:
                raise _err(
                    cid, "labels",
                    f"holds value {top}; the ACDC convention allows 0 bg, 1 RV, 2 MYO, 3 LV "
                    "(readers must map other conventions)",
                )
        if self.coil_maps is not None:
            c = self.coil_maps
            if not isinstance(c, np.ndarray) or c.dtype != np.complex64:
                raise _err(cid, "coil_maps", f"must be a complex64 array; got {_describe(c)}")
            if c.ndim != 4:
                raise _err(
                    cid, "coil_maps", f"must have 4 axes (slice, coil, y, x); got shape {c.shape}"
                )
            _finite(c, cid, "coil_maps")
            if self.kspace is not None:
                s, _, nc, ky, kx = self.kspace.shape
                if c.shape != (s, nc, ky, kx):
                    raise _err(
                        cid, "coil_maps",
                        f"shape {c.shape} does not match kspace (slice, coil, ky, kx) = "
                        f"{(s, nc, ky, kx)}",
                    )
        af = self.meta.annotated_frames
        if af is not None and self.labels is not None:
            bad = [f for f in af if not 0 <= f < self.labels.shape[1]]
            if bad:
                raise _err(cid, "meta.annotated_frames", f"lists frames {bad} outside the labels")

    # ------------------------------------------------------------------ shape helpers
    @property
    def image_shape(self) -> tuple[int, int, int, int] | None:
        """(slice, frame, y, x) of the images this Case describes, or None if unknown."""
        if self.kspace is not None:
            s, f, _, ky, kx = self.kspace.shape
            return (s, f, ky, kx)
        if self.reference is not None:
            return tuple(self.reference.shape)  # type: ignore[return-value]
        if self.labels is not None:
            return tuple(self.labels.shape)  # type: ignore[return-value]
        return None

    @property
    def n_slices(self) -> int:
        return self.image_shape[0]  # type: ignore[index]

    @property
    def n_frames(self) -> int:
        return self.image_shape[1]  # type: ignore[index]

    @property
    def n_coils(self) -> int | None:
        return None if self.kspace is None else int(self.kspace.shape[2])

    @property
    def matrix(self) -> tuple[int, int]:
        """(ny, nx) image matrix."""
        shp = self.image_shape
        return (shp[2], shp[3])  # type: ignore[index]

    @property
    def case_id(self) -> str:
        """A stable identifier: ``dataset/subject/series``."""
        return f"{self.meta.dataset}/{self.meta.subject}/{self.meta.series}"

    @property
    def sampled_fraction(self) -> float | None:
        """Fraction of k-space samples acquired (1 / effective acceleration)."""
        if self.mask is None or self.kspace is None:
            return None
        full = np.broadcast_to(self.mask, self.kspace.shape)
        return float(full.mean())

    # ------------------------------------------------------------------ derived cases
    def replace(self, **changes: Any) -> "Case":
        """A new validated Case with some fields changed (arrays are shared, not copied)."""
        return dataclasses.replace(self, **changes)

    def slice_case(self, index: int) -> "Case":
        """The Case restricted to slice ``index`` (all arrays keep their slice axis, size 1)."""
        n = self.n_slices
        if not 0 <= index < n:
            raise IndexError(f"Case {self.meta.subject!r}: slice {index} outside 0..{n - 1}")
        sel = slice(index, index + 1)

        def take(a):
            if a is None:
                return None
            return a[sel] if a.shape[0] != 1 or n == 1 else a

        meta = self.meta.replace(extra={**self.meta.extra, "slice_index": index})
        return Case(
            kspace=take(self.kspace),
            mask=take(self.mask),
            reference=take(self.reference),
            labels=take(self.labels),
            coil_maps=take(self.coil_maps),
            truth=self.truth,
            meta=meta,
        )

    def split_slices(self) -> list["Case"]:
        """One Case per slice, for parallel jobs (DESIGN.md, Scale)."""
        return [self.slice_case(i) for i in range(self.n_slices)]

    def summary(self) -> str:
        """A one-paragraph human-readable description."""
        parts = [f"Case {self.case_id}"]
        shp = self.image_shape
        parts.append(f"slices={shp[0]} frames={shp[1]} matrix={shp[2]}x{shp[3]}")
        if self.kspace is not None:
            parts.append(f"coils={self.n_coils} sampled={self.sampled_fraction:.3f}")
        for name in ("reference", "labels", "coil_maps", "truth"):
            if getattr(self, name) is not None:
                parts.append(f"+{name}")
        if self.meta.field_strength_t is not None:
            parts.append(f"{self.meta.field_strength_t} T")
        if self.meta.vendor:
            parts.append(f"vendor={self.meta.vendor}")
        return " ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description: shapes and dtypes of arrays, and the meta (no array data)."""
        arrays = {}
        for name in ("kspace", "mask", "reference", "labels", "coil_maps"):
            a = getattr(self, name)
            arrays[name] = None if a is None else {"shape": list(a.shape), "dtype": str(a.dtype)}
        return {"case_id": self.case_id, "arrays": arrays, "meta": self.meta.to_dict(),
                "has_truth": self.truth is not None}


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"ndarray dtype {x.dtype} shape {x.shape}"
    return type(x).__name__


def _finite(x: np.ndarray, cid: str, name: str) -> None:
    try:
        check_finite(x, name=name, where=f"Case {cid!r}")
    except ValueError as exc:
        raise _err(cid, name, str(exc).split(f"`{name}` ", 1)[-1]) from None

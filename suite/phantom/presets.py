"""Vendor/site acquisition presets of the phantom (domain-shift studies).

A preset fixes what the scanner and protocol decide: field strength, receive coils, SNR,
matrix and resolution, slice geometry, number of frames and the bSSFP timing. The subject's
anatomy does not depend on the preset, so one seed scanned with two presets is the same heart
seen by two "scanners". Values are plausible for each vendor's standard cine protocol, not
vendor specifications (table in ``docs/phantom.md``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

from suite._validation import check_option

__all__ = ["Preset", "PRESETS", "VENDOR_PRESETS", "get_preset"]


@dataclass(frozen=True)
class Preset:
    """Acquisition parameters of one vendor/site protocol.

    Attributes
    ----------
    name, vendor, site : str
    field_strength_t : float
        1.5 or 3.0 T (selects the tissue table).
    n_coils : int
        Receive coils.
    matrix : tuple of int
        Acquired ``(ny, nx)`` = ``(ky, kx)``; ky is the phase-encode axis.
    pixel_spacing_mm : float
        Square in-plane pixel, mm; FOV = matrix × pixel spacing.
    slice_thickness_mm, slice_spacing_mm : float
        Slab thickness and centre-to-centre distance, mm (spacing > thickness = gap).
    n_frames : int
        Cardiac phases over one RR interval (retrospective gating, evenly spaced).
    tr_ms, te_ms, flip_angle_deg : float
        bSSFP timing.
    snr : float or None
        Target myocardial SNR (definition in :mod:`suite.phantom.noise`); None = no noise.
    oversample : int
        Simulation-grid refinement factor (odd), see :mod:`suite.phantom.render`.
    n_sub_planes : int
        Through-plane samples per slab (slice-profile integration).
    """

    name: str
    vendor: str
    site: str
    field_strength_t: float
    n_coils: int
    matrix: tuple[int, int]
    pixel_spacing_mm: float
    slice_thickness_mm: float
    slice_spacing_mm: float
    n_frames: int
    tr_ms: float
    te_ms: float
    flip_angle_deg: float
    snr: float | None
    oversample: int = 3
    n_sub_planes: int = 4

    @property
    def fov_mm(self) -> tuple[float, float]:
        """Field of view ``(y, x)`` in mm."""
        return (self.matrix[0] * self.pixel_spacing_mm, self.matrix[1] * self.pixel_spacing_mm)

    def replace(self, **changes) -> "Preset":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


PRESETS: Mapping[str, Preset] = {
    p.name: p
    for p in (
        Preset("siemens-1.5t", "Siemens", "site-A", 1.5, 12, (160, 200), 1.8, 8.0, 10.0, 25,
               3.0, 1.5, 60.0, 20.0),
        Preset("siemens-3t", "Siemens", "site-B", 3.0, 16, (168, 208), 1.7, 8.0, 10.0, 25,
               2.9, 1.45, 45.0, 28.0),
        Preset("philips-3t", "Philips", "site-C", 3.0, 16, (180, 224), 1.6, 8.0, 8.0, 30,
               2.8, 1.4, 45.0, 25.0),
        Preset("ge-1.5t", "GE", "site-D", 1.5, 8, (144, 180), 2.0, 8.0, 10.0, 20,
               3.4, 1.7, 55.0, 16.0),
        Preset("tiny", "Siemens", "site-T", 1.5, 4, (60, 72), 5.0, 10.0, 15.0, 8,
               3.0, 1.5, 60.0, 20.0),
    )
}

#: The presets drawn by :func:`suite.phantom.cohort` when none is named (``tiny`` is for tests).
VENDOR_PRESETS: tuple[str, ...] = ("siemens-1.5t", "philips-3t", "ge-1.5t", "siemens-3t")


def get_preset(name: str) -> Preset:
    """The preset called ``name`` (one of :data:`PRESETS`); ValueError with a suggestion."""
    check_option(name, PRESETS, name="preset", where="suite.phantom")
    return PRESETS[name]

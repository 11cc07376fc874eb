"""``simulate_mapping``: one phantom subject's mapping series (native and post-contrast)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from suite.phantom.mapping.acquire import (
    SEQUENCES, Imperfections, MappingSeries, acquire_series, truth_maps,
)
from suite.phantom.mapping.anatomy import MappingAnatomy, mapping_anatomy
from suite.phantom.mapping.relaxation import (
    MAPPING_PATHOLOGIES, ContrastModel, RelaxationMaps, relaxation_maps,
)
from suite.phantom.mapping.rr import rr_series

__all__ = ["MappingSubject", "simulate_mapping"]

_N_BEATS = 40        # RR intervals drawn per series (enough for every sequence with skips)


@dataclass(frozen=True, eq=False)
class MappingSubject:
    """All series of one subject and their truth.

    Attributes
    ----------
    subject : str
    pathology : str
        A key of :data:`~suite.phantom.mapping.relaxation.MAPPING_PATHOLOGIES`.
    series : tuple of MappingSeries
    truth : dict of ndarray ``(ny, nx)``
        :func:`~suite.phantom.mapping.acquire.truth_maps` (regions, pd, t1/t2 native and post,
        ecv).
    relaxation : RelaxationMaps
        Per-region truth (the truth table).
    anatomy : MappingAnatomy
    """

    subject: str
    pathology: str
    series: tuple
    truth: dict
    relaxation: RelaxationMaps
    anatomy: MappingAnatomy

    def series_named(self, name: str) -> MappingSeries:
        for s in self.series:
            if s.name == name:
                return s
        raise KeyError(f"MappingSubject {self.subject!r}: no series {name!r}; have "
                       f"{[s.name for s in self.series]}")

    def truth_table(self) -> list[dict]:
        """Per-region truth rows with the region's pixel count on the reconstruction grid."""
        counts = np.bincount(self.truth["regions"].reshape(-1), minlength=len(self.relaxation.pd))
        return [{"subject": self.subject, "pathology": self.pathology,
                 "n_pixels": int(counts[i]), **row}
                for i, row in enumerate(self.relaxation.table())]


def _relabel(series: MappingSeries, suffix: str, strata: dict) -> MappingSeries:
    """``series`` named ``<name><suffix>`` with ``strata`` added to its Case's strata."""
    meta = series.case.meta
    name = series.name + suffix
    case = series.case.replace(meta=meta.replace(series=name,
                                                 strata={**meta.strata, **strata}))
    return dataclasses.replace(series, name=name, case=case)


def simulate_mapping(seed: int, pathology: str = "normal", *,
                     sequences=("molli-5(3)3", "t2prep-bssfp"), contrasts=("native", "post"),
                     heart_rate_bpm: float | None = None, hrv_sd_ms: float = 20.0,
                     arrhythmia: str = "none", imperfections: Imperfections = Imperfections(),
                     contrast_model: ContrastModel | None = None, snr: float | None = 50.0,
                     preset: str = "tiny", upsample: int = 2, slice_index: int = 3,
                     subject: str | None = None, field_strength_t: float | None = None,
                     anatomy: MappingAnatomy | None = None, series_suffix: str = "",
                     strata: dict | None = None) -> MappingSubject:
    """Simulate the mapping series of phantom subject ``seed``.

    Parameters
    ----------
    seed : int
        Subject seed (anatomy as :func:`suite.phantom.simulate`; RR series and noise derived
        from it with ``SeedSequence``).
    pathology : str
        ``"normal"``, ``"diffuse-fibrosis"``, ``"oedema"`` or ``"focal-scar"`` (the scar
        fills the cine phantom's infarct sector).
    sequences : tuple of str
        Keys of :data:`~suite.phantom.mapping.acquire.SEQUENCES`.
    contrasts : tuple of str
        ``"native"`` and/or ``"post"``.
    heart_rate_bpm : float, optional
        Mean heart rate of the RR series (default: the cine subject's).
    hrv_sd_ms, arrhythmia
        See :func:`~suite.phantom.mapping.rr.rr_series`; each series has its own RR draw.
    imperfections : Imperfections
    contrast_model : ContrastModel, optional
        Plasma concentration, haematocrit, relaxivities.
    snr : float or None
    preset, upsample, slice_index
        Anatomy (:func:`~suite.phantom.mapping.anatomy.mapping_anatomy`).
    subject : str, optional
        Default ``"mapping-seed<seed>"``.
    field_strength_t : float, optional
        1.5 or 3.0: the tissue table of the truth (default: the anatomy preset's).
    anatomy : MappingAnatomy, optional
        The subject's anatomy if already built (``mapping_anatomy(seed, ...)`` with this
        pathology's cine pathology, ``preset``, ``upsample``, ``slice_index``); built otherwise.
    series_suffix : str
        Appended to every series name (several acquisitions of one subject in one folder).
    strata : dict, optional
        Added to every series' ``meta.strata`` (e.g. the level of a swept shift factor,
        :mod:`suite.phantom.mapping.shift`).
    """
    if pathology not in MAPPING_PATHOLOGIES:
        raise ValueError(f"simulate_mapping: unknown pathology {pathology!r}; one of "
                         f"{sorted(MAPPING_PATHOLOGIES)}")
    for s in sequences:
        if s not in SEQUENCES:
            raise ValueError(f"simulate_mapping: unknown sequence {s!r}; one of {list(SEQUENCES)}")
    state, cine_pathology = MAPPING_PATHOLOGIES[pathology]
    if anatomy is None:
        anatomy = mapping_anatomy(seed, cine_pathology, preset=preset, upsample=upsample,
                                  slice_index=slice_index)
    b0 = anatomy.field_strength_t if field_strength_t is None else float(field_strength_t)
    relax = relaxation_maps(b0, state, contrast_model)
    sid = subject or f"mapping-seed{seed}"
    hr = anatomy.heart_rate_bpm if heart_rate_bpm is None else float(heart_rate_bpm)
    streams = np.random.SeedSequence([int(seed), 13]).spawn(2 * len(sequences) * len(contrasts))
    out, i = [], 0
    for seq in sequences:
        for contrast in contrasts:
            rr = rr_series(_N_BEATS, hr, np.random.default_rng(streams[i]), hrv_sd_ms=hrv_sd_ms,
                           arrhythmia=arrhythmia)
            series = acquire_series(anatomy, relax, seq, contrast, rr,
                                    np.random.default_rng(streams[i + 1]),
                                    imperfections=imperfections, snr=snr, subject=sid)
            if series_suffix or strata:
                series = _relabel(series, series_suffix, strata or {})
            out.append(series)
            i += 2
    return MappingSubject(sid, pathology, tuple(out), truth_maps(anatomy, relax), relax, anatomy)

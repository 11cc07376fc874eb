"""A mapping phantom cohort for a protocol dataset (``phantom: {kind: mapping, ...}``).

Layout written into the dataset folder (read back by :mod:`suite.data.mapping_cohort`)::

    <root>/mapping_cohort.csv        one row per series (columns MAPPING_COHORT_COLUMNS)
    <root>/<subject>/...             write_mapping_subject: <series>.h5 (ISMRMRD), truth maps
                                     (NIfTI), regions.nii.gz, truth.csv (one row per region)

Protocol entry (validated by :func:`validate_mapping_entry`)::

    phantom:
      kind: mapping
      subjects: int                  # subjects mapping-000, mapping-001, ... (seed + index)
      seed: int                      # default 0
      pathologies: [str]             # cycled; MAPPING_PATHOLOGIES (default normal)
      sequences: [str]               # SEQUENCES (default MOLLI 5(3)3, T2-prep); cardiac-mrf
                                     #   has timing tag "TI+TE" (it maps T1 and T2)
      contrasts: [native, post]      # default [native]
      snr: number | null             # myocardial SNR (default 50; null = noise-free)
      heart_rate_bpm: number         # default: each subject's own
      upsample: int                  # rendering grid factor (default 2; 1 is faster)
      preset: str                    # anatomy/acquisition preset (suite.phantom.PRESETS; default
                                     #   tiny: 5 mm pixels, a wall of two pixels; a clinical
                                     #   MOLLI resolution is e.g. siemens-1.5t, 1.8 mm)
      arrhythmia: none|ectopic|af    # default none
      b1_scale: number               # default 1
      inversion_efficiency: number   # default 1
      field_strength_t: 1.5 | 3.0    # default: the anatomy preset's
      sweep: {factor: [levels]}      # shift factors, one at a time, recorded as case strata
                                     #   (suite.phantom.mapping.shift)
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from suite._atomic import atomic_write_text
from suite.phantom.mapping.acquire import SEQUENCES
from suite.phantom.presets import PRESETS
from suite.phantom.mapping.relaxation import MAPPING_PATHOLOGIES
from suite.phantom.mapping.shift import sweep_points, validate_sweep

__all__ = ["MAPPING_COHORT_COLUMNS", "MAPPING_ENTRY_KEYS", "COHORT_SEQUENCES",
           "validate_mapping_entry", "write_mapping_cohort", "write_mapping_cohort_subject",
           "mapping_strata"]

#: Columns of ``mapping_cohort.csv`` (``timing``: the timing key of the series, TI/TS/TE, or
#: the keys joined by ``+`` for a series with several, ``TI+TE`` for cardiac MRF).
MAPPING_COHORT_COLUMNS = ("subject", "pathology", "series", "sequence", "contrast", "timing")
#: Keys of a ``phantom: {kind: mapping}`` entry.
MAPPING_ENTRY_KEYS = ("kind", "subjects", "seed", "pathologies", "sequences", "contrasts", "snr",
                      "heart_rate_bpm", "upsample", "preset", "arrhythmia", "b1_scale",
                      "inversion_efficiency", "field_strength_t", "sweep")
#: Sequences a cohort can hold (all of them; the MRF series as 45 images of consecutive
#: repetitions).
COHORT_SEQUENCES = tuple(SEQUENCES)
_DEFAULT_SEQUENCES = ("molli-5(3)3", "t2prep-bssfp")


def validate_mapping_entry(v, ph: Mapping, key: str) -> None:
    """Check a ``phantom: {kind: mapping}`` entry (module docstring) with the protocol's
    validator ``v``."""
    v.unknown_keys(ph, set(MAPPING_ENTRY_KEYS), key)
    v.integer(ph, "subjects", minimum=1, required=True, prefix=key)
    v.integer(ph, "seed", minimum=0, prefix=key)
    v.integer(ph, "upsample", minimum=1, prefix=key)
    v.option(ph, "preset", PRESETS, prefix=key)
    validate_sweep(v, ph, key)  # heart rate, SNR and the other shift factors
    for name, options in (("pathologies", MAPPING_PATHOLOGIES), ("sequences", COHORT_SEQUENCES),
                          ("contrasts", ("native", "post"))):
        v.list_of_strings(ph, name, options=options, non_empty=True, prefix=key)


def mapping_strata(ph: Mapping) -> tuple[str, ...]:
    """Strata keys the cohort's cases record beyond the store's fixed columns: ``sequence``,
    ``contrast`` and the swept shift factors (:func:`~suite.phantom.mapping.shift.sweep_strata`)."""
    from suite.phantom.mapping.shift import sweep_strata

    return ("sequence", "contrast", *sweep_strata(ph))


def write_mapping_cohort(ph: Mapping[str, Any], out: Path, *, map=map) -> None:
    """Simulate and write the cohort of a ``phantom: {kind: mapping}`` entry into ``out``.

    ``map(fn, items)`` simulates and writes the subjects (default: one after the other; the
    runner passes its executor's, so they are simulated side by side). Each subject depends
    only on its own seed and the entry, so the files are the same either way."""
    jobs = [(dict(ph), i, str(out)) for i in range(int(ph["subjects"]))]
    rows = [row for subject_rows in map(write_mapping_cohort_subject, jobs)
            for row in subject_rows]
    text = io.StringIO(newline="")
    w = csv.DictWriter(text, fieldnames=list(MAPPING_COHORT_COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(Path(out) / "mapping_cohort.csv", text.getvalue())


def write_mapping_cohort_subject(job: tuple) -> list[dict]:
    """Simulate subject ``i`` of the mapping cohort of entry ``ph`` (``job = (ph, i, out)``) at
    every sweep point, write its series under ``out``, and return its rows of
    ``mapping_cohort.csv``."""
    from suite.phantom.mapping.acquire import Imperfections
    from suite.phantom.mapping.anatomy import mapping_anatomy
    from suite.phantom.mapping.relaxation import MAPPING_PATHOLOGIES as STATES
    from suite.phantom.mapping.subject import simulate_mapping
    from suite.phantom.mapping.writer import write_mapping_subject

    ph, i, out = job
    pathologies = list(ph.get("pathologies") or ["normal"])
    sequences = tuple(ph.get("sequences") or _DEFAULT_SEQUENCES)
    contrasts = tuple(ph.get("contrasts") or ["native"])
    upsample = int(ph.get("upsample", 2))
    preset = ph.get("preset", "tiny")
    points = sweep_points(ph)
    rows = []
    name = f"mapping-{i:03d}"
    seed = int(ph.get("seed", 0)) + i
    pathology = pathologies[i % len(pathologies)]
    anatomy = mapping_anatomy(seed, STATES[pathology][1], preset=preset, upsample=upsample)
    for k, point in enumerate(points):
        f = point.values
        subject = simulate_mapping(
            seed, pathology, sequences=sequences, contrasts=contrasts, snr=f["snr"],
            heart_rate_bpm=f["heart_rate_bpm"], arrhythmia=f["arrhythmia"],
            imperfections=Imperfections(b1_scale=float(f["b1_scale"]),
                                        inversion_efficiency=float(f["inversion_efficiency"])),
            field_strength_t=f["field_strength_t"], preset=preset, upsample=upsample,
            subject=name,
            anatomy=anatomy, series_suffix=point.suffix, strata=point.strata)
        if k == 0:
            nominal_truth = subject.truth
        same = all(np.array_equal(subject.truth[m], nominal_truth[m]) for m in nominal_truth)
        folder = name if same else name + point.suffix  # e.g. another field strength
        write_mapping_subject(Path(out) / folder, subject)
        for s in subject.series:
            if s.sequence not in COHORT_SEQUENCES:
                continue
            timing = "+".join(t for t in s.case.meta.timings_ms if t != "trigger")
            rows.append({"subject": folder, "pathology": pathology, "series": s.name,
                         "sequence": s.sequence, "contrast": s.contrast, "timing": timing})
    return rows

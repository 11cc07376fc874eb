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
      sequences: [str]               # SEQUENCES except cardiac-mrf (default MOLLI 5(3)3, T2-prep)
      contrasts: [native, post]      # default [native]
      snr: number | null             # myocardial SNR (default 50; null = noise-free)
      heart_rate_bpm: number         # default: each subject's own
      upsample: int                  # rendering grid factor (default 2; 1 is faster)
      preset: str                    # anatomy/acquisition preset (suite.phantom.PRESETS; default
                                     #   tiny: 5 mm pixels, a wall of two pixels; a clinical
                                     #   MOLLI resolution is e.g. siemens-1.5t, 1.8 mm)
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Mapping

from suite._atomic import atomic_write_text
from suite.phantom.mapping.acquire import SEQUENCES
from suite.phantom.presets import PRESETS
from suite.phantom.mapping.relaxation import MAPPING_PATHOLOGIES

__all__ = ["MAPPING_COHORT_COLUMNS", "MAPPING_ENTRY_KEYS", "COHORT_SEQUENCES",
           "validate_mapping_entry", "write_mapping_cohort",
           "write_mapping_cohort_subject"]

#: Columns of ``mapping_cohort.csv`` (``timing``: the timing key of the series, TI/TS/TE).
MAPPING_COHORT_COLUMNS = ("subject", "pathology", "series", "sequence", "contrast", "timing")
#: Keys of a ``phantom: {kind: mapping}`` entry.
MAPPING_ENTRY_KEYS = ("kind", "subjects", "seed", "pathologies", "sequences", "contrasts", "snr",
                      "heart_rate_bpm", "upsample", "preset")
#: Sequences a cohort can hold (the MRF series is not written as images).
COHORT_SEQUENCES = tuple(s for s in SEQUENCES if s != "cardiac-mrf")
_DEFAULT_SEQUENCES = ("molli-5(3)3", "t2prep-bssfp")


def validate_mapping_entry(v, ph: Mapping, key: str) -> None:
    """Check a ``phantom: {kind: mapping}`` entry (module docstring) with the protocol's
    validator ``v``."""
    v.unknown_keys(ph, set(MAPPING_ENTRY_KEYS), key)
    v.integer(ph, "subjects", minimum=1, required=True, prefix=key)
    v.integer(ph, "seed", minimum=0, prefix=key)
    v.integer(ph, "upsample", minimum=1, prefix=key)
    v.option(ph, "preset", PRESETS, prefix=key)
    v.number(ph, "heart_rate_bpm", minimum=20.0, maximum=250.0, prefix=key)
    if ph.get("snr") is not None:  # null: noise-free
        v.number(ph, "snr", positive=True, prefix=key)
    for name, options in (("pathologies", MAPPING_PATHOLOGIES), ("sequences", COHORT_SEQUENCES),
                          ("contrasts", ("native", "post"))):
        v.list_of_strings(ph, name, options=options, non_empty=True, prefix=key)


def write_mapping_cohort(ph: Mapping[str, Any], out: Path, *, map=map) -> None:
    """Simulate and write the cohort of a ``phantom: {kind: mapping}`` entry into ``out``.

    ``map(fn, items)`` simulates and writes the subjects (default: one after the other; the
    runner passes its executor's, so they are simulated side by side). Each subject depends
    only on its own seed and settings, so the files are the same either way."""
    pathologies = list(ph.get("pathologies") or ["normal"])
    sequences = tuple(ph.get("sequences") or _DEFAULT_SEQUENCES)
    contrasts = tuple(ph.get("contrasts") or ["native"])
    jobs = [dict(seed=int(ph.get("seed", 0)) + i, pathology=pathologies[i % len(pathologies)],
                 sequences=sequences, contrasts=contrasts, snr=ph.get("snr", 50.0),
                 heart_rate_bpm=ph.get("heart_rate_bpm"), upsample=int(ph.get("upsample", 2)),
                 preset=ph.get("preset", "tiny"), subject=f"mapping-{i:03d}",
                 folder=str(Path(out) / f"mapping-{i:03d}"))
            for i in range(int(ph["subjects"]))]
    rows = [row for subject_rows in map(write_mapping_cohort_subject, jobs)
            for row in subject_rows]
    text = io.StringIO(newline="")
    w = csv.DictWriter(text, fieldnames=list(MAPPING_COHORT_COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(Path(out) / "mapping_cohort.csv", text.getvalue())


def write_mapping_cohort_subject(job: Mapping[str, Any]) -> list[dict]:
    """Simulate one subject of a mapping cohort (``job``: the arguments of
    :func:`~suite.phantom.mapping.subject.simulate_mapping` and its ``folder``), write it, and
    return its rows of ``mapping_cohort.csv``."""
    from suite.phantom.mapping.subject import simulate_mapping
    from suite.phantom.mapping.writer import write_mapping_subject

    job = dict(job)
    folder = Path(job.pop("folder"))
    seed, pathology = job.pop("seed"), job.pop("pathology")
    subject = simulate_mapping(seed, pathology, **job)
    write_mapping_subject(folder, subject)
    rows = []
    for s in subject.series:
        if s.sequence not in COHORT_SEQUENCES:
            continue
        timing = next(k for k in s.case.meta.timings_ms if k != "trigger")
        rows.append({"subject": job["subject"], "pathology": pathology, "series": s.name,
                     "sequence": s.sequence, "contrast": s.contrast, "timing": timing})
    return rows

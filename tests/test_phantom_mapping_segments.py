"""Truth per AHA segment of the mapping phantom (``truth_segments.csv``).

Reference: every truth map is constant per region, so a segment's mean is the pixel-count
weighted mean of the region values (:meth:`RelaxationMaps.table`) over the regions the segment
holds — computed here from the region codes, independently of the table's code path.
"""

from __future__ import annotations

import csv
import functools

import numpy as np
import pytest

from suite.metrics.aha import aha_segments
from suite.phantom.mapping import (REGIONS, SEGMENT_TRUTH_MAPS, simulate_mapping,
                                   write_mapping_subject)
from suite.phantom.mapping.segments import aha_labels_of_regions


@functools.cache
def _subject(pathology, seed=1):
    return simulate_mapping(seed, pathology, sequences=())  # truth only, no acquisition


def _expected(subject, convention):
    reg = subject.truth["regions"][None]
    seg = aha_segments(aha_labels_of_regions(reg), convention=convention).segments
    table = subject.relaxation
    out = {}
    for name in [str(k) for k in range(1, 17)] + ["global"]:
        mask = seg > 0 if name == "global" else seg == int(name)
        counts = np.bincount(reg[mask], minlength=len(REGIONS))
        out[name] = {m: (float(counts @ getattr(table, m)) / counts.sum() if counts.sum()
                         else float("nan")) for m in SEGMENT_TRUTH_MAPS}
        out[name]["n_pixels"] = int(counts.sum())
    return out


@pytest.mark.parametrize("pathology", ["normal", "focal-scar"])
@pytest.mark.parametrize("convention", ["insertion", "cmrxrecon"])
def test_table_equals_the_segment_means_of_the_truth_maps(pathology, convention):
    subject = _subject(pathology)
    rows = [r for r in subject.segment_table() if r["convention"] == convention]
    expected = _expected(subject, convention)
    assert [r["segment"] for r in rows] == list(expected)
    for r in rows:
        e = expected[r["segment"]]
        assert r["n_pixels"] == e["n_pixels"]
        for m in SEGMENT_TRUTH_MAPS:
            np.testing.assert_allclose(r[m], e[m], rtol=1e-12, equal_nan=True)
    covered = {r["segment"] for r in rows if r["n_pixels"]}
    assert covered == {"1", "2", "3", "4", "5", "6", "global"}  # one basal-level slice


def test_focal_scar_raises_exactly_the_segments_it_covers():
    subject = _subject("focal-scar")
    normal = _subject("normal")
    reg = subject.truth["regions"][None]
    scar = reg == REGIONS.index("scar")
    assert scar.any()
    seg = aha_segments(aha_labels_of_regions(reg)).segments
    with_scar = {str(k) for k in np.unique(seg[scar]) if k}
    rows = {r["segment"]: r for r in subject.segment_table(("insertion",))}
    healthy = {r["segment"]: r for r in normal.segment_table(("insertion",))}
    ecv_normal = float(subject.relaxation.ecv[REGIONS.index("myocardium")])
    assert 0 < len(with_scar) < 6
    for name in map(str, range(1, 7)):
        r = rows[name]
        if name in with_scar:  # scar (ECV 60 %, native T1 +15 %) raises ECV and native T1
            assert r["ecv"] > ecv_normal and r["t1_native_ms"] > healthy[name]["t1_native_ms"]
        else:                  # remote myocardium: exactly the normal values
            assert r["ecv"] == pytest.approx(ecv_normal, rel=1e-12)
            assert r["t1_native_ms"] == pytest.approx(healthy[name]["t1_native_ms"], rel=1e-12)


def test_diffuse_fibrosis_raises_every_segment_alike():
    rows = _subject("diffuse-fibrosis").segment_table(("insertion",))
    ecv = {r["segment"]: r["ecv"] for r in rows if r["n_pixels"]}
    assert ecv and all(v == pytest.approx(0.35, rel=1e-12) for v in ecv.values())


def test_truth_segments_csv_is_written(tmp_path):
    subject = _subject("focal-scar")
    out = write_mapping_subject(tmp_path / "s", subject)
    with open(out["segments"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    table = subject.segment_table()
    assert len(rows) == len(table) == 2 * 17
    for got, want in zip(rows, table):
        assert got["segment"] == want["segment"] and got["convention"] == want["convention"]
        for m in SEGMENT_TRUTH_MAPS:
            np.testing.assert_equal(float(got[m]), want[m])  # repr: exact round trip

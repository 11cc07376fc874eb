"""A phantom cohort folder loads as Cases with k-space, labels and truth from truth.csv."""

import csv

import numpy as np
import pytest

from suite.data import iter_cases, load
from suite.data.loader import sniff
from suite.phantom import write_cohort


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    out = tmp_path_factory.mktemp("ph")
    write_cohort(out, 2, seed=5, preset="tiny")
    return out


def test_cohort_folder_is_sniffed_and_read_with_truth(cohort):
    assert sniff(cohort) == "phantom"
    cases = list(load(cohort))
    assert [c.meta.subject for c in cases] == ["phantom-000", "phantom-001"]
    with (cohort / "truth.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    for case, row in zip(cases, rows):
        assert case.kspace is not None and case.labels is not None
        assert case.truth["lv_ef_pct"] == float(row["lv_ef_pct"])
        assert case.meta.ed_frame == int(row["ed_frame"]) and case.meta.es_frame == int(row["es_frame"])
        assert case.meta.strata["pathology"] == row["pathology"]


def test_cohort_case_matches_direct_simulation(cohort):
    """The files carry what simulate() produced: k-space and labels equal the in-memory Case."""
    from suite.phantom import cohort as cohort_specs

    spec = cohort_specs(2, seed=5, preset="tiny")[0]
    direct = spec.simulate()
    loaded = next(iter(load(cohort)))
    np.testing.assert_array_equal(loaded.labels, direct.labels)
    np.testing.assert_allclose(loaded.kspace, direct.kspace, rtol=0, atol=0)


def test_missing_subject_files_are_recorded_and_others_load(cohort, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(cohort, broken)
    (broken / "phantom-000" / "labels.nii.gz").unlink()
    it = iter_cases(broken, on_error="record")
    cases = list(it)
    assert [c.meta.subject for c in cases] == ["phantom-001"]
    assert len(it.failures) == 1 and "labels.nii.gz" in str(it.failures[0].path)
    assert "missing" in it.failures[0].reason

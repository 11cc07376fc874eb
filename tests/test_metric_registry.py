"""Property tests over the whole metric registry (STYLE R12; scikit-learn's
``sklearn/metrics/tests/test_common.py`` does the same for its metrics).

Every declared metric states a unit and a direction of the one vocabulary; every family that
computes rows from (reference, prediction) gives the optimum for a perfect prediction, is
symmetric where it claims to be, and answers NaN input with a status, never a silent number.
"""

import math

import numpy as np
import pytest

import suite.conditions  # noqa: F401  (declares condition and audit rows)
import suite.metrics  # noqa: F401  (declares the built-in metrics)
import suite.metrics.robustness  # noqa: F401
from suite.metrics.contract import (CLOSER, DIRECTIONS, EXCLUSIONS, STATUSES, MetricSpec,
                                    metric_row, registered_families, registered_metrics)

SPECS = registered_metrics()
FAMILIES = registered_families()


def test_the_registry_holds_every_stored_metric():
    expected = {"nmse", "psnr", "ssim", "dice", "hd", "hd95", "assd", "masd", "nsd",
                "lv_ef_pct", "lv_edv_ml", "rv_ef_pct", "lv_mass_g", "profile_error",
                "high_frequency_retention", "es_timing_error_ms", "deviation",
                "label_change", "norm_reached", "contrast_recovery", "effective_acceleration",
                "nominal_acceleration", "added_noise_sigma", "audit_zero_padded"}
    assert expected <= set(SPECS)
    assert {"image", "temporal", "segmentation", "clinical"} <= set(FAMILIES)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_metric_declares_unit_and_one_direction(name):
    spec = SPECS[name]
    assert spec.unit and spec.description and spec.family
    assert spec.direction in DIRECTIONS
    if spec.target is not None:
        assert spec.direction == CLOSER


def test_a_second_declaration_with_another_meaning_is_refused():
    from suite.metrics.contract import register_metric

    spec = SPECS["ssim"]
    register_metric(spec)  # the same declaration again is fine
    with pytest.raises(ValueError, match="one name has one meaning"):
        register_metric(MetricSpec("ssim", "dB", spec.direction, "other", "image"))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_perfect_prediction_gives_the_optimum(family):
    fam = FAMILIES[family]
    ref, _, settings = fam.example(np.random.default_rng(0))
    rows = fam.rows(ref, ref, **settings)
    assert {r.metric for r in rows} <= set(fam.metrics) and rows
    for r in rows:
        spec = SPECS[r.metric]
        assert r.status in STATUSES and r.unit == spec.unit and r.direction == spec.direction
        if spec.direction == CLOSER:
            assert r.value == pytest.approx(r.reference_value, abs=1e-9), r
        elif spec.optimum is not None:
            assert r.value == pytest.approx(spec.optimum, abs=1e-9), r


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_an_imperfect_prediction_is_worse_than_the_optimum(family):
    fam = FAMILIES[family]
    ref, pred, settings = fam.example(np.random.default_rng(1))
    rows = fam.rows(ref, pred, **settings)
    worse = 0
    for r in rows:
        spec = SPECS[r.metric]
        if r.value is not None and spec.direction == CLOSER and r.reference_value is not None:
            worse += abs(r.value - r.reference_value) > 1e-12
            continue
        if r.value is None or spec.optimum is None:
            continue
        if spec.direction == "higher is better":
            assert r.value <= spec.optimum + 1e-12
        else:
            assert r.value >= spec.optimum - 1e-12
        worse += r.value != spec.optimum
    assert worse, f"{family}: the example prediction scores the optimum everywhere"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_symmetric_metrics_are_symmetric(family):
    fam = FAMILIES[family]
    ref, pred, settings = fam.example(np.random.default_rng(2))
    ab = {(r.metric, r.structure, r.phase, r.profile): r.value
          for r in fam.rows(ref, pred, **settings)}
    ba = {(r.metric, r.structure, r.phase, r.profile): r.value
          for r in fam.rows(pred, ref, **settings)}
    checked = 0
    for key, value in ab.items():
        if SPECS[key[0]].symmetric:
            assert ba[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key
            checked += 1
    if any(SPECS[m].symmetric for m in fam.metrics):
        assert checked


@pytest.mark.parametrize("family", ["image", "temporal"])
def test_nan_input_gives_a_status_not_a_number(family):
    fam = FAMILIES[family]
    ref, pred, settings = fam.example(np.random.default_rng(3))
    pred = np.array(pred, dtype=float)
    pred.flat[0] = np.nan
    rows = fam.rows(ref, pred, **settings)
    assert rows and all(r.value is None and r.status == "undefined" and r.exclusion == "missing"
                        for r in rows)


def test_empty_masks_give_statuses_and_sentinels_are_marked():
    fam = FAMILIES["segmentation"]
    ref, pred, settings = fam.example(np.random.default_rng(4))
    pred = pred.copy()
    pred[pred == 1] = 0  # the RV vanishes from the prediction
    for policy in ("worst", "acdc", "mnms", "nan"):
        rows = [r for r in fam.rows(ref, pred, **settings, empty=policy) if r.structure == "RV"]
        assert {r.status for r in rows} == {"prediction_empty"}
        for r in rows:
            if r.value is None:
                assert r.exclusion == "missing"
            elif policy == "mnms" and r.value == -1.0:
                assert r.exclusion == "sentinel"
            else:
                assert r.exclusion is None and math.isfinite(r.value)


def test_implausible_clinical_values_get_a_status_and_an_exclusion():
    from suite.metrics.clinical import clinical_rows

    fam = FAMILIES["clinical"]
    ref, pred, settings = fam.example(np.random.default_rng(5))
    pred = pred.copy()
    pred[:, 2][pred[:, 2] == 0] = 3  # the ES frame's LV fills the image: ESV > EDV
    rows = {r.metric: r for r in clinical_rows(pred, settings["spacing_mm"], reference=None,
                                               reference_source="none", ed_frame=0,
                                               es_frame=2)}
    for name in ("lv_edv_ml", "lv_esv_ml", "lv_sv_ml", "lv_ef_pct"):
        assert rows[name].status == "implausible" and rows[name].exclusion == "implausible"
    assert rows["lv_ef_pct"].value < 0
    assert rows["rv_ef_pct"].status == "ok" and rows["rv_ef_pct"].exclusion is None


@pytest.mark.parametrize("value, status, exclusion", [
    (55.0, "ok", None), (-42.0, "implausible", "implausible"), (120.0, "implausible", "implausible"),
    (None, "undefined", "missing"), (float("nan"), "undefined", "missing")])
def test_ejection_fraction_validity_table(value, status, exclusion):
    r = metric_row("lv_ef_pct", value, reference_value=60.0)
    assert (r.status, r.exclusion) == (status, exclusion)
    assert r.exclusion is None or r.exclusion in EXCLUSIONS

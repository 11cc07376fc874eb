"""The per-process memo of fully sampled refits (:mod:`suite.stages.mapping.refit`).

The memo must give what the fit itself gives: each remembered map is compared bit for bit
with the method called directly on the same inputs (the stage's path before the memo), and a
change of the images, of the method's parameters or a plugin method runs the fit again.
"""

import numpy as np
import pytest

import reference_impls
from reference_impls.mapping.methods import T2Fit
from suite.case import Case, CaseMeta
from suite.stages.mapping import refit
from suite.stages.mapping.inputs import timings_array, weighted_images
from suite.stages.mapping.stage import MappingStage

TE = [0.0, 25.0, 55.0]


def _case(seed=0, shape=(1, 5, 6)):
    """A noisy T2-prep series (slice, frame, y, x) of a random T2 map."""
    rng = np.random.default_rng(seed)
    t2 = rng.uniform(30.0, 90.0, shape)
    images = 900.0 * np.exp(-np.asarray(TE) / t2[..., None]) + rng.normal(0, 4.0, (*shape, 3))
    return Case(reference=np.moveaxis(images, -1, 1).astype(np.complex64),
                meta=CaseMeta(subject=f"s{seed}", series="t2", timings_ms={"TE": TE}))


class _Counting(T2Fit):
    calls = 0

    def __call__(self, images, timings_ms):
        type(self).calls += 1
        return super().__call__(images, timings_ms)


def _check(case):
    stage = MappingStage()
    call = type("Call", (), {"case": case})()
    return lambda out: stage.check_output(call, out, "t2-2p")


@pytest.fixture(autouse=True)
def _empty_memo(monkeypatch):
    monkeypatch.setattr(refit, "_REFITS", type(refit._REFITS)())
    _Counting.calls = 0


def _fit(case, method=None, entry=None):
    images = np.abs(case.reference).astype(np.float64)
    return refit.reference_fit(method or _Counting(), entry or {"name": "t2-2p"}, images, case,
                               _check(case))


def test_remembered_fit_equals_the_direct_fit_bit_for_bit_and_is_read_only():
    case = _case()
    direct = _check(case)(reference_impls.get("mapping", "t2-2p")(
        weighted_images(np.abs(case.reference).astype(np.float64)), timings_array(case)))
    first, second = _fit(case), _fit(case)
    assert _Counting.calls == 1 and second is first
    assert first.tobytes() == direct.tobytes()
    with pytest.raises(ValueError):
        first[0, 0, 0] = 1.0


def test_other_images_params_or_a_plugin_fit_again():
    case = _case()
    _fit(case)
    other = _fit(_case(seed=1))                                   # other images
    assert _Counting.calls == 2
    assert other.tobytes() == _check(_case(seed=1))(T2Fit()(
        weighted_images(np.abs(_case(seed=1).reference).astype(np.float64)),
        timings_array(_case(seed=1)))).tobytes()
    _fit(case, _Counting(model="loglinear"), {"name": "t2-loglinear"})  # other parameters
    assert _Counting.calls == 3
    _fit(case, entry={"plugin": "my.module:Fit"})                 # not a reference method
    _fit(case, entry={"plugin": "my.module:Fit"})
    assert _Counting.calls == 5
    _fit(case)                                                    # still remembered
    assert _Counting.calls == 5


def test_memo_keeps_the_most_recently_used_fits():
    cases = [_case(seed=s, shape=(1, 2, 2)) for s in range(refit.REFITS_KEPT + 1)]
    for c in cases:
        _fit(c)
    assert len(refit._REFITS) == refit.REFITS_KEPT
    _fit(cases[-1])
    assert _Counting.calls == refit.REFITS_KEPT + 1
    _fit(cases[0])                                                # the oldest was dropped
    assert _Counting.calls == refit.REFITS_KEPT + 2

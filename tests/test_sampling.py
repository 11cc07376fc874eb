"""Sampling masks: layout, acceleration conventions, seeding."""

import numpy as np
import pytest

from suite.mr import make_mask
from suite.mr.sampling import equispaced_mask, kt_gaussian_mask, kt_interleaved_mask

SHAPE = (2, 10, 4, 96, 80)


def test_equispaced_matches_cmrxrecon_construction():
    # CMRxRecon UniformSampling.m: centred block of ncalib lines + every R-th line from index 1
    # (1-based), i.e. 0-based 0, R, 2R, ...; built here by hand.
    ny, r, acs = 96, 4, 24
    expected = np.zeros(ny, bool)
    expected[0::r] = True
    expected[ny // 2 - acs // 2: ny // 2 + acs // 2] = True
    s = equispaced_mask(SHAPE, r, acs_lines=acs)
    assert s.mask.shape == (1, 1, 1, ny, 1)
    np.testing.assert_array_equal(s.mask[0, 0, 0, :, 0], expected)
    assert s.effective_acceleration == pytest.approx(ny / expected.sum())
    assert s.effective_acceleration < s.nominal_acceleration  # ACS not counted in R


def test_kt_interleaved_union_is_fully_sampled():
    s = kt_interleaved_mask(SHAPE, 5, acs_lines=0)
    assert s.mask.shape == (1, 10, 1, 96, 1)
    lines = s.mask[0, :, 0, :, 0]
    assert lines[:5].any(axis=0).all()
    assert not (lines[0] == lines[1]).all()
    assert s.effective_acceleration == pytest.approx(96 / lines.sum(1).mean())


@pytest.mark.parametrize("pattern", ["variable-density", "kt-gaussian"])
def test_random_patterns_hit_the_nominal_rate_and_are_seeded(pattern):
    a = make_mask(pattern, SHAPE, 8, acs_lines=6, rng=np.random.default_rng(7))
    b = make_mask(pattern, SHAPE, 8, acs_lines=6, rng=np.random.default_rng(7))
    c = make_mask(pattern, SHAPE, 8, acs_lines=6, rng=np.random.default_rng(8))
    np.testing.assert_array_equal(a.mask, b.mask)
    assert not np.array_equal(a.mask, c.mask)
    lines = a.mask[0, :, 0, :, 0]
    assert (lines.sum(-1) == round(96 / 8)).all()
    assert lines[:, 48 - 3: 48 + 3].all()  # ACS block
    assert a.effective_acceleration == pytest.approx(8.0)


def test_kt_gaussian_varies_per_frame_and_prefers_centre():
    s = kt_gaussian_mask(SHAPE, 4, acs_lines=4, rng=np.random.default_rng(0))
    lines = s.mask[0, :, 0, :, 0]
    assert s.mask.shape[1] == 10
    assert len({lines[t].tobytes() for t in range(10)}) > 1
    centre = lines[:, 24:72].mean()
    edge = np.concatenate([lines[:, :24], lines[:, 72:]], axis=1).mean()
    assert centre > edge


def test_errors_are_clear():
    with pytest.raises(ValueError, match="did you mean 'equispaced'"):
        make_mask("equispace", SHAPE, 4)
    with pytest.raises(ValueError, match="seeded `rng`"):
        make_mask("kt-gaussian", SHAPE, 4)
    with pytest.raises(ValueError, match="acceleration"):
        make_mask("equispaced", SHAPE, 0.5)

"""The CMRxRecon ranking selection against run4Ranking.m / crop.m worked by hand.

Expected index ranges are computed in the comments from the MATLAB formulas
(``round(sz/2)-1 : round(sz/2)``; ``crop.m``: ``floor(m/2)+1+ceil(-s/2) : floor(m/2)+ceil(s/2)``,
1-based; MATLAB ``round`` halves away from zero), never from the code under test.
"""

import numpy as np
import pytest

from suite.metrics.cmrxrecon_profile import (
    cmrxrecon_select,
    lustig_crop_start,
    matlab_round,
    prepare_for_ranking,
)


def test_matlab_round_and_crop_start():
    assert [matlab_round(x) for x in (0.5, 1.5, 2.5, -0.5, -2.5, 5.67)] == [1, 2, 3, -1, -3, 6]
    # crop.m, 1-based start floor(m/2)+1+ceil(-s/2) → 0-based floor(m/2)+ceil(-s/2)
    assert lustig_crop_start(13, 7) == 3 and lustig_crop_start(17, 6) == 5
    assert lustig_crop_start(12, 6) == 3 and lustig_crop_start(12, 4) == 4


def test_cmrxrecon_select_central_slices_first_frames():
    img = np.arange(4 * 5 * 6 * 9, dtype=np.float64).reshape(4, 5, 6, 9)
    # sz=4 → round(2)=2 → slices 1:2 (1-based) = [0, 1]; frames 1:3 = [0, 1, 2];
    # sy=6 → round(3)=3 from floor(6/2)+1+ceil(-1.5)=3 → 3:5 (1-based) = 2:5 (0-based);
    # sx=9 → round(3)=3 from floor(9/2)+1+ceil(-1.5)=4 → 4:6 (1-based) = 3:6 (0-based)
    want = img[[0, 1]][:, [0, 1, 2]][:, :, 2:5, 3:6].reshape(-1, 3, 3)
    np.testing.assert_array_equal(cmrxrecon_select(img), want)
    before = img.copy()
    cmrxrecon_select(img)
    np.testing.assert_array_equal(img, before)


def test_prepare_for_ranking_matches_run4ranking():
    rng = np.random.default_rng(0)
    img = rng.random((5, 6, 13, 17)).astype(np.float32)
    # run4Ranking by hand: sz=5 → round(2.5)=3 → slices 2:3 (1-based) = [1, 2];
    # frames 1:3 = [0, 1, 2]; crop sy=13 → round(6.5)=7 from floor(13/2)+1+ceil(-3.5)=4 → 3:10;
    # sx=17 → round(5.67)=6 from floor(17/2)+1+ceil(-3)=6 → 5:11
    want = img[[1, 2]][:, [0, 1, 2]][:, :, 3:10, 5:11]
    np.testing.assert_array_equal(prepare_for_ranking(img, 2023, series="cine_sax"), want)
    np.testing.assert_array_equal(prepare_for_ranking(img, 2024), want)
    # mapping: all weightings
    np.testing.assert_array_equal(prepare_for_ranking(img, 2023, series="T1map"),
                                  img[[1, 2]][:, :, 3:10, 5:11])
    np.testing.assert_array_equal(prepare_for_ranking(img, 2024, series="T2map"),
                                  img[[1, 2]][:, :, 3:10, 5:11])
    # 2024 black blood: one frame; two slices only: all slices
    np.testing.assert_array_equal(prepare_for_ranking(img, 2024, series="blackblood"),
                                  img[[1, 2]][:, [0]][:, :, 3:10, 5:11])
    even = rng.random((2, 4, 12, 12)).astype(np.float32)
    # sy=12 → 6 from floor(6)+1+ceil(-3)=4 → 3:9; sx=12 → round(4)=4 from 6+1-2=5 → 4:8
    np.testing.assert_array_equal(prepare_for_ranking(even, 2025),
                                  even[:, :3, 3:9, 4:8])


def test_prepare_for_ranking_refuses_bad_input():
    with pytest.raises(ValueError, match=r"year must be one of \[2023, 2024, 2025\]"):
        prepare_for_ranking(np.zeros((1, 1, 6, 6)), 2022)
    with pytest.raises(ValueError, match="`images` must have 4 dimensions"):
        prepare_for_ranking(np.zeros((1, 6, 6)), 2024)

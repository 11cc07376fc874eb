"""suite.stats.multiplicity.holm: the one Holm correction of the suite, against statsmodels'
``multipletests(method="holm")`` (an independent implementation) and R's ``p.adjust``."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from suite.stats import holm


@pytest.mark.parametrize("seed, m", [(0, 1), (1, 2), (2, 7), (3, 30), (4, 200)])
def test_matches_statsmodels(seed, m):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, m) ** 3  # many small p values, so the running maximum matters
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1], abs=1e-15)


def test_ties_and_bounds_match_statsmodels():
    p = np.array([0.01, 0.01, 0.02, 0.5, 0.5, 0.0, 1.0, 0.3])
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1], abs=1e-15)


def test_matches_r_p_adjust():
    # R 4.3: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") -> 0.03 0.06 0.06 0.02
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_missing_p_values_stay_missing_and_do_not_count():
    p = np.array([0.04, np.nan, 0.01, 0.03, np.nan])
    out = holm(p)
    ok = ~np.isnan(p)
    assert np.isnan(out[~ok]).all()
    assert out[ok] == pytest.approx(multipletests(p[ok], method="holm")[1], abs=1e-15)
    assert holm([]).shape == (0,) and np.isnan(holm([np.nan])).all()


@pytest.mark.parametrize("bad, text", [([0.1, 1.5], r"\[0, 1\]"), ([-0.1], r"\[0, 1\]"),
                                       ([[0.1, 0.2]], "1 dimensions")])
def test_refuses_bad_input(bad, text):
    with pytest.raises(ValueError, match=text):
        holm(bad)

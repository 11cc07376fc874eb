"""The generic input attack of any stage (suite.robustness.input_attacks) against closed forms:
for a linear map f(x) = A x the worst perturbation of norm r moves the output by exactly
sigma_max(A) r (the top singular vector), which projected gradient ascent must reach."""

import numpy as np
import pytest
import torch

from suite.robustness import AttackSurface, attack_input, random_input


@pytest.fixture(scope="module")
def linear():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((6, 20))
    x = rng.standard_normal(20)
    at = torch.from_numpy(a)
    surface = AttackSurface(x=x, forward=lambda t: at @ t, differentiable=True)
    return a, x, surface


def test_pgd_reaches_the_largest_singular_value(linear):
    a, x, surface = linear
    sigma = np.linalg.svd(a, compute_uv=False)[0]
    fx = np.linalg.norm(a @ x)
    for eps in (0.01, 0.1):
        (res,) = attack_input(surface, [eps], steps=60, seed=1)
        assert res.kind == "input-pgd" and res.white_box
        assert res.norm_reached == pytest.approx(eps, rel=1e-9)
        expected = sigma * eps * np.linalg.norm(x) / fx
        assert res.deviation == pytest.approx(expected, rel=0.05)  # PGD: near the optimum
        assert res.deviation <= expected * (1 + 1e-9)


def test_random_and_black_box_do_not_beat_the_worst_case(linear):
    a, x, surface = linear
    (adv,) = attack_input(surface, [0.1], steps=60, seed=2)
    (rnd,) = random_input(surface, [0.1], seed=2)
    black = AttackSurface(x=x, forward=surface.forward, differentiable=False)
    (search,) = attack_input(black, [0.1], seed=2, n_queries=16)
    assert rnd.kind == "input-random" and rnd.norm_reached == pytest.approx(0.1)
    assert search.kind == "input-random-search" and not search.white_box
    assert rnd.deviation < adv.deviation and search.deviation <= adv.deviation * (1 + 1e-9)
    out = a @ (x + 0)  # the reported output is f(x + e), not f(x)
    assert not np.allclose(adv.output, out)


def test_seeded_and_budget_order_independent(linear):
    _, _, surface = linear
    one = [r.deviation for r in random_input(surface, [0.02, 0.05], seed=3)]
    two = [r.deviation for r in random_input(surface, [0.05, 0.02], seed=3)][::-1]
    assert one == two


def test_bad_budgets_are_refused(linear):
    _, _, surface = linear
    with pytest.raises(ValueError, match="budget"):
        attack_input(surface, [-0.1])

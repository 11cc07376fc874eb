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
    u, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    v, _ = np.linalg.qr(rng.standard_normal((20, 6)))
    a = u @ np.diag([4.0, 1.0, 0.8, 0.5, 0.3, 0.1]) @ v.T  # a clear gap below sigma_max
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
        # Madry's step 2.5 r / steps walks a total of 2.5 r from a random start: within a
        # few per cent of the optimum, never above it
        assert 0.95 * expected <= res.deviation <= expected * (1 + 1e-9)


def test_random_and_black_box_do_not_beat_the_worst_case(linear):
    a, x, surface = linear
    (adv,) = attack_input(surface, [0.1], steps=60, seed=2)
    sigma = np.linalg.svd(a, compute_uv=False)[0]
    assert adv.deviation <= sigma * 0.1 * np.linalg.norm(x) / np.linalg.norm(a @ x) * (1 + 1e-9)
    (rnd,) = random_input(surface, [0.1], seed=2)
    black = AttackSurface(x=x, forward=surface.forward, differentiable=False)
    (search,) = attack_input(black, [0.1], seed=2, n_queries=16)
    assert rnd.kind == "input-random" and rnd.norm_reached == pytest.approx(0.1)
    assert search.kind == "input-random-search" and not search.white_box
    assert rnd.deviation < adv.deviation and search.deviation < adv.deviation
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


@pytest.fixture(scope="module")
def separable():
    """f(x)_i = w_i · x_i: one scalar output per pixel from its own samples. The worst
    L-infinity perturbation of radius r is e_i = ±r·sign(w_i) (the vertex of the box that
    maximises |w_i · e_i|), which moves output i by exactly r·‖w_i‖₁."""
    rng = np.random.default_rng(4)
    w = rng.standard_normal((30, 5))
    x = rng.uniform(0.2, 1.0, (30, 5))
    wt = torch.from_numpy(w)
    surface = AttackSurface(x=x, forward=lambda t: (wt * t).sum(-1), differentiable=True)
    return w, x, surface


def test_linf_pgd_reaches_the_box_vertex(separable):
    w, x, surface = separable
    eps = 0.05
    r = eps * np.abs(x).max()
    optimum = r * np.linalg.norm(np.abs(w).sum(1)) / np.linalg.norm((w * x).sum(1))
    (pgd,) = attack_input(surface, [eps], steps=10, seed=0, norm="linf")
    assert pgd.kind == "input-pgd-linf" and pgd.norm == "linf" and pgd.white_box
    assert pgd.norm_reached == pytest.approx(eps, rel=1e-12)
    assert pgd.deviation == pytest.approx(optimum, rel=1e-9)
    (fgsm,) = attack_input(surface, [eps], seed=0, norm="linf", attack="fgsm")
    assert fgsm.kind == "input-fgsm" and fgsm.steps == 1
    assert fgsm.norm_reached <= eps * (1 + 1e-12)
    # R+FGSM: a random half step, then a half step along the gradient sign: at least half the
    # optimum (the second half step alone gives r/2·‖w_i‖₁ in the direction of the first's
    # sign), never more than the optimum
    assert 0.5 * optimum <= fgsm.deviation <= optimum * (1 + 1e-9)
    (rnd,) = random_input(surface, [eps], seed=0, norm="linf")
    assert rnd.kind == "input-random-linf" and rnd.norm_reached == pytest.approx(eps)
    assert rnd.deviation < pgd.deviation


def test_linf_black_box_and_kinds(separable):
    from suite.robustness.input_attacks import INPUT_RANDOM_COUNTERPART, input_attack_kind

    _, x, surface = separable
    black = AttackSurface(x=x, forward=surface.forward, differentiable=False)
    (res,) = attack_input(black, [0.02], seed=1, norm="linf", attack="fgsm")
    assert res.kind == "input-random-search-linf" and not res.white_box
    assert res.norm_reached == pytest.approx(0.02)
    assert INPUT_RANDOM_COUNTERPART[input_attack_kind("fgsm", "linf", True)] == \
        "input-random-linf"
    with pytest.raises(ValueError, match="L-infinity"):
        attack_input(surface, [0.02], norm="l2", attack="fgsm")
    with pytest.raises(ValueError, match="norm"):
        random_input(surface, [0.02], norm="l1")

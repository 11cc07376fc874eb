"""Adversarial and random perturbations (suite.robustness.recon_attacks, seg_attacks,
instability).

Independent references: perturbation norms and supports recomputed with numpy from the returned
perturbations; the image-domain perturbation re-synthesised with numpy's FFT and the phantom's
true coil maps; CG-SENSE gradients against finite differences (``torch.autograd.gradcheck``)
and against the adjoint of the dense linear map ``(A^H A + λI)^{-1} A^H`` built with numpy; the
largest gain of the fully sampled Roemer combination in closed form (``1 / sqrt(Σ_c |S_c|²)``);
label changes and Dice recomputed with numpy.

Small on purpose: the ``tiny`` phantom preset, one slice, few PGD steps.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import reference_impls
from reference_impls.recon.unrolled import WEIGHTS_DIR
from suite.mr import make_mask
from suite.phantom import simulate
from suite.robustness import (
    attack_recon, attack_segmentation, instability_ratio, instability_ratios, is_differentiable,
    random_recon, random_segmentation, recon_perturbations,
)

BUDGETS = [0.0, 0.01, 0.05]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def full_case():
    return simulate(seed=7, preset="tiny", n_slices=1)


@pytest.fixture(scope="module")
def case(full_case):
    """R = 4 k-t Gaussian with 12 ACS lines (the unrolled network's training pattern)."""
    s = make_mask("kt-gaussian", full_case.kspace.shape, 4, 12, np.random.default_rng(0))
    return full_case.replace(kspace=(full_case.kspace * s.mask).astype(np.complex64), mask=s.mask)


class BlackBox:
    """Zero-filled reconstruction without white-box access (no ``reconstruct``)."""

    name = "black-box-zero-filled"

    def __init__(self):
        self.inner = reference_impls.get("recon", "zero-filled")

    def __call__(self, case):
        return self.inner(case)


def np_fft2c(x):
    ax = (-2, -1)
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=ax), axes=ax, norm="ortho"),
                           axes=ax)


def np_ifft2c(k):
    ax = (-2, -1)
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=ax), axes=ax, norm="ortho"),
                           axes=ax)


# ------------------------------------------------------------------ budgets, every kind
@pytest.mark.parametrize("domain", ["kspace", "image"])
@pytest.mark.parametrize("white", [True, False])
def test_recon_perturbations_respect_budget_and_support(case, domain, white):
    method = reference_impls.get("recon", "zero-filled") if white else BlackBox()
    assert is_differentiable(method) is white
    mask = np.broadcast_to(case.mask, case.kspace.shape)
    y = case.kspace * mask
    y_norm = np.linalg.norm(y.astype(np.complex128))
    x_norm = np.linalg.norm(case.reference.astype(np.complex128))
    adv = attack_recon(method, case, BUDGETS, domain=domain, steps=3, n_queries=3,
                       keep_perturbation=True)
    rnd = random_recon(method, case, BUDGETS, domain=domain, keep_perturbation=True)
    kinds = {r.kind for r in adv} | {r.kind for r in rnd}
    assert kinds == {f"{domain}-pgd" if white else "random-search", f"{domain}-random"}
    for res in adv + rnd:
        v = res.perturbation.astype(np.complex128)
        ref_norm = y_norm if domain == "kspace" else x_norm
        norm = np.linalg.norm(v) / ref_norm
        assert norm <= res.budget * (1 + 1e-5) + 1e-12, (res.kind, res.budget, norm)
        assert res.norm_reached == pytest.approx(norm, rel=1e-5, abs=1e-12)
        if res.kind.endswith("random") or res.kind == "random-search":
            assert norm == pytest.approx(res.budget, rel=1e-5, abs=1e-12)  # exactly at budget
        if domain == "kspace":
            e = v
            assert not np.any(e[~mask]), "perturbation outside the sampled locations"
        else:  # y' = M F S r with the phantom's true maps
            maps = case.truth["coil_maps"].astype(np.complex128)
            e = np_fft2c(maps[:, None] * v[:, :, None]) * mask
        expected = np.asarray(BlackBox()(case.replace(kspace=(y + e).astype(np.complex64))))
        np.testing.assert_allclose(res.output, expected, atol=2e-5 * np.abs(expected).max())
        clean = np.asarray(BlackBox()(case))
        dev = np.linalg.norm(res.output - clean) / np.linalg.norm(clean)
        assert res.deviation == pytest.approx(dev, rel=1e-3, abs=1e-7)
        json.dumps(res.to_dict())
    assert adv[0].deviation == 0 and rnd[0].deviation == 0  # budget 0: the clean output


def test_recon_attacks_are_deterministic(case):
    zf = reference_impls.get("recon", "zero-filled")
    a = attack_recon(zf, case, [0.02], steps=2, seed=3)[0]
    b = attack_recon(zf, case, [0.02], steps=2, seed=3)[0]
    c = attack_recon(zf, case, [0.02], steps=2, seed=4)[0]
    assert np.array_equal(a.output, b.output)
    assert not np.array_equal(a.output, c.output)


def test_recon_perturbations_equal_the_two_separate_calls(case):
    """The shared clean work changes nothing: same outputs as attack_recon + random_recon."""
    zf = reference_impls.get("recon", "zero-filled")
    adv, rnd = recon_perturbations(zf, case, BUDGETS, steps=2, seed=3)
    for got, want in ((adv, attack_recon(zf, case, BUDGETS, steps=2, seed=3)),
                      (rnd, random_recon(zf, case, BUDGETS, seed=3))):
        assert [r.kind for r in got] == [r.kind for r in want]
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.output, w.output)
            assert (g.deviation, g.norm_reached, g.budget) == (w.deviation, w.norm_reached,
                                                               w.budget)


def test_pgd_stays_below_the_largest_gain_of_a_linear_method(full_case):
    """Fully sampled zero-filled with given maps is linear, J e = Σ conj(S) F^H e / Σ|S|²,
    whose largest gain is max_r 1 / sqrt(Σ_c |S_c(r)|²) (closed form): the relative deviation
    cannot exceed that gain · ε ||y|| / ||f(y)||, and the ascent beats the random start."""
    maps = full_case.truth["coil_maps"]
    c = full_case.replace(coil_maps=maps)
    zf = reference_impls.get("recon", "zero-filled")
    eps = 0.03
    adv = attack_recon(zf, c, [eps], steps=6)[0]
    rnd = random_recon(zf, c, [eps])[0]
    power = (np.abs(maps.astype(np.complex128)) ** 2).sum(axis=1)
    gain = np.max(np.sqrt(power) / (power + 1e-12))
    y_norm = np.linalg.norm(c.kspace.astype(np.complex128))
    f0 = np.asarray(zf(c)).astype(np.complex128)
    bound = gain * eps * y_norm / np.linalg.norm(f0)
    assert adv.deviation <= bound * (1 + 1e-4)
    assert adv.deviation > 1.5 * rnd.deviation


# ------------------------------------------------------------------ a trained network
def _nmse(out, ref):
    return float(np.linalg.norm(np.abs(out) - ref) ** 2 / np.linalg.norm(ref) ** 2)


@pytest.mark.skipif(not (WEIGHTS_DIR / "recon-unrolled.pt").exists(),
                    reason="reference_impls/weights/recon-unrolled.pt not found "
                           "(`cmrsuite train recon-unrolled`)")
@pytest.mark.parametrize("domain", ["kspace", "image"])
def test_adversarial_beats_random_noise_on_the_unrolled_network(case, domain):
    net = reference_impls.get("recon", "unrolled")
    eps = 0.02
    adv = attack_recon(net, case, [eps], domain=domain, steps=4, seed=1)[0]
    rnd = random_recon(net, case, [eps], domain=domain, seed=1)[0]
    assert adv.white_box and adv.kind == f"{domain}-pgd"
    # equal norm: both at the budget
    assert rnd.norm_reached == pytest.approx(eps, rel=1e-5)
    assert adv.norm_reached == pytest.approx(eps, rel=0.05)
    assert adv.deviation > 1.5 * rnd.deviation
    # and in the image domain it is a degradation against the fully sampled reference, not
    # just a change. PGD maximises the deviation from the clean output, not the error: on
    # phantom version 2 (weights trained on version 1) the k-space attack moved the output
    # 2.2x further than random noise but lowered its NMSE by 3e-4, so only the image domain
    # is held to this.
    ref = np.abs(case.reference).astype(np.float64)
    clean = np.asarray(net(case))
    if domain == "image":
        assert (_nmse(adv.output, ref) - _nmse(clean, ref)
                > _nmse(rnd.output, ref) - _nmse(clean, ref))
    assert instability_ratio(adv.deviation, rnd.deviation) > 1.5


# ------------------------------------------------------------------ gradients of CG-SENSE
def _tiny_sense(seed=0, nf=2, nc=3, ny=6, nx=5):
    rng = np.random.default_rng(seed)
    maps = rng.standard_normal((1, nc, ny, nx)) + 1j * rng.standard_normal((1, nc, ny, nx))
    maps /= np.sqrt((np.abs(maps) ** 2).sum(axis=1, keepdims=True))
    mask = rng.random((1, nf, 1, ny, 1)) < 0.6
    mask[:, :, :, ny // 2] = True
    k = rng.standard_normal((1, nf, nc, ny, nx)) + 1j * rng.standard_normal((1, nf, nc, ny, nx))
    return k * mask, mask, maps


@pytest.mark.parametrize("name, params", [
    ("cg-sense", {"lam": 0.05, "max_iter": 4, "tol": 0.0}),
    ("kt-cs", {"lam_s": 0.01, "lam_t": 0.02, "max_iter": 3, "tol": 0.0}),
    ("lowrank-sparse", {"lam_l": 0.05, "lam_s": 0.02, "max_iter": 3, "tol": 0.0}),
])
def test_reconstruct_passes_gradcheck(name, params):
    """Autograd through the iterations equals finite differences (float64, fixed iterations)."""
    k, mask, maps = _tiny_sense(nf=3, nc=2, ny=4, nx=4)
    method = reference_impls.get("recon", name, **params)
    m_t, maps_t = torch.from_numpy(mask), torch.from_numpy(maps)
    kt = torch.from_numpy(k).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda kk: method.reconstruct(kk, m_t, maps_t), (kt,),
                                    eps=1e-6, atol=1e-6, rtol=1e-4)


def test_cg_sense_gradient_is_the_adjoint_of_the_regularised_inverse():
    """Converged CG-SENSE is x = J y with J = (A^H A + λI)^{-1} A^H; the gradient of
    Re<v, x> with respect to y is J^H v. A built densely with numpy's FFT."""
    lam = 0.05
    k, mask, maps = _tiny_sense(seed=1)
    _, nf, nc, ny, nx = k.shape
    n_img = nf * ny * nx
    cols = []
    for i in range(n_img):
        x = np.zeros(n_img, complex)
        x[i] = 1.0
        x = x.reshape(nf, ny, nx)
        cols.append((np_fft2c(maps[0][None] * x[:, None]) * mask[0]).ravel())
    a = np.stack(cols, axis=1)                                        # (nf·nc·ny·nx, n_img)
    j = np.linalg.solve(a.conj().T @ a + lam * np.eye(n_img), a.conj().T)
    method = reference_impls.get("recon", "cg-sense", lam=lam, max_iter=500, tol=1e-14)
    kt = torch.from_numpy(k).requires_grad_(True)
    x = method.reconstruct(kt, torch.from_numpy(mask), torch.from_numpy(maps))
    np.testing.assert_allclose(x.detach().numpy().ravel(), j @ k.ravel(), atol=1e-9)
    v = np.random.default_rng(2).standard_normal(n_img) + 1j * np.random.default_rng(3).standard_normal(n_img)
    loss = torch.vdot(torch.from_numpy(v), x.reshape(-1)).real
    (g,) = torch.autograd.grad(loss, kt)
    np.testing.assert_allclose(g.numpy().ravel(), j.conj().T @ v, atol=1e-8)


@pytest.mark.parametrize("name", ["kt-cs", "lowrank-sparse"])
def test_iterative_reconstruct_is_differentiable_and_matches_call(case, name):
    """Gradients flow through the iterations (no detach, no in-place break), and ``__call__``
    is ``reconstruct`` with the estimated maps."""
    from reference_impls.recon._inputs import sense_inputs

    method = reference_impls.get("recon", name, max_iter=5)
    k, m, maps, _ = sense_inputs(case)
    kt = k.clone().requires_grad_(True)
    out = method.reconstruct(kt, m, maps)
    (g,) = torch.autograd.grad((out.abs() ** 2).sum(), kt)
    assert torch.isfinite(g).all() and float(g.abs().max()) > 0
    np.testing.assert_array_equal(np.asarray(method(case)), out.detach().numpy())


# ------------------------------------------------------------------ segmentation
@pytest.fixture(scope="module")
def seg_images(full_case):
    frames = [0, full_case.meta.es_frame]
    images = np.abs(full_case.reference[:, frames]).astype(np.float32)
    return images, full_case.labels[:, frames], full_case.meta.pixel_spacing_mm


def _delta(perturbed, images):
    """The perturbation in units of each clean image's [min, max] range."""
    flat = images.reshape(-1, *images.shape[-2:]).astype(np.float64)
    lo = flat.min(axis=(1, 2), keepdims=True)
    hi = flat.max(axis=(1, 2), keepdims=True)
    return (perturbed.reshape(flat.shape).astype(np.float64) - flat) / (hi - lo)


def _dice(a, b, label):
    a, b = a == label, b == label
    return 2 * np.sum(a & b) / (a.sum() + b.sum())


@pytest.fixture(scope="module")
def unet():
    return reference_impls.get("segmentation", "unet")


@pytest.mark.parametrize("attack, budget", [("fgsm", 0.03), ("pgd", 0.03), ("pgd-l2", 1.0)])
def test_segmentation_attacks_respect_budget(unet, seg_images, attack, budget):
    images, labels, spacing = seg_images
    (res,) = attack_segmentation(unet, images, spacing, [budget], attack=attack, steps=3,
                                 labels=labels)
    delta = _delta(res.perturbed, images)
    per_image = np.sqrt((delta.reshape(delta.shape[0], -1) ** 2).sum(axis=1))
    if attack == "pgd-l2":
        assert per_image.max() <= budget * (1 + 1e-4)
        assert res.norm_reached == pytest.approx(per_image.max(), rel=1e-3)
    else:
        assert np.abs(delta).max() <= budget + 1e-5
        assert res.norm_reached == pytest.approx(np.abs(delta).max(), rel=1e-3)
    assert res.kind == attack and res.white_box
    np.testing.assert_array_equal(res.output, unet(res.perturbed, spacing))
    clean = unet(images, spacing)
    assert res.deviation == pytest.approx(np.mean(res.output != clean))


@pytest.mark.parametrize("norm, budget", [("linf", 0.03), ("l2", 1.0)])
def test_random_segmentation_respects_budget(unet, seg_images, norm, budget):
    images, _, spacing = seg_images
    (res,) = random_segmentation(unet, images, spacing, [budget], norm=norm)
    delta = _delta(res.perturbed, images)
    if norm == "linf":
        assert np.abs(delta).max() <= budget + 1e-5
    else:
        assert np.sqrt((delta.reshape(delta.shape[0], -1) ** 2).sum(axis=1)).max() <= budget * (1 + 1e-4)
    assert res.kind == f"random-{norm}" and not res.white_box


def test_given_clean_labels_give_the_same_results(unet, seg_images):
    images, labels, spacing = seg_images
    clean = unet(images, spacing)
    for given in (None, clean):
        res = attack_segmentation(unet, images, spacing, [0.03], attack="fgsm", labels=labels,
                                  clean_labels=given)[0]
        rnd = random_segmentation(unet, images, spacing, [0.03], clean_labels=given)[0]
        assert res.deviation == pytest.approx(np.mean(res.output != clean))
        assert rnd.deviation == pytest.approx(np.mean(rnd.output != clean))
    with pytest.raises(ValueError, match="clean_labels shape"):
        random_segmentation(unet, images, spacing, [0.03], clean_labels=clean[:, :1])


def test_pgd_degrades_the_unet_more_than_random_noise(unet, seg_images):
    images, labels, spacing = seg_images
    eps = 0.03
    (adv,) = attack_segmentation(unet, images, spacing, [eps], attack="pgd", steps=5,
                                 labels=labels, seed=0)
    (rnd,) = random_segmentation(unet, images, spacing, [eps], norm="linf", seed=0)
    assert adv.deviation > 3 * rnd.deviation
    for lab in (1, 2, 3):  # RV, MYO, LV Dice against the ground truth
        assert _dice(adv.output, labels, lab) < _dice(rnd.output, labels, lab)


def test_black_box_segmentation_gets_random_search(seg_images):
    images, _, spacing = seg_images
    classical = reference_impls.get("segmentation", "classical")
    assert not is_differentiable(classical)
    (res,) = attack_segmentation(classical, images, spacing, [0.03], n_queries=3)
    (rnd,) = random_segmentation(classical, images, spacing, [0.03], norm="linf")
    assert res.kind == "random-search" and not res.white_box and res.queries == 3
    assert np.abs(_delta(res.perturbed, images)).max() <= 0.03 + 1e-5
    assert res.deviation >= rnd.deviation  # the random draw is the search's first candidate


# ------------------------------------------------------------------ instability ratio
def test_instability_ratio():
    assert instability_ratio(0.3, 0.01) == pytest.approx(30.0)
    out = instability_ratio([0.0, 0.2, 0.4], [0.0, 0.0, 0.1])
    assert np.isnan(out[0]) and out[1] == np.inf and out[2] == pytest.approx(4.0)
    with pytest.raises(ValueError, match="finite and >= 0"):
        instability_ratio(-0.1, 0.1)
    with pytest.raises(ValueError, match="shape"):
        instability_ratio([0.1, 0.2], [0.1])


def test_instability_ratios_pair_by_budget(case):
    zf = reference_impls.get("recon", "zero-filled")
    adv = attack_recon(zf, case, [0.05, 0.01], steps=2)
    rnd = random_recon(zf, case, [0.01, 0.05])
    ratios = instability_ratios(adv, rnd)
    assert set(ratios) == {0.01, 0.05}
    for a in adv:
        r = next(x for x in rnd if x.budget == a.budget)
        assert ratios[a.budget] == pytest.approx(a.deviation / r.deviation)


def test_bad_arguments_name_the_problem(case, seg_images):
    zf = reference_impls.get("recon", "zero-filled")
    with pytest.raises(ValueError, match="budget"):
        attack_recon(zf, case, [-0.1])
    with pytest.raises(ValueError, match="domain"):
        attack_recon(zf, case, [0.1], domain="kspce")
    with pytest.raises(ValueError, match="steps"):
        attack_recon(zf, case, [0.1], steps=0)
    images, _, spacing = seg_images
    with pytest.raises(ValueError, match="attack"):
        attack_segmentation(reference_impls.get("segmentation", "classical"), images, spacing,
                            [0.1], attack="apgd")


def test_a_detached_reconstruct_is_refused_with_a_hint(case):
    class Detached:
        name = "detached"

        def __init__(self):
            self.inner = reference_impls.get("recon", "zero-filled")

        def reconstruct(self, kspace, mask, coil_maps):
            return self.inner.reconstruct(kspace, mask, coil_maps).detach()

        def __call__(self, c):
            return self.inner(c)

    with pytest.raises(ValueError, match="no gradient path"):
        attack_recon(Detached(), case, [0.01], steps=1)


def test_non_finite_gradients_are_zeroed_and_named(case):
    """A reconstruction whose gradient is NaN at some entries (the square root of |k|² at the
    unsampled zeros) and finite at the others: the attack notes it, zeroes exactly those
    entries and returns a finite perturbation within the budget (numpy recomputes the norm)."""
    class SqrtMagnitude:
        name = "sqrt-magnitude"

        def reconstruct(self, kspace, mask, coil_maps):
            return torch.sqrt(kspace.real ** 2 + kspace.imag ** 2).sum(dim=2).to(torch.complex64)

        def __call__(self, c):
            k = np.asarray(c.kspace)
            return np.sqrt(k.real ** 2 + k.imag ** 2).sum(axis=2).astype(np.complex64)

    (res,) = attack_recon(SqrtMagnitude(), case, [0.01], steps=2, keep_perturbation=True)
    assert any("non-finite gradient" in n for n in res.notes)
    delta = np.asarray(res.perturbation)
    assert np.isfinite(delta).all()
    ref = np.linalg.norm(np.asarray(case.kspace).astype(np.complex128))
    assert np.linalg.norm(delta.astype(np.complex128)) <= 0.01 * ref * (1 + 1e-5)

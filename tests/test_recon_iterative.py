"""k-t CS (PDHG) and L+S against closed-form proximal solutions and constructed data."""

import numpy as np
import pytest
import torch

import reference_impls
from reference_impls.recon.kt_cs import grad_s, grad_s_adjoint, kt_cs_pdhg
from reference_impls.recon.lowrank_sparse import lowrank_sparse, singular_value_threshold
from suite.case import Case
from suite.mr import SenseOperator, make_mask


def identity_operator(ny, nx):
    """One coil with unit sensitivity, full sampling: A is the unitary FFT."""
    return SenseOperator(torch.ones(1, ny, nx, dtype=torch.complex128), None)


def test_grad_adjointness():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 7, 6, dtype=torch.complex128, generator=g)
    q = torch.randn(2, 3, 7, 6, dtype=torch.complex128, generator=g)
    lhs = torch.vdot(grad_s(x).flatten(), q.flatten())
    rhs = torch.vdot(x.flatten(), grad_s_adjoint(q).flatten())
    assert abs(lhs - rhs) < 1e-12


def test_kt_cs_temporal_fourier_equals_closed_form_prox():
    """A = unitary FFT, λ_s = 0: the minimiser is soft-thresholding in x-f (prox of the L1 norm
    of a unitary transform)."""
    rng = np.random.default_rng(0)
    img = rng.standard_normal((8, 6, 5)) + 1j * rng.standard_normal((8, 6, 5))
    op = identity_operator(6, 5)
    y = op.forward(torch.from_numpy(img))
    lam = 0.1  # relative to max|A^H y| = max|img|
    x, _ = kt_cs_pdhg(op, y, lam_s=0.0, lam_t=lam, temporal="fourier", max_iter=3000, tol=1e-10)
    t = lam * np.abs(img).max()
    f = np.fft.fft(img, axis=0, norm="ortho")
    f = f * np.maximum(np.abs(f) - t, 0) / np.maximum(np.abs(f), 1e-30)
    expected = np.fft.ifft(f, axis=0, norm="ortho")
    np.testing.assert_allclose(x.numpy(), expected, atol=1e-6)


@pytest.mark.parametrize("a, b", [(0.0, 1.0), (0.0, 0.3)])
def test_kt_cs_temporal_tv_two_frames_closed_form(a, b):
    """Two frames, periodic TV (two equal differences): x1 = a + 2λ, x2 = b − 2λ when
    |b − a| > 4λ, else both at the mean."""
    img = np.zeros((2, 1, 1), complex)
    img[0], img[1] = a, b
    op = identity_operator(1, 1)
    lam_rel = 0.05
    x, _ = kt_cs_pdhg(op, op.forward(torch.from_numpy(img)), 0.0, lam_rel, "tv",
                      max_iter=5000, tol=1e-12)
    lam = lam_rel * max(abs(a), abs(b))
    if abs(b - a) > 4 * lam:
        expected = [a + 2 * lam * np.sign(b - a), b - 2 * lam * np.sign(b - a)]
    else:
        expected = [(a + b) / 2] * 2
    np.testing.assert_allclose(x.numpy().ravel().real, expected, atol=1e-6)


def test_svt_closed_form():
    u, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((10, 3)))
    v, _ = np.linalg.qr(np.random.default_rng(2).standard_normal((4, 3)))
    m = u @ np.diag([4.0, 2.0, 1.0]) @ v.T
    out = singular_value_threshold(torch.from_numpy(m + 0j), 0.375).numpy()
    np.testing.assert_allclose(out, u @ np.diag([2.5, 0.5, 0.0]) @ v.T, atol=1e-10)


def test_lowrank_sparse_converges_to_the_block_optimality_conditions():
    """Full sampling, one unit coil (E unitary): at convergence L = SVT(d − S) and
    S = T^H soft(T(d − L)), checked with an independent numpy SVD / FFT; and the split puts the
    pulsation (x-f sparse) in S and the static background in L."""
    ny, nx, nf = 16, 12, 10
    rng = np.random.default_rng(3)
    background = rng.random((ny, nx)) + 1.0
    pulse = np.zeros((nf, ny, nx))
    pulse[:, 6:9, 5:8] = 0.8 * np.cos(2 * np.pi * 2 * np.arange(nf) / nf)[:, None, None]
    img = background[None] + pulse
    op = identity_operator(ny, nx)
    lam_l, lam_s = 0.15, 0.01  # λ_L above the pulsation's relative singular value (≈ 0.08)
    x, low, sparse, _ = lowrank_sparse(op, op.forward(torch.from_numpy(img + 0j)), lam_l=lam_l,
                                       lam_s=lam_s, max_iter=500, tol=1e-12)
    d, L, S = img, low.numpy(), sparse.numpy()
    u, sv, vh = np.linalg.svd((d - S).reshape(nf, -1).T, full_matrices=False)
    L_expected = ((u * np.maximum(sv - lam_l * sv[0], 0)) @ vh).T.reshape(nf, ny, nx)
    f = np.fft.fft(d - L, axis=0, norm="ortho")
    t = lam_s * np.abs(img).max()
    S_expected = np.fft.ifft(f * np.maximum(np.abs(f) - t, 0) / np.maximum(np.abs(f), 1e-30),
                             axis=0, norm="ortho")
    np.testing.assert_allclose(L, L_expected, atol=1e-6)
    np.testing.assert_allclose(S, S_expected, atol=1e-6)
    assert S[:, 6:9, 5:8].std(axis=0).mean() > 20 * S[:, :4, :4].std(axis=0).mean()
    sv_low = np.linalg.svd(L.reshape(nf, -1), compute_uv=False)
    assert sv_low[1] < 1e-6 * sv_low[0]


def _moving_case(nf=12, r=6, seed=0):
    """A disc whose radius beats over frames, 6 smooth coils, noise; k-t interleaved mask."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent))
    from test_recon_sense import synthetic

    k, maps, frames, support = synthetic(nf=nf)
    ny, nx = frames.shape[-2:]
    y, x = np.mgrid[-1:1:ny * 1j, -1:1:nx * 1j]
    radius = 0.25 + 0.1 * np.cos(2 * np.pi * np.arange(nf) / nf)
    frames = frames + 1.5 * ((x[None] ** 2 + y[None] ** 2) < radius[:, None, None] ** 2)
    from suite.mr import fft2c

    k = fft2c(maps[None, None] * frames[None, :, None]).astype(np.complex64)
    rng = np.random.default_rng(seed)
    k = k + (0.01 * (rng.standard_normal(k.shape) + 1j * rng.standard_normal(k.shape))).astype(np.complex64)
    s = make_mask("kt-interleaved", k.shape, r, acs_lines=12)
    return Case(kspace=(k * s.mask).astype(np.complex64), mask=s.mask), np.abs(frames), support


def test_iterative_methods_beat_zero_filled_on_moving_object():
    case, truth, support = _moving_case()

    def err(name, **p):
        out = np.abs(reference_impls.get("recon", name, **p)(case)[0])
        return np.linalg.norm((out - truth)[:, support]) / np.linalg.norm(truth[:, support])

    zf = err("zero-filled")
    assert err("kt-cs", max_iter=60) < 0.7 * zf
    assert err("lowrank-sparse") < 0.7 * zf


def test_kt_cs_is_differentiable():
    case, _, _ = _moving_case(nf=4, r=2)
    from reference_impls.recon._inputs import sense_inputs, slice_mask

    k, m, maps, _ = sense_inputs(case)
    k = k.clone().requires_grad_(True)
    op = SenseOperator(maps[0], slice_mask(m, 0))
    x, _ = kt_cs_pdhg(op, k[0], 0.002, 0.01, max_iter=5)
    x.abs().sum().backward()
    assert torch.isfinite(k.grad).all() and k.grad.abs().sum() > 0

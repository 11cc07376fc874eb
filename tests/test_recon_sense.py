"""ESPIRiT maps and CG-SENSE against independent references (true maps, explicit least squares)."""

import numpy as np
import pytest
import torch

import reference_impls
from reference_impls.recon import cg_sense, espirit_maps, lowres_maps
from suite.case import Case
from suite.mr import equispaced_mask, fft2c


def synthetic(ny=64, nx=56, nc=6, nf=3, seed=0):
    """Smooth analytic coil maps (unit RSS) and a textured ellipse; returns k-space and truth."""
    y, x = np.mgrid[-1:1:ny * 1j, -1:1:nx * 1j]
    img = ((x / 0.7) ** 2 + (y / 0.8) ** 2 < 1) * (1 + 0.5 * np.cos(3 * x) + 0.3 * y)
    ang = np.linspace(0, 2 * np.pi, nc, endpoint=False)
    maps = np.stack([
        np.exp(-((x - 1.2 * np.cos(a)) ** 2 + (y - 1.2 * np.sin(a)) ** 2) / 1.5)
        * np.exp(1j * (x * np.cos(a) + 0.5 * y)) for a in ang])
    maps /= np.sqrt((np.abs(maps) ** 2).sum(0))
    frames = np.stack([img * np.exp(1j * 0.3 * t) for t in range(nf)])
    k = fft2c(maps[None, None] * frames[None, :, None]).astype(np.complex64)
    return k, maps.astype(np.complex64), frames, img > 0


def test_espirit_recovers_true_maps_up_to_phase():
    k, maps, _, support = synthetic()
    s = equispaced_mask(k.shape, 4, acs_lines=24)
    est = espirit_maps(k * s.mask, s.mask)
    agreement = np.abs((est[0] * maps.conj()).sum(0))
    assert agreement[support].min() > 0.99
    np.testing.assert_allclose((np.abs(est[0]) ** 2).sum(0)[support], 1.0, atol=1e-4)


def _direct_espirit(kspace, mask, kernel=6, threshold=0.02, crop=0.8):
    """ESPIRiT as the paper builds it (Uecker 2014): every signal-subspace kernel zero-padded
    to the matrix and inverse-FFT'd, the per-pixel Gram matrix Σ a a^H, its top eigenvector."""
    from reference_impls.recon.coil_maps import acs_region
    from suite.mr import ifft2c

    ns, _, nc, ny, nx = kspace.shape
    sy, sx = acs_region(kspace, mask)
    out = np.zeros((ns, nc, ny, nx), np.complex64)
    for s in range(ns):
        calib = kspace[s, :, :, sy, sx].astype(np.complex128).mean(axis=0)
        win = np.lib.stride_tricks.sliding_window_view(calib, (kernel, kernel), axis=(1, 2))
        patches = win.transpose(1, 2, 0, 3, 4).reshape(-1, nc * kernel * kernel)
        _, sv, vh = np.linalg.svd(patches, full_matrices=False)
        kernels = vh[sv >= threshold * sv[0]].reshape(-1, nc, kernel, kernel)
        padded = np.zeros((len(kernels), nc, ny, nx), np.complex128)
        y0, x0 = ny // 2 - kernel // 2, nx // 2 - kernel // 2
        padded[:, :, y0:y0 + kernel, x0:x0 + kernel] = kernels
        a = ifft2c(padded).transpose(2, 3, 1, 0)  # (y, x, coil, n)
        lam, vec = np.linalg.eigh(a @ a.conj().swapaxes(-1, -2) * (ny * nx / kernel**2))
        top = vec[..., -1]
        top = top * np.conj(top[..., :1] / (np.abs(top[..., :1]) + 1e-12))
        out[s] = (top * (lam[..., -1:] > crop)).transpose(2, 0, 1)
    return out


def test_espirit_equals_the_direct_construction():
    """The per-pixel Gram matrices assembled from the kernel correlation give the same maps as
    transforming every zero-padded kernel (to complex64 rounding)."""
    k, _, _, _ = synthetic(ny=40, nx=36, nc=4, nf=2)
    s = equispaced_mask(k.shape, 2, acs_lines=16)
    ours = espirit_maps(k * s.mask, s.mask)
    np.testing.assert_allclose(ours, _direct_espirit(k * s.mask, s.mask), atol=2e-6)


def test_coil_map_estimates_are_remembered_exactly(monkeypatch):
    from reference_impls.recon import coil_maps

    k, _, _, _ = synthetic()
    s = equispaced_mask(k.shape, 4, acs_lines=24)
    case = Case(kspace=(k * s.mask).astype(np.complex64), mask=s.mask)
    first, used = coil_maps.estimate_coil_maps(case)
    assert used == "espirit"
    first[...] = 0  # callers get a copy: editing it does not edit the remembered estimate
    calls = []
    real = coil_maps.espirit_maps
    monkeypatch.setattr(coil_maps, "espirit_maps", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    again, _ = coil_maps.estimate_coil_maps(case)
    assert calls == []  # remembered
    np.testing.assert_array_equal(again, real(case.kspace, case.mask))
    # what the estimator reads changes -> estimated again: the ACS block, the parameters
    k2 = case.kspace.copy()
    k2[..., 32, 20] += 1
    coil_maps.estimate_coil_maps(case.replace(kspace=k2))
    coil_maps.estimate_coil_maps(case, crop=0.5)
    assert len(calls) == 2


def test_lowres_fallback_is_used_without_enough_acs():
    k, maps, _, support = synthetic()
    s = equispaced_mask(k.shape, 2, acs_lines=4)
    with pytest.raises(ValueError, match="smaller than 12x12"):
        espirit_maps(k * s.mask, s.mask)
    method = reference_impls.get("recon", "cg-sense", max_iter=5)
    method(Case(kspace=(k * s.mask).astype(np.complex64), mask=s.mask))
    assert method.last_info["coil_maps"] == "lowres-fallback"
    assert lowres_maps(k * s.mask, s.mask).shape == (1, 6, 64, 56)


def test_cg_sense_matches_explicit_least_squares():
    """Tiny problem: CG-SENSE equals the normal-equation solution built as an explicit matrix."""
    rng = np.random.default_rng(1)
    ny, nx, nc = 8, 6, 3
    maps = (rng.standard_normal((nc, ny, nx)) + 1j * rng.standard_normal((nc, ny, nx)))
    mask = np.zeros((1, 1, 1, ny, 1), bool)
    mask[..., ::2, :] = True
    mask[..., 3:5, :] = True
    x_true = rng.standard_normal((ny, nx)) + 1j * rng.standard_normal((ny, nx))
    lam = 0.05
    # explicit A: rows = sampled (coil, ky, kx); columns = pixels; built from numpy's DFT
    eye = np.eye(ny * nx).reshape(ny * nx, ny, nx)
    cols = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(maps[None] * eye[:, None], axes=(-2, -1)),
                                       norm="ortho"), axes=(-2, -1))
    sel = np.broadcast_to(mask[0, 0], (nc, ny, nx))
    A = cols[:, sel].T
    y = A @ x_true.ravel()
    expected = np.linalg.solve(A.conj().T @ A + lam * np.eye(ny * nx), A.conj().T @ y)
    k = np.zeros((1, 1, nc, ny, nx), complex)
    k[0, 0][sel] = y
    out, info = cg_sense(torch.from_numpy(k), torch.from_numpy(mask), torch.from_numpy(maps[None]),
                         lam=lam, max_iter=200, tol=1e-12)
    np.testing.assert_allclose(out[0, 0].numpy().ravel(), expected, atol=1e-8)


def test_cg_sense_beats_zero_filled_and_is_differentiable():
    k, maps, frames, support = synthetic()
    s = equispaced_mask(k.shape, 4, acs_lines=24)
    case = Case(kspace=(k * s.mask).astype(np.complex64), mask=s.mask)
    truth = np.abs(frames)
    cg = np.abs(reference_impls.get("recon", "cg-sense")(case)[0])
    zf = np.abs(reference_impls.get("recon", "zero-filled")(case)[0])
    err = lambda a: np.linalg.norm((a - truth)[:, support]) / np.linalg.norm(truth[:, support])  # noqa: E731
    assert err(cg) < 0.05 < err(zf)
    kt = torch.from_numpy(case.kspace).requires_grad_(True)
    out, _ = cg_sense(kt, torch.from_numpy(s.mask), torch.from_numpy(maps[None]), max_iter=5)
    out.abs().sum().backward()
    assert kt.grad is not None and torch.isfinite(kt.grad).all() and kt.grad.abs().sum() > 0


def test_cg_iterates_equal_with_and_without_gradient_tracking():
    """The in-place updates (no gradient tracked) give the same iterates, bit for bit, as the
    differentiable ones."""
    k, maps, _, _ = synthetic(ny=16, nx=12, nc=3, nf=2)
    s = equispaced_mask(k.shape, 2, acs_lines=4)
    args = (torch.from_numpy(s.mask), torch.from_numpy(maps[None]))
    kt = torch.from_numpy(k * s.mask)
    plain, _ = cg_sense(kt, *args, lam=0.01, max_iter=7, tol=0.0)
    tracked, _ = cg_sense(kt.clone().requires_grad_(True), *args, lam=0.01, max_iter=7, tol=0.0)
    assert torch.equal(plain, tracked.detach())

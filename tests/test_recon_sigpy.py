"""CG-SENSE against sigpy's SenseRecon (an independent implementation), same iterations."""

import numpy as np
import pytest
import torch

from reference_impls.recon import cg_sense

sigpy_mri = pytest.importorskip("sigpy.mri", reason="sigpy is a test-only cross-check (dev extra)")


@pytest.mark.parametrize("lam", [0.0, 0.01])
def test_cg_sense_equals_sigpy_sense_recon(lam):
    rng = np.random.default_rng(0)
    nc, ny, nx = 6, 48, 40
    yy, xx = np.mgrid[-1:1:ny * 1j, -1:1:nx * 1j]
    maps = np.stack([np.exp(-((xx - np.cos(a)) ** 2 + (yy - np.sin(a)) ** 2)) * np.exp(1j * a * xx)
                     for a in np.linspace(0, 2 * np.pi, nc, endpoint=False)])
    img = ((xx / 0.8) ** 2 + (yy / 0.7) ** 2 < 1) * (1 + yy)
    mask = np.zeros((ny, 1), bool)
    mask[::3] = True
    mask[ny // 2 - 4: ny // 2 + 4] = True
    mask = np.broadcast_to(mask, (ny, nx))
    k = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(maps * img, axes=(-2, -1)), norm="ortho"),
                        axes=(-2, -1))
    k = (k + 0.01 * (rng.standard_normal(k.shape) + 1j * rng.standard_normal(k.shape))) * mask
    n_iter = 15
    expected = sigpy_mri.app.SenseRecon(k, maps, lamda=lam, weights=mask.astype(float),
                                        max_iter=n_iter, show_pbar=False).run()
    ours, info = cg_sense(torch.from_numpy(k[None, None]), torch.from_numpy(mask[None, None, None]),
                          torch.from_numpy(maps[None]), lam=lam, max_iter=n_iter, tol=0.0)
    ours = ours[0, 0].numpy()
    assert info["iterations"] == [n_iter]
    rel = np.linalg.norm(ours - expected) / np.linalg.norm(expected)
    assert rel < 1e-6, rel

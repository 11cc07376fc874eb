"""FFT, coil combination and SENSE operator against independent references."""

import numpy as np
import pytest
import torch

from suite.mr import SenseOperator, combine_coils, fft2c, ifft2c, rss


def numpy_fft2c(x):
    """Independent reference: numpy's shift-fft2-shift with orthonormal scaling."""
    ax = (-2, -1)
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=ax), norm="ortho"), axes=ax)


def numpy_ifft2c(k):
    ax = (-2, -1)
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=ax), norm="ortho"), axes=ax)


@pytest.mark.parametrize("shape", [(8, 8), (7, 9), (3, 6, 5), (2, 3, 16, 15)])
def test_fft2c_matches_numpy_on_odd_and_even_sizes(shape):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex128)
    np.testing.assert_allclose(fft2c(x), numpy_fft2c(x), atol=1e-12)
    np.testing.assert_allclose(ifft2c(x), numpy_ifft2c(x), atol=1e-12)
    # torch input gives torch output with the same values
    t = fft2c(torch.from_numpy(x))
    assert isinstance(t, torch.Tensor)
    np.testing.assert_allclose(t.numpy(), numpy_fft2c(x), atol=1e-12)


def test_fft2c_is_orthonormal_and_inverse():
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((4, 10, 12)) + 1j * rng.standard_normal((4, 10, 12)))
    k = fft2c(x)
    assert np.linalg.norm(k) == pytest.approx(np.linalg.norm(x), rel=1e-12)  # Parseval
    np.testing.assert_allclose(ifft2c(k), x, atol=1e-12)


def test_fft2c_dc_at_centre():
    k = fft2c(np.ones((6, 5), np.complex128))
    assert abs(k[3, 2]) == pytest.approx(np.sqrt(30))
    assert np.abs(k).sum() == pytest.approx(np.sqrt(30))


def test_rss_closed_form():
    x = np.zeros((2, 3, 4, 4), np.complex64)
    x[:, 0] = 3.0
    x[:, 1] = 4.0j
    np.testing.assert_allclose(rss(x, dim=1), 5.0)
    np.testing.assert_allclose(rss(torch.from_numpy(x), dim=1).numpy(), 5.0)


def test_combine_coils_recovers_image_from_normalised_maps():
    rng = np.random.default_rng(3)
    maps = rng.standard_normal((4, 8, 8)) + 1j * rng.standard_normal((4, 8, 8))
    maps /= np.sqrt((np.abs(maps) ** 2).sum(0, keepdims=True))
    img = rng.standard_normal((8, 8)) + 1j * rng.standard_normal((8, 8))
    np.testing.assert_allclose(combine_coils(maps * img, maps, dim=0), img, atol=1e-10)


def _random_problem(seed, frames=3, coils=4, ny=12, nx=10):
    g = torch.Generator().manual_seed(seed)

    def crand(*shape):
        return torch.complex(torch.randn(*shape, generator=g, dtype=torch.float64),
                             torch.randn(*shape, generator=g, dtype=torch.float64))

    maps = crand(coils, ny, nx)
    mask = torch.rand(frames, 1, ny, 1, generator=g) > 0.5
    return maps, mask, crand(frames, ny, nx), crand(frames, coils, ny, nx)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sense_adjointness(seed):
    """<A x, y> = <x, A^H y> for random x, y, maps and a k-t mask."""
    maps, mask, x, y = _random_problem(seed)
    op = SenseOperator(maps, mask)
    lhs = torch.vdot(op.forward(x).flatten(), y.flatten())
    rhs = torch.vdot(x.flatten(), op.adjoint(y).flatten())
    assert abs(lhs - rhs) < 1e-10 * abs(lhs)


def test_sense_matches_explicit_matrix():
    """The operator equals the explicit matrix M F S built with numpy's DFT."""
    maps, mask, x, _ = _random_problem(5, frames=2, coils=2, ny=5, nx=4)
    op = SenseOperator(maps, mask)
    expected = numpy_fft2c(maps.numpy()[None] * x.numpy()[:, None]) * mask.numpy()
    np.testing.assert_allclose(op.forward(x).numpy(), expected, atol=1e-12)


def test_sense_normal_operator_is_identity_for_full_sampling_and_unit_maps():
    rng = np.random.default_rng(4)
    maps = rng.standard_normal((3, 6, 6)) + 1j * rng.standard_normal((3, 6, 6))
    maps /= np.sqrt((np.abs(maps) ** 2).sum(0, keepdims=True))
    op = SenseOperator(torch.from_numpy(maps), None)
    x = torch.from_numpy(rng.standard_normal((2, 6, 6)) + 0j)
    np.testing.assert_allclose(op.normal(x).numpy(), x.numpy(), atol=1e-12)


def test_sense_is_differentiable():
    maps, mask, x, _ = _random_problem(6)
    x = x.clone().requires_grad_(True)
    loss = SenseOperator(maps, mask).forward(x).abs().pow(2).sum()
    loss.backward()
    # d/dx* ||A x||^2 = A^H A x  (torch returns the conjugate Wirtinger gradient times 2)
    expected = 2 * SenseOperator(maps, mask).normal(x.detach())
    np.testing.assert_allclose(x.grad.numpy(), expected.numpy(), atol=1e-9)

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


def _explicit_sense(maps, mask, x):
    """Independent reference ``M F S x`` with numpy's shift-fft2-shift."""
    k = numpy_fft2c(maps[None] * x[:, None])
    return k if mask is None else k * mask


@pytest.mark.parametrize("ny, nx", [(6, 8), (5, 8), (6, 7), (5, 7)])
@pytest.mark.parametrize("mask_kind", ["none", "lines", "points", "full lines", "coil lines"])
@pytest.mark.parametrize("group", [None, 1, 3])
def test_sense_forward_adjoint_normal_match_explicit_operator(ny, nx, mask_kind, group,
                                                              monkeypatch):
    """Forward, adjoint and normal operator against numpy on even and odd matrices, for full
    sampling, k-t line masks (constant along kx; also stored full size, and per coil), masks
    varying along kx, and the normal operator's coil groups of 1 and 3 of the 4 coils."""
    import suite.mr.sense as sense

    if group is not None:  # elements of one coil group: image size times coils per group
        monkeypatch.setattr(sense, "_GROUP_ELEMENTS", group * 3 * ny * nx)
    rng = np.random.default_rng(7)
    frames, coils = 3, 4
    maps = rng.standard_normal((coils, ny, nx)) + 1j * rng.standard_normal((coils, ny, nx))
    x = rng.standard_normal((frames, ny, nx)) + 1j * rng.standard_normal((frames, ny, nx))
    y = rng.standard_normal((frames, coils, ny, nx)) + 1j * rng.standard_normal((frames, coils, ny, nx))
    lines = rng.random((frames, 1, ny, 1)) > 0.5
    mask = {"none": None, "lines": lines, "points": rng.random((frames, 1, ny, nx)) > 0.5,
            "full lines": np.broadcast_to(lines, (frames, 1, ny, nx)).copy(),
            "coil lines": rng.random((frames, coils, ny, 1)) > 0.5}[mask_kind]
    op = SenseOperator(torch.from_numpy(maps), None if mask is None else torch.from_numpy(mask))
    np.testing.assert_allclose(op.forward(torch.from_numpy(x)).numpy(),
                               _explicit_sense(maps, mask, x), atol=1e-12)
    ym = y if mask is None else y * mask
    expected_adj = (np.conj(maps)[None] * numpy_ifft2c(ym)).sum(axis=1)
    np.testing.assert_allclose(op.adjoint(torch.from_numpy(y)).numpy(), expected_adj, atol=1e-12)
    expected_normal = (np.conj(maps)[None] * numpy_ifft2c(_explicit_sense(maps, mask, x))).sum(1)
    np.testing.assert_allclose(op.normal(torch.from_numpy(x)).numpy(), expected_normal,
                               atol=1e-12)


@pytest.mark.parametrize("mask_kind", ["lines", "points"])
def test_sense_paths_with_and_without_gradients_agree(mask_kind):
    """One image (the 2-D transposing path), a ky-line and a point mask: the adjoint and
    normal operator without gradients (conjugated sums, buffers, real-view masking) equal,
    bit for bit, the differentiable ones, which equal numpy's explicit operator."""
    rng = np.random.default_rng(11)
    coils, ny, nx = 3, 8, 6
    maps = rng.standard_normal((coils, ny, nx)) + 1j * rng.standard_normal((coils, ny, nx))
    x = rng.standard_normal((1, ny, nx)) + 1j * rng.standard_normal((1, ny, nx))
    y = rng.standard_normal((1, coils, ny, nx)) + 1j * rng.standard_normal((1, coils, ny, nx))
    mask = rng.random((ny, 1) if mask_kind == "lines" else (ny, nx)) > 0.4
    op = SenseOperator(torch.from_numpy(maps), torch.from_numpy(mask))
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    tracked_normal = op.normal(xt.clone().requires_grad_(True))
    tracked_adjoint = op.adjoint(yt.clone().requires_grad_(True))
    assert torch.equal(op.normal(xt), tracked_normal.detach())
    assert torch.equal(op.adjoint(yt), tracked_adjoint.detach())
    expected = (np.conj(maps)[None] * numpy_ifft2c(_explicit_sense(maps, mask, x))).sum(1)
    np.testing.assert_allclose(tracked_normal.detach().numpy(), expected, atol=1e-12)
    expected_adj = (np.conj(maps)[None] * numpy_ifft2c(y * mask)).sum(axis=1)
    np.testing.assert_allclose(tracked_adjoint.detach().numpy(), expected_adj, atol=1e-12)


def test_sense_operator_broadcasts_leading_slice_axis():
    """Maps ``(slice, coil, y, x)``, images ``(slice, frame, y, x)``, mask with a slice axis."""
    maps, mask, x, _ = _random_problem(8)
    maps2 = torch.stack([maps, 2 * maps])
    x2 = torch.stack([x, -x])
    mask2 = torch.stack([mask, mask])
    op = SenseOperator(maps2, mask2)
    for s in range(2):
        one = SenseOperator(maps2[s], mask2[s])
        torch.testing.assert_close(op.forward(x2)[s], one.forward(x2[s]))
        torch.testing.assert_close(op.normal(x2)[s], one.normal(x2[s]))


def test_centring_signs_fold_the_shifts():
    from suite.mr import centring_signs

    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 6, 10)) + 1j * rng.standard_normal((3, 6, 10))
    pre, post = centring_signs(6, 10, torch.float64)
    t = torch.from_numpy(x)
    np.testing.assert_allclose((post * torch.fft.fft2(pre * t, norm="ortho")).numpy(),
                               numpy_fft2c(x), atol=1e-12)
    np.testing.assert_allclose((post * torch.fft.ifft2(pre * t, norm="ortho")).numpy(),
                               numpy_ifft2c(x), atol=1e-12)


def test_intra_op_threads_sets_and_restores(monkeypatch):
    from suite.mr import default_threads, intra_op_threads, set_default_threads

    before = torch.get_num_threads()
    monkeypatch.delenv("CMRSUITE_THREADS", raising=False)
    assert default_threads() == 1
    monkeypatch.setenv("CMRSUITE_THREADS", "2")
    assert default_threads() == 2
    monkeypatch.setenv("CMRSUITE_THREADS", "two")
    with pytest.raises(ValueError, match="CMRSUITE_THREADS"):
        default_threads()
    monkeypatch.delenv("CMRSUITE_THREADS")
    set_default_threads(3)
    try:
        assert default_threads() == 3
    finally:
        set_default_threads(None)
    with intra_op_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError):
        with intra_op_threads(0):
            pass

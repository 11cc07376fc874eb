"""The multi-coil SENSE operator: one implementation for phantom, recon and attacks.

For one slice with frames ``F``, coils ``C`` and matrix ``(ny, nx)``::

    forward  A x = M · F(S · x)          x: (..., frame, y, x)      → (..., frame, coil, ky, kx)
    adjoint  A^H y = sum_c conj(S_c) · F^H(M · y)                    → (..., frame, y, x)

with ``F`` the centred orthonormal FFT (:mod:`suite.mr.fft`), ``S`` coil maps
``(..., coil, y, x)`` and ``M`` a boolean mask broadcastable to ``(..., frame, coil, ky, kx)``.
Leading ``...`` axes (e.g. slice) broadcast. Matches the ``sens_expand`` / ``sens_reduce`` pair of
fastMRI ``fastmri/models/varnet.py`` with the mask applied, and sigpy's ``M·F·S`` (Pruessmann et
al., MRM 1999, doi 10.1002/(SICI)1522-2594(199911)42:5<952::AID-MRM16>3.0.CO;2-S).

:class:`SenseOperator` evaluates the same maps faster (equal up to floating-point rounding):

* on even matrices the centring signs of :func:`suite.mr.fft.centring_signs` are folded into the
  maps and the mask once, so each application is one FFT over all frames and coils at once
  between two multiplications (no shifts, no copies);
* the normal operator ``A^H A = S^H F^H M F S`` skips the FFT along kx when the mask does not
  depend on kx (Cartesian lines: ``F_x^H F_x = I``; a full-size mask with constant rows is
  recognised too), computing unscaled FFTs along ky (the orthonormal factors folded into the
  mask) on transposed (ky-contiguous) coil images a few coils at a time, and needs no FFT at
  all for full sampling (``A^H A = Σ_c |S_c|²``);
* without gradients, the adjoint sums run conjugated (``Σ_c conj(S_c) z_c =
  conj(Σ_c S_c conj(z_c))``, with ``conj(F^H k) = F conj(k)`` and the conjugation applied by
  the real mask multiplication), so no conjugated copy of the maps is made or read, and the
  normal operator expands each coil group into a buffer it keeps. The same products and
  sums in the same order as the differentiable path: equal bit for bit (tested).
"""

from __future__ import annotations

import torch

from suite.mr.fft import centring_signs, fft2c, ifft2c

__all__ = ["SenseOperator", "sense_forward", "sense_adjoint"]


def sense_forward(image: torch.Tensor, coil_maps: torch.Tensor, mask: torch.Tensor | None):
    """``M F S x``: image ``(..., frame, y, x)`` → k-space ``(..., frame, coil, ky, kx)``.

    ``coil_maps`` is ``(..., coil, y, x)`` (no frame axis: maps are static over the cycle).
    """
    return SenseOperator(coil_maps, mask).forward(image)


def sense_adjoint(kspace: torch.Tensor, coil_maps: torch.Tensor, mask: torch.Tensor | None):
    """``S^H F^H M y``: k-space ``(..., frame, coil, ky, kx)`` → image ``(..., frame, y, x)``."""
    return SenseOperator(coil_maps, mask).adjoint(kspace)


def _masked(k: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``k · mask``, in place when ``mask`` broadcasts to ``k``'s shape (``k`` is a fresh FFT
    output, which no backward pass needs)."""
    if _broadcast(k.shape, mask.shape) == tuple(k.shape):
        return k.mul_(mask)
    return k * mask


def _coil_sum(maps: torch.Tensor, coil_images: torch.Tensor) -> torch.Tensor:
    """``Σ_c conj(maps_c) · coil_images_c``: maps ``(..., coil, y, x)``, images
    ``(..., frame, coil, y, x)`` → ``(..., frame, y, x)``."""
    return torch.linalg.vecdot(maps.unsqueeze(-4), coil_images, dim=-3)


def _transposed(image: torch.Tensor) -> torch.Tensor:
    """``image`` with its last two axes swapped, contiguous; a single 2-D image through
    torch's blocked 2-D transposing copy (about 3x faster than the general strided copy)."""
    if image.numel() == image.shape[-1] * image.shape[-2]:
        return image.reshape(image.shape[-2:]).t().contiguous().view(
            image.shape[:-2] + image.shape[-2:][::-1])
    return image.transpose(-1, -2).contiguous()


def _conj_coil_sum(maps: torch.Tensor, conj_images: torch.Tensor) -> torch.Tensor:
    """``conj(Σ_c maps_c · conj_images_c)`` (= ``Σ_c conj(maps_c) · images_c``, the same
    products and sums as :func:`_coil_sum`): maps ``(..., coil, y, x)``, images
    ``(..., frame, coil, y, x)`` → ``(..., frame, y, x)``; one multiply-add per coil in coil
    order, then one conjugating copy."""
    out = None
    for c, z in enumerate(conj_images.unbind(-3)):
        m = maps.select(-3, c).unsqueeze(-3)
        out = m * z if out is None else out.addcmul_(m, z)
    return torch.conj_physical(out)


#: Complex elements of one coil group in :meth:`SenseOperator.normal` for line masks (1 MiB
#: of complex64: groups of 2 coils at 208 × 256; measured fastest, and below glibc's default
#: thresholds for returning freed blocks to the system, so no page faults per application).
_GROUP_ELEMENTS = 1 << 17


def _broadcast(a, b) -> tuple:
    """The broadcast of shapes ``a`` and ``b`` (plain Python: ``torch.broadcast_shapes``
    costs more than a coil group's multiplication)."""
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    return tuple(y if x == 1 else x for x, y in zip(a, b))


def _numel(shape) -> int:
    total = 1
    for n in shape:
        total *= n
    return total


def _line_mask(mask: torch.Tensor) -> torch.Tensor | None:
    """``mask`` as ``(..., ky, 1)`` when it does not depend on kx (Cartesian lines), else None.

    A full ``(..., ky, kx)`` mask whose every row is constant (masks read from files, the
    benchmark's) is reduced to its first column, so the normal operator can skip the FFT
    along kx."""
    if mask.shape[-1] == 1:
        return mask
    first = mask[..., :1]
    return first if torch.equal(mask, first.expand_as(mask)) else None


class SenseOperator:
    """Linear SENSE operator bound to coil maps and a sampling mask.

    Parameters
    ----------
    coil_maps : torch.Tensor, complex, ``(..., coil, y, x)``
    mask : torch.Tensor, bool or float, broadcastable to ``(..., frame, coil, ky, kx)``, or None
        for full sampling.

    Notes
    -----
    ``normal`` applies the mask once (``S^H F^H M F S``), which is ``A^H A`` for a binary mask.
    Sign patterns, folded maps and masks are computed once here; build the operator once per
    solve, not per application.

    Examples
    --------
    >>> import torch
    >>> maps = torch.ones(1, 4, 4, dtype=torch.complex64)
    >>> op = SenseOperator(maps, None)
    >>> x = torch.ones(2, 4, 4, dtype=torch.complex64)
    >>> torch.allclose(op.adjoint(op.forward(x)), x)
    True
    """

    def __init__(self, coil_maps: torch.Tensor, mask: torch.Tensor | None = None):
        self.coil_maps = coil_maps
        if mask is not None and mask.dtype == torch.bool:
            mask = mask.to(coil_maps.real.dtype)
        self.mask = mask
        ny, nx = coil_maps.shape[-2:]
        self._folded = ny % 2 == 0 and nx % 2 == 0
        if self._folded:
            pre, post = centring_signs(ny, nx, coil_maps.real.dtype, str(coil_maps.device))
            self._maps = coil_maps * pre  # centring signs of the image domain
            self._kmask = post if mask is None else mask * post  # ... and of k-space
            self._conj_kmask = None  # (..., ky, kx, 2): (m, −m), made by the first adjoint
        lines = None if mask is None else _line_mask(mask)
        self._kx_free = self._folded and lines is not None
        if self._kx_free:  # ky last: FFTs along the contiguous axis are ~2x faster
            self._maps_t = self._maps.transpose(-1, -2).contiguous()
            # the two orthonormal scalings 1/sqrt(ny) folded into the mask: unscaled FFTs
            self._mask_t = lines.transpose(-1, -2) * (1.0 / ny)
            self._groups: dict[tuple, list] = {}
        self._sensitivity = None

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """``M F S x``: ``(..., frame, y, x)`` → ``(..., frame, coil, ky, kx)``."""
        if not self._folded:
            k = fft2c(self.coil_maps.unsqueeze(-4) * image.unsqueeze(-3))
            return k if self.mask is None else k * self.mask
        k = torch.fft.fft2(self._maps.unsqueeze(-4) * image.unsqueeze(-3), norm="ortho")
        return _masked(k, self._kmask)

    def adjoint(self, kspace: torch.Tensor) -> torch.Tensor:
        """``S^H F^H M y``: ``(..., frame, coil, ky, kx)`` → ``(..., frame, y, x)``."""
        if not self._folded:
            if self.mask is not None:
                kspace = kspace * self.mask
            return _coil_sum(self.coil_maps, ifft2c(kspace))
        if torch.is_grad_enabled() and (kspace.requires_grad or self._maps.requires_grad) \
                or self._kmask.is_complex():
            return _coil_sum(self._maps, torch.fft.ifft2(kspace * self._kmask, norm="ortho"))
        # conjugated, as in _normal_lines: conj(Σ_c S_c · F(M · conj(y_c))), the mask and the
        # conjugation in one real multiplication, each coil's map read once, in coil order
        if self._conj_kmask is None:
            self._conj_kmask = torch.stack([self._kmask, -self._kmask], dim=-1)
        masked = torch.view_as_complex(torch.view_as_real(kspace) * self._conj_kmask)
        return _conj_coil_sum(self._maps, torch.fft.fft2(masked, norm="ortho"))

    def normal(self, image: torch.Tensor) -> torch.Tensor:
        """``S^H F^H M F S x`` (the mask is idempotent, so it is applied once)."""
        if not self._folded:
            return self._adjoint_unmasked(self.forward(image))
        if self.mask is None:  # F^H F = I
            if self._sensitivity is None:
                self._sensitivity = (self.coil_maps.real ** 2 + self.coil_maps.imag ** 2).sum(-3)
            return image * self._sensitivity.unsqueeze(-3)
        if self._kx_free:  # F_x^H F_x = I: only the FFT along ky, done with y as last axis
            return self._normal_lines(image)
        coil_images = self._maps.unsqueeze(-4) * image.unsqueeze(-3)
        k = _masked(torch.fft.fft2(coil_images, norm="ortho"), self.mask)
        return _coil_sum(self._maps, torch.fft.ifft2(k, norm="ortho"))

    def _normal_lines(self, image: torch.Tensor) -> torch.Tensor:
        """:meth:`normal` for a mask of ky lines: FFTs along ky only, on ky-contiguous coil
        images, a few coils at a time (each group's expansion, FFT pair and masking stay in
        the core's cache and need no fresh pages), the coil sum accumulated in coil order.
        Unscaled FFTs: the two orthonormal factors ``1/sqrt(ny)`` are folded into the mask.

        The adjoint half runs conjugated, so that each coil's map is read once per
        application, from the core's cache (no conjugated copy of the maps):
        ``Σ_c conj(S_c) · F^H(M k_c) = conj(Σ_c S_c · F(M · conj(k_c)))`` (the inverse DFT
        of ``k`` is the conjugate of the forward DFT of ``conj(k)``; the real mask commutes
        with the conjugation, which it applies as a sign of the imaginary part). Without
        gradients the coil images of a group are expanded into a buffer kept by the
        operator and the mask multiplies the real view of the k-space in place."""
        image_t = _transposed(image).unsqueeze(-3)  # (..., frame, 1, x, y)
        reuse = not (torch.is_grad_enabled()
                     and (image.requires_grad or self._maps_t.requires_grad))
        out = None
        for maps, coil_maps, mask, conj_mask, buffer in self._line_groups(tuple(image_t.shape)):
            if reuse:
                k = torch.fft.fft(torch.mul(maps, image_t, out=buffer), dim=-1)
                if conj_mask is not None:  # (re, im) · (m, −m): M · conj(k)
                    torch.view_as_real(k).mul_(conj_mask)
                else:
                    k = k.conj() * mask
            else:
                k = torch.fft.fft(maps * image_t, dim=-1).conj() * mask
            conj_images = torch.fft.fft(k, dim=-1)  # conj(F^H(M k)), unscaled
            for m, z in zip(coil_maps, conj_images.unbind(-3)):  # Σ_c S_c · conj(z_c)
                out = m * z if out is None else out.addcmul_(m, z)
        result = torch.empty(out.shape[:-2] + out.shape[-2:][::-1], dtype=out.dtype,
                             device=out.device)
        return result.copy_(out.transpose(-1, -2).conj()) if reuse else \
            out.transpose(-1, -2).conj().resolve_conj().contiguous()

    def _line_groups(self, image_shape: tuple) -> list:
        """Per coil group of :meth:`_normal_lines`: the maps ``(..., 1, g, x, y)``, the map
        of each coil ``(..., 1, x, y)``, the mask, the mask as ``(..., ky, 2)`` factors
        ``(m, −m)`` of the real and imaginary parts of the group's k-space (None when it does
        not broadcast to it), and the group's expansion buffer (computed once per image
        shape)."""
        groups = self._groups.get(image_shape)
        if groups is None:
            maps, mask = self._maps_t, self._mask_t
            n_coils = maps.shape[-3]
            per_coil = _numel(_broadcast(image_shape, maps[..., :1, :, :].unsqueeze(-4).shape))
            size = max(1, _GROUP_ELEMENTS // per_coil)
            coil_mask = mask.dim() >= 3 and mask.shape[-3] > 1
            groups = []
            buffers: dict[tuple, torch.Tensor] = {}
            for c0 in range(0, n_coils, size):
                c1 = min(n_coils, c0 + size)
                maps_g = maps[..., c0:c1, :, :].unsqueeze(-4)
                mask_g = mask[..., c0:c1, :, :] if coil_mask else mask
                k_shape = _broadcast(image_shape, maps_g.shape)
                conj_mask = None
                if not mask_g.is_complex() and _broadcast(k_shape, mask_g.shape) == k_shape:
                    conj_mask = torch.stack([mask_g, -mask_g], dim=-1)
                buffer = buffers.get(k_shape)  # groups of one size share one buffer
                if buffer is None:
                    buffer = buffers[k_shape] = torch.empty(k_shape, dtype=maps.dtype,
                                                            device=maps.device)
                groups.append((maps_g, [maps.select(-3, c).unsqueeze(-3) for c in range(c0, c1)],
                               mask_g, conj_mask, buffer))
            self._groups[image_shape] = groups
        return groups

    def _adjoint_unmasked(self, kspace: torch.Tensor) -> torch.Tensor:
        """``S^H F^H y`` without the mask (``y`` already masked)."""
        return _coil_sum(self.coil_maps, ifft2c(kspace))

    __call__ = forward

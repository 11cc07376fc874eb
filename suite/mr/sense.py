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
  all for full sampling (``A^H A = Σ_c |S_c|²``).
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
        lines = None if mask is None else _line_mask(mask)
        self._kx_free = self._folded and lines is not None
        if self._kx_free:  # ky last: FFTs along the contiguous axis are ~2x faster
            self._maps_t = self._maps.transpose(-1, -2).contiguous()
            self._maps_t_conj = self._maps_t.conj().resolve_conj()
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
        return _coil_sum(self._maps, torch.fft.ifft2(kspace * self._kmask, norm="ortho"))

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
        Unscaled FFTs: the two orthonormal factors ``1/sqrt(ny)`` are folded into the mask."""
        image_t = image.transpose(-1, -2).contiguous().unsqueeze(-3)  # (..., frame, 1, x, y)
        out = None
        for maps, conj, mask, in_place in self._line_groups(tuple(image_t.shape)):
            k = torch.fft.fft(maps * image_t, dim=-1)
            k = k.mul_(mask) if in_place else k * mask
            coil_images = torch.fft.ifft(k, dim=-1, norm="forward")
            for j, m in enumerate(conj):  # Σ_c conj(S_c) · z_c, one multiply-add per coil
                z = coil_images.select(-3, j)
                out = m * z if out is None else out.addcmul_(m, z)
        return out.transpose(-1, -2).contiguous()

    def _line_groups(self, image_shape: tuple) -> list:
        """Per coil group of :meth:`_normal_lines`: the maps ``(..., 1, g, x, y)``, the
        conjugated maps of each coil ``(..., 1, x, y)``, the mask, and whether it multiplies
        the group's k-space in place (views computed once per image shape)."""
        groups = self._groups.get(image_shape)
        if groups is None:
            maps, conj, mask = self._maps_t, self._maps_t_conj, self._mask_t
            n_coils = maps.shape[-3]
            per_coil = _numel(_broadcast(image_shape, maps[..., :1, :, :].unsqueeze(-4).shape))
            size = max(1, _GROUP_ELEMENTS // per_coil)
            coil_mask = mask.dim() >= 3 and mask.shape[-3] > 1
            groups = []
            for c0 in range(0, n_coils, size):
                c1 = min(n_coils, c0 + size)
                maps_g = maps[..., c0:c1, :, :].unsqueeze(-4)
                mask_g = mask[..., c0:c1, :, :] if coil_mask else mask
                k_shape = _broadcast(image_shape, maps_g.shape)
                groups.append((maps_g, [conj.select(-3, c).unsqueeze(-3) for c in range(c0, c1)],
                               mask_g, _broadcast(k_shape, mask_g.shape) == k_shape))
            self._groups[image_shape] = groups
        return groups

    def _adjoint_unmasked(self, kspace: torch.Tensor) -> torch.Tensor:
        """``S^H F^H y`` without the mask (``y`` already masked)."""
        return _coil_sum(self.coil_maps, ifft2c(kspace))

    __call__ = forward

"""Separable Gaussian smoothing of a stack of images, with the values of torch's convolution
of one image at a time and a fraction of its cost.

The U-Net's receive-field estimate (:func:`reference_impls.segmentation.unet.flatten_receive_field`)
smooths every image with a Gaussian of σ = 15 working pixels (91 taps), in the forward pass
and, when an attack asks for the gradient of the logits, in the backward pass. Its original
form, ``F.conv2d`` of the ``(n, 1, y, x)`` stack with a ``(1, 1, 1, 91)`` and a
``(1, 1, 91, 1)`` kernel, runs oneDNN's single-channel kernels: 40 CPU-ms forward and
250 CPU-ms backward for 16 images of 144 × 180, more than a third of the network's own time
in a segmentation job (docs/performance.md, fourth round).

The same sums in the same order, so the same floating-point values, cost less when laid out
differently:

* **forward**: the ``n`` images as the channels of one depthwise convolution in channels-last
  layout; oneDNN's depthwise kernel accumulates the taps in the same order with the same fused
  multiply-adds as its single-channel kernel (2-3 CPU-ms instead of 40);
* **input gradient of a pass** (a correlation with the symmetric kernel): oneDNN computes it
  either with fused multiply-adds over the taps in ascending order, which is the depthwise
  forward pass of the flipped gradient, flipped back, or with separate products and sums in
  that order (as the im2col/col2im path does), which is a loop of 2 × 91 array operations.

Which of these equals the library's result depends on the shapes and on the CPU's kernels, so
nothing is assumed: for every configuration (pass, number of images, image size, taps, dtype,
threads) a process checks each fast path once against the library's own convolution (and its
autograd gradient) on random data, and uses it only when the values are identical; otherwise
it calls the library. The results are therefore those of the per-image convolution, bit for
bit, wherever this runs.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["gaussian_kernel", "gaussian_smooth", "FAST_PATHS"]

#: Per configuration ``(kind, axis, n, ny, nx, taps, dtype, threads)``: the fast path found
#: identical to the library's convolution in this process, or None (the library is used).
FAST_PATHS: dict = {}


def gaussian_kernel(sigma_px: float, dtype=torch.float32) -> tuple[int, torch.Tensor]:
    """Radius ``r = max(1, ceil(3σ))`` and the normalised taps ``exp(-t²/2σ²)``,
    ``t = -r..r`` (symmetric to the last bit: ``t`` and ``-t`` give the same value)."""
    r = max(1, int(np.ceil(3 * sigma_px)))
    t = torch.arange(-r, r + 1, dtype=dtype)
    k = torch.exp(-0.5 * (t / sigma_px) ** 2)
    return r, k / k.sum()


def _weight(k: torch.Tensor, axis: int) -> torch.Tensor:
    return k.view(1, 1, 1, -1) if axis == 2 else k.view(1, 1, -1, 1)


def _padding(r: int, axis: int) -> tuple[int, int]:
    return (0, r) if axis == 2 else (r, 0)


def _library(x: torch.Tensor, k: torch.Tensor, r: int, axis: int) -> torch.Tensor:
    """One pass (``axis`` 1: along y, 2: along x) as ``F.conv2d`` of each image."""
    return F.conv2d(x[:, None], _weight(k, axis), padding=_padding(r, axis))[:, 0]


def _library_grad(g: torch.Tensor, k: torch.Tensor, r: int, axis: int) -> torch.Tensor:
    """The input gradient of :func:`_library` for the output gradient ``g`` (autograd)."""
    with torch.enable_grad():
        x = torch.zeros_like(g, requires_grad=True)
        (out,) = torch.autograd.grad(_library(x, k, r, axis), x, g)
    return out


def _depthwise(x: torch.Tensor, k: torch.Tensor, r: int, axis: int) -> torch.Tensor:
    """One pass with the images as the channels of a depthwise channels-last convolution."""
    n = x.shape[0]
    xi = x[None].contiguous(memory_format=torch.channels_last)
    w = _weight(k, axis).expand(n, 1, *_weight(k, axis).shape[2:])
    return F.conv2d(xi, w, padding=_padding(r, axis), groups=n)[0].contiguous()


def _flipped_depthwise(g: torch.Tensor, k: torch.Tensor, r: int, axis: int) -> torch.Tensor:
    """``sum_j k[j] g[i + r - j]`` by fused multiply-adds in ascending ``j`` (the depthwise
    pass of the flipped array, flipped back; ``k`` is symmetric)."""
    return _depthwise(g.flip(axis), k, r, axis).flip(axis)


def _unfused_loop(g: torch.Tensor, k: torch.Tensor, r: int, axis: int) -> torch.Tensor:
    """``sum_j k[j] g[i + r - j]`` with each product rounded, then added, in ascending ``j``
    from zero (zero outside the array)."""
    size = g.shape[axis]
    p = F.pad(g, (r, r) if axis == 2 else (0, 0, r, r))
    acc = torch.zeros_like(g)
    for j in range(2 * r + 1):
        s = 2 * r - j
        acc += k[j] * p.narrow(axis, s, size)
    return acc


_FORWARD = {"depthwise": _depthwise}
_BACKWARD = {"flipped-depthwise": _flipped_depthwise, "unfused-loop": _unfused_loop}


def _choose(kind: str, x: torch.Tensor, k: torch.Tensor, r: int, axis: int):
    """The fast path of ``kind`` ("forward" or "backward") identical to the library for this
    configuration (checked once per process on random data), or None."""
    if x.numel() == 0:
        return None
    key = (kind, axis, *x.shape, k.numel(), x.dtype, torch.get_num_threads())
    if key not in FAST_PATHS:
        FAST_PATHS[key] = None
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            probe = torch.randn(x.shape, generator=gen, dtype=x.dtype)
            probe[:, : max(1, x.shape[1] // 4)] = 0  # zero rows, as outside the body
            if kind == "forward":
                ref, paths = _library(probe, k, r, axis), _FORWARD
            else:
                ref, paths = _library_grad(probe, k, r, axis), _BACKWARD
            for name, fn in paths.items():
                if torch.equal(fn(probe, k, r, axis), ref):
                    FAST_PATHS[key] = name
                    break
    name = FAST_PATHS[key]
    return None if name is None else (_FORWARD if kind == "forward" else _BACKWARD)[name]


def _forward_pass(x, k, r, axis):
    fast = _choose("forward", x, k, r, axis)
    return _library(x, k, r, axis) if fast is None else fast(x, k, r, axis)


def _backward_pass(g, k, r, axis):
    fast = _choose("backward", g, k, r, axis)
    return _library_grad(g, k, r, axis) if fast is None else fast(g, k, r, axis)


class _Smooth(torch.autograd.Function):
    """Both passes (x, then y) with the per-image convolution's values and gradient."""

    @staticmethod
    def forward(ctx, x, k, r):
        ctx.k, ctx.r = k, r
        with torch.no_grad():
            return _forward_pass(_forward_pass(x, k, r, 2), k, r, 1)

    @staticmethod
    def backward(ctx, g):
        with torch.no_grad():
            gy = _backward_pass(g.contiguous(), ctx.k, ctx.r, 1)
            return _backward_pass(gy, ctx.k, ctx.r, 2), None, None


def gaussian_smooth(x: torch.Tensor, sigma_px: float) -> torch.Tensor:
    """Separable Gaussian smoothing of ``x`` ``(n, y, x)`` with zero padding (σ in pixels):
    the values of ``F.conv2d`` with the ``(1, 2r+1)`` then the ``(2r+1, 1)`` kernel of
    :func:`gaussian_kernel`, image by image, and their gradient (module docstring)."""
    r, k = gaussian_kernel(sigma_px, x.dtype)
    return _Smooth.apply(x, k, r)

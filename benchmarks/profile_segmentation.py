"""CPU seconds of the segmentation reference methods at the demo's image size (issue 17).

Prints, with one torch thread and the runner's allocator settings (as a worker runs a job):

* the U-Net forward pass of 80 images (10 slices × 8 frames of 80 × 100 at 3.6 mm, 144 × 184
  at the working spacing) at several batch sizes, and its convolution rate in GFLOP/s;
* the percentile normalisation: ``torch.quantile`` (full sort) against
  :func:`reference_impls.segmentation.unet.image_quantiles` (partial sort);
* GroupNorm forward + backward in the channels-last layout the network uses against NCHW (the
  part of the segmentation attack's gradient that is not convolutions);
* the classical segmentation of one stack.

CPU seconds (``time.process_time``), which a shared machine inflates less than wall time.
Run: ``.venv/bin/python benchmarks/profile_segmentation.py [--repeats 2]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def cpu(fn, repeats: int) -> float:
    """Mean CPU seconds of ``fn()`` over ``repeats`` calls after one warm-up call."""
    fn()
    c0 = time.process_time()
    for _ in range(repeats):
        fn()
    return (time.process_time() - c0) / repeats


def conv_gflop(net, shape) -> float:
    """GFLOP (2 × multiply-adds) of the convolutions of one image of ``shape`` (y, x)."""
    import torch

    macs = [0]

    def hook(mod, inp, out):
        w = mod.weight
        per = w.shape[1] * w.shape[2] * w.shape[3]
        src = inp[0] if isinstance(mod, torch.nn.ConvTranspose2d) else out
        macs[0] += src[0].numel() * per

    handles = [m.register_forward_hook(hook) for m in net.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    with torch.inference_mode():
        net(torch.zeros(1, 1, *shape).contiguous(memory_format=torch.channels_last))
    for h in handles:
        h.remove()
    return 2 * macs[0] / 1e9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import numpy as np
    import torch
    import torch.nn.functional as F

    from reference_impls.segmentation.classical import segment_classical
    from reference_impls.segmentation.unet import UNetSegmenter, image_quantiles
    from suite.runner.execute import tune_allocator

    tune_allocator()
    torch.set_num_threads(1)
    rep = args.repeats
    unet = UNetSegmenter()
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(80, 80, 100, generator=gen)
    spacing = (3.6, 3.6)
    gflop = conv_gflop(unet.module, (144, 184))
    print("| U-Net, 80 images | CPU-s |\n|---|---|")
    with torch.inference_mode():
        for bs in (4, 8, 16, 40, 80):
            t = cpu(lambda: [unet.logits(images[i:i + bs], spacing)
                             for i in range(0, 80, bs)], rep)
            print(f"| batch {bs} | {t:.2f} |")
    print(f"\nconvolutions: {gflop:.2f} GFLOP per 144 × 184 image, {80 * gflop:.0f} per job")

    flat = torch.rand(16, 144 * 184, generator=gen)
    q = torch.tensor([0.01, 0.99])
    with torch.inference_mode():
        full = cpu(lambda: torch.quantile(flat, q, dim=1), 10 * rep)
        part = cpu(lambda: image_quantiles(flat, q), 10 * rep)
    print(f"\npercentiles of 16 images: torch.quantile {1e3 * full:.1f} CPU-ms, "
          f"image_quantiles {1e3 * part:.1f} CPU-ms")

    x = torch.randn(16, 16, 144, 184, generator=gen)
    g = torch.randn(16, 16, 144, 184, generator=gen)
    w, b = torch.randn(16, generator=gen), torch.randn(16, generator=gen)

    def gn_grad(xx, gg):
        xx = xx.detach().requires_grad_(True)
        return torch.autograd.grad(F.group_norm(xx, 8, w, b), xx, gg)[0]

    cl = (x.contiguous(memory_format=torch.channels_last),
          g.contiguous(memory_format=torch.channels_last))
    t_cl = cpu(lambda: gn_grad(*cl), 5 * rep)
    t_nchw = cpu(lambda: gn_grad(x, g), 5 * rep)
    print(f"\nGroupNorm forward + backward, 16 × 16 × 144 × 184: channels-last "
          f"{1e3 * t_cl:.1f} CPU-ms, NCHW {1e3 * t_nchw:.1f} CPU-ms")

    stack = np.asarray(images.reshape(10, 8, 80, 100))
    # a bright moving disc on a textured background, so the search finds components
    yy, xx = np.mgrid[:80, :100]
    for f in range(8):
        r = 9 + 3 * np.cos(2 * np.pi * f / 8)
        stack[:, f] += 2.0 * (np.hypot(yy - 40, xx - 50) < r)
    t_cls = cpu(lambda: segment_classical(stack, spacing), rep)
    print(f"\nclassical segmentation of one (10, 8, 80, 100) stack: {t_cls:.2f} CPU-s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

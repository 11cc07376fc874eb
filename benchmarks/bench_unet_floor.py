"""How close the reference U-Net runs to what one core can compute (prints; asserts nothing).

The segmentation U-Net (``reference_impls.segmentation.unet``, shipped weights, channels-last
as :class:`UNetSegmenter` builds it) at the demo's working grid: 16 images of 144 × 184 (the
demo's 80 × 100 images at 3.6 mm resampled to the weights' 2.0 mm and padded to a multiple of
8), on one thread as a runner's job runs it:

* floating-point operations of one forward pass and of one forward + backward pass with
  respect to the input (what an attack step computes; no weight gradients), counted by
  ``torch.utils.flop_counter.FlopCounterMode`` (convolutions and matrix products: 2 per
  multiply-add);
* their CPU seconds (``time.thread_time``, median of ``--repeats``) and GFLOP/s;
* the same core's single-precision matrix product (``torch.mm`` of two 2048 × 2048 float32
  matrices, 1 thread): the practical peak of its FMA units, measured in the same run.

The ratio U-Net GFLOP/s / matrix-product GFLOP/s says how much a faster implementation of the
same arithmetic could still gain; the per-image CPU seconds times the number of images a
protocol segments is the floor of its segmentation cost with the values unchanged
(docs/performance.md, "What is left").

Run: ``.venv/bin/python benchmarks/bench_unet_floor.py [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from reference_impls.segmentation.unet import UNetSegmenter

#: The demo's U-Net batch: 16 images at its working grid (y, x).
BATCH, GRID = 16, (144, 184)


def cpu_seconds(fn, repeats: int) -> float:
    """Median CPU seconds of this thread over ``repeats`` calls of ``fn`` (after one warm-up)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.thread_time()
        fn()
        times.append(time.thread_time() - t0)
    return statistics.median(times)


def flops(fn) -> int:
    """Floating-point operations ``fn`` performs (FlopCounterMode: convolutions, products)."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def main(repeats: int) -> None:
    torch.set_num_threads(1)
    net = UNetSegmenter().module.eval().requires_grad_(False)  # as the attacks: no weight
    # gradients are asked for, so the backward pass computes the input's only
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((BATCH, 1, *GRID), generator=gen).contiguous(
        memory_format=torch.channels_last)

    def forward():
        with torch.no_grad():
            net(x)

    def forward_backward():
        xg = x.detach().requires_grad_(True)
        net(xg).logsumexp(dim=1).sum().backward()

    n = 2048
    a, b = torch.rand((n, n), generator=gen), torch.rand((n, n), generator=gen)
    gemm_flop = 2 * n ** 3
    gemm_s = cpu_seconds(lambda: torch.mm(a, b), repeats)
    gemm_rate = gemm_flop / gemm_s / 1e9
    print(f"torch {torch.__version__}, 1 thread; float32 matrix product {n} x {n}: "
          f"{gemm_rate:.1f} GFLOP/s (the core's practical peak)")
    print("| pass (16 images, 144 x 184) | GFLOP | CPU-s | CPU-s per image | GFLOP/s | "
          "/ matrix product |\n|---|---|---|---|---|---|")
    for name, fn in (("forward, no gradients", forward),
                     ("forward + backward to the input (one attack step)", forward_backward)):
        f, s = flops(fn), cpu_seconds(fn, repeats)
        rate = f / s / 1e9
        print(f"| {name} | {f / 1e9:.1f} | {s:.3f} | {s / BATCH * 1e3:.1f} ms | {rate:.1f} | "
              f"{rate / gemm_rate:.2f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    main(parser.parse_args().repeats)

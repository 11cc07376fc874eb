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
(docs/performance.md, "What is left"). With ``--run DIR`` (a finished run folder, e.g. the
demo's ``runs/demo/<id>``) the images of that run are counted from its store
(:func:`unet_images`) and the floor printed: at the measured speed, and at the matrix
product's.

Run: ``.venv/bin/python benchmarks/bench_unet_floor.py [--repeats 5] [--run DIR]``.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import time
from pathlib import Path

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


def unet_images(run_dir: Path) -> tuple[int, int, list[str]]:
    """Images the ``unet`` method of a finished run passed forward without gradients, and
    forward and backward (attack steps), counted from the run's store: ``(forward,
    with_gradient, notes)``.

    * segmentation jobs: the images of each stored ``unet`` segmentation (slices × frames);
    * ``seg-attack`` jobs (:func:`suite.stages.segmentation.experiments.seg_attack`), per
      non-zero budget: FGSM one gradient step, PGD ``steps`` of them, then one evaluation of
      the perturbed images each, and one evaluation per random perturbation (L∞ budgets and
      L2 budgets); the clean labels come from the segmentation job's cache;
    * ``recon-attack`` jobs with a ``unet`` segmentation: per budget the adversarial and the
      random reconstruction segmented (the gradient goes through the reconstruction only).

    Other robustness kinds that run the U-Net are listed in ``notes``, not counted.
    """
    con = sqlite3.connect(f"file:{run_dir / 'results.sqlite'}?mode=ro", uri=True)
    try:
        per_case, forward = {}, 0
        for shape, case_id, seg in con.execute(
                "SELECT o.shape, j.case_id, j.segmentation FROM outputs o JOIN jobs j "
                "USING (job_id) WHERE o.name = 'segmentation' AND j.phase = 'segmentation'"):
            dims = json.loads(shape)
            per_case[case_id] = dims[0] * dims[1]
            if seg == "unet":
                forward += dims[0] * dims[1]
        grad, notes = 0, []
        for case_id, spec in con.execute(
                "SELECT case_id, spec FROM jobs WHERE phase = 'robustness' AND status = 'done'"):
            spec = json.loads(spec)
            methods = dict(spec["methods"])
            if (methods.get("segmentation") or {}).get("name") != "unet":
                continue
            rob, n = spec["robustness"], per_case.get(case_id, 0)
            linf = [b for b in rob.get("budgets", []) if b > 0]
            l2 = [b for b in rob.get("l2_budgets", []) if b > 0]
            if rob["kind"] == "seg-attack":
                for attack in rob["attacks"]:
                    budgets = l2 if attack == "pgd-l2" else linf
                    steps = 1 if attack == "fgsm" else rob["steps"]
                    grad += n * steps * len(budgets)
                    forward += n * len(budgets)
                forward += n * (len(linf) + len(l2))
            elif rob["kind"] == "recon-attack":
                forward += 2 * n * len(rob.get("budgets", []))
            else:
                notes.append(f"{rob['kind']} job of {case_id} with the U-Net: not counted")
        return forward, grad, notes
    finally:
        con.close()


def main(repeats: int, run_dir: Path | None = None) -> None:
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
    per_image = {}
    for name, fn in (("forward, no gradients", forward),
                     ("forward + backward to the input (one attack step)", forward_backward)):
        f, s = flops(fn), cpu_seconds(fn, repeats)
        rate = f / s / 1e9
        per_image[fn] = (s / BATCH, f / BATCH / (gemm_rate * 1e9))
        print(f"| {name} | {f / 1e9:.1f} | {s:.3f} | {s / BATCH * 1e3:.1f} ms | {rate:.1f} | "
              f"{rate / gemm_rate:.2f} |")
    if run_dir is not None:
        n_forward, n_grad, notes = unet_images(run_dir)
        (f_s, f_peak), (g_s, g_peak) = per_image[forward], per_image[forward_backward]
        print(f"\nrun {run_dir}: the U-Net passed {n_forward} images forward and {n_grad} "
              f"forward + backward; its floor: {n_forward * f_s + n_grad * g_s:.0f} CPU-s at "
              f"the speed above, {n_forward * f_peak + n_grad * g_peak:.0f} CPU-s if every "
              "counted operation ran at the matrix product's speed")
        for note in notes:
            print(f"  {note}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--run", type=Path, default=None,
                        help="a finished run folder: count its U-Net images, print the floor")
    args = parser.parse_args()
    main(args.repeats, args.run)

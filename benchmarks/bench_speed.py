"""Every figure of the speed table (docs/performance.md) measured in one run, next to its goal.

Prints one table (asserts nothing): each figure as a ratio, "idle" = as the machine is when
the benchmark starts, "busy" = the same measurement with one CPU-bound process started by this
benchmark beside it (a Python busy loop, stopped afterwards), as on a shared CI runner.

* NMSE + PSNR + SSIM (fastmri profile) on (30, 256, 256): scikit-image time / ours;
* CG-SENSE (16 coils, 208 × 256, 30 iterations): sigpy ``SenseRecon`` time / ours, and one CG
  iteration / the FFTs it needs (``benchmarks/bench_recon.py``; the solvers, the reference and
  the FFTs are timed in turn, so that a change of load affects them alike; an iteration is the
  difference between a 30-iteration call and a call without iterations, over 30; the whole
  call over the 30 iterations' FFTs is printed beside it);
* ``cmrsuite demo`` (protocols/quick.yaml, 2 local workers) in a fresh folder: wall time and
  CPU time (the demo's processes), wall / 3 min; the peak RSS of its largest process (a worker:
  an upper bound of the robustness phase's);
* the runner's scaling: 2 local workers / 1, Dask LocalCluster with 2 workers / 1 local worker
  (``benchmarks/bench_runner.py``), and the machine's ceiling for it: two one-worker runs of
  the same jobs in two independent processes started together;
* adversarial / clean evaluation cost with 5 PGD steps, the largest over the reference methods
  (``benchmarks/bench_robustness.py``).

Run: ``.venv/bin/python benchmarks/bench_speed.py [--skip-demo]`` (``make bench`` runs it).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
ROOT = Path(__file__).resolve().parents[1]

import bench_recon  # noqa: E402
import bench_robustness  # noqa: E402
import bench_runner  # noqa: E402


@contextlib.contextmanager
def busy():
    """One CPU-bound process beside the block (started here, stopped by its own id)."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # let it start spinning
        yield
    finally:
        proc.kill()
        proc.wait()


def idle_and_busy(fn):
    """``(fn(), fn() with a busy process beside it)``."""
    first = fn()
    with busy():
        second = fn()
    return first, second


def demo_figures() -> dict:
    """``cmrsuite demo`` in a fresh folder: wall s, CPU s (its processes), largest RSS (MB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "suite.cli", "demo", "--out", tmp, "--quiet"],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"wall": wall, "cpu": cpu, "rss_mb": after.ru_maxrss / 1024}


def fmt(v, spec=".2f", suffix="x"):
    return "–" if v is None else f"{v:{spec}}{suffix}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-demo", action="store_true", help="do not run the demo")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, torch {torch.__version__}; load average at "
          f"start {os.getloadavg()[0]:.2f}")
    rows = []

    (m_idle, diff, *_), (m_busy, *_) = idle_and_busy(bench_recon.image_metrics_ratio)
    rows.append(("NMSE+PSNR+SSIM (30, 256, 256) vs scikit-image (time ratio skimage / ours; "
                 f"max |value difference| {diff:.1e})", fmt(m_idle), fmt(m_busy), "≥ 5x",
                 min(m_idle, m_busy) >= 5))
    (s_idle, rel, f_idle, c_idle), (s_busy, _, f_busy, c_busy) = idle_and_busy(
        bench_recon.cg_sense_ratios)
    rows.append((f"CG-SENSE vs sigpy SenseRecon, 16 coils 208×256, 30 it (sigpy / ours; "
                 f"relative difference {rel:.1e})", fmt(s_idle), fmt(s_busy), "≥ 2x",
                 min(s_idle, s_busy) >= 2))
    rows.append(("one CG-SENSE iteration / the FFTs it needs (a ky-line mask: one 1-D FFT pair "
                 "along ky per coil; an iteration = (30-iteration call − call without "
                 "iterations) / 30; the whole call / 30 FFT pairs, which also counts the "
                 f"operator's set-up and A^H y: {c_idle:.2f} idle, {c_busy:.2f} busy)",
                 fmt(f_idle, suffix=""),
                 fmt(f_busy, suffix=""), "≤ 1.5", max(f_idle, f_busy) <= 1.5))

    if not args.skip_demo:
        d = demo_figures()
        rows.append((f"`cmrsuite demo` (quick.yaml, 2 workers): wall {d['wall']:.0f} s, CPU "
                     f"{d['cpu']:.0f} s (wall / 180 s)", fmt(d["wall"] / 180), "–", "≤ 1.0",
                     d["wall"] <= 180))
        rows.append(("peak RSS of the demo's largest process (GiB; bound of the robustness "
                     "phase's worker)", fmt(d["rss_mb"] / 1024, suffix=" GiB"), "–", "≤ 2 GiB",
                     d["rss_mb"] <= 2048))

    with tempfile.TemporaryDirectory() as tmp:
        t = bench_runner.scaling(Path(tmp))
    r_local = t["local x1"] / t["local x2"]
    rows.append((f"bench_runner: 2 local workers / 1 ({t['n_jobs']} jobs; results identical: "
                 f"{t['identical']})", fmt(r_local), "–", "≥ 1.8x",
                 r_local >= 1.8 and t["identical"]))
    rows.append(("the machine's ceiling for the line above: two 1-worker runs of the same jobs "
                 "in two independent processes started together, 2 × (1 run) / (the pair) "
                 f"({t['pair']:.1f} s against {t['local x1']:.1f} s; no runner can exceed it)",
                 fmt(t["ceiling"]), "–", "–", None))
    if t.get("dask x2"):
        r_dask = t["local x1"] / t["dask x2"]
        rows.append(("same, Dask LocalCluster 2 workers / 1 local worker (the run starts the "
                     "cluster)", fmt(r_dask), "–", "≥ 1.8x", r_dask >= 1.8))
        r_running = t["local x1"] / t["dask x2 running"]
        rows.append(("same, the LocalCluster running before the clock starts (its address "
                     "given to the run, as a cluster kept up)", fmt(r_running), "–", "≥ 1.8x",
                     r_running >= 1.8))
    else:
        rows.append(("same, Dask LocalCluster (distributed not installed)", "–", "–", "≥ 1.8x",
                     None))

    torch.set_num_threads(1)
    full, under = bench_robustness.phantom_slice()
    rec = bench_robustness.bench_recon(under, list(bench_robustness.RECON), 5)
    seg = bench_robustness.bench_segmentation(full, list(bench_robustness.SEG), 5)
    worst = max({**rec, **seg}.items(), key=lambda kv: kv[1])
    rows.append((f"adversarial / clean evaluation, 5 PGD steps (largest: {worst[0]})",
                 fmt(worst[1], ".1f"), "–", "≤ 50x", worst[1] <= 50))

    print("\n| figure | idle | busy | goal | met |\n|---|---|---|---|---|")
    for name, idle, busy_, goal, met in rows:
        print(f"| {name} | {idle} | {busy_} | {goal} | "
              f"{'–' if met is None else ('yes' if met else 'NO')} |")


if __name__ == "__main__":
    main()

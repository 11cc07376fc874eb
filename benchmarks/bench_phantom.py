"""Phantom simulation speed and memory (plain script: ``python benchmarks/bench_phantom.py``).

Prints, per preset, the wall time of ``suite.phantom.simulate`` (median of ``--repeat`` runs
after one warm-up), cases per minute, the k-space size, the peak Python-heap memory of one
case (``tracemalloc``, which numpy reports its buffers to) and, at the end, the process peak
resident set size (``resource.getrusage``).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
import tracemalloc

from suite.phantom import simulate


def bench(preset: str, repeat: int) -> None:
    simulate(seed=0, preset=preset)  # warm-up (imports, caches)
    times = []
    for i in range(repeat):
        t0 = time.perf_counter()
        case = simulate(seed=i + 1, preset=preset)
        times.append(time.perf_counter() - t0)
    tracemalloc.start()
    case = simulate(seed=99, preset=preset)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    med = statistics.median(times)
    shape = "x".join(str(n) for n in case.kspace.shape)
    print(f"{preset:14s} k-space {shape:22s} {case.kspace.nbytes / 2**20:8.1f} MiB  "
          f"{med:7.2f} s/case  {60.0 / med:7.1f} cases/min  peak heap {peak / 2**20:8.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--presets", nargs="+", default=["siemens-1.5t", "tiny"])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    for preset in args.presets:
        bench(preset, args.repeat)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()

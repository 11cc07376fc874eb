"""Larger run of the input fuzz suite (plain script: ``python benchmarks/fuzz_inputs.py``).

Runs ``--scale`` times the seeds of every mutation of every reader and submission target of
``tests/fuzz`` (``make test`` runs scale 1, about 280 cases) through the same memory-limited
worker, prints the count, the time per target and every failing case with its reproduce
command, and exits 1 when a case failed (for CI). ``--target``/``--mutation`` select by
prefix.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(_REPO), str(_REPO / "tests" / "fuzz")]  # this checkout's suite, as the worker

from fuzz_input_client import FuzzWorker  # noqa: E402
from fuzz_input_worker import case_ids  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=10, help="seeds per mutation, x make test")
    ap.add_argument("--target", default="", help="only targets starting with this")
    ap.add_argument("--mutation", default="", help="only mutations starting with this")
    args = ap.parse_args(argv)
    cases = [c for c in case_ids(args.scale) if c.split("/")[0].startswith(args.target)
             and c.split("/")[1].startswith(args.mutation)]
    seconds: dict[str, float] = collections.defaultdict(float)
    failed = []
    worker = FuzzWorker()
    t0 = time.perf_counter()
    try:
        for c in cases:
            t = time.perf_counter()
            result = worker.run(c)
            seconds[c.split("/")[0]] += time.perf_counter() - t
            if result["problems"]:
                failed.append(result)
                print(f"FAILED {c}: {result['problems'][0][:300]}", flush=True)
            elif result.get("library_defect"):
                print(f"KNOWN C-LIBRARY HANG {c} (HDF5 heap loop, docs/input-safety.md)",
                      flush=True)
    finally:
        worker.close()
    print(f"{len(cases)} cases in {time.perf_counter() - t0:.0f} s, {len(failed)} failed")
    for target, s in sorted(seconds.items()):
        n = sum(c.startswith(target + "/") for c in cases)
        print(f"  {target:<20} {n:>5} cases {s:7.1f} s")
    for r in failed:
        print(f"reproduce: PYTHONPATH=. python tests/fuzz/fuzz_input_worker.py --case {r['id']} "
              "--keep")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

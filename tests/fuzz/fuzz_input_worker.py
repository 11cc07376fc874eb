"""Worker process of the input fuzz suite: runs cases one at a time under a memory limit.

Protocol: one case id per line on stdin, one JSON result per line on stdout (see
:func:`fuzz_input_harness.run_case`). The address space is limited with ``RLIMIT_AS`` to what
the imports use plus :data:`MEMORY_HEADROOM`, so a reader that allocates from an absurd header
fails with ``MemoryError`` (a failed case) instead of exhausting the machine; a crash of the
process (a segmentation fault inside a C library) shows as a dead worker, naming the case.

Each case runs in its own folder (also the working directory and ``TMPDIR``), removed
afterwards. To reproduce one case and keep its files::

    PYTHONPATH=. python tests/fuzz/fuzz_input_worker.py --case nifti/absurd-dims/1 --keep
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import resource
import shutil
import sys
import tempfile
from pathlib import Path

#: Address space allowed beyond what the imports use (bytes).
MEMORY_HEADROOM = 1536 * 2**20


def all_targets() -> dict:
    """Every fuzz target: the readers, then the submission formats."""
    from fuzz_input_readers import READER_TARGETS
    from fuzz_input_submissions import SUBMISSION_TARGETS

    return {**READER_TARGETS, **SUBMISSION_TARGETS}


def case_ids(scale: int = 1) -> list[str]:
    """All case ids: ``target.cases * scale`` seeds of every mutation of every target."""
    return [f"{t.name}/{m}/{k}" for t in all_targets().values() for m in t.mutations
            for k in range(t.cases * scale)]


def limit_memory(headroom: int = MEMORY_HEADROOM) -> int:
    """Cap the address space at the current size plus ``headroom``; returns the cap."""
    with open("/proc/self/status") as fh:
        vm = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:"))
    cap = vm + headroom
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY
                                            else min(cap, hard), hard))
    return cap


def run_one(case_id: str, base: Path, targets: dict, keep: bool = False) -> dict:
    """Run one case in a fresh folder under ``base`` (working directory: that folder)."""
    from fuzz_input_harness import run_case

    root = Path(tempfile.mkdtemp(prefix="case-", dir=base)).resolve()
    cwd = os.getcwd()
    os.chdir(root)
    try:
        result = run_case(case_id, root, targets)
    finally:
        os.chdir(cwd)
        if keep:
            result_dir = str(root)
        else:
            shutil.rmtree(root, ignore_errors=True)
            result_dir = None
    result["folder"] = result_dir
    return result


def _warm_up() -> None:
    """Import what the readers import before the memory cap is measured."""
    import h5py  # noqa: F401
    import nibabel  # noqa: F401
    import pydicom  # noqa: F401
    import scipy.io  # noqa: F401

    import suite.data  # noqa: F401
    import suite.leaderboard  # noqa: F401
    import suite.metrics.image  # noqa: F401
    import suite.metrics.segmentation  # noqa: F401


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", help="run this case id and print its result")
    parser.add_argument("--keep", action="store_true", help="keep the case folder")
    parser.add_argument("--no-memory-limit", action="store_true")
    args = parser.parse_args(argv)
    _warm_up()
    targets = all_targets()
    base = Path(tempfile.mkdtemp(prefix="cmrsuite-fuzz-"))
    tempfile.tempdir = str(base)  # the cached valid inputs live here too
    if not args.no_memory_limit:
        limit_memory()
    try:
        if args.case:
            print(json.dumps(run_one(args.case, base, targets, args.keep), indent=2))
            return 0
        dump_after = float(os.environ.get("CMRSUITE_FUZZ_DUMP_AFTER", "0"))
        for line in sys.stdin:
            case_id = line.strip()
            if not case_id:
                continue
            if dump_after > 0:  # the stack of a stuck case, for the client to classify
                faulthandler.dump_traceback_later(dump_after, exit=False)
            try:
                result = run_one(case_id, base, targets)
            except MemoryError:
                result = {"id": case_id, "problems": ["MemoryError in the harness"]}
            finally:
                faulthandler.cancel_dump_traceback_later()
            sys.stdout.write(json.dumps(result) + "\n")
            sys.stdout.flush()
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""Client side of the input fuzz worker: start it, send case ids, survive its death.

Used by ``test_fuzz_inputs.py`` and ``benchmarks/fuzz_inputs.py``.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
#: Seconds one case may take before the worker is killed and the case fails.
CASE_TIMEOUT = 60.0
#: A stuck case whose innermost Python frame is in one of these is a known defect of the
#: C library below it, not of cmrsuite: HDF5 2.0 loops forever on a global heap whose
#: free-space object has size 0 (docs/input-safety.md). Reported, not failed.
LIBRARY_FRAMES = ("/h5py/",)


class FuzzWorker:
    """A ``fuzz_input_worker.py`` process; :meth:`run` one case id at a time."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self._stderr = None

    def _start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO), str(HERE)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(var, "1")
        env["CMRSUITE_FUZZ_DUMP_AFTER"] = str(CASE_TIMEOUT - 10)
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([sys.executable, str(HERE / "fuzz_input_worker.py")],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, text=True, bufsize=1, cwd=REPO,
                                     env=env)

    def run(self, case_id: str, timeout: float = CASE_TIMEOUT) -> dict:
        """The worker's result for ``case_id``; a dead or stuck worker gives a failed result
        (and is restarted for the next case)."""
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        assert self.proc and self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(case_id + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if line:
            return json.loads(line)
        why = "timed out" if not ready else "died"
        self.proc.kill()
        code = self.proc.wait()
        self._stderr.seek(0)
        tail = self._stderr.read()[-3000:]
        self._close_files()
        result = {"id": case_id, "problems": [f"the worker {why} (exit code {code}) while "
                                              f"running this case:\n{tail}"]}
        if why == "timed out" and _innermost_frame_in(tail, LIBRARY_FRAMES):
            result["library_defect"] = result.pop("problems")
            result["problems"] = []
        return result

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close_files()

    def _close_files(self) -> None:
        if self.proc is not None:
            for f in (self.proc.stdin, self.proc.stdout):
                if f is not None and not f.closed:
                    f.close()
        if self._stderr is not None:
            self._stderr.close()
        self.proc, self._stderr = None, None


def _innermost_frame_in(dump: str, places) -> bool:
    """Whether the last faulthandler dump in ``dump`` has its innermost frame in ``places``."""
    head = dump.rfind("(most recent call first):")
    if head < 0:
        return False
    frames = [ln for ln in dump[head:].splitlines()[1:] if ln.strip().startswith("File ")]
    return bool(frames) and any(p in frames[0] for p in places)

"""The demo (``make demo``): run ``protocols/quick.yaml`` on the built-in phantom.

It travels the path real data take: the phantom writes ISMRMRD raw data and NIfTI labels into
the run folder, the generic readers load them back, every reference reconstruction runs at
R = 4 and 8, the reference segmentations run on each result, and the run's summary compares
image quality, temporal fidelity, segmentation and clinical parameters with the phantom's
truth. The run folder is ``<out>/<first 12 hex of the protocol hash>``, so running the demo
again resumes (finished jobs are kept) and a changed protocol gets a new folder.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["QUICK_PROTOCOL", "demo_run_dir", "run_demo"]

QUICK_PROTOCOL = Path(__file__).resolve().parents[1] / "protocols" / "quick.yaml"


def demo_run_dir(protocol, out_dir) -> Path:
    """Where the demo run of ``protocol`` lives under ``out_dir``."""
    return Path(out_dir) / protocol.sha256[:12]


def run_demo(out_dir="runs/demo", protocol_path=None, *, workers: int | None = None,
             executor: str = "local", progress=None, allow_plugins=None):
    """Run (or resume) the demo protocol; returns ``(RunResult, run_dir)``.

    ``allow_plugins`` (:mod:`suite.trust`) is needed only for a protocol with plugins; the
    shipped demo protocol has none."""
    from suite.protocol import load_protocol
    from suite.runner import run_protocol

    path = Path(protocol_path) if protocol_path else QUICK_PROTOCOL
    if not path.exists():
        raise ValueError(f"{path}: demo protocol not found; run from a cmrsuite checkout or pass "
                         "--protocol")
    protocol = load_protocol(path, allow_plugins=allow_plugins)
    run_dir = demo_run_dir(protocol, out_dir)
    resume = (run_dir / "results.sqlite").exists()
    result = run_protocol(protocol, run_dir, executor=executor, workers=workers, resume=resume,
                          progress=progress, command=["cmrsuite", "demo"])
    return result, run_dir

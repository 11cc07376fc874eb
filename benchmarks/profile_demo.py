"""Where the demo's CPU time goes: CPU seconds per phase and per job, and the serial tail.

Runs what ``cmrsuite demo`` runs (``protocols/quick.yaml``, 2 local workers) in a fresh folder,
step by step, and prints for each step its wall time and CPU time (``time.process_time`` of the
main process; the workers' CPU time per job, measured inside the worker):

* start: protocol loaded, phantom cohort written and discovered;
* the jobs of each phase (CPU seconds summed over the jobs, per method);
* the serial tail in the main process: ``evaluate_run``, the CLI's metric summary,
  ``build_report``.

CPU seconds are what a busy machine does not inflate (wall time is, when other processes share
the cores); the idle 2-core wall time is estimated as ``max(CPU / 2, serial path)``.

Run: ``.venv/bin/python benchmarks/profile_demo.py [--out DIR] [--workers 2] [--profile-tail
FILE]`` (``--profile-tail`` writes a cProfile of the serial tail; ``--tail-only RUN_DIR``
re-measures the tail of a finished run).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

_LOG_ENV = "CMRSUITE_PROFILE_JOBS"


def timed_job(spec_dict: dict, ctx) -> dict:
    """:func:`suite.runner.execute.run_job` with the worker's CPU seconds appended to a log."""
    from suite.runner.execute import run_job

    t0, c0 = time.perf_counter(), time.process_time()
    try:
        return run_job(spec_dict, ctx)
    finally:
        rec = {"phase": spec_dict.get("phase"), "methods": spec_dict.get("methods"),
               "experiment": spec_dict.get("robustness"),
               "wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}
        with open(os.environ[_LOG_ENV], "a") as fh:
            fh.write(json.dumps(rec, default=str) + "\n")


class Steps:
    """Wall and main-process CPU seconds of named steps."""

    def __init__(self):
        self.rows: list[tuple[str, float, float]] = []
        self.figure_cpu = 0.0

    def __call__(self, name, fn, *a, **kw):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn(*a, **kw)
        self.rows.append((name, time.perf_counter() - t0, time.process_time() - c0))
        return out


def _method(job: dict) -> str:
    """``recon + segmentation`` method names of a logged job, and its robustness experiment."""
    names = []
    for _stage, entry in job.get("methods") or []:
        names.append(str(entry.get("name") if isinstance(entry, dict) else entry))
    exp = job.get("experiment")
    if isinstance(exp, dict):
        names.append(str(exp.get("kind") or exp.get("type") or exp.get("name") or "experiment"))
    return " + ".join(names) or "-"


def tail(steps: Steps, run_dir: Path, profile: str | None) -> None:
    """The serial steps after the jobs, as ``cmrsuite demo`` runs them (figures rendered by
    background processes when the suite has :class:`suite.report.draw.background_figures`);
    adds a row with the CPU seconds of those processes."""
    import contextlib

    from suite.analysis.summary import load_results, metric_summary
    from suite.evaluate import evaluate_run
    from suite.report import build_report

    try:
        from suite.report.draw import background_figures
    except ImportError:  # the suite before issue 17's background figures
        background_figures = contextlib.nullcontext
    prof = cProfile.Profile(time.process_time) if profile else None
    if prof:
        prof.enable()
    r0 = os.times()
    t0, c0 = time.perf_counter(), time.process_time()
    with background_figures():
        steps("evaluate_run", evaluate_run, run_dir)
        steps("CLI metric summary", lambda: metric_summary(load_results(run_dir),
                                                           n_resamples=200))
        steps("build_report", build_report, run_dir, "all", ("md", "html"))
        t1 = time.perf_counter()
    r1 = os.times()
    if prof:
        prof.disable()
        prof.dump_stats(profile)
    children = (r1.children_user + r1.children_system) - (r0.children_user + r0.children_system)
    steps.rows.append(("tail: waiting for the background figures", time.perf_counter() - t1,
                       0.0))
    steps.rows.append((f"tail total (figure processes: {children:.1f} CPU-s)",
                       time.perf_counter() - t0, time.process_time() - c0))
    steps.figure_cpu = children


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="run folder parent (default: a temp dir)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile-tail", default=None, help="cProfile output of the tail")
    parser.add_argument("--tail-only", default=None, help="measure the tail of this run folder")
    args = parser.parse_args()
    steps = Steps()
    if args.tail_only:
        tail(steps, Path(args.tail_only), args.profile_tail)
        _print_steps(steps)
        return 0

    out = Path(args.out or tempfile.mkdtemp(prefix="cmrsuite-profile-"))
    log = out / "jobs.jsonl"
    out.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    os.environ[_LOG_ENV] = str(log)

    import suite.runner.run as run_mod
    from suite.demo import QUICK_PROTOCOL, demo_run_dir
    from suite.protocol import load_protocol

    protocol = steps("load protocol (imports)", load_protocol, QUICK_PROTOCOL)
    run_dir = demo_run_dir(protocol, out)
    # the jobs run through timed_job (same function inside, CPU seconds logged by the worker)
    run_mod.run_job = timed_job
    marks: list[tuple[str, float, float]] = []
    orig_discover = run_mod.discover_cases

    def discover(*a, **kw):
        refs = orig_discover(*a, **kw)
        marks.append(("cohort written and discovered", time.perf_counter(), time.process_time()))
        return refs

    run_mod.discover_cases = discover
    t0, c0 = time.perf_counter(), time.process_time()
    r0 = os.times()
    run_mod.run_protocol(protocol, run_dir, workers=args.workers, analyse=False)
    r1 = os.times()
    t1, c1 = time.perf_counter(), time.process_time()
    m = marks[0]
    steps.rows.append(("start: " + m[0], m[1] - t0, m[2] - c0))
    steps.rows.append(("jobs (main process; workers below)", t1 - m[1], c1 - m[2]))
    tail(steps, run_dir, args.profile_tail)
    _print_steps(steps)
    jobs = [json.loads(line) for line in log.read_text().splitlines()]
    by_phase: dict[str, list] = defaultdict(lambda: [0, 0.0, 0.0])
    by_method: dict[tuple, list] = defaultdict(lambda: [0, 0.0, 0.0])
    for j in jobs:
        for acc in (by_phase[j["phase"]], by_method[(j["phase"], _method(j))]):
            acc[0] += 1
            acc[1] += j["cpu"]
            acc[2] += j["wall"]
    print("\n| phase | jobs | worker CPU-s | job wall-s |\n|---|---|---|---|")
    for p, (n, c, w) in by_phase.items():
        print(f"| {p} | {n} | {c:.1f} | {w:.1f} |")
    print("\n| phase | method | jobs | CPU-s | CPU-s per job |\n|---|---|---|---|---|")
    for (p, meth), (n, c, w) in sorted(by_method.items(), key=lambda kv: -kv[1][1]):
        print(f"| {p} | {meth} | {n} | {c:.1f} | {c / n:.2f} |")
    job_cpu = sum(j["cpu"] for j in jobs)
    start = next(r[2] for r in steps.rows if r[0].startswith("start"))
    load = next(r[2] for r in steps.rows if r[0].startswith("load protocol"))
    jobs_main = next(r[2] for r in steps.rows if r[0].startswith("jobs"))
    tail_main = next(r[2] for r in steps.rows if r[0].startswith("tail total"))
    children = (r1.children_user + r1.children_system) - (r0.children_user + r0.children_system)
    total = load + start + jobs_main + children + tail_main + steps.figure_cpu
    print(f"\nCPU-s: imports + protocol {load:.1f}, start (cohort) {start:.1f}, jobs "
          f"{job_cpu:.1f} in the workers ({children:.1f} with their start-up) + {jobs_main:.1f} "
          f"main, tail {tail_main:.1f} main + {steps.figure_cpu:.1f} figure processes; "
          f"total {total:.1f}")
    tail_path = max(tail_main, (tail_main + steps.figure_cpu) / args.workers)
    est = load + start + max(children / args.workers, job_cpu / args.workers) + tail_path
    print(f"estimated idle {args.workers}-core wall: serial start {load + start:.0f} s + jobs "
          f"{children / args.workers:.0f} s + tail {tail_path:.0f} s = {est:.0f} s "
          f"(CPU / {args.workers} = {total / args.workers:.0f} s)")
    print(f"run folder: {run_dir}")
    return 0


def _print_steps(steps: Steps) -> None:
    print("| step | wall s | main-process CPU s |\n|---|---|---|")
    for name, w, c in steps.rows:
        print(f"| {name} | {w:.1f} | {c:.1f} |")


if __name__ == "__main__":
    sys.exit(main())

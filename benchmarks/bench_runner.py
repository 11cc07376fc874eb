"""Runner scaling and memory, measured in one run (prints; asserts nothing).

1. the same protocol with the local executor at 1 and 2 workers, and with Dask at 2 workers
   when `distributed` is installed (a LocalCluster the run starts itself, and one that is
   running before the clock starts and whose address the run is given, as a cluster a user
   keeps up): wall time and the speed ratio 2 workers / 1 worker, and the CPU seconds of the
   run's main process and of its workers (with their fork server), which a loaded machine
   does not inflate the way it inflates wall times; and the machine's ceiling for that ratio:
   two one-worker runs of the same jobs started together in two independent processes
   (:func:`concurrent_pair`);
2. peak resident memory of the run's processes (``ru_maxrss`` of this process and of its
   children), for the benchmark protocol and, with ``--quick``, for ``protocols/quick.yaml``.

Each configuration runs in a fresh Python process that has imported the job's modules before
the clock starts (as the earlier in-process measurement had, after its warm-up run), so no run
inherits another's worker processes or fork server.

Run: ``.venv/bin/python benchmarks/bench_runner.py [--quick] [--small]``.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

#: The demo's reconstruction workload (protocols/quick.yaml's acquisition, two presets, R = 4
#: and 8, the iterative methods): 32 jobs of about 2 CPU-s, about a minute on one worker. A
#: workload of sub-second jobs (the `tiny` preset, which this benchmark used before) measures
#: the workers' start-up (a spawned worker imports torch and the suite: about 4 s), not the
#: runner's scaling: ``--small`` still runs it and prints that fixed cost.
PROTOCOL = {
    "name": "bench-runner",
    "seed": 0,
    "datasets": [{"name": "phantom", "phantom": {
        "subjects": 2, "seed": 1, "presets": ["siemens-1.5t", "philips-3t"],
        "pathologies": ["normal", "dilated"],
        "overrides": {"matrix": [80, 100], "pixel_spacing_mm": 3.6, "n_frames": 8,
                      "n_coils": 8}}}],
    "conditions": [{"name": "R4", "type": "undersample", "pattern": "kt-gaussian",
                    "acceleration": 4, "acs_lines": 12},
                   {"name": "R8", "type": "undersample", "pattern": "kt-gaussian",
                    "acceleration": 8, "acs_lines": 8}],
    "methods": {"recon": ["zero-filled", "cg-sense", {"name": "kt-cs", "params": {"max_iter": 30}},
                         {"name": "lowrank-sparse", "params": {"max_iter": 30}}]},
    "metrics": {"image": {"profiles": ["fastmri"]}},
    "analyses": {"bootstrap": {"n_resamples": 100}},
}

#: The small workload (16 sub-second jobs): what the workers' start-up costs.
SMALL_PROTOCOL = {
    **PROTOCOL,
    "datasets": [{"name": "phantom", "phantom": {"subjects": 4, "seed": 1, "presets": ["tiny"],
                                                 "overrides": {"n_frames": 8}}}],
    "conditions": [{"name": "R4", "type": "undersample", "pattern": "kt-gaussian",
                    "acceleration": 4, "acs_lines": 8}],
    "methods": {"recon": ["zero-filled", {"name": "cg-sense", "params": {"max_iter": 30}},
                         {"name": "kt-cs", "params": {"max_iter": 60}}, "lowrank-sparse"]},
}


def timed_run(proto_path, out, executor, workers, scheduler=None):
    from suite.protocol import load_protocol
    from suite.runner import run_protocol

    proto = load_protocol(proto_path)
    t0 = time.perf_counter()
    result = run_protocol(proto, out, executor=executor, workers=workers, scheduler=scheduler,
                          analyse=False)
    return time.perf_counter() - t0, result


def _cpu(usage) -> float:
    return usage.ru_utime + usage.ru_stime


def measured_run(proto_path, out, executor: str, workers: int) -> dict:
    """One run in a fresh process (the job's modules imported before the clock starts):
    wall seconds, CPU seconds of its main process and of its other processes (workers, their
    fork server, a Dask cluster's workers), number of jobs."""
    code = ("import json, sys; sys.path[:0] = sys.argv[1:3]; import bench_runner; "
            "print(json.dumps(bench_runner._child_run(*sys.argv[3:])))")
    here = Path(__file__).resolve().parent
    proc = subprocess.run([sys.executable, "-c", code, str(here.parent), str(here),
                           str(proto_path), str(out), executor, str(workers)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _child_run(proto_path, out, executor, workers, barrier: str = "") -> dict:
    import importlib

    from suite.runner.workers import WORKER_PRELOAD

    for name in WORKER_PRELOAD:  # warm, as a main process that has run jobs before
        importlib.import_module(name)
    if executor == "dask-running":
        return _running_cluster_run(proto_path, out, int(workers))
    if barrier:  # start the clock together with the other process of a concurrent pair
        Path(f"{barrier}.{Path(out).name}.ready").touch()
        while not Path(f"{barrier}.go").exists():
            time.sleep(0.005)
    c0, k0 = _cpu(resource.getrusage(resource.RUSAGE_SELF)), \
        _cpu(resource.getrusage(resource.RUSAGE_CHILDREN))
    wall, result = timed_run(proto_path, out, executor, int(workers))
    main_cpu = _cpu(resource.getrusage(resource.RUSAGE_SELF)) - c0
    return {"wall": wall, "main_cpu": main_cpu, "n_jobs": result.n_jobs,
            "other_cpu": _cpu(resource.getrusage(resource.RUSAGE_CHILDREN)) - k0}


def _running_cluster_run(proto_path, out, workers: int) -> dict:
    """One run on a Dask LocalCluster that is up before the clock starts (as a cluster a user
    keeps running and gives to ``cmrsuite run --executor dask --scheduler ADDRESS``): the
    cluster is started as the runner starts its own (:func:`suite.runner.executors.
    start_local_cluster`) and the run is given its scheduler's address. CPU seconds: this
    process (the runner, the scheduler and the client) and the workers' own clocks over the
    run (``getrusage`` read in each worker before and after)."""
    from suite.runner.executors import start_local_cluster
    from suite.runner.workers import stop_worker_server

    def worker_cpu():
        return _cpu(resource.getrusage(resource.RUSAGE_SELF))

    cluster, client = start_local_cluster(workers)
    try:
        client.wait_for_workers(workers)
        before = client.run(worker_cpu)
        c0 = _cpu(resource.getrusage(resource.RUSAGE_SELF))
        wall, result = timed_run(proto_path, out, "dask", workers,
                                 scheduler=cluster.scheduler_address)
        main_cpu = _cpu(resource.getrusage(resource.RUSAGE_SELF)) - c0
        after = client.run(worker_cpu)
    finally:
        client.close()
        cluster.close()
        stop_worker_server()
    return {"wall": wall, "main_cpu": main_cpu, "n_jobs": result.n_jobs,
            "other_cpu": sum(after[w] - before[w] for w in after)}


def concurrent_pair(proto_path, outs) -> list[dict]:
    """Two one-worker runs of the same protocol started together in two fresh processes, each
    with its own run folder (``outs``), their clocks started at once after both imported the
    job's modules: the measurement of :func:`measured_run` for each.

    Two independent processes share nothing but the machine, so ``2 × (local x1 wall) / (the
    pair's longer wall)`` is the most any two-worker runner can reach on this workload and
    machine (its caches, memory bandwidth, frequency and the hypervisor's scheduling of the two
    vCPUs), the ceiling to read the runner's ratio against.
    """
    code = ("import json, sys; sys.path[:0] = sys.argv[1:3]; import bench_runner; "
            "print(json.dumps(bench_runner._child_run(*sys.argv[3:])))")
    here = Path(__file__).resolve().parent
    barrier = Path(outs[0]).parent / "pair-barrier"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(here.parent), str(here),
                               str(proto_path), str(out), "local", "1", str(barrier)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for out in outs]
    ready = [Path(f"{barrier}.{Path(out).name}.ready") for out in outs]
    while not all(r.exists() for r in ready):
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.005)
    Path(f"{barrier}.go").touch()
    runs = []
    for p in procs:
        stdout, stderr = p.communicate()
        if p.returncode:
            raise RuntimeError(f"concurrent run failed ({p.returncode}): {stderr.strip()[-500:]}")
        runs.append(json.loads(stdout.strip().splitlines()[-1]))
    return runs


def peak_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, kids


def result_values(run_dir: Path) -> list:
    """The results table of a run as sorted tuples (every column but the job timings)."""
    import sqlite3

    con = sqlite3.connect(run_dir / "results.sqlite")
    try:
        cols = [r[1] for r in con.execute("PRAGMA table_info(results)") if r[1] != "seconds"]
        return sorted(map(repr, con.execute(f"SELECT {', '.join(cols)} FROM results")))
    finally:
        con.close()


def scaling(tmp: Path, dask: bool = True, protocol: dict = PROTOCOL,
            ceiling: bool = True) -> dict:
    """Wall times (s) of the benchmark protocol: ``local x1``, ``local x2``, ``dask x2`` and
    ``dask x2 running`` (a cluster up before the clock; both None without ``distributed``),
    each in a fresh process (:func:`measured_run`; ``<label>
    cpu``: CPU seconds of its main process and of its other processes), the cohort generated
    once beforehand; with ``ceiling``, ``pair``: the longer wall of two ``local x1`` runs
    started together (:func:`concurrent_pair`), and ``ceiling`` = 2 × ``local x1`` / ``pair``;
    ``identical``: the runs' results tables are equal."""
    proto = tmp / "bench.yaml"
    proto.write_text(yaml.safe_dump(protocol))
    # generate the cohort once so the timed runs measure jobs, not phantom simulation
    timed_run(proto, tmp / "warm", "serial", 1)
    data = tmp / "warm" / "data"
    times = {"n_jobs": 0}
    values: list = []
    runs = [("local x1", "local", 1), ("local x2", "local", 2)]
    try:
        import distributed  # noqa: F401

        if dask:
            runs += [("dask x2", "dask", 2), ("dask x2 running", "dask-running", 2)]
    except ImportError:
        times["dask x2"] = times["dask x2 running"] = None
    for label, executor, workers in runs:
        out = tmp / label.replace(" ", "")
        out.mkdir()
        (out / "data").symlink_to(data, target_is_directory=True)
        run = measured_run(proto, out, executor, workers)
        times[label], times["n_jobs"] = run["wall"], run["n_jobs"]
        times[f"{label} cpu"] = (run["main_cpu"], run["other_cpu"])
        values.append(result_values(out))
    if ceiling:
        outs = [tmp / "pair-a", tmp / "pair-b"]
        for out in outs:
            out.mkdir()
            (out / "data").symlink_to(data, target_is_directory=True)
        pair = concurrent_pair(proto, outs)
        times["pair"] = max(run["wall"] for run in pair)
        times["ceiling"] = 2 * times["local x1"] / times["pair"]
        values += [result_values(out) for out in outs]
    times["identical"] = all(v == values[0] for v in values[1:])
    return times


def main(quick: bool, small: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if small:
            (tmp / "small").mkdir()
            t = scaling(tmp / "small", dask=False, protocol=SMALL_PROTOCOL)
            print(f"small workload ({t['n_jobs']} sub-second jobs): local x1 {t['local x1']:.1f} s, "
                  f"x2 {t['local x2']:.1f} s: the difference is the workers' start-up")
        times = scaling(tmp)
        for label in ("local x1", "local x2", "dask x2", "dask x2 running"):
            if times.get(label) is not None:
                main_cpu, other = times[f"{label} cpu"]
                print(f"{label}: {times[label]:.1f} s wall for {times['n_jobs']} jobs; CPU-s: "
                      f"main process {main_cpu:.1f}, workers and fork server {other:.1f}")
        one = sum(times["local x1 cpu"])
        for label in ("local x2", "dask x2", "dask x2 running"):
            if times.get(label) is not None:
                print(f"{label}: CPU-s of all its processes / those of local x1: "
                      f"{sum(times[f'{label} cpu']) / one:.3f} (the work two workers add; a "
                      "loaded machine inflates CPU seconds far less than wall times)")
        print(f"results identical across executors and worker counts: {times['identical']}")
        print(f"speed ratio 2 workers / 1 worker: {times['local x1'] / times['local x2']:.2f}x "
              "(2 cores; 2.0 would be perfect scaling)")
        print(f"the machine's ceiling: two 1-worker runs of the same jobs started together, "
              f"{times['pair']:.1f} s: 2 x local x1 / pair = {times['ceiling']:.2f}x")
        if times.get("dask x2") is None:
            print("dask: `distributed` not installed (extra cmrsuite[dask])")
        else:
            t = times["dask x2"]
            print(f"dask LocalCluster x2: {t:.1f} s, ratio to local x1 "
                  f"{times['local x1'] / t:.2f}x")
            t = times["dask x2 running"]
            print(f"dask LocalCluster x2 already running (its address given to the run): "
                  f"{t:.1f} s, ratio to local x1 {times['local x1'] / t:.2f}x")
        own, kids = peak_mb()
        print(f"peak RSS: this process {own:.0f} MB, largest process of the runs {kids:.0f} MB")
        if quick:
            from suite.demo import QUICK_PROTOCOL

            t, res = timed_run(QUICK_PROTOCOL, tmp / "quick", "local", 2)
            own, kids = peak_mb()
            print(f"quick protocol: {t:.0f} s for {res.n_jobs} jobs; peak RSS main {own:.0f} MB, "
                  f"largest worker {kids:.0f} MB")


if __name__ == "__main__":
    main("--quick" in sys.argv, "--small" in sys.argv)

"""Which worker runs which job (suite.runner.schedule, executors.run_on_slots) and how the job
workers start (suite.runner.workers). Values never depend on either: test_runner compares the
tables of every executor."""

from __future__ import annotations

import os
from concurrent.futures import Future

import pytest

from suite.runner.executors import LocalExecutor, run_on_slots
from suite.runner.jobs import CaseRef, JobSpec, cost_rank
from suite.runner.schedule import JobQueue


def _spec(case: str, cond: str, method: str, experiment: str | None = None) -> JobSpec:
    ref = CaseRef(dataset="d", key=case, path=f"/data/{case}", format="ismrmrd")
    phase = "robustness" if experiment else "recon"
    return JobSpec(phase, ref, {"name": cond}, (("recon", {"name": method}),),
                   {"kind": experiment} if experiment else None)


def _jobs() -> list[JobSpec]:
    return [_spec(c, k, m) for c in ("c0", "c1") for k in ("R4", "R8")
            for m in ("zero-filled", "cg-sense", "kt-cs")]


def test_a_free_worker_stays_on_its_case_and_condition_then_its_case():
    queue = JobQueue(_jobs())
    a = queue.next()
    b = queue.next(running=[a])
    assert (a.case_id, b.case_id) == ("d/c0", "d/c1")  # a case no one runs
    seen = [a]
    for _ in range(2):
        seen.append(queue.next(seen[-1], running=[b]))
    assert {(s.case_id, s.condition_name) for s in seen} == {("d/c0", "R4")}
    nxt = queue.next(seen[-1], running=[b])
    assert (nxt.case_id, nxt.condition_name) == ("d/c0", "R8")


def test_every_job_is_handed_out_once_and_the_end_joins_the_fullest_case():
    jobs = _jobs()
    queue, last, out, slot = JobQueue(jobs), [None, None], [], 0
    while (s := queue.next(last[slot], running=[x for x in last[1 - slot:2 - slot] if x])):
        out.append(s)
        last[slot], slot = s, 1 - slot
    assert sorted(s.job_id for s in out) == sorted(s.job_id for s in jobs)

    queue = JobQueue([_spec("c0", "R4", m) for m in ("a", "b", "c")] + [_spec("c1", "R4", "d")])
    busy = [_spec("c0", "R4", "x"), _spec("c1", "R4", "y")]
    assert queue.next(running=busy).case_id == "d/c0"  # every case is run: the fullest


def test_cost_classes_start_in_order_and_known_long_kinds_first():
    jobs = [_spec("c0", "R4", "u", "crime"), _spec("c1", "R4", "u", "seg-attack"),
            _spec("c0", "R4", "u", "seg-attack")]
    queue = JobQueue(jobs, cost_rank)
    first = queue.next()
    second = queue.next(first, running=[])
    assert {first.experiment["kind"], second.experiment["kind"]} == {"seg-attack"}
    assert queue.next(second).experiment["kind"] == "crime"

    queue = JobQueue(_jobs())
    a = queue.next()  # zero-filled, c0/R4 (nothing measured yet: expansion order)
    queue.done(a, 0.1)
    later = [_spec("c0", "R8", m) for m in ("cg-sense", "kt-cs")]
    for s in later:
        queue.done(s, {"cg-sense": 2.0, "kt-cs": 3.0}[s.labels()["recon"]])
    assert queue.next(a).labels()["recon"] == "kt-cs"
    order = [queue.next(_spec("c0", "R8", "x")).labels()["recon"] for _ in range(3)]
    assert order == ["kt-cs", "cg-sense", "zero-filled"]  # c0/R8, longest first


def _done(value=None, error=None) -> Future:
    fut: Future = Future()
    if error is None:
        fut.set_result(value)
    else:
        fut.set_exception(error)
    return fut


def test_slots_keep_one_job_per_worker_and_refused_jobs_are_failures():
    jobs = _jobs()[:4]
    in_flight: list[int] = []
    running: set = set()

    def submit(spec):
        if spec is jobs[2]:
            raise RuntimeError("pool broken")
        running.add(spec.job_id)
        in_flight.append(len(running))
        return _done({"seconds": 1.0, "id": spec.job_id})

    def first_done(futs):
        fut = futs[0]
        running.discard(fut.result()["id"])
        return [fut]

    out = dict((s.job_id, o) for s, o in run_on_slots(submit, first_done, JobQueue(jobs),
                                                          lambda: 2))
    assert set(out) == {s.job_id for s in jobs}
    assert isinstance(out[jobs[2].job_id], RuntimeError)
    assert max(in_flight) == 2


@pytest.mark.slow  # starts the shared fork server when no earlier test did (≈ 3 CPU-s)
def test_forked_workers_see_the_runners_current_environment(monkeypatch):
    monkeypatch.setenv("CMRSUITE_TEST_WORKER_ENV", "set after the fork server started")
    with LocalExecutor(2) as pool:
        got = pool.map(os.getenv, ["CMRSUITE_TEST_WORKER_ENV"] * 2)
    assert got == ["set after the fork server started"] * 2


def test_closing_while_the_workers_start_does_not_hang():
    # the start thread's tasks still queued when the pool shuts down: shutdown(cancel_futures=
    # True) cancels them without waking a `wait` on them, so a start thread blocked there never
    # returned and __exit__'s join hung (seen once in the full suite)
    import multiprocessing
    import threading
    import time
    from concurrent.futures import ProcessPoolExecutor

    pool = LocalExecutor(2)
    pool._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
    pool._forked = True  # no fork server to stop
    busy = pool._pool.submit(time.sleep, 0.5)  # the one worker busy: the start tasks queue
    pool._starting = threading.Thread(target=pool._start_workers, daemon=True)
    pool._starting.start()
    time.sleep(0.1)
    closing = threading.Thread(target=pool.__exit__, args=(None, None, None), daemon=True)
    closing.start()
    closing.join(timeout=30)
    assert not closing.is_alive()
    assert busy.done() and not pool._starting.is_alive()

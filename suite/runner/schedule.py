"""Which pending job a free worker runs next: jobs of the case it holds, longest first.

A worker keeps the cases it read last and the coil maps it estimated last
(:func:`suite.runner.execute.load_case`, :func:`reference_impls.recon.estimate_coil_maps`), so
the jobs of one case and condition cost less on the worker that ran the previous one. Handing
jobs out in expansion order sends consecutive jobs of a case to different workers, and each
of them reads the case and estimates the maps again: on the runner benchmark's 32
reconstruction jobs two workers read 8 cases and estimated 16 maps where one worker reads 4
and estimates 8 (≈ 10 % more CPU; docs/performance.md).

:class:`JobQueue` gives a free worker, in this order of preference,

1. a pending job of the case and condition of the worker's last job,
2. a pending job of the same case,
3. a job of a case no other worker is running,
4. a job of the case with the most pending jobs (the end of the phase: rather than wait, the
   free worker shares a case with a busy one),

always among the jobs of the first cost class still pending (robustness experiments start
most expensive first, :func:`suite.runner.jobs.cost_rank`), and within a case the job whose
kind (its method chain and experiment) took longest so far, kinds not yet seen first and in
expansion order. Which worker runs a job never changes its values: the caches return what the
read or the estimate returns.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Callable, Hashable, Iterable

__all__ = ["JobQueue", "job_kind"]


def job_kind(spec) -> tuple:
    """What a job's cost depends on besides its data: the labels of its method chain and its
    robustness experiment kind."""
    return (spec.phase, tuple(sorted(spec.labels().items())),
            (spec.experiment or {}).get("kind"))


class JobQueue:
    """Pending jobs of one phase, handed out to worker slots (module docstring).

    Parameters
    ----------
    specs : iterable of JobSpec
        The phase's pending jobs, in the order they were expanded.
    rank : callable(spec) -> int
        Cost class of a job (0 = most expensive); jobs of a later class start only when the
        earlier classes are handed out.
    """

    def __init__(self, specs: Iterable, rank: Callable[[object], int] = lambda spec: 0):
        self._pending = list(specs)
        self._order = {id(s): i for i, s in enumerate(self._pending)}
        self._kind = {id(s): job_kind(s) for s in self._pending}
        self._rank = {id(s): rank(s) for s in self._pending}
        self._seconds: dict[Hashable, list[float]] = defaultdict(list)

    def __len__(self) -> int:
        return len(self._pending)

    def done(self, spec, seconds: float | None) -> None:
        """Learn the duration of a finished job (``None`` for a failed one)."""
        if seconds is not None:
            self._seconds[job_kind(spec)].append(float(seconds))

    def _cost(self, spec) -> tuple:
        seen = self._seconds.get(self._kind[id(spec)])
        mean = sum(seen) / len(seen) if seen else float("inf")
        return (-mean, self._order[id(spec)])

    def next(self, last=None, running: Iterable = ()) -> object | None:
        """Remove and return the job a free worker runs next (None when nothing is pending).

        ``last``: the worker's previous job (None for a new worker); ``running``: the jobs the
        other workers are running.
        """
        if not self._pending:
            return None
        top = min(self._rank[id(s)] for s in self._pending)
        pool = [s for s in self._pending if self._rank[id(s)] == top]
        running = list(running)
        busy_cases = {s.case_id for s in running}
        busy_groups = {_group(s) for s in running}
        left = Counter(s.case_id for s in pool)
        first: dict[tuple, int] = {}
        for s in pool:  # pool keeps the expansion order
            first.setdefault(_group(s), self._order[id(s)])

        def preference(s) -> tuple:  # False sorts first
            group = _group(s)
            return (last is None or group != _group(last),
                    last is None or s.case_id != last.case_id,
                    s.case_id in busy_cases, group in busy_groups,
                    -left[s.case_id], first[group], *self._cost(s))

        spec = min(pool, key=preference)
        self._pending = [s for s in self._pending if s is not spec]
        return spec


def _group(spec) -> tuple[str, str]:
    return spec.case_id, spec.condition_name

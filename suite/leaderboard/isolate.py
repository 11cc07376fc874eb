"""Score one submission in a child process with a time limit.

A submission's files are read by C libraries (HDF5, zlib, nibabel's and pydicom's decoders)
that a hostile file can make loop forever or crash: the input fuzz suite found an HDF5 2.0
global heap whose free-space object has size 0, on which the library loops without end
(docs/input-safety.md). Nothing inside the process can interrupt a C loop, so each
submission is extracted and scored in a child process (``fork`` where the platform has it,
else ``spawn``); when the child does not answer within ``limits.max_seconds`` it is killed,
and when it dies (a signal) or fails unexpectedly, the submission is ``rejected`` with the
reason, and the build goes on with the other teams.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from pathlib import Path

from suite.leaderboard.archive import UnsafeArchiveError
from suite.leaderboard.submission import (Problem, SubmissionReport, open_submission,
                                          score_submission)

__all__ = ["score_isolated", "score_in_process"]


def score_in_process(challenge, truth, team: str, path: Path, work: Path,
                     task_names) -> tuple[SubmissionReport, list[dict]]:
    """Extract (archives) and score one submission here; unsafe or unreadable archives and
    unreadable folders give a ``rejected`` report, never an exception."""
    rep = SubmissionReport(team=team, source=path.name)
    rows: list[dict] = []
    try:
        base = open_submission(path, work, challenge.limits, task_names)
        rows = score_submission(challenge, truth, team, base, rep)
    except UnsafeArchiveError as exc:
        _reject(rep, path, f"archive rejected: {exc.reason}"
                + (f" (member {exc.member!r})" if exc.member else ""), exc.hint)
    except (ValueError, OSError) as exc:
        _reject(rep, path, f"could not be read ({type(exc).__name__}: {exc})",
                "check the folder layout in docs/leaderboard.md")
    return rep, rows


def score_isolated(challenge, truth, team: str, path: Path, work: Path,
                   task_names) -> tuple[SubmissionReport, list[dict]]:
    """:func:`score_in_process` in a child process, killed after
    ``challenge.limits.max_seconds`` (module docstring)."""
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, challenge, truth, team, path, work,
                                            task_names), daemon=True)
    proc.start()
    send.close()
    limit = challenge.limits.max_seconds
    result = None
    try:
        if recv.poll(limit):
            result = recv.recv()
    except (EOFError, OSError):
        result = None  # the child died before it answered
    finally:
        recv.close()
        if proc.is_alive():
            proc.kill()
        proc.join()
    if isinstance(result, tuple):
        return result
    rep = SubmissionReport(team=team, source=path.name)
    if isinstance(result, str):
        _reject(rep, path, f"could not be scored ({result})",
                "report this submission to the organisers")
    elif proc.exitcode is not None and proc.exitcode < 0 and \
            proc.exitcode != -signal.SIGKILL:
        _reject(rep, path, f"the scoring process died ({signal.Signals(-proc.exitcode).name}) "
                "while reading this submission: a file crashed a reader library",
                "submit plain MATLAB v7.3 / NIfTI files written by the usual tools")
    else:
        _reject(rep, path, f"scoring did not finish within {limit:g} s (a file may make a "
                "reader library loop)", "submit plain MATLAB v7.3 / NIfTI files written by "
                "the usual tools")
    return rep, []


def _child(send, challenge, truth, team, path, work, task_names) -> None:
    try:
        out = score_in_process(challenge, truth, team, path, work, task_names)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, never raised there
        out = f"{type(exc).__name__}: {exc}"
    send.send(out)
    send.close()


def _reject(rep: SubmissionReport, path: Path, problem: str, hint: str) -> None:
    rep.status = "rejected"
    rep.problems.append(Problem("", "", path.name, problem, hint))

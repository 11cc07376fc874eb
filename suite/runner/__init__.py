"""The harness: protocols → jobs → executors → results store, with provenance and resume."""

from suite.runner.jobs import CaseRef, JobSpec, expand_jobs
from suite.runner.run import RunError, RunResult, run_protocol
from suite.store import ResultStore

__all__ = ["run_protocol", "RunResult", "RunError", "ResultStore", "JobSpec", "CaseRef",
           "expand_jobs"]

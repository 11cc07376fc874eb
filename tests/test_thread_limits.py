"""Thread limits of a job (:func:`suite.runner.execute.run_job`) and of the ESPIRiT SVD on
threadpoolctl's cached controller: the same limits as ``threadpool_limits`` sets (a new scan
of the loaded libraries), restored afterwards."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from reference_impls.recon import coil_maps
from suite.runner import execute


def _threads():
    return sorted((d["filepath"], d["user_api"], d["num_threads"]) for d in threadpool_info())


@pytest.mark.parametrize("limit, reference", [
    (lambda: execute._thread_pools().limit(limits=1), lambda: threadpool_limits(limits=1)),
    (coil_maps._one_blas_thread, lambda: threadpool_limits(limits=1, user_api="blas")),
])
def test_limits_equal_threadpool_limits_and_are_restored(limit, reference):
    np.linalg.svd(np.ones((3, 3)))                         # BLAS loaded
    before = _threads()
    with reference():
        expected = _threads()
    with limit():
        assert _threads() == expected
    assert _threads() == before
    with limit():                                          # again, from the cached controller
        assert _threads() == expected
    assert _threads() == before

"""Native thread limits (:func:`suite.mr.native_thread_limits`, which a runner's job and the
ESPIRiT SVD set) on threadpoolctl's cached controller: the same limits as ``threadpool_limits``
sets (a new scan of the loaded libraries), restored afterwards."""

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from suite.mr import native_thread_limits


def _threads():
    return sorted((d["filepath"], d["user_api"], d["num_threads"]) for d in threadpool_info())


@pytest.mark.parametrize("limit, reference", [
    (lambda: native_thread_limits(1), lambda: threadpool_limits(limits=1)),
    (lambda: native_thread_limits(1, user_api="blas"),
     lambda: threadpool_limits(limits=1, user_api="blas")),
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

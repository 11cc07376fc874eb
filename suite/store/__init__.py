"""A run's store: the results database (one writer, the runner, holding the folder's lock),
the content-addressed cache of arrays, the run's seal, and :class:`RunView`, the one reader
(analysis, reports, gate)."""

from suite.store.cache import (CacheError, CachedArray, CacheRepair, cache_key, cache_path,
                               cached_array, read_cached)
from suite.store.errors import DiskFullError, RunLockedError, StoreCorruptError
from suite.store.lock import RunLock
from suite.store.results import FIXED_METHOD_COLUMNS, RESULT_COLUMNS, ResultStore
from suite.store.seal import SealReport, check_seal, seal_run
from suite.store.view import RunView, RunViewError, group_columns, resolve_run_dir

__all__ = ["ResultStore", "RESULT_COLUMNS", "FIXED_METHOD_COLUMNS", "RunView", "RunViewError",
           "group_columns", "resolve_run_dir", "cache_key", "cache_path",
           "cached_array", "read_cached", "CachedArray", "CacheError", "CacheRepair",
           "StoreCorruptError", "DiskFullError", "RunLockedError", "RunLock", "seal_run",
           "check_seal", "SealReport"]

"""A run's store: the results database (one writer, the runner), the content-addressed cache
of arrays, and :class:`RunView`, the one reader (analysis, reports, gate)."""

from suite.store.cache import (CacheError, CachedArray, cache_key, cache_path, cached_array,
                               read_cached)
from suite.store.results import FIXED_METHOD_COLUMNS, RESULT_COLUMNS, ResultStore
from suite.store.view import RunView, RunViewError, group_columns, resolve_run_dir

__all__ = ["ResultStore", "RESULT_COLUMNS", "FIXED_METHOD_COLUMNS", "RunView", "RunViewError",
           "group_columns", "resolve_run_dir", "cache_key", "cache_path",
           "cached_array", "read_cached", "CachedArray", "CacheError"]

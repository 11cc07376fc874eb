"""``cmrsuite export``: a run's tables as CSV (always available) or Parquet (needs pyarrow)."""

from __future__ import annotations

from pathlib import Path

from suite.store import ResultStore

__all__ = ["export_run", "TABLES"]

TABLES = ("results", "jobs", "cases", "failures", "run_info")


def export_run(run_dir, fmt: str = "csv") -> list[Path]:
    """Write every table of ``RUN_DIR/results.sqlite`` to ``RUN_DIR/export/<table>.<fmt>``."""
    run_dir = Path(run_dir)
    db = run_dir / "results.sqlite"
    if not db.exists():
        raise ValueError(f"{run_dir}: no results.sqlite; is this a run folder?")
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"export: format must be 'csv' or 'parquet'; got {fmt!r}")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ValueError("export --format parquet needs pyarrow: pip install "
                             "'cmrsuite[parquet]' (or use --format csv)") from None
    out = run_dir / "export"
    out.mkdir(exist_ok=True)
    paths = []
    with ResultStore(db) as store:
        for table in TABLES:
            df = store.frame(table)
            path = out / f"{table}.{fmt}"
            if fmt == "csv":
                df.to_csv(path, index=False)
            else:
                df.to_parquet(path, index=False)
            paths.append(path)
    return paths

"""Opening the warehouse: one place for the DuckDB settings every connection of the project shares.

Lives in `sync` (the package without a Dagster dependency) so the sync engine, its CLI and the
Dagster resources open the file the same way; dbt gets the same setting through `profiles.yml`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import duckdb

MEMORY_LIMIT_ENV = "ONBOARDING_DUCKDB_MEMORY_LIMIT"
_SIZE = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|%)$", re.IGNORECASE)


def memory_limit(env: Mapping[str, str] | None = None) -> str | None:
    """DuckDB's `memory_limit` from ONBOARDING_DUCKDB_MEMORY_LIMIT (e.g. `200MB`, `4GB`, `25%`), or
    None for DuckDB's default (80% of RAM).

    Why a setting: DuckDB keeps what it read cached up to its limit, and a run has two DuckDB
    processes (the pipeline's and dbt's), so on a shared machine the default can take far more than
    the data needs; a bounded limit costs little time (docs/benchmarks.md, section 2).
    """
    value = (os.environ if env is None else env).get(MEMORY_LIMIT_ENV, "").strip()
    if not value:
        return None
    if not _SIZE.match(value):
        raise ValueError(f"{MEMORY_LIMIT_ENV} must be a size such as 200MB, 4GB or 25%, got {value!r}")
    return value


def configure(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """Apply the project's settings to a connection (they hold for its whole database instance)."""
    limit = memory_limit()
    if limit:
        con.execute(f"set memory_limit = '{limit}'")
    # No progress bar: in a step's captured output it is only noise between the log lines.
    con.execute("set enable_progress_bar = false")
    return con


def connect(path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    return configure(duckdb.connect(str(path), read_only=read_only))

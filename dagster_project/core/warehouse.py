"""Opening the warehouse: one place for the DuckDB settings every connection of the project shares.

Lives in `core`, the floor every stage imports and which imports no stage, so the ingest child, the AI
steps, the sync engine, the CLIs and the Dagster resources open the file the same way; dbt gets the
same memory limit through `profiles.yml`. The two settings checked here (memory limit, lock timeout)
are resolved with every other one by `core.settings.Settings`.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import duckdb

MEMORY_LIMIT_ENV = "ONBOARDING_DUCKDB_MEMORY_LIMIT"
_SIZE = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|%)$", re.IGNORECASE)


# The limit a connection (and dbt) gets when ONBOARDING_DUCKDB_MEMORY_LIMIT is unset: 2 GB, or a quarter
# of the machine's memory if that is less. Why: DuckDB's own default is 80% of RAM per database
# instance, and a run has two DuckDB processes (ours and dbt's) beside a Dagster webserver and daemon;
# in one 10 M full run dbt's process reached 20.6 GB of a 24 GB machine (issue 20). DuckDB spills
# joins, aggregates and sorts to disk beyond it (docs/benchmarks.md: what it costs in time).
DEFAULT_MEMORY_LIMIT_BYTES = 2 * 1024**3
DEFAULT_MEMORY_LIMIT_SHARE = 0.25


def default_memory_limit() -> str:
    """The default limit as a DuckDB size (`2048MB`, or a quarter of physical memory if smaller)."""
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = 0
    limit = min(DEFAULT_MEMORY_LIMIT_BYTES, int(ram * DEFAULT_MEMORY_LIMIT_SHARE)) if ram else DEFAULT_MEMORY_LIMIT_BYTES
    return f"{max(limit // 1024**2, 256)}MB"


def effective_memory_limit(limit: str | None) -> str:
    """The limit a DuckDB process of a run gets: the operator's, else `default_memory_limit()`."""
    return limit or default_memory_limit()


def memory_limit(env: Mapping[str, str] | None = None) -> str | None:
    """DuckDB's `memory_limit` from ONBOARDING_DUCKDB_MEMORY_LIMIT (e.g. `200MB`, `4GB`, `25%`, or `80%`
    for DuckDB's own default), or None when unset: connections then get `default_memory_limit()`.

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


class ConnectionSettings(Protocol):
    """The two settings a connection takes: `core.settings.Settings` has both (a Protocol, because
    settings.py imports this module)."""

    @property
    def memory_limit(self) -> str | None: ...

    @property
    def lock_timeout(self) -> float: ...


def configure(con: duckdb.DuckDBPyConnection, limit: str | None) -> duckdb.DuckDBPyConnection:
    """Apply the project's settings to a connection (they hold for its whole database instance);
    `limit` None applies `default_memory_limit()`."""
    con.execute(f"set memory_limit = '{effective_memory_limit(limit)}'")
    # No progress bar: in a step's captured output it is only noise between the log lines.
    con.execute("set enable_progress_bar = false")
    return con


def connect(
    path: Path | str, read_only: bool = False, settings: ConnectionSettings | None = None
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, waiting for another process's lock up to the lock timeout.

    `settings`: the memory limit and lock timeout of the run (the warehouse resource's, which a run's
    config may override); None reads ONBOARDING_DUCKDB_MEMORY_LIMIT / ONBOARDING_LOCK_TIMEOUT, for
    callers outside a run (a notebook, the sync engine used as a library).
    """
    if settings is None:
        return configure(_connect_waiting(str(path), read_only, lock_timeout()), memory_limit())
    return configure(_connect_waiting(str(path), read_only, settings.lock_timeout), settings.memory_limit)


# Waiting for the lock. DuckDB lets one process write a file (and no other process read it then), and
# fails at once when another holds it: a notebook left open, `dagster dev`'s run, a sync. Every writer
# (the ingest child, the AI steps, the sync, the CLI) opens the file here, so each waits a bounded time
# for the holder to finish, then fails saying what to close.
LOCK_TIMEOUT_ENV = "ONBOARDING_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT_SECONDS = 180.0
_LOCK_ERROR = "Could not set lock on file"
_HOLDER = re.compile(r"Conflicting lock is held in (.+?) \(PID (\d+)\)")
_log = logging.getLogger(__name__)


class WarehouseLockedError(RuntimeError):
    """Another process held the warehouse for longer than ONBOARDING_LOCK_TIMEOUT."""


def lock_timeout(env: Mapping[str, str] | None = None) -> float:
    """Seconds to wait for another process's lock (ONBOARDING_LOCK_TIMEOUT; 0 fails at once)."""
    value = (os.environ if env is None else env).get(LOCK_TIMEOUT_ENV, "").strip()
    if not value:
        return DEFAULT_LOCK_TIMEOUT_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise ValueError(f"{LOCK_TIMEOUT_ENV} must be a number of seconds (0 or more), got {value!r}")
    return seconds


def _connect_waiting(path: str, read_only: bool, timeout: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + timeout
    pause = 0.05
    warned = False
    while True:
        try:
            return duckdb.connect(path, read_only=read_only)
        except duckdb.IOException as exc:
            if _LOCK_ERROR not in str(exc):
                raise
            holder = _HOLDER.search(str(exc))
            who = f"{holder[1]} (PID {holder[2]})" if holder else "another process"
            left = deadline - time.monotonic()
            if left <= 0:
                raise WarehouseLockedError(
                    f"the warehouse {path} is locked by {who}, still after waiting {timeout:g}s "
                    f"({LOCK_TIMEOUT_ENV}). DuckDB allows one writing process: close what holds it "
                    "(a notebook's or a Python shell's duckdb connection, a DuckDB CLI or SQL client, "
                    "`dagster dev` running a job, another `onboarding run` or `onboarding sync`), "
                    f"or raise {LOCK_TIMEOUT_ENV}, then run again"
                ) from exc
            if not warned:
                _log.warning("the warehouse %s is locked by %s; waiting up to %gs for it", path, who, timeout)
                warned = True
            time.sleep(min(pause, left))
            pause = min(pause * 2, 1.0)


# glibc raises its mmap threshold each time a large mmapped block is freed, so after the first few
# DuckDB buffer blocks (256 KB) are freed the next ones come from the heap, which glibc keeps when they
# are freed again. A fixed threshold keeps every such block mmapped and returns it to the OS when DuckDB
# frees it: measured on a 1 M run with a 300MB DuckDB limit, the ingest's child peaked 46 MB lower and
# dbt's process 23 MB lower, in the same time (docs/benchmarks.md, section 2). It can only be set when
# a process starts, so it is given to the processes a run starts (the step children, dbt), not to the
# process already running.
MALLOC_TUNABLE = "glibc.malloc.mmap_threshold=131072"


def child_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a process that will run DuckDB: `base` (default os.environ) plus
    MALLOC_TUNABLE in GLIBC_TUNABLES, unless the operator already chose an mmap threshold there."""
    env = dict(os.environ if base is None else base)
    current = env.get("GLIBC_TUNABLES", "")
    if "glibc.malloc.mmap_threshold" not in current:
        env["GLIBC_TUNABLES"] = f"{current}:{MALLOC_TUNABLE}" if current else MALLOC_TUNABLE
    return env

"""The ingest's load child: `run_loads` loads landing days in a child process (see `child.py`).

The child imports DuckDB, numpy and pyarrow, not Dagster, and reports each item's `LoadStats` as it
finishes, so the step logs progress as it happens. Each batch is its own transaction: if the child
fails, the items already reported stay loaded and a re-run replaces them.

The loader is imported in the child only (`_load_here`): the Dagster process that calls `run_loads`
then never holds numpy and pyarrow (~45 MB) next to the child at the ingest's memory peak. A child
costs ~0.8 s to start (its imports). Small loads still go to a child: loading them in the step's
process would leave DuckDB's heap there for the rest of the run, next to dbt (docs/benchmarks.md).

The run's settings (memory limit, lock timeout, line and file limits, allow-empty-reload: the
warehouse resource's, which a run's config may override) travel in the request, so the child applies
exactly the parent's; it resolves no environment of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, replace
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from dagster_project.core import warehouse

from ..core.child import Emit, run_child, serve
from ..core.settings import Settings
from .landing import Landing, LandingError, is_uri
from .stats import LoadStats, UnplacedFile


def run_loads(
    db: Path,
    landing: Path | str,
    items: list[tuple[str, date]],
    allow_empty_reload: bool = False,
    settings: Settings | None = None,
) -> Iterator[LoadStats | UnplacedFile]:
    """Load `items` in order into `db` in a child process, yielding each item's stats as it finishes,
    after the files of their sources that belong to no landing day (recorded, not loaded).

    `settings`: the run's (the warehouse resource's); None resolves the environment
    (`Settings.from_env`), for callers outside a run. `allow_empty_reload` (or the settings'
    allow_empty_reload, ONBOARDING_ALLOW_EMPTY_RELOAD=1) lets a day whose files are gone be emptied;
    without it such a day fails the load (`load.EmptyReloadError`).
    """
    if not items:
        return
    settings = settings or Settings.from_env()
    request = {
        "db": str(db),
        "landing": str(landing),
        "items": [[source, day.isoformat()] for source, day in items],
        "settings": _limits(settings, allow_empty_reload),
    }
    for message in run_child(__name__, request):
        if "landing_error" in message:  # one line (no traceback): the landing cannot be listed or read
            raise LandingError(message["landing_error"])
        if "unplaced" in message:
            yield UnplacedFile(**message["unplaced"])
        else:
            yield LoadStats(**message)


# DuckDB's memory limit for the load child when the operator set none (ONBOARDING_DUCKDB_MEMORY_LIMIT
# wins). Without one DuckDB keeps every block the load writes cached, up to 80% of RAM: the 10 M
# Segment load peaked at 5.0 GB, nearly all of it blocks already written to the file, which a load
# never reads again; with this limit 2.0 GB, in the same time (224.7 s, 225.3 s). The data not yet
# checkpointed stays well under it (load.py's checkpoint threshold), so the limit evicts cache, it
# does not make the load spill.
DEFAULT_LOAD_MEMORY_LIMIT = "1GB"


def connect_for_loads(db: Path, settings: Settings | None = None) -> duckdb.DuckDBPyConnection:
    settings = settings or Settings.from_env()
    con = warehouse.connect(db, settings=settings)
    if settings.memory_limit is None:
        con.execute(f"set memory_limit = '{DEFAULT_LOAD_MEMORY_LIMIT}'")
    return con


def _limits(settings: Settings, allow_empty_reload: bool) -> dict[str, Any]:
    """What the child needs of the settings, as JSON (the paths travel on their own)."""
    return {
        "memory_limit": settings.memory_limit,
        "lock_timeout": settings.lock_timeout,
        "max_line_bytes": settings.max_line_bytes,
        "max_file_bytes": settings.max_file_bytes,
        "allow_empty_reload": allow_empty_reload or settings.allow_empty_reload,
    }


def _load_here(
    db: Path, landing: Path | str, items: list[tuple[str, date]], settings: Settings | None = None
) -> Iterator[LoadStats | UnplacedFile]:
    from .files import unplaced_files  # in the child only: see the module's docstring
    from .load import begin_bulk, end_bulk, load_many, record_unplaced

    settings = settings or Settings.from_env()
    con = connect_for_loads(db, settings)
    where = Landing.of(landing)  # each source listed once, for its unplaced files and all its days
    try:
        for source in dict.fromkeys(source for source, _ in items):
            unplaced = unplaced_files(where, source)
            record_unplaced(con, source, unplaced)
            yield from (UnplacedFile(source, file, why) for file, why in unplaced)
        begin_bulk(con)
        yield from load_many(con, where, items, settings)
        end_bulk(con)
    finally:
        con.close()


def _load(request: dict[str, Any], emit: Emit) -> None:
    items = [(source, date.fromisoformat(day)) for source, day in request["items"]]
    db = Path(request["db"])
    landing = request["landing"] if is_uri(request["landing"]) else Path(request["landing"])  # s3://: kept
    settings = replace(Settings(db_path=db, landing=landing), **request["settings"])
    try:
        for result in _load_here(db, landing, items, settings):
            if isinstance(result, UnplacedFile):
                emit({"unplaced": asdict(result)})
            else:
                emit(result.as_metadata())
    except LandingError as exc:
        emit({"landing_error": str(exc)})


if __name__ == "__main__":
    serve(_load)

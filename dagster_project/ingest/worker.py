"""The ingest's load child: `run_loads` loads landing days in a child process (see `child.py`).

The child imports DuckDB, numpy and pyarrow, not Dagster, and reports each item's `LoadStats` as it
finishes, so the step logs progress as it happens. Each batch is its own transaction: if the child
fails, the items already reported stay loaded and a re-run replaces them.

The loader is imported in the child only (`_load_here`): the Dagster process that calls `run_loads`
then never holds numpy and pyarrow (~45 MB) next to the child at the ingest's memory peak. A child
costs ~0.8 s to start (its imports). Small loads still go to a child: loading them in the step's
process would leave DuckDB's heap there for the rest of the run, next to dbt (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from dagster_project.core import warehouse

from ..core.child import Emit, run_child, serve
from .stats import LoadStats, UnplacedFile


def run_loads(
    db: Path, landing: Path, items: list[tuple[str, date]], allow_empty_reload: bool = False
) -> Iterator[LoadStats | UnplacedFile]:
    """Load `items` in order into `db` in a child process, yielding each item's stats as it finishes,
    after the files of their sources that belong to no landing day (recorded, not loaded).

    `allow_empty_reload` (or ONBOARDING_ALLOW_EMPTY_RELOAD=1) lets a day whose files are gone be
    emptied; without it such a day fails the load (`load.EmptyReloadError`).
    """
    if not items:
        return
    request = {
        "db": str(db),
        "landing": str(landing),
        "items": [[source, day.isoformat()] for source, day in items],
        "allow_empty_reload": allow_empty_reload,
    }
    for message in run_child(__name__, request):
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


def connect_for_loads(db: Path) -> duckdb.DuckDBPyConnection:
    con = warehouse.connect(db)
    if warehouse.memory_limit() is None:
        con.execute(f"set memory_limit = '{DEFAULT_LOAD_MEMORY_LIMIT}'")
    return con


def _load_here(
    db: Path, landing: Path, items: list[tuple[str, date]], allow_empty: bool = False
) -> Iterator[LoadStats | UnplacedFile]:
    from .files import unplaced_files  # in the child only: see the module's docstring
    from .load import allow_empty_reload, begin_bulk, end_bulk, load_many, record_unplaced

    con = connect_for_loads(db)
    try:
        for source in dict.fromkeys(source for source, _ in items):
            unplaced = unplaced_files(landing, source)
            record_unplaced(con, source, unplaced)
            yield from (UnplacedFile(source, file, why) for file, why in unplaced)
        begin_bulk(con)
        yield from load_many(con, landing, items, allow_empty or allow_empty_reload())
        end_bulk(con)
    finally:
        con.close()


def _load(request: dict[str, Any], emit: Emit) -> None:
    items = [(source, date.fromisoformat(day)) for source, day in request["items"]]
    db, landing = Path(request["db"]), Path(request["landing"])
    for result in _load_here(db, landing, items, bool(request.get("allow_empty_reload"))):
        if isinstance(result, UnplacedFile):
            emit({"unplaced": asdict(result)})
        else:
            emit(result.as_metadata())


if __name__ == "__main__":
    serve(_load)

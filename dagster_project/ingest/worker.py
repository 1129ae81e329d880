"""The ingest's load child: `run_loads` loads landing days in a child process (see `child.py`).

The child imports DuckDB and pyarrow, not Dagster, and reports each item's `LoadStats` as it
finishes, so the step logs progress as it happens. Each item is its own transaction: if the child
fails, the items already reported stay loaded and a re-run replaces them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from sync import warehouse

from ..child import Emit, run_child, serve
from .load import LoadStats, begin_bulk, end_bulk, load_many


def run_loads(db: Path, landing: Path, items: list[tuple[str, date]]) -> Iterator[LoadStats]:
    """Load `items` in order into `db` in a child process, yielding each item's stats as it finishes."""
    if not items:
        return
    request = {
        "db": str(db),
        "landing": str(landing),
        "items": [[source, day.isoformat()] for source, day in items],
    }
    for message in run_child(__name__, request):
        yield LoadStats(**message)


def _load(request: dict[str, Any], emit: Emit) -> None:
    items = [(source, date.fromisoformat(day)) for source, day in request["items"]]
    con = warehouse.connect(Path(request["db"]))
    try:
        begin_bulk(con)
        for stats in load_many(con, Path(request["landing"]), items):
            emit(stats.as_metadata())
        end_bulk(con)
    finally:
        con.close()


if __name__ == "__main__":
    serve(_load)

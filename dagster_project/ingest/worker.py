"""The ingest's load child: `run_loads` loads landing days in a child process (see `child.py`).

The child imports DuckDB and pyarrow, not Dagster, and reports each item's `LoadStats` as it
finishes, so the step logs progress as it happens. Each batch is its own transaction: if the child
fails, the items already reported stay loaded and a re-run replaces them.

Small loads stay in process: a child costs ~1 s to start (imports, and pyarrow importing pandas on its
first conversion), which is most of a daily run's small sources, while the memory a load leaves
behind grows with what it loaded. Below CHILD_MIN_BYTES of landing files the load runs in the step's
own process.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from sync import warehouse

from ..child import Emit, run_child, serve
from .files import iter_landing_files
from .load import LoadStats, begin_bulk, end_bulk, load_many

# Landing files (as stored, compressed or not) from which a load runs in a child process.
CHILD_MIN_BYTES = 32 * 2**20


def landing_bytes(landing: Path, items: list[tuple[str, date]]) -> int:
    """Size on disk of the landing files of `items`."""
    wanted = set(items)
    return sum(
        f.path.stat().st_size
        for source in {source for source, _ in items}
        for f in iter_landing_files(landing, source)
        if (source, f.day) in wanted
    )


def run_loads(
    db: Path, landing: Path, items: list[tuple[str, date]], in_child: bool | None = None
) -> Iterator[LoadStats]:
    """Load `items` in order into `db`, yielding each item's stats as it finishes: in a child process
    when `in_child`, or (None) when their landing files reach CHILD_MIN_BYTES."""
    if not items:
        return
    if in_child is None:
        in_child = landing_bytes(landing, items) >= CHILD_MIN_BYTES
    if not in_child:
        yield from _load_here(db, landing, items)
        return
    request = {
        "db": str(db),
        "landing": str(landing),
        "items": [[source, day.isoformat()] for source, day in items],
    }
    for message in run_child(__name__, request):
        yield LoadStats(**message)


def _load_here(db: Path, landing: Path, items: list[tuple[str, date]]) -> Iterator[LoadStats]:
    con = warehouse.connect(db)
    try:
        begin_bulk(con)
        yield from load_many(con, landing, items)
        end_bulk(con)
    finally:
        con.close()


def _load(request: dict[str, Any], emit: Emit) -> None:
    items = [(source, date.fromisoformat(day)) for source, day in request["items"]]
    for stats in _load_here(Path(request["db"]), Path(request["landing"]), items):
        emit(stats.as_metadata())


if __name__ == "__main__":
    serve(_load)

"""The counts a load reports: one per (source, landing day), to the step's log and `raw.load_log`.

On its own, without the loader's imports (DuckDB, numpy, pyarrow), so the Dagster process that only
receives these from the load child does not import them (`ingest/worker.py`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class LoadStats:
    source: str
    day: str
    files: int = 0
    lines: int = 0
    loaded: int = 0
    duplicates: int = 0
    quarantined: int = 0
    seconds: float = 0.0

    def as_metadata(self) -> dict[str, int | float | str]:
        return asdict(self)


@dataclass
class UnplacedFile:
    """A landing file that belongs to no day (no readable date, wrong folder depth): not loaded,
    recorded in `raw.quarantine` as `unplaced_file` and reported to the step as a warning."""

    source: str
    file: str
    why: str

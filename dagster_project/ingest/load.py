"""Load one source's landing day into the `raw` schema: replace the day, drop duplicates, quarantine.

Why it is shaped this way:
- Idempotent: the day's rows, quarantine rows and log row are deleted and re-inserted in one
  transaction, so loading a day twice replaces it and a crash leaves the previous state.
- Nothing valid is lost, no input crashes the run: every non-blank line ends either in its raw table,
  counted as a duplicate, or in `raw.quarantine` with a reason.
- Fast: Python only decompresses and splits lines; parsing, validation and dedupe are set-based SQL.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from .files import files_for_day
from .lines import read_file_lines
from .schema import ensure_raw_schema
from .sources import SPECS, classify_sql

DEFAULT_MAX_LINE_BYTES = 65_536


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


def max_line_bytes() -> int:
    return int(os.environ.get("ONBOARDING_MAX_LINE_BYTES", DEFAULT_MAX_LINE_BYTES))


DayLines = tuple[pa.Table, list[tuple], int]
"""A landing day read and split: (lines table, rejects, file count)."""


def read_day(landing: Path, source: str, day: date) -> DayLines:
    """Decompress and split one source's landing day (pure Python + zlib; no warehouse access)."""
    files = files_for_day(landing, source, day)
    names: list[str] = []
    numbers: list[int] = []
    texts: list[str] = []
    rejects: list[tuple] = []
    for f in files:
        lines = read_file_lines(f.path)
        names.extend([f.relative] * len(lines.numbers))
        numbers.extend(lines.numbers)
        texts.extend(lines.texts)
        rejects.extend((f.relative, n, raw, reason) for n, raw, reason in lines.rejects)
    table = pa.table(
        {
            "_file": pa.array(names, type=pa.string()).dictionary_encode(),
            "_line": pa.array(numbers, type=pa.int64()),
            "line": pa.array(texts, type=pa.large_string()),
        }
    )
    return table, rejects, len(files)


def load_day(
    con: duckdb.DuckDBPyConnection, landing: Path, source: str, day: date, lines: DayLines | None = None
) -> LoadStats:
    """Load (or re-load) `source` for landing day `day`; returns the counts that go to `raw.load_log`.

    `lines` is the day already read by `read_day` (see `load_many`, which reads ahead)."""
    started = time.perf_counter()
    spec = SPECS[source]
    ensure_raw_schema(con)
    con.execute("set TimeZone = 'UTC'")
    lines_in, rejects, n_files = lines if lines is not None else read_day(landing, source, day)
    stats = LoadStats(source=source, day=day.isoformat(), files=n_files)

    cols = ", ".join(spec.columns)
    con.register("lines_in", lines_in)
    try:
        # Only what the next statements read: the raw columns, the reason, and the line's text for the
        # quarantined lines (a valid line's text is not kept twice; nor are the JSON path values).
        con.execute(
            f"""
            create or replace temp table _classified as
            select _file, _line, {cols}, reason, case when reason is not null then line end as line
            from ({classify_sql(spec, max_line_bytes())})
            """,
            {"day": day},
        )
    finally:
        con.unregister("lines_in")

    key_match = " and ".join(f"c.{k} is not distinct from r.{k}" for k in spec.key)
    keys = ", ".join(spec.key)
    # Rows of this source and day are replaced; RudderStack and Segment share a table.
    own = "_partition_day = $day" + (
        f" and source_system = '{source}'" if spec.table == "segment_events" else ""
    )
    system = f", '{source}' as source_system" if spec.table == "segment_events" else ""
    system_col = ", source_system" if spec.table == "segment_events" else ""

    con.execute("begin transaction")
    try:
        con.execute(f"delete from raw.{spec.table} where {own}", {"day": day})
        con.execute(
            "delete from raw.quarantine where source = $source and _partition_day = $day",
            {"source": source, "day": day},
        )
        con.execute(
            "delete from raw.load_log where source = $source and _partition_day = $day",
            {"source": source, "day": day},
        )
        # The lines to load, by position only: the first copy of each key within the day (in file and
        # line order) whose key is not already loaded from another day or source. Ranking and matching
        # only the keys keeps the wide JSON columns out of the window and the join.
        con.execute(
            f"""
            create or replace temp table _fresh as
            select _file, _line from (
                select _file, _line, {keys}
                from _classified
                where reason is null
                qualify row_number() over (partition by {keys} order by _file, _line) = 1
            ) as c
            where not exists (select 1 from raw.{spec.table} as r where {key_match})
            """
        )
        con.execute(
            f"""
            insert into raw.{spec.table} ({cols}{system_col}, _file, _line, _partition_day, _loaded_at)
            select {cols}{system}, _file, _line, $day, now()::timestamp
            from _classified semi join _fresh using (_file, _line)
            order by _file, _line
            """,
            {"day": day},
        )
        con.execute(
            """
            insert into raw.quarantine
            select $source, _file, _line, left(line, 2000), reason, $day, now()::timestamp
            from _classified where reason is not null
            """,
            {"source": source, "day": day},
        )
        if rejects:
            con.executemany(
                "insert into raw.quarantine values (?, ?, ?, ?, ?, ?, now()::timestamp)",
                [(source, f, n, raw, reason, day) for f, n, raw, reason in rejects],
            )
        row = con.execute(
            """
            select
                (select count(*) from _classified),
                (select count(*) from _classified where reason is null),
                (select count(*) from _fresh)
            """
        ).fetchone()
        assert row is not None
        parsed, valid, fresh = row
        stats.lines = parsed + len(rejects)
        stats.loaded = fresh
        stats.duplicates = valid - fresh
        stats.quarantined = parsed - valid + len(rejects)
        con.execute(
            "insert into raw.load_log values (?, ?, ?, ?, ?, ?, ?, now()::timestamp)",
            [source, day, stats.files, stats.lines, stats.loaded, stats.duplicates, stats.quarantined],
        )
        con.execute("commit")
        stats.seconds = round(time.perf_counter() - started, 3)
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.execute("drop table if exists _classified")
        con.execute("drop table if exists _fresh")
    return stats


# DuckDB checkpoints (rewrites the table's changed row groups into the file) whenever the WAL passes
# 16 MB, i.e. after almost every landing day: 28% of the Segment load loop at 1 M events. A bulk load
# commits each day to the WAL and checkpoints once at the end instead; a crash replays the WAL.
BULK_CHECKPOINT_THRESHOLD = "1GB"


def begin_bulk(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"set checkpoint_threshold = '{BULK_CHECKPOINT_THRESHOLD}'")


def end_bulk(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("checkpoint")
    con.execute("reset checkpoint_threshold")


def load_many(con: duckdb.DuckDBPyConnection, landing: Path, items: list[tuple[str, date]]) -> Iterator[LoadStats]:
    """Load (source, day) items in order, reading the next item's files while this one is in DuckDB.

    Why: decompressing and splitting a day (zlib releases the GIL, and so does DuckDB) is about a
    third of a load, and on two cores it overlaps with DuckDB's part (10-20% faster, measured in
    docs/benchmarks.md). The order of the loads, and so which copy of a duplicate wins, is unchanged.
    """
    if not items:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as pool:
        ahead = pool.submit(read_day, landing, *items[0])
        for i, (source, day) in enumerate(items):
            lines = ahead.result()
            if i + 1 < len(items):
                ahead = pool.submit(read_day, landing, *items[i + 1])
            yield load_day(con, landing, source, day, lines=lines)


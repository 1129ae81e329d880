"""Load one source's landing day into the `raw` schema: replace the day, drop duplicates, quarantine.

Why it is shaped this way:
- Idempotent: the day's rows, quarantine rows and log row are deleted and re-inserted in one
  transaction, so loading a day twice replaces it and a crash leaves the previous state.
- Nothing valid is lost, no input crashes the run: every non-blank line ends either in its raw table,
  counted as a duplicate, or in `raw.quarantine` with a reason.
- Fast: Python only decompresses and splits lines; parsing, validation and dedupe are set-based SQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import duckdb
import numpy as np
import pyarrow as pa

from ..core.settings import ALLOW_EMPTY_RELOAD_ENV, DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_LINE_BYTES, Settings
from .arrow import constant_date, constant_int, constant_string, int_array, string_array
from .files import Landing, Location, files_for_day
from .lines import read_file_lines
from .schema import ensure_raw_schema
from .sources import SPECS, classify_sql
from .stats import LoadStats

# Text per load batch (`load_many`): small enough that a batch and the next one read ahead stay a small
# part of a bounded DuckDB memory limit, big enough that small days share one load. Measured on the 1 M
# landing with a 300MB limit (the five load children): 16 MB 34.3 s / 504 MB, 32 MB 28.0 s / 527 MB;
# 64 MB was no faster than 32.
BATCH_BYTES = 32 * 2**20


# The limits a load applies (max_line_bytes, max_file_bytes) and whether it may empty a day are the
# run's settings (the warehouse resource's, sent to the load child in its request: worker.py); these
# functions take them as arguments and read no environment. A caller given none gets the defaults.
_DEFAULTS = Settings()


class EmptyReloadError(RuntimeError):
    """A landing day that has loaded rows has no landing files any more: loading it would empty it."""


DayLines = tuple[pa.Table, list[tuple], int]
"""A landing day read and split: (lines table, rejects, file count)."""


def read_day(
    landing: Location, source: str, day: date, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
) -> DayLines:
    """Decompress and split one source's landing day (zlib, numpy and Arrow; no warehouse access).

    One table chunk per file: the files' lines are not copied into one buffer. Lineage names each file
    as `LandingFile.file` does: its path below a landing folder, or an object's full URI. Pass a
    `Landing` to list each source once over many days (`load_many` does).
    """
    files = files_for_day(landing, source, day)
    tables: list[pa.Table] = []
    rejects: list[tuple] = []
    for f in files:
        lines = read_file_lines(f, max_file_bytes)
        tables.append(_lines_table(f.file, lines.numbers, lines.texts))
        rejects.extend((f.file, n, raw, reason) for n, raw, reason in lines.rejects)
    if not tables:
        tables.append(_lines_table("", int_array(np.empty(0, dtype=np.int64)), string_array([])))
    return pa.concat_tables(tables), rejects, len(files)


def _refuse_to_empty(
    con: duckdb.DuckDBPyConnection, table: str, shared: bool, empty: list[tuple[str, date]]
) -> None:
    """Raise if one of the (source, day) items that has no landing files now had rows loaded."""
    for source, day in empty:
        system = " and source_system = ?" if shared else ""
        rows, files = con.execute(
            f"""
            select count(*), list(distinct _file order by _file)
            from raw.{table} where _partition_day = ?{system}
            """,
            [day, source] if shared else [day],
        ).fetchone()
        if rows:
            shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
            raise EmptyReloadError(
                f"{source} {day.isoformat()}: the landing day has no files now, but raw.{table} holds {rows:,} "
                f"rows loaded from {shown}; loading the day again would delete them. Put the files back in the "
                f"landing folder, or, to empty the day on purpose, set {ALLOW_EMPTY_RELOAD_ENV}=1 (or the "
                "ingest asset's run config allow_empty_reload: true) and run it again"
            )


def record_unplaced(con: duckdb.DuckDBPyConnection, source: str, files: list[tuple[str, str]]) -> None:
    """The source's files that belong to no landing day, in `raw.quarantine` (`_partition_day` null).

    Replaced on every load of the source, so the table lists the files unplaced now; idempotent.
    """
    ensure_raw_schema(con)
    con.execute("begin transaction")
    try:
        con.execute(
            "delete from raw.quarantine "
            "where source = ? and _partition_day is null and reason like 'unplaced_file:%'",
            [source],
        )
        for relative, why in files:
            con.execute(
                "insert into raw.quarantine values (?, ?, null, '', ?, null, now()::timestamp)",
                [source, relative, f"unplaced_file: the file belongs to no landing day ({why}); not loaded"],
            )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _rejects_table(items: list[Item]) -> pa.Table:
    """The lines rejected before parsing, as one Arrow table (line -1: a file-level record).

    Not `executemany`: a damaged file can reject tens of thousands of lines, which DuckDB inserts
    row by row at a few hundred per second that way.
    """
    rows = [
        (source, day, f, n, raw, reason) for source, day, lines in items for f, n, raw, reason in lines[1]
    ]
    return pa.table(
        {
            "source": string_array([r[0] for r in rows]),
            "_partition_day": pa.concat_arrays([constant_date(r[1], 1) for r in rows])
            if rows
            else constant_date(date(1970, 1, 1), 0),
            "_file": string_array([r[2] for r in rows]),
            "_line": int_array(np.array([-1 if r[3] is None else r[3] for r in rows], dtype=np.int64)),
            "raw_text": string_array([r[4] for r in rows]),
            "reason": string_array([r[5] for r in rows]),
        }
    )


def _lines_table(file: str, numbers: pa.Array, texts: pa.Array) -> pa.Table:
    return pa.table({"_file": constant_string(file, len(numbers)), "_line": numbers, "line": texts})


Item = tuple[str, date, DayLines]
"""One (source, landing day) to load, already read."""


def load_day(
    con: duckdb.DuckDBPyConnection,
    landing: Location,
    source: str,
    day: date,
    lines: DayLines | None = None,
    settings: Settings = _DEFAULTS,
) -> LoadStats:
    """Load (or re-load) `source` for landing day `day`; returns the counts that go to `raw.load_log`."""
    if lines is None:
        lines = read_day(landing, source, day, settings.max_file_bytes)
    return load_batch(con, [(source, day, lines)], settings.allow_empty_reload, settings.max_line_bytes)[0]


def load_batch(
    con: duckdb.DuckDBPyConnection,
    items: list[Item],
    allow_empty: bool = False,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
) -> list[LoadStats]:
    """Load (or re-load) several (source, day) items of one raw table in one pass and one transaction.

    The result is the one of loading the items one by one in the given order (the first copy of a key
    wins: earlier item, then file and line), but the fixed cost of a load — a dozen statements, a
    transaction, and one scan of the table's keys for the dedupe against history — is paid once per
    batch instead of once per item (`load_many` makes the batches). Each item gets its own
    `LoadStats` and `raw.load_log` row; `seconds` is the batch's time shared by line count.

    An item with no landing files whose day has loaded rows raises `EmptyReloadError` (nothing is
    changed) unless `allow_empty`: replacing loaded rows with nothing is never done by accident.
    """
    started = time.perf_counter()
    spec = SPECS[items[0][0]]
    if any(SPECS[source].table != spec.table for source, _, _ in items):
        raise ValueError("a batch loads one raw table")
    if len({(source, day) for source, day, _ in items}) != len(items):
        raise ValueError("a batch holds each (source, day) once")
    ensure_raw_schema(con)
    con.execute("set TimeZone = 'UTC'")
    stats = [LoadStats(source=source, day=day.isoformat(), files=lines[2]) for source, day, lines in items]
    # The item's position is its load order; its day drives the future-timestamp check.
    lines_in = pa.concat_tables(
        [
            lines[0]
            .append_column("_item", constant_int(i, lines[0].num_rows))
            .append_column("_source", constant_string(source, lines[0].num_rows))
            .append_column("_partition_day", constant_date(day, lines[0].num_rows))
            for i, (source, day, lines) in enumerate(items)
        ],
        promote_options="permissive",
    )
    item_rows = ", ".join(
        f"({i}, '{source}', date '{day.isoformat()}')" for i, (source, day, _) in enumerate(items)
    )
    con.execute(f"create or replace temp table _items (_item, source, day) as values {item_rows}")

    cols = ", ".join(spec.columns)
    con.register("lines_in", lines_in)
    try:
        # Only what the next statements read: the raw columns, the reason, and the line's text for the
        # quarantined lines (a valid line's text is not kept twice; nor are the JSON path values).
        con.execute(
            f"""
            create or replace temp table _classified as
            select
                _item, _source, _partition_day, _file, _line, {cols}, reason,
                case when reason is not null then line end as line
            from ({classify_sql(spec, max_line_bytes)})
            """
        )
    finally:
        con.unregister("lines_in")

    key_match = " and ".join(f"c.{k} is not distinct from r.{k}" for k in spec.key)
    keys = ", ".join(spec.key)
    # Rows of these sources and days are replaced; RudderStack and Segment share a table.
    shared = spec.table == "segment_events"
    own = "t._partition_day = i.day" + (" and t.source_system = i.source" if shared else "")
    system = ", _source as source_system" if shared else ""
    system_col = ", source_system" if shared else ""

    con.execute("begin transaction")
    try:
        if not allow_empty:
            _refuse_to_empty(
                con, spec.table, shared, [(source, day) for source, day, lines in items if not lines[2]]
            )
        con.execute(f"delete from raw.{spec.table} as t using _items as i where {own}")
        con.execute(
            "delete from raw.quarantine as t using _items as i "
            "where t.source = i.source and t._partition_day = i.day"
        )
        con.execute(
            "delete from raw.load_log as t using _items as i "
            "where t.source = i.source and t._partition_day = i.day"
        )
        # The lines to load, by position only: the first copy of each key within the batch (in item,
        # file and line order) whose key is not already loaded from another day or source. Ranking and
        # matching only the keys keeps the wide JSON columns out of the window and the join.
        con.execute(
            f"""
            create or replace temp table _fresh as
            select _item, _file, _line from (
                select _item, _file, _line, {keys}
                from _classified
                where reason is null
                qualify row_number() over (partition by {keys} order by _item, _file, _line) = 1
            ) as c
            where not exists (select 1 from raw.{spec.table} as r where {key_match})
            """
        )
        con.execute(
            f"""
            insert into raw.{spec.table} ({cols}{system_col}, _file, _line, _partition_day, _loaded_at)
            select {cols}{system}, _file, _line, _partition_day, now()::timestamp
            from _classified semi join _fresh using (_item, _file, _line)
            order by _item, _file, _line
            """
        )
        con.execute(
            """
            insert into raw.quarantine
            select _source, _file, _line, left(line, 2000), reason, _partition_day, now()::timestamp
            from _classified where reason is not null
            """
        )
        rejects = _rejects_table(items)
        if rejects.num_rows:
            con.register("rejects_in", rejects)
            try:
                con.execute(
                    """
                    insert into raw.quarantine
                    select source, _file, nullif(_line, -1), raw_text, reason, _partition_day, now()::timestamp
                    from rejects_in
                    """
                )
            finally:
                con.unregister("rejects_in")
        counts = con.execute(
            """
            select
                i._item,
                (select count(*) from _classified as c where c._item = i._item),
                (select count(*) from _classified as c where c._item = i._item and c.reason is null),
                (select count(*) from _fresh as f where f._item = i._item)
            from _items as i
            order by i._item
            """
        ).fetchall()
        for (i, parsed, valid, fresh), (_, _, lines) in zip(counts, items, strict=True):
            s = stats[i]
            rejected = sum(1 for _, n, _, _ in lines[1] if n is not None)  # line None: a file-level record
            s.lines = parsed + rejected
            s.loaded = fresh
            s.duplicates = valid - fresh
            s.quarantined = parsed - valid + rejected
        con.executemany(
            "insert into raw.load_log values (?, ?, ?, ?, ?, ?, ?, now()::timestamp)",
            [
                [s.source, date.fromisoformat(s.day), s.files, s.lines, s.loaded, s.duplicates, s.quarantined]
                for s in stats
            ],
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.execute("drop table if exists _classified")
        con.execute("drop table if exists _fresh")
        con.execute("drop table if exists _items")
    seconds = time.perf_counter() - started
    total = sum(s.lines for s in stats) or 1
    for s in stats:
        s.seconds = round(seconds * (s.lines or 1) / total if len(stats) > 1 else seconds, 3)
    return stats


# DuckDB checkpoints (writes the changed row groups into the file) whenever the WAL passes 16 MB, i.e.
# after almost every landing day: 28% of the Segment load loop at 1 M events. A bulk load checkpoints
# every 256 MB of WAL instead; a crash replays the WAL. Not once at the end (a 1GB threshold, before):
# what is not checkpointed stays in memory, and the 10 M Segment load took 265.8 s and 6.0 GB with 1GB
# against 224.7 s and 5.0 GB with 256MB (in one process, no memory limit); at 1 M 15.0 s against 16.4 s.
BULK_CHECKPOINT_THRESHOLD = "256MB"


def begin_bulk(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"set checkpoint_threshold = '{BULK_CHECKPOINT_THRESHOLD}'")


def end_bulk(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("checkpoint")
    con.execute("reset checkpoint_threshold")


def _read_batch(
    landing: Location, items: list[tuple[str, date]], start: int, carry: Item | None, max_file_bytes: int
) -> tuple[list[Item], Item | None, int]:
    """Read the next batch for `load_many`, from `carry` (an item read but left out of the previous
    batch) and then `items[start:]`: consecutive items of one raw table, up to BATCH_BYTES of text
    (a bigger item is a batch of its own). Returns (batch, the item read that did not fit, next index).
    """
    batch = [carry] if carry else []
    size = carry[2][0].nbytes if carry else 0
    i = start
    while i < len(items) and size < BATCH_BYTES:
        source, day = items[i]
        if batch and SPECS[source].table != SPECS[batch[0][0]].table:
            break
        lines = read_day(landing, source, day, max_file_bytes)
        i += 1
        if batch and size + lines[0].nbytes > BATCH_BYTES:
            return batch, (source, day, lines), i
        batch.append((source, day, lines))
        size += lines[0].nbytes
    return batch, None, i


def load_many(
    con: duckdb.DuckDBPyConnection,
    landing: Location,
    items: list[tuple[str, date]],
    settings: Settings = _DEFAULTS,
) -> Iterator[LoadStats]:
    """Load (source, day) items in order, in batches, reading the next batch while one is in DuckDB.

    Why batches: a load has a fixed cost (statements, a transaction, a scan of the table's keys for the
    dedupe) of 30-50 ms, which for small days is most of it; consecutive items of the same raw table
    are loaded together up to BATCH_BYTES of text (a day bigger than that is a batch of its own).
    Why read-ahead: decompressing and splitting (zlib releases the GIL, and so does DuckDB) is about a
    third of a load, and on two cores it overlaps with DuckDB's part. At most the batch being loaded
    and the next one are in memory. The order of the loads, and so which copy of a duplicate wins, is
    unchanged. `settings` gives the limits (max_line_bytes, max_file_bytes) and allow_empty_reload.
    """
    if not items:
        return
    landing = Landing.of(landing)  # one listing per source for all the items
    cap = settings.max_file_bytes
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="read-ahead") as pool:
        ahead = pool.submit(_read_batch, landing, items, 0, None, cap)
        while True:
            batch, carry, following = ahead.result()
            more = carry is not None or following < len(items)
            if more:
                ahead = pool.submit(_read_batch, landing, items, following, carry, cap)
            yield from load_batch(con, batch, settings.allow_empty_reload, settings.max_line_bytes)
            if not more:
                return

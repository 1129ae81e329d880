"""The ingest on Spark: landing files -> Parquet raw tables partitioned by landing day (docs/scale-out.md).

The data contract is the DuckDB ingest's, imported, not copied: the same file reader (`ingest/lines.py`:
gzip members, truncated streams, oversized files), the same per-source rules (`ingest/sources.py`:
JSON paths, checks and reason codes, one SQL query per source) and the same raw columns
(`ingest/schema.py`). Spark distributes the files: each task reads its files and classifies their lines
with that one query, run by an in-memory DuckDB inside the task (the rules are written in DuckDB's JSON
SQL; running the same text is what makes both engines give every line the same reason). Spark then does
the set-based part: the dedupe against history, the writes and the counts.

Semantics kept from `ingest/load.py`:
- the first copy of a key wins: earlier item (landing day, then the table's source order), then file
  and line; a key already loaded from a day or source not being replaced drops the new copy;
- a (source, day) is replaced whole: its raw, quarantine and load-log partitions are overwritten
  (dynamic partition overwrite: only the partitions written are replaced, each one a directory swap);
  a day that now has no rows has its partitions dropped;
- a day whose landing files are gone but which has rows fails (EmptyReloadError) unless allowed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.settings import Settings
from ..ingest.files import files_for_day, unplaced_files
from ..ingest.landing import Landing, LandingFile
from ..ingest.load import EmptyReloadError
from ..ingest.schema import LINEAGE, LOAD_LOG, QUARANTINE, RAW_TABLES
from ..ingest.sources import SPECS, classify_sql
from ..ingest.stats import LoadStats

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

RAW_TEXT_LIMIT = 2000  # as load.py's left(line, 2000)

# DuckDB types of schema.py -> Spark SQL types (JSON stays text: Spark reads it with get_json_object).
_SPARK_TYPES = {
    "varchar": "string",
    "json": "string",
    "timestamp": "timestamp",
    "bigint": "bigint",
    "integer": "int",
    "date": "date",
}


def columns_of(ddl: str) -> list[tuple[str, str]]:
    """`name type, ...` of schema.py as (name, Spark type)."""
    out = []
    for part in ddl.split(","):
        name, kind = part.split()
        out.append((name, _SPARK_TYPES[kind]))
    return out


def partition_columns(table: str) -> tuple[str, ...]:
    """Raw tables by landing day; the table Segment and RudderStack share also by source, so replacing
    one source's day leaves the other's files alone."""
    if table == "segment_events":
        return ("_partition_day", "source_system")
    if table in ("quarantine", "load_log"):
        return ("source", "_partition_day")
    return ("_partition_day",)


def table_columns(table: str) -> list[tuple[str, str]]:
    """The table's columns in Spark's order: data, then lineage, then the partition columns (last, as
    Spark stores them)."""
    if table == "quarantine":
        cols = columns_of(QUARANTINE)
    elif table == "load_log":
        cols = columns_of(LOAD_LOG)
    else:
        cols = columns_of(RAW_TABLES[table]) + columns_of(LINEAGE)
    parts = partition_columns(table)
    return [c for c in cols if c[0] not in parts] + [c for p in parts for c in cols if c[0] == p]


def ensure_raw_tables(spark: SparkSession) -> None:
    """Create the raw schema's Parquet tables if missing (managed: dropping a partition drops its files)."""
    spark.sql("create database if not exists raw")
    for table in [*RAW_TABLES, "quarantine", "load_log"]:
        cols = ", ".join(f"{n} {t}" for n, t in table_columns(table))
        parts = ", ".join(partition_columns(table))
        spark.sql(f"create table if not exists raw.{table} ({cols}) using parquet partitioned by ({parts})")


# ---------------------------------------------------------------------------------------------------
# The per-file part, run inside Spark tasks: read, split and classify with the contract's query.
# ---------------------------------------------------------------------------------------------------

def _classified_schema(table: str) -> list[tuple[str, str]]:
    raw = columns_of(RAW_TABLES[table])
    data = [c for c in raw if c[0] != "source_system"]
    return [
        ("_item", "int"),
        ("_source", "string"),
        ("_partition_day", "date"),
        ("_file", "string"),
        ("_line", "bigint"),
        *data,
        ("reason", "string"),
        ("line", "string"),
    ]


def _arrow_type(kind: str) -> pa.DataType:
    import pyarrow as pa

    return {
        "string": pa.large_string(),
        "timestamp": pa.timestamp("us", tz="UTC"),
        "bigint": pa.int64(),
        "int": pa.int32(),
        "date": pa.date32(),
    }[kind]


def classify_files(
    batches: Iterator[pa.RecordBatch], table: str, max_line_bytes: int, max_file_bytes: int
) -> Iterator[pa.RecordBatch]:
    """mapInArrow body: each input row is one landing file; yields its lines classified (a valid line
    with its raw columns and no text, a bad one with its reason and text), and the lines the reader
    rejected before parsing (file-level records with a null line number)."""
    import duckdb
    import pyarrow as pa

    from ..ingest.arrow import constant_date, constant_int, constant_string
    from ..ingest.lines import read_file_lines
    from ..ingest.load import _lines_table

    schema = _classified_schema(table)
    arrow_schema = pa.schema([(n, _arrow_type(k)) for n, k in schema])
    spec = SPECS[next(s for s, sp in SPECS.items() if sp.table == table)]
    data_cols = [n for n, _ in schema[5:-2]]
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute("set threads = 1")  # Spark runs one task per core
    try:
        for batch in batches:
            for task in batch.to_pylist():
                source, day = task["source"], task["day"]
                landing = Landing.of(task["landing"])
                path = Path(task["path"]) if task["path"] else None
                f = LandingFile(source, day, path, task["relative"], task["size"], "", task["uri"], None, landing)
                lines = read_file_lines(f, max_file_bytes)
                lines_in = _lines_table(f.file, lines.numbers, lines.texts)
                n = lines_in.num_rows
                lines_in = (
                    lines_in.append_column("_item", constant_int(task["item"], n))
                    .append_column("_source", constant_string(source, n))
                    .append_column("_partition_day", constant_date(day, n))
                )
                con.register("lines_in", lines_in)
                out = con.sql(
                    f"""
                    select _item, _source, _partition_day, _file, _line, {", ".join(data_cols)}, reason,
                        case when reason is not null then left(line, {RAW_TEXT_LIMIT}) end as line
                    from ({classify_sql(spec, max_line_bytes)})
                    """
                ).to_arrow_table()
                con.unregister("lines_in")
                yield from _conform(out, arrow_schema).to_batches()
                if lines.rejects:
                    rows = {name: [None] * len(lines.rejects) for name, _ in schema}
                    rows["_item"] = [task["item"]] * len(lines.rejects)
                    rows["_source"] = [source] * len(lines.rejects)
                    rows["_partition_day"] = [day] * len(lines.rejects)
                    rows["_file"] = [f.file] * len(lines.rejects)
                    rows["_line"] = [n for n, _, _ in lines.rejects]
                    rows["line"] = [raw for _, raw, _ in lines.rejects]
                    rows["reason"] = [reason for _, _, reason in lines.rejects]
                    yield from pa.table(rows, schema=arrow_schema).to_batches()
    finally:
        con.close()


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """DuckDB's Arrow (naive timestamps, JSON as text) cast to the columns Spark was promised."""
    import pyarrow as pa

    arrays = []
    for field in schema:
        column = table.column(field.name)
        if pa.types.is_timestamp(field.type) and column.type.tz is None:
            column = column.cast(pa.timestamp("us")).cast(field.type)
        arrays.append(column.cast(field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


# ---------------------------------------------------------------------------------------------------
# The set-based part, on Spark.
# ---------------------------------------------------------------------------------------------------

def _tasks(landing: Landing, items: list[tuple[str, date]]) -> tuple[list[dict[str, Any]], list[int]]:
    """One task row per landing file (the item's position is its load order), and the file count per item."""
    rows, counts = [], []
    for i, (source, day) in enumerate(items):
        files = files_for_day(landing, source, day)
        counts.append(len(files))
        for f in files:
            rows.append(
                {
                    "item": i,
                    "source": source,
                    "day": day,
                    "landing": str(landing),
                    "path": str(f.path) if f.path else None,
                    "relative": f.relative,
                    "uri": f.uri,
                    "size": int(f.size or 0),
                }
            )
    return rows, counts


def _existing_partitions(spark: SparkSession, table: str) -> set[tuple[str, ...]]:
    """The table's partitions as (value, ...) in `partition_columns` order (one metastore call)."""
    parts = partition_columns(table)
    found = set()
    for row in spark.sql(f"show partitions raw.{table}").collect():
        values = dict(item.split("=", 1) for item in row[0].split("/"))
        found.add(tuple(values[p] for p in parts))
    return found


def _replace_partitions(
    spark: SparkSession, table: str, df: DataFrame | None, replaced: list[dict[str, Any]], written: set[tuple[str, ...]]
) -> None:
    """Overwrite the partitions `df` has rows for (`written`, known from the counts: no extra pass over
    the data), and drop the `replaced` ones that exist and got no rows now."""
    cols = [name for name, _ in table_columns(table)]
    parts = partition_columns(table)
    if df is not None and written:
        df.select(*cols).write.insertInto(f"raw.{table}", overwrite=True)
    stale = [
        key
        for key in dict.fromkeys(tuple(str(spec[p]) for p in parts) for spec in replaced)
        if key not in written
    ]
    if stale:
        existing = _existing_partitions(spark, table)
        for key in stale:
            if key in existing:
                clause = ", ".join(f"{p} = '{v}'" for p, v in zip(parts, key, strict=True))
                spark.sql(f"alter table raw.{table} drop if exists partition ({clause})")


def load_table(
    spark: SparkSession,
    landing: Landing | str | Path,
    table: str,
    items: list[tuple[str, date]],
    settings: Settings,
    allow_empty: bool | None = None,
) -> list[LoadStats]:
    """Load (or re-load) (source, day) items of one raw table; the result of `ingest/load.load_batch`."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    started = time.perf_counter()
    allow_empty = settings.allow_empty_reload if allow_empty is None else allow_empty
    landing = Landing.of(landing)
    spec = SPECS[items[0][0]]
    shared = table == "segment_events"
    ensure_raw_tables(spark)
    tasks, file_counts = _tasks(landing, items)
    stats = [LoadStats(source=s, day=d.isoformat(), files=c) for (s, d), c in zip(items, file_counts, strict=True)]

    item_rows = [(i, s, d) for i, (s, d) in enumerate(items)]
    items_df = spark.createDataFrame(item_rows, "_item int, source string, day date")
    history = spark.table(f"raw.{table}")
    own = (F.col("h._partition_day") == F.col("i.day")) & (
        (F.col("h.source_system") == F.col("i.source")) if shared else F.lit(True)
    )
    kept = history.alias("h").join(F.broadcast(items_df.alias("i")), own, "left_anti")

    if not allow_empty:
        empty = [(s, d) for (s, d), c in zip(items, file_counts, strict=True) if not c]
        for source, day in empty:
            rows = history.where(F.col("_partition_day") == F.lit(day))
            if shared:
                rows = rows.where(F.col("source_system") == source)
            n = rows.count()
            if n:
                files = sorted(r[0] for r in rows.select("_file").distinct().limit(6).collect())
                raise EmptyReloadError(
                    f"{source} {day.isoformat()}: the landing day has no files now, but raw.{table} holds {n:,} "
                    f"rows loaded from {', '.join(files[:5])}; loading the day again would delete them"
                )

    schema = ", ".join(f"{n} {t}" for n, t in _classified_schema(table))
    task_schema = T.StructType(
        [
            T.StructField("item", T.IntegerType()),
            T.StructField("source", T.StringType()),
            T.StructField("day", T.DateType()),
            T.StructField("landing", T.StringType()),
            T.StructField("path", T.StringType()),
            T.StructField("relative", T.StringType()),
            T.StructField("uri", T.StringType()),
            T.StructField("size", T.LongType()),
        ]
    )
    parallel = spark.sparkContext.defaultParallelism
    files_df = spark.createDataFrame(tasks, task_schema).repartition(max(1, min(len(tasks), parallel * 2)))
    max_line, max_file = settings.max_line_bytes, settings.max_file_bytes
    classified = files_df.mapInArrow(
        lambda it: classify_files(it, table, max_line, max_file), schema
    ).localCheckpoint(eager=True)

    keys = list(spec.key)
    valid = classified.where(F.col("reason").isNull())
    first = valid.withColumn(
        "_rank", F.row_number().over(Window.partitionBy(*keys).orderBy("_item", "_file", "_line"))
    ).where("_rank = 1")
    match = None
    for k in keys:
        cond = F.col(f"c.{k}").eqNullSafe(F.col(f"k.{k}"))
        match = cond if match is None else match & cond
    fresh = first.alias("c").join(kept.select(*keys).alias("k"), match, "left_anti")
    loaded_at = F.current_timestamp()
    raw = fresh.withColumn("_loaded_at", loaded_at)
    if shared:
        raw = raw.withColumn("source_system", F.col("_source"))
    raw = raw.localCheckpoint(eager=True)

    replaced = [
        {"_partition_day": d.isoformat(), "source_system": s, "source": s} for s, d in items
    ]
    counts = {
        r["_item"]: r
        for r in classified.groupBy("_item")
        .agg(
            F.count(F.when(F.col("_line").isNotNull(), 1)).alias("lines"),
            F.count(F.when(F.col("reason").isNull(), 1)).alias("valid"),
            F.count(F.when(F.col("reason").isNotNull() & F.col("_line").isNotNull(), 1)).alias("bad"),
            F.count(F.when(F.col("reason").isNotNull(), 1)).alias("quarantine_rows"),
        )
        .collect()
    }
    fresh_counts = {r["_item"]: r["n"] for r in raw.groupBy("_item").agg(F.count("*").alias("n")).collect()}
    parts = partition_columns(table)
    _replace_partitions(
        spark, table, raw, replaced,
        {tuple(str(replaced[i][p]) for p in parts) for i, n in fresh_counts.items() if n},
    )

    quarantine = classified.where(F.col("reason").isNotNull()).select(
        F.col("_source").alias("source"),
        "_file",
        "_line",
        F.coalesce(F.col("line"), F.lit("")).alias("raw_text"),
        "reason",
        "_partition_day",
        loaded_at.alias("_loaded_at"),
    )
    _replace_partitions(
        spark, "quarantine", quarantine, replaced,
        {(replaced[i]["source"], replaced[i]["_partition_day"]) for i, c in counts.items() if c["quarantine_rows"]},
    )
    for i, s in enumerate(stats):
        c = counts.get(i)
        s.lines = c["lines"] if c else 0
        s.loaded = fresh_counts.get(i, 0)
        s.duplicates = (c["valid"] if c else 0) - s.loaded
        s.quarantined = c["bad"] if c else 0
    log = spark.createDataFrame(
        [(s.source, date.fromisoformat(s.day), s.files, s.lines, s.loaded, s.duplicates, s.quarantined) for s in stats],
        "source string, _partition_day date, files int, lines bigint, loaded bigint, duplicates bigint, "
        "quarantined bigint",
    ).withColumn("_loaded_at", loaded_at)
    _replace_partitions(spark, "load_log", log, replaced, {(r["source"], r["_partition_day"]) for r in replaced})
    seconds = time.perf_counter() - started
    total = sum(s.lines for s in stats) or 1
    for s in stats:
        s.seconds = round(seconds * (s.lines or 1) / total, 3)
    return stats


def record_unplaced(spark: SparkSession, landing: Landing | str | Path, source: str) -> list[tuple[str, str]]:
    """The source's files that belong to no landing day, as `raw.quarantine` rows with no day (replaced
    on every load of the source, as `ingest/load.record_unplaced` does)."""
    from pyspark.sql import functions as F

    ensure_raw_tables(spark)
    files = unplaced_files(landing, source)
    rows = [
        (source, f, None, "", f"unplaced_file: the file belongs to no landing day ({why}); not loaded", None)
        for f, why in files
    ]
    df = spark.createDataFrame(
        rows, "source string, _file string, _line bigint, raw_text string, reason string, _partition_day date"
    ).withColumn("_loaded_at", F.current_timestamp())
    if rows:
        df.select(*[n for n, _ in table_columns("quarantine")]).write.insertInto("raw.quarantine", overwrite=True)
    elif (source, "__HIVE_DEFAULT_PARTITION__") in _existing_partitions(spark, "quarantine"):
        spark.sql(
            f"alter table raw.quarantine drop if exists partition (source = '{source}', "
            "_partition_day = '__HIVE_DEFAULT_PARTITION__')"
        )
    return files


def load_all(
    spark: SparkSession, landing: Landing | str | Path, tables: dict[str, tuple[str, ...]], days: list[date],
    settings: Settings,
) -> list[LoadStats]:
    """Every raw table's days, in the order the Dagster ingest loads them (day, then source)."""
    landing = Landing.of(landing)
    stats: list[LoadStats] = []
    for table, sources in tables.items():
        for source in sources:
            record_unplaced(spark, landing, source)
        stats.extend(load_table(spark, landing, table, [(s, d) for d in days for s in sources], settings))
    return stats

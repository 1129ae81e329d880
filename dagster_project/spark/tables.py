"""Tables across the two engines, as Arrow: a DuckDB table copied into Spark, a Spark table read back.

Why Arrow: both engines speak it without a row-by-row conversion, and the sync reads marts as Arrow
record batches whichever engine built them (`arrow_batches`), so a mart of millions of rows streams
instead of landing in Python objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    from pyspark.sql import SparkSession

# The AI step's tables the dbt models read (models/ai/_ai__sources.yml). The AI step writes them with
# DuckDB (ai/tables.py); on Spark they are copied in before the decision models build.
AI_TABLES = ("track_assignments", "playbooks", "feedback_themes")


def copy_from_duckdb(spark: SparkSession, con: duckdb.DuckDBPyConnection, schema: str, table: str) -> int:
    """Replace Spark's `schema.table` with DuckDB's (same columns; timestamps as UTC). Returns the rows."""
    import pyarrow as pa

    data = con.sql(f"select * from {schema}.{table}").to_arrow_table()
    # Spark's TIMESTAMP is an instant: DuckDB's naive UTC timestamps are handed over as UTC.
    fields = [
        pa.field(f.name, pa.timestamp("us", tz="UTC")) if pa.types.is_timestamp(f.type) else f for f in data.schema
    ]
    data = data.cast(pa.schema(fields))
    spark.sql(f"create database if not exists {schema}")
    frame = spark.createDataFrame(data) if data.num_rows else spark.createDataFrame([], _spark_schema(data.schema))
    frame.write.mode("overwrite").format("parquet").saveAsTable(f"{schema}.{table}")
    return data.num_rows


def _spark_schema(schema: pa.Schema) -> str:
    import pyarrow as pa

    def kind(t: pa.DataType) -> str:
        if pa.types.is_timestamp(t):
            return "timestamp"
        if pa.types.is_date(t):
            return "date"
        if pa.types.is_integer(t):
            return "bigint" if t.bit_width == 64 else "int"
        if pa.types.is_floating(t):
            return "double"
        if pa.types.is_boolean(t):
            return "boolean"
        return "string"

    return ", ".join(f"{f.name} {kind(f.type)}" for f in schema)


def arrow_batches(spark: SparkSession, relation: str, batch_rows: int = 65_536) -> Iterator[pa.RecordBatch]:
    """A Spark table (or a query) as Arrow record batches of at most `batch_rows` rows, streamed: rows
    come through `toLocalIterator`, which fetches one partition at a time, so the driver holds one
    partition and one batch, never the whole mart."""
    import pyarrow as pa

    frame = spark.table(relation) if " " not in relation.strip() else spark.sql(relation)
    schema = None  # inferred per batch from the values
    buffer: list[dict] = []
    for row in frame.toLocalIterator(prefetchPartitions=True):
        buffer.append(row.asDict())
        if len(buffer) >= batch_rows:
            yield pa.RecordBatch.from_pylist(buffer, schema=schema)
            buffer = []
    if buffer:
        yield pa.RecordBatch.from_pylist(buffer, schema=schema)

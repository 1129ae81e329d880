"""The same landing files through DuckDB and through Spark give the same warehouse (issue 17).

DuckDB's side is the session warehouse (tests/conftest.py: the real pipeline over a generated dataset
with malformed lines); Spark's side reads the same landing folder with the Spark ingest into Parquet raw
tables and builds the same dbt project with the dbt-spark `spark` target, in this process, on one
shared `local[2]` session. Compared: every (source, day)'s counts, every quarantined line and its
reason, and the marts row for row (floats to 1e-9).

Marked `spark` (run alone: `pytest -m spark`) and `slow`; skipped when the spark extra is missing, and
unless ONBOARDING_SPARK_MARTS=1 (its cost is not yet within make test's budget; the raw tables' equality,
tests/spark/test_ingest_equality.py, runs in make test).
"""

from __future__ import annotations

import math
import os
import time
from datetime import timedelta

import pytest

from dagster_project.core.engine import Engine, spark_installed
from dagster_project.core.settings import DBT_PROJECT_DIR, Settings

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.skipif(not spark_installed(), reason="the spark extra (pyspark, dbt-spark) is not installed"),
    # Opt-in until it has been seen passing and its cost measured: the dbt build on Spark took over 14
    # minutes for 76 of 92 nodes on a loaded 2-core machine (docs/scale-out.md), past make test's budget.
    pytest.mark.skipif(
        os.environ.get("ONBOARDING_SPARK_MARTS") != "1",
        reason="the marts' Spark build is opt-in: ONBOARDING_SPARK_MARTS=1 pytest -m spark (docs/scale-out.md)",
    ),
]

MARTS = (
    "user_onboarding_daily",
    "user_onboarding",
    "triggered_messages",
    "intercom_contacts",
    "csm_alerts",
    "ab_cohort_report",
    "onboarding_outcomes",
)
# Columns a build stamps with its own clock, not computed from the data.
RUN_TIME_COLUMNS = {"_loaded_at", "computed_at", "built_at", "generated_at", "rendered_at"}
TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def spark_build(warehouse, tmp_path_factory):
    """Spark ingest + dbt build of the session warehouse's landing files; yields (spark, timings)."""
    from dbt.cli.main import dbtRunner

    from dagster_project.assets.ingest import RAW_SOURCES
    from dagster_project.spark.ingest import load_all
    from dagster_project.spark.session import get_session
    from dagster_project.spark.tables import AI_TABLES, copy_from_duckdb

    root = tmp_path_factory.mktemp("spark-equality")
    engine = Engine("spark", "local[2]", root / "w.spark")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    spark = get_session(engine)
    timings["session"] = time.perf_counter() - started

    started = time.perf_counter()
    days = [warehouse.start + timedelta(days=i) for i in range((warehouse.end - warehouse.start).days + 1)]
    settings = Settings(db_path=root / "w.duckdb", landing=warehouse.landing)
    load_all(spark, warehouse.landing, RAW_SOURCES, days, settings)
    timings["ingest"] = time.perf_counter() - started

    # The AI step's tables (rules when no LLM key) as the DuckDB run wrote them: the AI step is Python
    # over the same staging rows, not part of the engine comparison.
    with warehouse.connect() as con:
        for table in AI_TABLES:
            copy_from_duckdb(spark, con, "ai", table)

    started = time.perf_counter()
    saved = {k: os.environ.get(k) for k in engine.dbt_env()}
    os.environ.update(engine.dbt_env())
    try:
        result = dbtRunner().invoke(
            [
                "build", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
                "--target", "spark", "--target-path", str(root / "target"), "--log-path", str(root / "logs"),
                "--exclude-resource-type", "unit_test", "--quiet",
            ]
        )
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    timings["dbt"] = time.perf_counter() - started
    failed = [
        f"{r.node.unique_id}: {r.status} {(r.message or '')[:300]}"
        for r in (result.result or [])
        if r.status not in ("success", "pass")
    ]
    print("spark timings (s):", {k: round(v, 1) for k, v in timings.items()})
    yield spark, failed


def _rows(columns: list[str], rows: list[tuple]) -> list[tuple]:
    def key(value: object) -> tuple:
        return (value is None, str(type(value)), value if value is not None else 0)

    return sorted(rows, key=lambda row: tuple(key(v) for v in row))


def _equal(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        if math.isnan(float(a)) and math.isnan(float(b)):
            return True
        return abs(float(a) - float(b)) <= TOLERANCE * max(1.0, abs(float(a)))
    return a == b


def _normalise(value: object) -> object:
    """Spark and DuckDB hand back the same value as different Python types in a few places."""
    from datetime import datetime
    from decimal import Decimal

    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    return value


def _duck(warehouse, sql: str) -> tuple[list[str], list[tuple]]:
    with warehouse.connect() as con:
        rel = con.sql(sql)
        return [c for c in rel.columns], rel.fetchall()


def _spark(spark, sql: str) -> tuple[list[str], list[tuple]]:
    frame = spark.sql(sql)
    return frame.columns, [tuple(r) for r in frame.collect()]


def _assert_same(name: str, duck: tuple[list[str], list[tuple]], spark: tuple[list[str], list[tuple]]) -> None:
    duck_cols, duck_rows = duck
    spark_cols, spark_rows = spark
    assert sorted(duck_cols) == sorted(spark_cols), f"{name}: columns differ"
    cols = sorted(c for c in duck_cols if c not in RUN_TIME_COLUMNS)
    d_idx, s_idx = [duck_cols.index(c) for c in cols], [spark_cols.index(c) for c in cols]
    left = _rows(cols, [tuple(_normalise(r[i]) for i in d_idx) for r in duck_rows])
    right = _rows(cols, [tuple(_normalise(r[i]) for i in s_idx) for r in spark_rows])
    assert len(left) == len(right), f"{name}: {len(left)} rows on DuckDB, {len(right)} on Spark"
    for a, b in zip(left, right, strict=True):
        diffs = [(c, x, y) for c, x, y in zip(cols, a, b, strict=True) if not _equal(x, y)]
        assert not diffs, f"{name}: first differing row, columns {diffs[:5]}"


def test_dbt_builds_on_spark(spark_build) -> None:
    _, failed = spark_build
    assert not failed, "dbt nodes that failed on Spark:\n" + "\n".join(failed)


def test_ingest_counts_and_quarantine_are_equal(warehouse, spark_build) -> None:
    spark, _ = spark_build
    counts = "select source, _partition_day, files, lines, loaded, duplicates, quarantined from raw.load_log"
    _assert_same("raw.load_log", _duck(warehouse, counts), _spark(spark, counts))
    quarantine = "select source, _file, _line, reason, raw_text, _partition_day from raw.quarantine"
    _assert_same("raw.quarantine", _duck(warehouse, quarantine), _spark(spark, quarantine))
    assert _duck(warehouse, "select count(*) from raw.quarantine")[1][0][0] > 0, "the dataset has malformed lines"
    for table in ("segment_events", "mixpanel_events", "signups", "support_tickets", "nps_responses"):
        lineage = f"select _file, _line, _partition_day from raw.{table}"
        _assert_same(f"raw.{table}", _duck(warehouse, lineage), _spark(spark, lineage))


@pytest.mark.parametrize("mart", MARTS)
def test_mart_is_equal(warehouse, spark_build, mart: str) -> None:
    spark, _ = spark_build
    sql = f"select * from marts.{mart}"
    duck = _duck(warehouse, sql)
    _assert_same(f"marts.{mart}", duck, _spark(spark, sql))
    if mart == "intercom_contacts":  # the sync's way of reading a Spark mart: streamed Arrow batches
        from dagster_project.spark.tables import arrow_batches

        batches = list(arrow_batches(spark, f"marts.{mart}", batch_rows=97))
        assert sum(b.num_rows for b in batches) == len(duck[1])
        assert all(b.num_rows <= 97 for b in batches)

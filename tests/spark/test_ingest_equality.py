"""The Spark ingest and the DuckDB ingest give the same raw tables from the same landing files.

A small generated landing (60 users, 5 days, 2% malformed lines) loaded by the DuckDB loader in this
process (seconds) and by the Spark ingest on the process's shared `local[2]` session: the same counts
per (source, day), the same quarantined lines with the same reasons and text, the same rows with the
same lineage and values. No pipeline run: it does not need the session warehouse.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from dagster_project.core.engine import Engine, spark_installed
from dagster_project.core.settings import Settings

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.skipif(not spark_installed(), reason="the spark extra (pyspark, dbt-spark) is not installed"),
]

QUERIES = {
    "raw.load_log": "select source, _partition_day, files, lines, loaded, duplicates, quarantined from raw.load_log",
    "raw.quarantine": "select source, _file, _line, reason, raw_text, _partition_day from raw.quarantine",
    "raw.segment_events": (
        "select message_id, type, event, user_id, anonymous_id, event_ts, context, properties, traits, "
        "source_system, _file, _line, _partition_day from raw.segment_events"
    ),
    "raw.mixpanel_events": (
        "select event, distinct_id, insert_id, time_ms, event_ts, properties, _file, _line, _partition_day "
        "from raw.mixpanel_events"
    ),
    "raw.signups": "select provider, user_id, email, name, created_at, metadata, _file, _line from raw.signups",
    "raw.support_tickets": "select ticket_id, user_id, status, occurred_at, _file, _line from raw.support_tickets",
    # (NPS surveys go out on day 7: five days have none; the 14-day comparison in docs/scale-out.md had 25)
}


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory):
    import duckdb

    from dagster_project.assets.ingest import RAW_SOURCES
    from dagster_project.demo import generate
    from dagster_project.ingest.files import landing_days, unplaced_files
    from dagster_project.ingest.load import load_many, record_unplaced
    from dagster_project.spark.ingest import load_all
    from dagster_project.spark.session import get_session

    root: Path = tmp_path_factory.mktemp("ingest-equality")
    landing = root / "landing"
    generate(landing, users=60, days=5, seed=11, end_date=date(2026, 10, 20), malformed_rate=0.02)
    days = landing_days(landing)
    settings = Settings(db_path=root / "w.duckdb", landing=landing)
    con = duckdb.connect(str(settings.db_path))
    for sources in RAW_SOURCES.values():
        for source in sources:
            record_unplaced(con, source, unplaced_files(landing, source))
        list(load_many(con, landing, [(s, d) for d in days for s in sources], settings))
    spark = get_session(Engine("spark", "local[2]", root / "w.spark"))
    load_all(spark, landing, RAW_SOURCES, days, settings)
    yield con, spark, landing
    con.close()


def _sorted(rows) -> list[tuple]:
    def plain(value: object) -> object:
        if hasattr(value, "tzinfo") and getattr(value, "tzinfo", None) is not None:
            return value.replace(tzinfo=None)
        return value

    return sorted((tuple(plain(v) for v in row) for row in rows), key=repr)


@pytest.mark.parametrize("name", list(QUERIES))
def test_same_rows(both, name: str) -> None:
    con, spark, _ = both
    duck = _sorted(con.sql(QUERIES[name]).fetchall())
    sparks = _sorted(spark.sql(QUERIES[name]).collect())
    assert duck, f"{name} is empty on DuckDB: the comparison would prove nothing"
    assert len(duck) == len(sparks), f"{name}: {len(duck)} rows on DuckDB, {len(sparks)} on Spark"
    assert duck == sparks, f"{name}: first difference {next((a, b) for a, b in zip(duck, sparks, strict=True) if a != b)}"


def test_reloading_a_day_replaces_it(both) -> None:
    """Re-running the Spark ingest of one day gives that day's counts again and leaves every table as it
    was (the day is replaced, not appended)."""
    from dagster_project.ingest.files import landing_days
    from dagster_project.spark.ingest import load_table

    _, spark, landing = both
    tables = ("raw.segment_events", "raw.quarantine", "raw.load_log")
    before = {t: _sorted(spark.table(t).drop("_loaded_at").collect()) for t in tables}
    day = landing_days(landing)[1]
    stats = load_table(spark, landing, "segment_events", [("segment", day)], Settings(landing=landing))
    logged = spark.sql(
        f"select lines, loaded, duplicates, quarantined from raw.load_log where source = 'segment' "
        f"and _partition_day = date '{day.isoformat()}'"
    ).collect()
    assert [tuple(r) for r in logged] == [(stats[0].lines, stats[0].loaded, stats[0].duplicates, stats[0].quarantined)]
    assert stats[0].loaded > 0
    after = {t: _sorted(spark.table(t).drop("_loaded_at").collect()) for t in tables}
    assert after == before

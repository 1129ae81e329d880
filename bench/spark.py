"""`python -m bench spark [--events 1,10]`: the full run on Spark local[2] beside DuckDB, same files.

For each size: the DuckDB figure is the full `onboarding run` of figures.full_run (memoised per dataset,
as the scale figure measures it); the Spark figure is, in this process on one `local[2]` session, the
Spark ingest of every landing day (dagster_project/spark/ingest.py) and `dbt build` with the spark target.
The AI tables are created empty on the Spark side (the AI step is Python over staging rows and costs
the same on either engine), so the Spark figure is ingest + dbt; the DuckDB figure also holds the AI and
sync steps (a few seconds at these sizes). Reported: wall seconds, seconds per million event lines, the
Spark/DuckDB ratio, and the Spark ingest's cost per (source, day) partition, the unit docs/scale-out.md
extrapolates from. Results: bench/results/spark.json.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import Dataset, say, users_for, write_result


def spark_run(ds: Dataset, master: str = "local[2]") -> dict[str, Any]:
    """Spark ingest + dbt build of `ds` on a fresh Spark warehouse; wall seconds per phase."""
    import duckdb
    from dbt.cli.main import dbtRunner

    from dagster_project.ai.tables import ensure_ai_tables
    from dagster_project.assets.ingest import RAW_SOURCES
    from dagster_project.core.engine import Engine
    from dagster_project.core.settings import DBT_PROJECT_DIR, Settings
    from dagster_project.spark.ingest import load_all
    from dagster_project.spark.session import get_session
    from dagster_project.spark.tables import AI_TABLES, copy_from_duckdb

    root = Path(tempfile.mkdtemp(prefix="onboarding-bench-spark-"))
    engine = Engine("spark", master, root / "w.spark")
    out: dict[str, Any] = {}
    t = time.perf_counter()
    spark = get_session(engine)
    out["session_s"] = round(time.perf_counter() - t, 1)
    days = ds.days_list()
    t = time.perf_counter()
    stats = load_all(spark, ds.landing, RAW_SOURCES, days, Settings(db_path=root / "w.duckdb", landing=ds.landing))
    out["ingest_s"] = round(time.perf_counter() - t, 1)
    out["partitions"] = len(stats)
    out["ingest_s_per_partition"] = round(out["ingest_s"] / max(1, len(stats)), 3)
    con = duckdb.connect()
    ensure_ai_tables(con)
    for table in AI_TABLES:
        copy_from_duckdb(spark, con, "ai", table)
    os.environ.update(engine.dbt_env())
    t = time.perf_counter()
    result = dbtRunner().invoke(
        ["build", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR), "--target", "spark",
         "--target-path", str(root / "target"), "--log-path", str(root / "logs"),
         "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test", "--quiet"]
    )
    out["dbt_s"] = round(time.perf_counter() - t, 1)
    out["dbt_failed"] = [r.node.unique_id for r in (result.result or []) if r.status not in ("success", "pass")]
    out["wall_s"] = round(out["ingest_s"] + out["dbt_s"], 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench spark", description=__doc__)
    parser.add_argument("--events", default="1", help="millions of event lines, comma-separated (default 1)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--no-reuse", action="store_true")
    args = parser.parse_args(argv)
    from .figures import full_run

    points = []
    for millions in [float(x) for x in args.events.split(",") if x]:
        ds = Dataset(users_for(int(millions * 1e6))).ensure()
        lines = ds.event_lines()
        say(f"[spark] {lines / 1e6:.2f}M event lines ({ds.users:,} users), same files on both engines")
        duck = full_run(ds, not args.no_reuse)
        spark = spark_run(ds, args.master)
        point = {
            "users": ds.users,
            "event_lines": lines,
            "duckdb_wall_s": duck["wall_s"],
            "duckdb_s_per_million": round(duck["wall_s"] / (lines / 1e6), 1),
            "spark": spark,
            "spark_s_per_million": round(spark["wall_s"] / (lines / 1e6), 1),
            "ratio_spark_to_duckdb": round(spark["wall_s"] / duck["wall_s"], 2),
        }
        points.append(point)
        say(
            f"  DuckDB {duck['wall_s']:.1f} s, Spark {args.master} {spark['wall_s']:.1f} s "
            f"(ingest {spark['ingest_s']:.1f} s = {spark['ingest_s_per_partition']:.2f} s per source-day, "
            f"dbt {spark['dbt_s']:.1f} s): Spark/DuckDB {point['ratio_spark_to_duckdb']:.2f}x"
        )
    write_result("spark", {"master": args.master, "points": points})
    return 0

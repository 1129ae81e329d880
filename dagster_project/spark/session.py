"""One Spark session per process, configured the way dbt-spark's session method configures its own.

Why shared: dbt-spark's `session` method calls `SparkSession.builder.enableHiveSupport()...getOrCreate()`,
which returns the session already running in the process. The Spark ingest, an in-process dbt and the
equality test therefore use the same JVM, metastore and warehouse folder; a second JVM would cost tens of
seconds and a second Derby metastore lock. The settings below are also what profiles.yml's `spark`
target passes (server_side_parameters), so a dbt started as its own process sees the same tables.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.engine import Engine, require_spark

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def spark_conf(engine: Engine) -> dict[str, str]:
    """Spark settings of the warehouse (the same in profiles.yml's spark target)."""
    assert engine.spark_dir is not None
    spark_dir = Path(engine.spark_dir)
    return {
        "spark.master": engine.spark_master,
        "spark.app.name": "onboarding",
        # Tasks run Python (the ingest's reader and rules): this interpreter, with the project installed.
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
        # Managed tables (raw.*, dbt's schemas) live here; the metastore (Derby, one process at a time)
        # beside them. A cluster sets its own metastore and an s3:// warehouse (docs/scale-out.md).
        "spark.sql.warehouse.dir": str(spark_dir / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={spark_dir / 'metastore_db'};create=true"
        ),
        # Derby's log (derby.log) there too, not in the current directory.
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={spark_dir}",
        # Derby cannot filter partitions by a date column in the metastore: fetch the table's partition
        # list and filter in Spark (a few thousand days at most).
        "spark.sql.hive.metastorePartitionPruningFallbackOnException": "true",
        # Naive timestamps are UTC, as in DuckDB (`set TimeZone = 'UTC'` in the ingest and dbt).
        "spark.sql.session.timeZone": "UTC",
        # dbt-spark forces ANSI off (connections.py); the ingest runs the same way.
        "spark.sql.ansi.enabled": "false",
        # A day is replaced by overwriting only its partitions.
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        # Small days: a few shuffle partitions, not the default 200 (each one a task and a file).
        "spark.sql.shuffle.partitions": "4",
        "spark.sql.adaptive.enabled": "true",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }


def get_session(engine: Engine) -> SparkSession:
    """The process's Spark session (created on first use with `spark_conf`)."""
    require_spark()
    from pyspark.sql import SparkSession

    assert engine.spark_dir is not None
    Path(engine.spark_dir).mkdir(parents=True, exist_ok=True)
    # pyspark starts its Python workers with $PYSPARK_PYTHON (else `python3`, which lacks the project).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in spark_conf(engine).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark

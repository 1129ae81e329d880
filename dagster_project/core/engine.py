"""Which engine builds the warehouse: DuckDB (the default, one file) or Apache Spark (docs/scale-out.md).

Why here, on the floor: the warehouse resource, the command line, the dbt steps and the sync all ask the
same question ("which engine, which Spark master, where are Spark's tables?") and must get one answer
from the same variables. Nothing here imports pyspark: a DuckDB user's process never loads it, and a
Spark user without the extra gets one line naming it (`require_spark`) instead of an ImportError.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .settings import SettingsError

ENGINE_ENV = "ONBOARDING_ENGINE"
SPARK_MASTER_ENV = "ONBOARDING_SPARK_MASTER"
SPARK_DIR_ENV = "ONBOARDING_SPARK_DIR"
ENGINES = ("duckdb", "spark")
DEFAULT_SPARK_MASTER = "local[*]"
SPARK_EXTRA_HINT = "pip install 'onboarding-engine[spark]'"


class EngineError(SettingsError):
    """The engine setting is malformed, or Spark is asked for without the `spark` extra (a SettingsError:
    the command line prints its one line and exits 2, a run fails naming it)."""


@dataclass(frozen=True)
class Engine:
    """The resolved engine. `spark_dir` holds Spark's raw Parquet tables, its metastore and dbt's tables
    (beside the DuckDB file by default, so one ONBOARDING_DB names one whole warehouse either way)."""

    name: str = "duckdb"
    spark_master: str = DEFAULT_SPARK_MASTER
    spark_dir: Path | None = None

    @property
    def is_spark(self) -> bool:
        return self.name == "spark"

    @property
    def dbt_target(self) -> str:
        """The profiles.yml output dbt builds with: `dev` (DuckDB) or `spark`."""
        return "spark" if self.is_spark else "dev"

    def dbt_env(self) -> dict[str, str]:
        """What a dbt process needs to reach the same Spark tables (profiles.yml's spark target)."""
        if not self.is_spark or self.spark_dir is None:
            return {}
        return {SPARK_MASTER_ENV: self.spark_master, SPARK_DIR_ENV: str(self.spark_dir)}


def default_spark_dir(db_path: Path) -> Path:
    """`<db folder>/<db stem>.spark`: Spark's side of the warehouse named by ONBOARDING_DB."""
    return db_path.parent / f"{db_path.stem}.spark"


def engine_from_env(env: Mapping[str, str], db_path: Path) -> Engine:
    """Read ONBOARDING_ENGINE (duckdb|spark), ONBOARDING_SPARK_MASTER and ONBOARDING_SPARK_DIR."""
    name = (env.get(ENGINE_ENV) or "duckdb").strip().lower()
    if name not in ENGINES:
        raise EngineError(f"{ENGINE_ENV}={name!r}: expected one of {', '.join(ENGINES)}")
    master = (env.get(SPARK_MASTER_ENV) or "").strip() or DEFAULT_SPARK_MASTER
    raw_dir = (env.get(SPARK_DIR_ENV) or "").strip()
    spark_dir = Path(raw_dir).expanduser().resolve() if raw_dir else default_spark_dir(db_path)
    engine = Engine(name=name, spark_master=master, spark_dir=spark_dir)
    if engine.is_spark:
        require_spark()
    return engine


def spark_installed() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("pyspark", "dbt.adapters.spark"))


def require_spark() -> None:
    """Fail with one line naming the extra when pyspark or dbt-spark is missing."""
    if not spark_installed():
        raise EngineError(
            f"{ENGINE_ENV}=spark needs the spark extra (pyspark and dbt-spark), which is not installed: "
            f"{SPARK_EXTRA_HINT}"
        )

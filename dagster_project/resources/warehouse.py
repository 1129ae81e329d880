"""The `warehouse` resource: every `core.settings.Settings` field, each filled from its ONBOARDING_*
variable (fields.py), so the launchpad shows them and a run's config can override any of them."""

from __future__ import annotations

from pathlib import Path

import duckdb
from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr

from ..core import warehouse
from ..core.engine import ENGINE_ENV, SPARK_DIR_ENV, SPARK_MASTER_ENV, Engine, EngineError, engine_from_env
from ..core.settings import (
    ALLOW_EMPTY_RELOAD_ENV,
    DB_ENV,
    LANDING_ENV,
    MAX_FILE_BYTES_ENV,
    MAX_LINE_BYTES_ENV,
    START_DATE_ENV,
    Settings,
)
from .fields import EnvFields, setting


class WarehouseResource(EnvFields, ConfigurableResource):
    """The settings of a run: the DuckDB warehouse file, the landing location, DuckDB's memory limit,
    the lock wait and the ingest's limits.

    The one way settings reach a step inside Dagster, and the one way the command line resolves them
    (`resources.resolve`). Checked by `Settings.from_env` when the run starts (`setup_for_execution`):
    a malformed value fails the run with one line naming its variable. Connections are opened per
    step and closed: DuckDB has one writer, and dbt is another process.
    """

    db_path: str | None = setting(DB_ENV, "The DuckDB warehouse file (relative: to the current directory).")
    landing: str | None = setting(LANDING_ENV, "Where the exports land: a folder or an s3:// URI.")
    memory_limit: str | None = setting(
        warehouse.MEMORY_LIMIT_ENV, "DuckDB's memory_limit for every connection and dbt (200MB, 4GB, 25%)."
    )
    lock_timeout: str | None = setting(
        warehouse.LOCK_TIMEOUT_ENV, "Seconds a writer waits for another process's warehouse lock (180)."
    )
    start_date: str | None = setting(
        START_DATE_ENV, "First daily partition, YYYY-MM-DD (read when the code location loads)."
    )
    max_line_bytes: str | None = setting(MAX_LINE_BYTES_ENV, "Longer landing lines are quarantined (65536).")
    max_file_bytes: str | None = setting(
        MAX_FILE_BYTES_ENV, "A landing file decompressing to more bytes is quarantined whole (1 GiB)."
    )
    allow_empty_reload: str | None = setting(
        ALLOW_EMPTY_RELOAD_ENV, "1: re-loading a day whose landing files are all gone empties it (0)."
    )

    engine: str | None = setting(ENGINE_ENV, "The engine that builds the warehouse: duckdb or spark (duckdb).")
    spark_master: str | None = setting(
        SPARK_MASTER_ENV, "Spark master for ONBOARDING_ENGINE=spark: local[*], spark://host:7077 (local[*])."
    )
    spark_dir: str | None = setting(
        SPARK_DIR_ENV, "Spark's raw Parquet tables, metastore and dbt tables (<db folder>/<db stem>.spark)."
    )

    _resolved: Settings | None = PrivateAttr(default=None)

    def settings(self) -> Settings:
        """The checked settings (resolved once per run, when the resource is set up)."""
        if self._resolved is not None:
            return self._resolved
        settings = Settings.from_env(self.variables())
        self.engine_settings(settings)  # ONBOARDING_ENGINE=spark without the extra: one line, here too
        return settings

    def engine_settings(self, settings: Settings | None = None) -> Engine:
        """The engine (duckdb or spark) and Spark's master and folder (`core.engine`); an EngineError
        (a SettingsError) names the `spark` extra when Spark is asked for and not installed."""
        settings = settings or self.settings()
        return engine_from_env(self.variables(), settings.db_path)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._resolved = Settings.from_env(self.variables())
        if self.engine_settings(self._resolved).is_spark:
            # The Spark ingest and dbt target exist (dagster_project/spark/, profiles.yml) but the job's
            # steps still write DuckDB: refuse rather than silently build the DuckDB warehouse.
            raise EngineError(
                f"{ENGINE_ENV}=spark: the Dagster job and `onboarding run` do not run on Spark yet "
                "(docs/scale-out.md, 'What is not done'); unset it to run on DuckDB"
            )
        # A first run writes a new warehouse file: its folder must exist (for the load child and dbt too).
        self._resolved.db_path.parent.mkdir(parents=True, exist_ok=True)

    def connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        settings = self.settings()
        return warehouse.connect(settings.db_path, read_only=read_only, settings=settings)

    @property
    def landing_path(self) -> Path | str:
        return self.settings().landing

    @classmethod
    def overrides(cls, settings: Settings) -> dict[str, str]:
        """The fields (as text) where `settings` differ from what the environment resolves to now: a
        caller's own choice (a test's paths), for a run's config. Empty when they agree."""
        current = Settings.from_env(cls().variables())
        wanted = {
            "db_path": str(settings.db_path),
            "landing": str(settings.landing),
            "memory_limit": settings.memory_limit,
            "lock_timeout": repr(settings.lock_timeout),
            "start_date": settings.start_date.isoformat() if settings.start_date else None,
            "max_line_bytes": str(settings.max_line_bytes),
            "max_file_bytes": str(settings.max_file_bytes),
            "allow_empty_reload": "1" if settings.allow_empty_reload else "0",
        }
        return {
            name: text
            for name, text in wanted.items()
            if text is not None and getattr(settings, name) != getattr(current, name)
        }

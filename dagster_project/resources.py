"""Resources, configured from the environment."""

from __future__ import annotations

from pathlib import Path

import duckdb
from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource

from sync import warehouse

from .settings import DBT_PROJECT_DIR, Settings, dbt_executable


class WarehouseResource(ConfigurableResource):
    """The DuckDB warehouse file and the landing folder.

    Paths left empty are read from the environment when a step runs (not when the code location
    loads), so a test or `onboarding run` can point the same definitions at another warehouse.
    Connections are opened per step and closed: DuckDB has one writer, and dbt is another process.
    """

    db_path: str | None = None
    landing: str | None = None

    def settings(self) -> Settings:
        env = Settings.from_env()
        return Settings(
            db_path=Path(self.db_path) if self.db_path else env.db_path,
            landing=Path(self.landing) if self.landing else env.landing,
        ).export()

    def connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        return warehouse.connect(self.settings().db_path, read_only=read_only)

    @property
    def landing_path(self) -> Path:
        return self.settings().landing


def build_resources() -> dict[str, object]:
    Settings.from_env().export()
    return {
        "warehouse": WarehouseResource(),
        "dbt": DbtCliResource(
            project_dir=str(DBT_PROJECT_DIR),
            profiles_dir=str(DBT_PROJECT_DIR),
            dbt_executable=dbt_executable(),
        ),
    }

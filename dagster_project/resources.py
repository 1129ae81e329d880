"""Resources, configured from the environment."""

from __future__ import annotations

from pathlib import Path

import duckdb
from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource

from .settings import DBT_PROJECT_DIR, Settings, dbt_executable


class WarehouseResource(ConfigurableResource):
    """The DuckDB warehouse file and the landing folder. Connections are opened per step and closed,
    because DuckDB allows one writer process and dbt runs as a separate process."""

    db_path: str
    landing: str

    def connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(self.db_path, read_only=read_only)

    @property
    def landing_path(self) -> Path:
        return Path(self.landing)


def build_resources() -> dict[str, object]:
    settings = Settings.from_env().export()
    return {
        "warehouse": WarehouseResource(db_path=str(settings.db_path), landing=str(settings.landing)),
        "dbt": DbtCliResource(
            project_dir=str(DBT_PROJECT_DIR),
            profiles_dir=str(DBT_PROJECT_DIR),
            dbt_executable=dbt_executable(),
        ),
    }

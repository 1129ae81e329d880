"""Resources, configured from the environment."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import duckdb
from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource
from packaging import version

from dagster_project.core import warehouse

from .core.settings import DBT_PROJECT_DIR, Settings, dbt_executable


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


class DbtCli(DbtCliResource):
    """`DbtCliResource` without the dbt adapter it builds inside the Dagster process.

    Why: before every `dbt` invocation dagster-dbt loads the profile, the project and all of dbt's
    macros in-process (3.6 s per dbt step, twice a run, measured with py-spy) and starts `dbt
    --version` (another Python start), only to serve `fetch_row_counts()` and
    `fetch_column_metadata()`, which these assets never call. Our `dbt` is the dbt-core installed
    beside us (`dbt_executable()`), so its version is the package's.
    """

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None

    @cached_property
    def _cli_version(self) -> version.Version:
        from dbt.version import __version__

        return version.parse(__version__)


def build_resources() -> dict[str, object]:
    Settings.from_env().export()
    return {
        "warehouse": WarehouseResource(),
        "dbt": DbtCli(
            project_dir=str(DBT_PROJECT_DIR),
            profiles_dir=str(DBT_PROJECT_DIR),
            dbt_executable=dbt_executable(),
        ),
    }

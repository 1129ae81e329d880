"""The code location's resources: the warehouse (every setting a step needs) and dbt."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import duckdb
from dagster import ConfigurableResource, InitResourceContext
from dagster_dbt import DbtCliResource
from packaging import version

from .core import warehouse
from .core.settings import DBT_PROJECT_DIR, Settings, dbt_executable


class WarehouseResource(ConfigurableResource):
    """The settings of a run: the DuckDB warehouse file, the landing folder and the rest of `Settings`.

    The one way settings reach a step inside Dagster. Paths left empty are resolved by
    `Settings.from_env()` when a step runs (not when the code location loads), so `dagster dev` follows
    the environment it was started with, while `onboarding run` passes the paths it resolved as run
    config. Connections are opened per step and closed: DuckDB has one writer, and dbt is another
    process.
    """

    db_path: str | None = None
    landing: str | None = None

    def settings(self) -> Settings:
        return Settings.from_env().with_paths(self.db_path, self.landing)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        # A first run writes a new warehouse file: its folder must exist (for the load child and dbt too).
        self.settings().db_path.parent.mkdir(parents=True, exist_ok=True)

    def connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        return warehouse.connect(self.settings().db_path, read_only=read_only)

    @property
    def landing_path(self) -> Path:
        return self.settings().landing


class DbtCli(DbtCliResource):
    """`DbtCliResource` without the dbt adapter it builds inside the Dagster process.

    The one place this project overrides private members of a framework class: dagster-dbt 0.29 has
    no public switch for either. Before every `dbt` invocation, `DbtCliResource.cli` builds dbt's
    adapter in-process (profile, project and all of dbt's macros: 3.5 s) and starts `dbt --version`
    (another Python start: 4.1 s), measured on the shared 2-core machine, per dbt step, two steps a
    run; the adapter also stays in the process's memory (34 MB) next to dbt's own process at the
    run's peak. Both serve only `fetch_row_counts()` / `fetch_column_metadata()`, which these assets
    never call. Our `dbt` is the dbt-core installed beside us (`dbt_executable()`), so its version
    is the package's; tests/test_dbt_resource.py checks that and that the override still applies.
    """

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None

    @cached_property
    def _cli_version(self) -> version.Version:
        from dbt.version import __version__

        return version.parse(__version__)


def build_resources() -> dict[str, object]:
    return {
        "warehouse": WarehouseResource(),
        "dbt": DbtCli(
            project_dir=str(DBT_PROJECT_DIR),
            profiles_dir=str(DBT_PROJECT_DIR),
            dbt_executable=dbt_executable(),
        ),
    }

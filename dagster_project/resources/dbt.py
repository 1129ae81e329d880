"""The `dbt` resource: dagster-dbt's CLI resource, without the dbt adapter it builds in-process."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

from dagster_dbt import DbtCliResource
from packaging import version


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

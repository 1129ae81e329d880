"""The dbt project as Dagster sees it."""

from __future__ import annotations

from dagster_dbt import DbtProject

from .settings import DBT_PROJECT_DIR, ensure_dbt_on_path

# dagster-dbt's own preparer (used by prepare_if_dev under `dagster dev`) runs `dbt` from PATH.
ensure_dbt_on_path()

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()


def prepare_manifest() -> None:
    """Parse the dbt project into target/manifest.json, as `dagster dev` does through prepare_if_dev.

    The CLI and the tests call this before loading the definitions, so a fresh clone needs no manual
    `dbt parse`.
    """
    dbt_project.preparer.prepare(dbt_project)

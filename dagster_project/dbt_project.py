"""The dbt project as Dagster sees it."""

from __future__ import annotations

from dagster_dbt import DbtProject

from .settings import DBT_PROJECT_DIR, dbt_executable

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
dbt_project.prepare_if_dev()


def prepare_manifest() -> None:
    """Parse the dbt project into target/manifest.json (what `dagster dev` does via prepare_if_dev).

    The CLI and the tests call this before loading the definitions, so a fresh clone needs no manual
    `dbt parse`.
    """
    from dagster_dbt import DbtCliResource

    DbtCliResource(
        project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable()
    ).cli(["parse", "--quiet"], target_path=dbt_project.target_path).wait()

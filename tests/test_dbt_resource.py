"""dagster_project.resources.DbtCli: the dbt resource without dagster-dbt's in-process adapter."""

import re
import subprocess

from dagster_project.core.settings import DBT_PROJECT_DIR, dbt_executable
from dagster_project.resources import DbtCli, build_resources


def test_pipeline_uses_the_resource_without_the_in_process_adapter():
    dbt = build_resources()["dbt"]
    assert isinstance(dbt, DbtCli)
    assert dbt._initialize_dbt_core_adapter(["build"]) is None


def test_its_version_is_what_the_dbt_executable_reports():
    """It reads the version from the dbt-core package instead of starting `dbt --version`: that holds
    only while `dbt_executable()` is the dbt installed beside us."""
    output = subprocess.run([dbt_executable(), "--version"], capture_output=True, text=True, check=True).stdout
    reported = re.search(r"(\d+\.\d+\.\d+)", output)
    assert reported is not None
    dbt = DbtCli(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable())
    assert str(dbt._cli_version) == reported.group(1)


def test_the_overridden_private_members_still_exist_in_dagster_dbt():
    """The override is only worth its measured seconds while `DbtCliResource.cli` still calls these
    two members: if a dagster-dbt upgrade renames them, this fails instead of the speed quietly going."""
    import inspect

    from dagster_dbt import DbtCliResource

    source = inspect.getsource(DbtCliResource.cli)
    assert "self._initialize_dbt_core_adapter(" in source
    assert "self._cli_version" in source
    assert DbtCli._initialize_dbt_core_adapter is not DbtCliResource._initialize_dbt_core_adapter

"""Issue 20: the partition window reaches dbt without a re-parse, data tests read only the window, and
dbt gets the project's DuckDB memory limit.

The dbt test works on a copy of the project in a temporary folder (its own target folder: the shared
one is written by every run and test), parses it once and then compiles with two different windows.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from dagster_project.core import warehouse
from dagster_project.core.settings import DBT_PROJECT_DIR, Settings, dbt_executable, environment_with
from dagster_project.dbt_window import FOUNDATION, WINDOW_ENV, dbt_step_env, window_env

REPARSE = "Unable to do partial parsing"


def _dbt(project: Path, env: dict[str, str | None], *args: str) -> str:
    done = subprocess.run(
        [dbt_executable(), *args, "--project-dir", str(project), "--profiles-dir", str(project)],
        cwd=project, env=environment_with(env), capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _compiled(project: Path, name: str) -> str:
    """The compiled SQL of the node named `name` in the last invocation's manifest."""
    manifest = json.loads((project / "target" / "manifest.json").read_text())
    (node,) = [n for n in manifest["nodes"].values() if n["name"] == name]
    return node["compiled_code"]


@pytest.mark.slow
def test_a_new_window_reuses_the_parse_and_scopes_the_data_tests(tmp_path: Path) -> None:
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    base = {"ONBOARDING_DB": str(tmp_path / "w.duckdb"), **dict.fromkeys(WINDOW_ENV.values())}
    _dbt(project, base, "parse")

    bounds = "int_onboarding__date_bounds"
    unique_test = "source_unique_raw_segment_events_message_id"
    selection = ["--select", bounds, unique_test]
    window = window_env({"start_date": "2026-11-03", "end_date": "2026-11-05"})
    out = _dbt(project, {**base, **window}, "compile", *selection)
    assert REPARSE not in out, out[-2000:]
    assert "cast('2026-11-05' as date)" in _compiled(project, bounds)
    window_filter = "_partition_day between cast('2026-11-03' as date) and cast('2026-11-05' as date)"
    assert window_filter in _compiled(project, unique_test)
    # The foundation step's selection with the indirect selection the steps use: no test of a node
    # the step does not build (it would run before that node exists on a fresh warehouse).
    env = {**base, "DBT_INDIRECT_SELECTION": dbt_step_env(Settings(db_path=tmp_path / "w.duckdb"), {})[
        "DBT_INDIRECT_SELECTION"]}
    listed = _dbt(project, env, "ls", "--select", FOUNDATION, "--resource-type", "test", "--output", "name")
    manifest = json.loads((project / "target" / "manifest.json").read_text())
    spanning = [
        n["name"] for n in manifest["nodes"].values()
        if n["resource_type"] == "test" and any("experiment_guardrails" in d for d in n["depends_on"]["nodes"])
    ]  # fmt: skip
    assert spanning and not set(spanning) & set(listed.split())
    # Without a window (a full refresh, a plain `dbt build`) the test reads the whole table again.
    out = _dbt(project, base, "compile", *selection)
    assert REPARSE not in out
    assert "_partition_day" not in _compiled(project, unique_test)
    assert "last_landed.last_landed_day" in _compiled(project, bounds)


def test_the_step_gives_dbt_the_window_and_a_memory_limit(tmp_path: Path) -> None:
    settings = Settings(db_path=tmp_path / "w.duckdb", memory_limit=None)
    env = dbt_step_env(settings, {"start_date": "2026-11-03", "end_date": "2026-11-04"})
    assert env[WINDOW_ENV["start_date"]] == "2026-11-03" and env[WINDOW_ENV["end_date"]] == "2026-11-04"
    assert env[warehouse.MEMORY_LIMIT_ENV] == warehouse.default_memory_limit()
    chosen = Settings(db_path=tmp_path / "w.duckdb", memory_limit="300MB")
    assert dbt_step_env(chosen, {})[warehouse.MEMORY_LIMIT_ENV] == "300MB"


def test_an_unset_limit_gives_duckdb_the_projects_default_not_80_percent(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(warehouse.MEMORY_LIMIT_ENV, raising=False)
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        shown = con.execute("select current_setting('memory_limit')").fetchone()[0]
    with warehouse.connect(tmp_path / "w.duckdb") as con:
        con.execute(f"set memory_limit = '{warehouse.default_memory_limit()}'")
        expected = con.execute("select current_setting('memory_limit')").fetchone()[0]
        con.execute("reset memory_limit")
        duckdb_default = con.execute("select current_setting('memory_limit')").fetchone()[0]
    assert shown == expected
    assert shown != duckdb_default  # DuckDB's own default is 80% of RAM
    mb = int(warehouse.default_memory_limit().removesuffix("MB"))
    assert 256 <= mb <= 2048


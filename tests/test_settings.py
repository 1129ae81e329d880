"""dagster_project/core/settings.py: one resolution of every setting, defaults that do not depend on
the current directory, and nothing that reads settings writes os.environ."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from dagster_project.core import settings as settings_module
from dagster_project.core import warehouse
from dagster_project.core.settings import (
    DBT_PROJECT_DIR,
    PROJECT_ROOT,
    Settings,
    SettingsError,
    environment_with,
    temporary_env,
)
from sync.settings import DESTINATIONS
from tests.standins.marts import demo

ONBOARDING_VARS = ("ONBOARDING_DB", "ONBOARDING_LANDING", "ONBOARDING_START_DATE", "ONBOARDING_MAX_LINE_BYTES",
                   "ONBOARDING_DUCKDB_MEMORY_LIMIT", "ONBOARDING_LOCK_TIMEOUT", "ONBOARDING_HOME")


def test_defaults_are_the_projects_data_folder_wherever_the_command_starts(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    resolved = Settings.from_env({})
    assert resolved.db_path == PROJECT_ROOT / "data" / "warehouse.duckdb"
    assert resolved.landing == PROJECT_ROOT / "data" / "landing"
    assert resolved.memory_limit is None and resolved.start_date is None
    assert resolved.max_line_bytes == 65_536
    assert resolved.lock_timeout == warehouse.DEFAULT_LOCK_TIMEOUT_SECONDS


def test_values_are_read_checked_and_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    resolved = Settings.from_env({
        "ONBOARDING_DB": "wh/x.duckdb", "ONBOARDING_LANDING": "~/landing", "ONBOARDING_START_DATE": "2026-02-03",
        "ONBOARDING_MAX_LINE_BYTES": "1000", "ONBOARDING_DUCKDB_MEMORY_LIMIT": " 300MB ",
        "ONBOARDING_LOCK_TIMEOUT": "5",
    })
    assert resolved.db_path == tmp_path / "wh" / "x.duckdb"  # relative: resolved once, here
    assert resolved.landing == Path.home() / "landing"
    assert resolved.start_date == date(2026, 2, 3)
    assert (resolved.max_line_bytes, resolved.memory_limit, resolved.lock_timeout) == (1000, "300MB", 5.0)


@pytest.mark.parametrize(("name", "value"), [
    ("ONBOARDING_START_DATE", "03/02/2026"),
    ("ONBOARDING_MAX_LINE_BYTES", "64k"),
    ("ONBOARDING_MAX_LINE_BYTES", "0"),
    ("ONBOARDING_DUCKDB_MEMORY_LIMIT", "lots"),
    ("ONBOARDING_LOCK_TIMEOUT", "-1"),
])
def test_a_malformed_setting_is_an_error_naming_it(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_reading_settings_writes_no_environment(monkeypatch):
    for name in (*ONBOARDING_VARS, "GLIBC_TUNABLES"):
        monkeypatch.delenv(name, raising=False)
    before = dict(os.environ)
    resolved = Settings.from_env().with_paths(db_path="/tmp/elsewhere.duckdb")
    env = resolved.dbt_env()
    assert dict(os.environ) == before
    assert not hasattr(Settings, "export")
    assert resolved.db_path == Path("/tmp/elsewhere.duckdb")
    # What dbt gets, in its own environment only: the absolute file, no limit (unset), the malloc setting.
    assert env["ONBOARDING_DB"] == "/tmp/elsewhere.duckdb"
    assert env["ONBOARDING_DUCKDB_MEMORY_LIMIT"] is None
    assert env["GLIBC_TUNABLES"] == warehouse.MALLOC_TUNABLE
    started = environment_with(env, {"PATH": "/bin", "ONBOARDING_DUCKDB_MEMORY_LIMIT": "9GB"})
    assert started == {"PATH": "/bin", "ONBOARDING_DB": "/tmp/elsewhere.duckdb",
                       "GLIBC_TUNABLES": warehouse.MALLOC_TUNABLE}


def test_no_module_reads_onboarding_variables_but_the_settings():
    """The one resolution: outside core/ (settings.py and the warehouse's own parsers), no module of
    the runtime reads an ONBOARDING_* variable; the LLM client's and the vendors' settings are theirs."""
    allowed = {Path("dagster_project/core/settings.py"), Path("dagster_project/core/warehouse.py"),
               Path("dagster_project/ai/client.py"), Path("dagster_project/ai/common.py"), Path("sync/settings.py")}
    read = re.compile(r"""(environ(\.get)?|getenv)\(?\[?\s*["']ONBOARDING_""")
    offenders = [
        str(path) for folder in ("dagster_project", "sync") for path in (PROJECT_ROOT / folder).rglob("*.py")
        if path.relative_to(PROJECT_ROOT) not in allowed and read.search(path.read_text())
    ]
    assert offenders == []


def test_profiles_default_names_the_same_file_as_the_settings_default():
    """dbt runs in dbt_project/; its fallback path from there is Settings' default file."""
    profiles = (DBT_PROJECT_DIR / "profiles.yml").read_text()
    default = re.search(r"env_var\('ONBOARDING_DB', '([^']+)'\)", profiles)
    assert default is not None
    assert (DBT_PROJECT_DIR / default.group(1)).resolve() == Settings.from_env({}).db_path


def test_sync_and_run_resolve_the_same_warehouse_from_another_directory(tmp_path):
    """`onboarding run` and `onboarding sync`, started from an unrelated folder, in fresh processes."""
    script = (
        "import json; from dagster_project.cli import settings_or_exit; from sync.cli import default_db; "
        "print(json.dumps([str(settings_or_exit().db_path), str(default_db())]))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ONBOARDING_VARS}
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                         check=True)
    run_db, sync_db = json.loads(out.stdout)
    assert run_db == sync_db == str(PROJECT_ROOT / "data" / "warehouse.duckdb")
    env["ONBOARDING_DB"] = "rel/w.duckdb"
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == [str(tmp_path / "rel" / "w.duckdb")] * 2


def test_onboarding_sync_from_another_directory_writes_the_default_warehouse(tmp_path, monkeypatch):
    """The command end to end: with the default warehouse (here a scratch one standing in for the
    project's data/warehouse.duckdb) and a `data/warehouse.duckdb` in the current directory, the sync
    plans into the default one and never opens the one beside it."""
    from dagster_project.cli import app

    project_db = tmp_path / "project" / "data" / "warehouse.duckdb"
    project_db.parent.mkdir(parents=True)
    with duckdb.connect(str(project_db)) as con:
        demo(con, users=4)
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "data").mkdir(parents=True)
    decoy = elsewhere / "data" / "warehouse.duckdb"
    with duckdb.connect(str(decoy)) as con:
        demo(con, users=4)
    for name in (*ONBOARDING_VARS, "INTERCOM_ACCESS_TOKEN", "SLACK_BOT_TOKEN", "APPCUES_API_KEY", "CALENDLY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(settings_module, "DEFAULT_DB", project_db)
    monkeypatch.chdir(elsewhere)

    result = CliRunner().invoke(app, ["sync", "--dry-run"])

    assert result.exit_code == 0, result.output
    with duckdb.connect(str(project_db), read_only=True) as con:
        assert con.execute("select count(*) from sync.runs").fetchone()[0] == len(DESTINATIONS)
    with duckdb.connect(str(decoy), read_only=True) as con:
        assert con.execute("select count(*) from information_schema.schemata where schema_name = 'sync'"
                           ).fetchone()[0] == 0


def test_temporary_env_sets_only_for_the_block_and_restores(monkeypatch):
    """As the dbt step uses it: the malloc tunable is in os.environ only while dbt starts."""
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    with temporary_env({"GLIBC_TUNABLES": warehouse.child_env()["GLIBC_TUNABLES"]}):
        assert os.environ["GLIBC_TUNABLES"] == warehouse.MALLOC_TUNABLE
    assert "GLIBC_TUNABLES" not in os.environ
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")
    with temporary_env({"GLIBC_TUNABLES": warehouse.child_env()["GLIBC_TUNABLES"]}):
        assert os.environ["GLIBC_TUNABLES"].endswith(warehouse.MALLOC_TUNABLE)
    assert os.environ["GLIBC_TUNABLES"] == "glibc.malloc.arena_max=2"


def test_temporary_env_none_unsets_and_an_error_still_restores(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-kept")
    try:
        with temporary_env({"OPENAI_API_KEY": None}):
            assert "OPENAI_API_KEY" not in os.environ
            raise RuntimeError("step failed")
    except RuntimeError:
        pass
    assert os.environ["OPENAI_API_KEY"] == "sk-kept"


# --- The working home (ONBOARDING_HOME) and the installed layout -----------------------------------


def _installed_package(site: Path) -> Path:
    """A copy of dagster_project's floor laid out as pip installs it: site-packages/dagster_project/
    with the dbt project inside it, and no pyproject.toml or dbt_project/ beside the package."""
    import shutil

    package = site / "dagster_project"
    shutil.copytree(PROJECT_ROOT / "dagster_project" / "core", package / "core",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (package / "__init__.py").write_text("")
    (package / "dbt_project").mkdir()
    (package / "dbt_project" / "dbt_project.yml").write_text("name: onboarding\n")
    return package


def test_a_checkout_is_recognised_by_its_pyproject_and_dbt_project(tmp_path):
    package = _installed_package(tmp_path / "site-packages")
    assert settings_module.checkout_root(package) is None
    (tmp_path / "site-packages" / "pyproject.toml").write_text("")
    assert settings_module.checkout_root(package) is None  # a pyproject.toml alone is not a checkout
    (tmp_path / "site-packages" / "dbt_project").mkdir()
    (tmp_path / "site-packages" / "dbt_project" / "dbt_project.yml").write_text("")
    assert settings_module.checkout_root(package) == tmp_path / "site-packages"
    assert settings_module.checkout_root() == PROJECT_ROOT  # this test suite runs from a checkout


def test_home_is_onboarding_home_else_the_checkout_else_the_current_directory(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    installed = _installed_package(tmp_path / "site-packages")
    assert settings_module.onboarding_home({}, installed) == work
    assert settings_module.onboarding_home({}) == PROJECT_ROOT  # from a checkout, wherever the command starts
    assert settings_module.onboarding_home({"ONBOARDING_HOME": "rel"}) == work / "rel"  # absolute, once
    assert settings_module.onboarding_home({"ONBOARDING_HOME": " ~/h "}, installed) == Path.home() / "h"
    # dbt writes beside a checkout's project, under the home's data/dbt/ when the project is package data
    assert settings_module.dbt_output_dirs(work, installed) == (work / "data" / "dbt" / "target",
                                                                 work / "data" / "dbt" / "logs")
    assert settings_module.dbt_output_dirs(work) == (DBT_PROJECT_DIR / "target", DBT_PROJECT_DIR / "logs")


def test_onboarding_home_moves_the_default_paths_and_explicit_paths_still_win(tmp_path):
    home = tmp_path / "home"
    resolved = Settings.from_env({"ONBOARDING_HOME": str(home)})
    assert (resolved.db_path, resolved.landing) == (home / "data" / "warehouse.duckdb", home / "data" / "landing")
    resolved = Settings.from_env({"ONBOARDING_HOME": str(home), "ONBOARDING_DB": str(tmp_path / "w.duckdb")})
    assert (resolved.db_path, resolved.landing) == (tmp_path / "w.duckdb", home / "data" / "landing")


INSTALLED_PROBE = """
import json
from dagster_project.core import settings as s
print(json.dumps({k: str(v) for k, v in {
    "home": s.HOME, "checkout": s.CHECKOUT_ROOT, "dbt_project": s.DBT_PROJECT_DIR, "target": s.DBT_TARGET_DIR,
    "logs": s.DBT_LOG_DIR, "db": s.Settings.from_env().db_path, "landing": s.Settings.from_env().landing}.items()}))
"""


@pytest.mark.parametrize("with_home", [False, True])
def test_installed_layout_resolves_everything_under_the_working_home(tmp_path, with_home):
    """A fresh process importing the settings from a site-packages layout: the dbt project is the
    package's own copy, and the warehouse, landing folder and dbt's output are under the current
    directory, or under ONBOARDING_HOME when set; nothing points at this checkout."""
    site = tmp_path / "site-packages"
    package = _installed_package(site)
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ONBOARDING_VARS} | {"PYTHONPATH": str(site)}
    if with_home:
        env["ONBOARDING_HOME"] = str(home)
    out = subprocess.run([sys.executable, "-c", INSTALLED_PROBE], cwd=work, env=env, capture_output=True,
                         text=True, check=True)
    resolved = json.loads(out.stdout)
    base = home if with_home else work
    assert resolved == {
        "home": str(base), "checkout": "None", "dbt_project": str(package / "dbt_project"),
        "target": str(base / "data" / "dbt" / "target"), "logs": str(base / "data" / "dbt" / "logs"),
        "db": str(base / "data" / "warehouse.duckdb"), "landing": str(base / "data" / "landing"),
    }


"""ONBOARDING_ENGINE: duckdb by default, spark on request, and one line naming the extra when Spark is
asked for without it (no pyspark import, no traceback; the command line exits 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagster_project.core import engine as engine_module
from dagster_project.core.engine import EngineError, default_spark_dir, engine_from_env
from dagster_project.core.settings import SettingsError

DB = Path("/tmp/x/warehouse.duckdb")


def test_default_is_duckdb_with_dev_target() -> None:
    engine = engine_from_env({}, DB)
    assert engine.name == "duckdb" and engine.dbt_target == "dev" and engine.dbt_env() == {}


def test_spark_settings_reach_dbt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "spark_installed", lambda: True)
    engine = engine_from_env({"ONBOARDING_ENGINE": "Spark", "ONBOARDING_SPARK_MASTER": "spark://h:7077"}, DB)
    assert engine.dbt_target == "spark"
    assert engine.dbt_env() == {
        "ONBOARDING_SPARK_MASTER": "spark://h:7077",
        "ONBOARDING_SPARK_DIR": str(default_spark_dir(DB)),
    }


def test_spark_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "spark_installed", lambda: False)
    with pytest.raises(EngineError) as info:
        engine_from_env({"ONBOARDING_ENGINE": "spark"}, DB)
    message = str(info.value)
    assert "\n" not in message and "[spark]" in message
    assert isinstance(info.value, SettingsError)


def test_unknown_engine_is_one_line_exit_2_from_the_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command line's settings step (every command's first) prints the one line and exits 2."""
    import typer

    from dagster_project.cli import settings_or_exit

    monkeypatch.setenv("ONBOARDING_ENGINE", "oracle")
    with pytest.raises(typer.Exit) as info:
        settings_or_exit()
    assert info.value.exit_code == 2
    out = capsys.readouterr().out.strip()
    assert "ONBOARDING_ENGINE='oracle'" in out and "Traceback" not in out and len(out.splitlines()) == 1


def test_a_dagster_run_refuses_spark_until_the_job_is_wired(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Not a silent DuckDB run under ONBOARDING_ENGINE=spark: the warehouse resource stops the run."""
    from dagster_project.resources import WarehouseResource

    monkeypatch.setattr(engine_module, "spark_installed", lambda: True)
    resource = WarehouseResource(engine="spark", db_path=str(tmp_path / "w.duckdb"))
    with pytest.raises(EngineError, match="do not run on Spark yet"):
        resource.setup_for_execution(None)  # type: ignore[arg-type]
    WarehouseResource(engine="duckdb", db_path=str(tmp_path / "w.duckdb")).setup_for_execution(None)  # type: ignore[arg-type]

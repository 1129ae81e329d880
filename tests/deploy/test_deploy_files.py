"""`python -m dagster_project.deploy`: the shipped instance files land in the Dagster home, an operator's
edit survives a second run, `--force` restores the shipped file."""

from __future__ import annotations

from pathlib import Path

import yaml

from dagster_project.deploy import INSTANCE_YAML, WORKSPACE_YAML
from dagster_project.deploy.__main__ import main


def test_the_home_gets_the_shipped_files_and_keeps_an_edited_one(tmp_path: Path, capsys):
    home = tmp_path / "dagster_home"
    assert main([str(home), "--no-manifest"]) == 0
    assert (home / "dagster.yaml").read_bytes() == INSTANCE_YAML.read_bytes()
    assert (home / "workspace.yaml").read_bytes() == WORKSPACE_YAML.read_bytes()

    edited = INSTANCE_YAML.read_text().replace("max_concurrent_runs: 1", "max_concurrent_runs: 2")
    (home / "dagster.yaml").write_text(edited)
    assert main([str(home), "--no-manifest"]) == 0
    assert (home / "dagster.yaml").read_text() == edited
    assert "kept" in capsys.readouterr().out

    assert main([str(home), "--no-manifest", "--force"]) == 0
    assert (home / "dagster.yaml").read_bytes() == INSTANCE_YAML.read_bytes()


def test_without_a_home_it_says_so(monkeypatch, capsys):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert main(["--no-manifest"]) == 2
    assert capsys.readouterr().err.strip() == "error: name the Dagster home folder or set DAGSTER_HOME"


def test_the_instance_file_reads_every_connection_setting_from_the_environment():
    """No credential in the shipped file: every PostgreSQL field is an `env:` reference."""
    db = yaml.safe_load(INSTANCE_YAML.read_text())["storage"]["postgres"]["postgres_db"]
    env = {k: v["env"] for k, v in db.items() if isinstance(v, dict)}
    assert env == {
        "hostname": "DAGSTER_PG_HOST",
        "port": "DAGSTER_PG_PORT",
        "db_name": "DAGSTER_PG_DB",
        "username": "DAGSTER_PG_USERNAME",
        "password": "DAGSTER_PG_PASSWORD",
    }

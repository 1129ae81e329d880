"""Every setting as a Dagster resource field (docs/deploy.md, section 2): a variable set when the code
location loads is an `EnvVar` reference, an unset one an empty field read when the run starts; the
command line resolves the same resources the same way; malformed values fail with one line naming the
variable; a run's config overrides a field for that run; secrets appear nowhere Dagster or the ledger
stores anything.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import (
    DagsterInstance,
    DagsterInvalidConfigError,
    Definitions,
    MaterializeResult,
    MetadataValue,
    asset,
)
from dagster._core.remote_representation.external_data import RepositorySnap
from dagster_shared.serdes import serialize_value

from dagster_project.ai.client import LLMSettings
from dagster_project.assets.sync_assets import sync_assets
from dagster_project.core.settings import Settings
from dagster_project.resources import (
    SETTINGS_RESOURCES,
    WarehouseResource,
    build_resources,
    llm_settings,
    resolve,
    run_config_resources,
    sync_settings,
    warehouse_settings,
)
from dagster_project.resources.fields import EnvFields
from sync.settings import SyncSettings
from tests.standins import start_all
from tests.standins.marts import demo
from tests.sync.conftest import FAST

# Distinctive values: found anywhere, they leaked.
OPENAI_KEY = "sk-test-c0ffee-resources-9f3e"
STANDIN_SECRETS = ("standin-intercom-token", "xoxb-standin-token", "standin-appcues-key", "standin-appcues-secret",
                   "standin-calendly-token")


def _variables(kind: type[EnvFields]) -> set[str]:
    names = set(kind.variables_by_field().values())
    for nested in kind.nested_fields().values():
        names |= _variables(nested)
    return names


ALL_VARIABLES = set().union(*(_variables(kind) for kind in SETTINGS_RESOURCES.values()))


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch):
    """No setting of the resources in the environment but the ones a test sets."""
    for name in ALL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_a_variable_set_at_load_is_a_reference_and_an_unset_one_an_empty_field(env) -> None:
    env.setenv("ONBOARDING_DUCKDB_MEMORY_LIMIT", "300MB")
    env.setenv("SLACK_BOT_TOKEN", "xoxb-standin-token")
    snap = RepositorySnap.from_def(Definitions(resources=build_resources()).get_repository_def())
    configured = {r.name: r.configured_values for r in snap.resources}

    assert type(configured["warehouse"]["memory_limit"]).__name__ == "ResourceConfigEnvVarSnap"
    assert configured["warehouse"]["memory_limit"].name == "ONBOARDING_DUCKDB_MEMORY_LIMIT"
    assert configured["warehouse"]["db_path"] == "null"  # unset: read when the run starts
    assert '"bot_token": {"env": "SLACK_BOT_TOKEN"}' in configured["sync"]["slack"]
    assert set(snap.utilized_env_vars or {}) == {"ONBOARDING_DUCKDB_MEMORY_LIMIT", "SLACK_BOT_TOKEN"}
    # Every variable the parsers read is a field: nothing is read past the resources.
    assert {"ONBOARDING_DB", "ONBOARDING_MAX_FILE_BYTES", "ONBOARDING_ALLOW_EMPTY_RELOAD", "SYNC_SLACK_RATE_LIMIT",
            "SYNC_MESSAGE_MAX_AGE_DAYS", "OPENAI_API_KEY", "ONBOARDING_LLM_MAX_CALLS"} <= ALL_VARIABLES


def test_the_command_line_resolves_a_variable_as_the_parsers_do(env) -> None:
    values = {"ONBOARDING_DB": "/tmp/elsewhere.duckdb", "ONBOARDING_LOCK_TIMEOUT": "2.5",
              "ONBOARDING_MAX_FILE_BYTES": "1000", "ONBOARDING_ALLOW_EMPTY_RELOAD": "yes",
              "SYNC_INTERCOM_RATE_LIMIT": "7", "SYNC_SLACK_CHANNEL_INTERVAL": "0", "SYNC_MESSAGE_MAX_AGE_DAYS": "none",
              "INTERCOM_ACCESS_TOKEN": "standin-intercom-token", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
              "ONBOARDING_LLM_MAX_CALLS": "12", "ONBOARDING_LLM_PRICES": '{"local": [1, 2]}'}
    for name, value in values.items():
        env.setenv(name, value)
    resolved = warehouse_settings()
    assert resolved == Settings.from_env()
    assert (resolved.lock_timeout, resolved.max_file_bytes, resolved.allow_empty_reload) == (2.5, 1000, True)
    assert sync_settings() == SyncSettings.from_env()
    assert sync_settings().intercom.transport.rate_limit == 7 and sync_settings().message_max_age_days is None
    assert llm_settings() == LLMSettings.from_variables(values)
    assert (llm_settings().max_calls, llm_settings().prices["local"]) == (12, (1.0, 2.0))


@pytest.mark.parametrize(("key", "variable", "value"), [
    ("warehouse", "ONBOARDING_LOCK_TIMEOUT", "soon"),
    ("warehouse", "ONBOARDING_DUCKDB_MEMORY_LIMIT", "lots"),
    ("warehouse", "ONBOARDING_ALLOW_EMPTY_RELOAD", "maybe"),
    ("warehouse", "ONBOARDING_MAX_FILE_BYTES", "-1"),
    ("sync", "SYNC_SLACK_RATE_LIMIT", "fast"),
    ("sync", "INTERCOM_ADMIN_ID", "bob"),
    ("sync", "CALENDLY_API_BASE", "ftp://calendly"),
    ("llm", "ONBOARDING_LLM_TIMEOUT", "-1"),
    ("llm", "ONBOARDING_LLM_CONCURRENCY", "many"),
    ("llm", "ONBOARDING_LLM_PRICES", "{not json"),
])
def test_a_malformed_value_is_one_line_naming_its_variable(env, key: str, variable: str, value: str) -> None:
    env.setenv(variable, value)
    with pytest.raises(ValueError, match=re.escape(variable)) as error:
        resolve(key)
    assert "\n" not in str(error.value)


def _secret_env(env: pytest.MonkeyPatch, standins: Any) -> None:
    for name, value in {**FAST, **standins.env()}.items():
        env.setenv(name, value)
    env.setenv("OPENAI_API_KEY", OPENAI_KEY)


_SNAPSHOT = """
import sys
from pathlib import Path
from dagster._core.remote_representation.external_data import JobDataSnap, RepositorySnap
from dagster._core.snap.snap_to_yaml import default_values_yaml_from_type_snap
from dagster_shared.serdes import serialize_value
from dagster_project.definitions import defs

repo = defs.get_repository_def()
job = JobDataSnap.from_job_def(repo.get_job("daily_onboarding"), include_parent_snapshot=False).job
schema = job.config_schema_snapshot
root = schema.get_config_snap(job.mode_def_snaps[0].root_config_key)
Path(sys.argv[1]).write_text(serialize_value(RepositorySnap.from_def(repo)))
Path(sys.argv[2]).write_text(default_values_yaml_from_type_snap(schema, root))
"""


@pytest.mark.slow  # loads the whole code location (dbt's assets included) in a process of its own: 43 s, loaded machine
def test_no_secret_in_what_dagster_serialises_of_the_code_location(env, tmp_path: Path) -> None:
    """The UI sees the code location through its snapshot: resources' config, every job's config
    schema and the launchpad's default config. Loaded (as a code server does) in a process whose
    environment holds the secrets, they are references or masked there, never values."""
    from dagster_project.dbt_project import prepare_manifest

    prepare_manifest()  # the code location loads the manifest (made once per project state)
    names = ("INTERCOM_ACCESS_TOKEN", "SLACK_BOT_TOKEN", "APPCUES_API_KEY", "APPCUES_API_SECRET", "CALENDLY_TOKEN")
    secrets = {**dict(zip(names, STANDIN_SECRETS, strict=True)), "OPENAI_API_KEY": OPENAI_KEY}
    snapshot, yaml = tmp_path / "snapshot.json", tmp_path / "launchpad.yaml"
    subprocess.run([sys.executable, "-c", _SNAPSHOT, str(snapshot), str(yaml)], check=True,
                   env={**os.environ, **secrets}, timeout=600)
    snap, launchpad = snapshot.read_text(), yaml.read_text()
    for secret in (*STANDIN_SECRETS, OPENAI_KEY):
        assert secret not in snap and secret not in launchpad, secret
    assert '"INTERCOM_ACCESS_TOKEN"' in snap  # the reference is there
    assert "access_token: '********'" in launchpad and "api_key: '********'" in launchpad  # masked
    assert "env: ONBOARDING_LOCK_TIMEOUT" not in launchpad  # (unset variables are not referenced)


@asset
def probe(warehouse: WarehouseResource) -> MaterializeResult:
    """What a step's warehouse connection is given: DuckDB's memory limit as the step sees it."""
    with warehouse.connect() as con:
        limit = con.execute("select current_setting('memory_limit')").fetchone()[0]
    return MaterializeResult(metadata={"memory_limit": MetadataValue.text(limit)})


def _duckdb_shows(limit: str) -> str:
    with duckdb.connect() as con:
        con.execute(f"set memory_limit = '{limit}'")
        return con.execute("select current_setting('memory_limit')").fetchone()[0]


def _metadata(result: Any) -> dict[str, dict[str, Any]]:
    return {e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
            for e in result.get_asset_materialization_events()}


@pytest.mark.slow  # two live syncs of a small warehouse against the stand-ins: 57 s, loaded machine
def test_a_real_run_stores_no_secret_and_takes_overrides_and_the_environment_at_run_time(
    env, tmp_path: Path
) -> None:
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        demo(con, users=8)
    standins = start_all()
    try:
        _secret_env(env, standins)
        env.setenv("ONBOARDING_DB", str(db))
        env.setenv("ONBOARDING_DUCKDB_MEMORY_LIMIT", "300MB")
        env.setenv("SYNC_INTERCOM_RATE_LIMIT", "7")
        # The code location loads (its definitions hold EnvVar references for what is set now) ...
        defs = Definitions(assets=[*sync_assets, probe], resources=build_resources())
        job = defs.resolve_implicit_global_asset_job_def()
        # ... then the environment changes before the runs: a value is read when a run starts, and a
        # variable set only now fills its empty field.
        env.setenv("SYNC_INTERCOM_RATE_LIMIT", "9")
        env.setenv("SYNC_SLACK_RATE_LIMIT", "11")
        home = tmp_path / "dagster_home"
        home.mkdir()
        with DagsterInstance.local_temp(str(home)) as instance:
            plain = job.execute_in_process(instance=instance)
            override = job.execute_in_process(instance=instance, run_config={"resources": {
                "warehouse": {"config": {"memory_limit": "123MB"}},
                "sync": {"config": {"calendly": {"rate_limit": "5"}}},
            }})
            stored = [serialize_value(instance.get_run_by_id(r.run_id).run_config) for r in (plain, override)]
            events = [serialize_value(e) for r in (plain, override) for e in instance.all_logs(r.run_id)]
    finally:
        standins.stop()

    assert plain.success and override.success
    first, second = _metadata(plain), _metadata(override)
    assert first["probe"]["memory_limit"] == _duckdb_shows("300MB")
    assert second["probe"]["memory_limit"] == _duckdb_shows("123MB")  # the run's override reached the step
    assert first["sync/intercom"]["pace"].startswith("9 requests")  # the value at run time, not at load
    assert first["sync/slack"]["pace"].startswith("11 requests")  # set after the load, read at run time
    assert second["sync/calendly"]["pace"].startswith("5 requests")  # the run's override
    assert second["sync/intercom"]["pace"].startswith("9 requests")  # the other fields keep their variables
    assert first["sync/intercom"]["dry_run"] is False and first["sync/intercom"]["requests"] > 0  # used the token
    with standins.intercom.lock:
        assert standins.intercom.messages  # the stand-in accepted the token

    with duckdb.connect(str(db), read_only=True) as con:
        tables = [t for (t,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'sync'").fetchall()]
        ledger = "\n".join(str(con.execute(f"select * from sync.{t}").fetchall()) for t in tables)
    stored_files = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    assert tables and stored and events
    for secret in (*STANDIN_SECRETS, OPENAI_KEY):
        assert secret not in ledger, f"{secret} in the ledger"
        assert not any(secret in text for text in stored), f"{secret} in a run's config"
        assert not any(secret in text for text in events), f"{secret} in the event log"
        assert secret.encode() not in stored_files, f"{secret} in the instance's storage"


def test_onboarding_runs_config_names_variables_never_their_values(env, tmp_path: Path) -> None:
    """pipeline.run_config: the resources' config as the code location builds it now (references),
    plus only the warehouse settings a caller chose that differ from the environment's."""
    env.setenv("ONBOARDING_LANDING", str(tmp_path / "landing"))
    env.setenv("INTERCOM_ACCESS_TOKEN", "standin-intercom-token")
    from_env = run_config_resources(warehouse_settings())
    assert from_env == {"warehouse": {"config": {"landing": {"env": "ONBOARDING_LANDING"}}},
                        "sync": {"config": {"intercom": {"access_token": {"env": "INTERCOM_ACCESS_TOKEN"}}}},
                        "llm": {"config": {}}}  # every resource: the definitions' defaults may name unset variables
    chosen = run_config_resources(warehouse_settings().with_paths(db_path=tmp_path / "other.duckdb"))
    assert chosen["warehouse"]["config"] == {"landing": {"env": "ONBOARDING_LANDING"},
                                             "db_path": str(tmp_path / "other.duckdb")}


def test_a_run_from_this_process_does_not_need_a_variable_the_definitions_saw_at_load(env, tmp_path: Path) -> None:
    """`onboarding run` runs the definitions this process imported: a variable set then and unset
    since fails a run that takes their defaults, not one given `run_config_resources()`."""
    env.setenv("ONBOARDING_DB", str(tmp_path / "warehouse.duckdb"))
    env.setenv("ONBOARDING_LOCK_TIMEOUT", "5")
    job = Definitions(assets=[probe], resources=build_resources()).resolve_implicit_global_asset_job_def()
    env.delenv("ONBOARDING_LOCK_TIMEOUT")
    with DagsterInstance.ephemeral() as instance:
        with pytest.raises(DagsterInvalidConfigError, match='variable "ONBOARDING_LOCK_TIMEOUT" which is not set'):
            job.execute_in_process(instance=instance)
        assert job.execute_in_process(instance=instance, run_config={"resources": run_config_resources()}).success

"""The code location: it loads, groups assets by stage, partitions by day, and its sensor sees files."""

from __future__ import annotations

import gzip
import os
import re
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    DailyPartitionsDefinition,
    Definitions,
    PartitionKeyRange,
    SkipReason,
    asset,
    build_sensor_context,
    define_asset_job,
)
from dagster_dbt import DbtCliResource, DbtProject

from dagster_project.partitions import first_landing_day
from dagster_project.resources import WarehouseResource
from sync.settings import DESTINATIONS


def test_definitions_load_with_groups_and_daily_partitions():
    from dagster_project.definitions import defs

    graph = defs.resolve_asset_graph()
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups == {"ingest", "staging", "decisions", "ai", "sync", "reporting"}  # no stray "default" group
    raw = graph.get(AssetKey(["raw", "segment_events"]))
    assert raw.partitions_def is not None
    assert raw.partitions_def.get_first_partition_key() == "2026-01-01"  # tests/conftest.py sets the start
    # dbt sources are wired to the ingest assets: staging depends on raw
    stg = graph.get(AssetKey(["staging", "stg_segment__tracks"]))
    assert AssetKey(["raw", "segment_events"]) in stg.parent_keys
    job = defs.resolve_job_def("daily_onboarding")
    assert job.partitions_def is not None
    # dbt tests show up as asset checks
    assert any(k.asset_key == AssetKey(["staging", "stg_segment__tracks"]) for k in graph.asset_check_keys)


def test_first_landing_day_comes_from_the_files(tmp_path: Path, monkeypatch):
    folder = tmp_path / "segment" / "segment-logs" / "src" / str(
        int(datetime(2026, 3, 4, tzinfo=UTC).timestamp() * 1000)
    )
    folder.mkdir(parents=True)
    (folder / "1.gz").write_bytes(gzip.compress(b"{}\n"))
    (tmp_path / "mixpanel").mkdir()
    (tmp_path / "mixpanel" / "2026-03-09.jsonl.gz").write_bytes(gzip.compress(b"{}\n"))
    monkeypatch.delenv("ONBOARDING_START_DATE")
    monkeypatch.setenv("ONBOARDING_LANDING", str(tmp_path))
    assert first_landing_day() == date(2026, 3, 4)


def test_sensor_requests_a_run_per_new_or_changed_day(tmp_path: Path, monkeypatch):
    from dagster_project.assets.jobs import LANDING_DAYS_TAG, landing_files_sensor

    monkeypatch.setenv("ONBOARDING_LANDING", str(tmp_path))
    (tmp_path / "signups").mkdir()
    (tmp_path / "signups" / "2026-03-04.jsonl").write_text("{}\n")
    (tmp_path / "signups" / "2026-03-05.jsonl").write_text("{}\n")
    with DagsterInstance.ephemeral() as instance:
        warehouse = {"warehouse": WarehouseResource()}  # the sensor reads the landing location from it
        context = build_sensor_context(instance=instance, resources=warehouse)
        (first,) = landing_files_sensor(context)  # the new days in one range run
        assert first.tags[LANDING_DAYS_TAG] == "2026-03-04,2026-03-05"
        context = build_sensor_context(instance=instance, cursor=context.cursor, resources=warehouse)
        assert [type(r) for r in landing_files_sensor(context)] == [SkipReason]
        (tmp_path / "signups" / "2026-03-05.jsonl").write_text('{}\n{"more": 1}\n')
        context = build_sensor_context(instance=instance, cursor=context.cursor, resources=warehouse)
        assert [r.partition_key for r in landing_files_sensor(context)] == ["2026-03-05"]


@pytest.mark.slow  # three real dbt parses (~20 s each on two cores)
def test_manifest_is_parsed_again_only_when_the_project_or_warehouse_changes(tmp_path: Path, monkeypatch):
    """On a copy of the dbt project: the parses write target/ and the test bumps a seed's mtime, which
    in the shared project would change the manifest under a pipeline run of the other xdist worker."""
    import dagster_project.dbt_project as module
    from dagster_project.core.settings import DBT_PROJECT_DIR, Settings

    project_dir = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project_dir, ignore=shutil.ignore_patterns("target", "logs"))
    monkeypatch.setattr(module, "dbt_project", DbtProject(project_dir=project_dir, profiles_dir=project_dir))
    calls = []
    real_prepare = module.ManifestPreparer.prepare
    monkeypatch.setattr(module.ManifestPreparer, "prepare", lambda self, project: calls.append(1) or real_prepare(self, project))

    def no_adapter_here(self, args):
        raise AssertionError("the parse built dbt's adapter inside this process")

    # The parse runs dbt in its own process only (dbt_project.ManifestPreparer).
    monkeypatch.setattr(DbtCliResource, "_initialize_dbt_core_adapter", no_adapter_here)
    stamp = Path(module.dbt_project.manifest_path).with_name("manifest.fingerprint")
    monkeypatch.setenv("ONBOARDING_DB", str(tmp_path / "a.duckdb"))
    module.prepare_manifest()
    module.prepare_manifest()
    assert len(calls) == 1  # unchanged: the second call skips the ~20 s parse
    monkeypatch.setenv("ONBOARDING_DB", str(tmp_path / "b.duckdb"))
    module.prepare_manifest()
    assert len(calls) == 2  # another warehouse file: the manifest names its database
    seeds = project_dir / "seeds" / "csm_roster.csv"
    stat = seeds.stat()
    os.utime(seeds, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    module.prepare_manifest()
    assert len(calls) == 3  # a project file changed
    # The parses wrote into the copy; the shared project's target/ was left alone.
    assert stamp.is_relative_to(project_dir) and stamp.read_text() == module._fingerprint(Settings.from_env())
    # (The shared project's target/ is not compared any more: since the fingerprint names the warehouse
    # file, the other xdist worker's pipeline runs re-parse it while this test runs.)


def _mtimes(folder: Path) -> dict[str, int]:
    """Modification times of the parse's files in a dbt target folder (the manifest and its stamp)."""
    names = ("manifest.json", "manifest.fingerprint", "partial_parse.msgpack")
    return {n: (folder / n).stat().st_mtime_ns for n in names if (folder / n).exists()}


def test_a_run_tagged_with_the_range_sees_the_range():
    """pipeline.py spells out Dagster's range tags (no public name): a run tagged so covers the range."""
    from dagster_project.pipeline import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG

    seen: list[PartitionKeyRange] = []

    @asset(partitions_def=DailyPartitionsDefinition(start_date="2026-01-01"))
    def daily(context) -> None:  # context unannotated: under `from __future__ import annotations` Dagster cannot check it
        seen.append(context.partition_key_range)

    job = Definitions(assets=[daily], jobs=[define_asset_job("j")]).resolve_job_def("j")
    result = job.execute_in_process(tags={PARTITION_RANGE_START_TAG: "2026-01-02", PARTITION_RANGE_END_TAG: "2026-01-05"})
    assert result.success
    assert seen == [PartitionKeyRange("2026-01-02", "2026-01-05")]


@pytest.mark.slow  # a whole pipeline run over one small day (~40 s)
def test_run_pipeline_settings_reach_every_step_through_the_resource(tmp_path: Path, monkeypatch):
    """The paths given to run_pipeline are the ones the ingest, dbt, AI and sync steps use, whatever
    ONBOARDING_DB / ONBOARDING_LANDING say, and the run leaves os.environ as it found it."""
    import duckdb

    from dagster_project.core.settings import Settings
    from dagster_project.dbt_project import prepare_manifest
    from dagster_project.demo import generate
    from dagster_project.pipeline import run_pipeline

    landing, db = tmp_path / "landing", tmp_path / "run" / "warehouse.duckdb"
    generate(landing, users=20, days=1, seed=3, end_date=date(2026, 3, 2), malformed_rate=0.0)
    monkeypatch.setenv("ONBOARDING_DB", str(tmp_path / "decoy" / "warehouse.duckdb"))
    monkeypatch.setenv("ONBOARDING_LANDING", str(tmp_path / "no-landing"))
    prepare_manifest()  # the decoy's stem is the same: the manifest names the same database
    before = dict(os.environ)

    result = run_pipeline(date(2026, 3, 2), date(2026, 3, 2), settings=Settings.from_env().with_paths(db, landing))

    assert result.success, result.failures
    assert dict(os.environ) == before
    assert not (tmp_path / "decoy").exists()
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from raw.load_log").fetchone()[0] > 0  # ingest read `landing`
        assert con.execute("select count(*) from marts.user_onboarding").fetchone()[0] > 0  # dbt wrote `db`
        assert con.execute("select count(*) from sync.runs").fetchone()[0] == len(DESTINATIONS)  # and so did the sync


def test_the_code_location_has_one_name_everywhere():
    """pyproject's [tool.dagster], the shipped workspace.yaml (make dev, the deployment) and the origin
    `onboarding run` records name the same location: else the UI files the CLI's runs elsewhere."""
    import tomllib

    import yaml

    from dagster_project.deploy import CODE_LOCATION_NAME, DEFINITIONS_MODULE, WORKSPACE_YAML
    from dagster_project.pipeline import job_origins

    root = Path(__file__).resolve().parents[1]
    tool = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["dagster"]
    (entry,) = yaml.safe_load(WORKSPACE_YAML.read_text())["load_from"]
    assert (tool["module_name"], tool["code_location_name"]) == (DEFINITIONS_MODULE, CODE_LOCATION_NAME)
    assert entry["python_module"] == {"module_name": DEFINITIONS_MODULE, "location_name": CODE_LOCATION_NAME}
    recon, origin = job_origins()
    assert origin.repository_origin.code_location_origin.location_name == CODE_LOCATION_NAME
    assert recon.get_definition().name == origin.job_name == "daily_onboarding"


@pytest.mark.slow  # reads the session's `onboarding run` (tests/conftest.py `cli_run`)
def test_a_cli_run_is_filed_under_the_job_of_the_code_location(cli_run):
    """Issue 16 item 8: `onboarding run`'s run carries the code location's origin, so the UI lists it in
    the job's history (the query below is the one the UI's job page makes) and can re-execute it; and it
    still runs in the command's process (its progress display sees the steps: the dbt decisions' line)."""
    from dagster import DagsterRunStatus, RunsFilter

    from dagster_project.deploy import CODE_LOCATION_NAME, DEFINITIONS_MODULE

    assert cli_run.exit_code == 0, cli_run.stdout[-3000:] + cli_run.stderr[-3000:]
    # in-process: the CLI's progress sink saw the dbt decisions step's events
    assert re.search(r"^dbt decisions: [\d,]+ nodes in", cli_run.stderr, re.M), cli_run.stderr
    with cli_run.instance() as instance:
        run = instance.get_run_by_id(cli_run.run_id)
        label = f"__repository__@{CODE_LOCATION_NAME}"
        assert run.status == DagsterRunStatus.SUCCESS
        assert run.remote_job_origin.repository_origin.get_label() == label
        assert run.job_code_origin.repository_origin.code_pointer.module == DEFINITIONS_MODULE
        history = instance.get_runs(RunsFilter(job_name="daily_onboarding", tags={".dagster/repository": label}))
        assert [r.run_id for r in history] == [cli_run.run_id]

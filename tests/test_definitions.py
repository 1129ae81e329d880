"""The code location: it loads, groups assets by stage, partitions by day, and its sensor sees files."""

from __future__ import annotations

import gzip
import os
from datetime import UTC, date, datetime
from pathlib import Path

from dagster import AssetKey, DagsterInstance, SkipReason, build_sensor_context
from dagster_dbt import DbtCliResource

from dagster_project.partitions import first_landing_day


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
    from dagster_project.assets.jobs import landing_files_sensor

    monkeypatch.setenv("ONBOARDING_LANDING", str(tmp_path))
    (tmp_path / "signups").mkdir()
    (tmp_path / "signups" / "2026-03-04.jsonl").write_text("{}\n")
    (tmp_path / "signups" / "2026-03-05.jsonl").write_text("{}\n")
    with DagsterInstance.ephemeral() as instance:
        context = build_sensor_context(instance=instance)
        first = list(landing_files_sensor(context))
        assert sorted(r.partition_key for r in first) == ["2026-03-04", "2026-03-05"]
        context = build_sensor_context(instance=instance, cursor=context.cursor)
        assert [type(r) for r in landing_files_sensor(context)] == [SkipReason]
        (tmp_path / "signups" / "2026-03-05.jsonl").write_text('{}\n{"more": 1}\n')
        context = build_sensor_context(instance=instance, cursor=context.cursor)
        assert [r.partition_key for r in landing_files_sensor(context)] == ["2026-03-05"]


def test_manifest_is_parsed_again_only_when_the_project_or_warehouse_changes(tmp_path: Path, monkeypatch):
    import dagster_project.dbt_project as module

    calls = []
    real_prepare = module._Preparer.prepare
    monkeypatch.setattr(module._Preparer, "prepare", lambda self, project: calls.append(1) or real_prepare(self, project))

    def no_adapter_here(self, args):
        raise AssertionError("the parse built dbt's adapter inside this process")

    # The parse runs dbt in its own process only (dbt_project._Preparer).
    monkeypatch.setattr(DbtCliResource, "_initialize_dbt_core_adapter", no_adapter_here)
    stamp = Path(module.dbt_project.manifest_path).with_name("manifest.fingerprint")
    monkeypatch.setenv("ONBOARDING_DB", str(tmp_path / "a.duckdb"))
    stamp.unlink(missing_ok=True)
    module.prepare_manifest()
    module.prepare_manifest()
    assert len(calls) == 1  # unchanged: the second call skips the ~20 s parse
    monkeypatch.setenv("ONBOARDING_DB", str(tmp_path / "b.duckdb"))
    module.prepare_manifest()
    assert len(calls) == 2  # another warehouse file: the manifest names its database
    seeds = Path(module.dbt_project.project_dir) / "seeds" / "csm_roster.csv"
    stat = seeds.stat()
    os.utime(seeds, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    module.prepare_manifest()
    assert len(calls) == 3  # a project file changed

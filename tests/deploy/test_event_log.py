"""The project's SQLite event log (dagster_project/deploy/event_log.py) against Dagster's own.

A partitioned asset materialized over a range of days in one run, once on an instance made from the
project's dagster.yaml and once on Dagster's default SQLite instance: both must answer every question
the UI and the sensors ask the same way (which days are materialized, the latest one, each day's data
version), and the project's must write the range's events in a few transactions, not one per day.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    BackfillPolicy,
    DagsterInstance,
    DailyPartitionsDefinition,
    asset,
    materialize,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from dagster_project.core.settings import temporary_env
from dagster_project.deploy.event_log import BATCH_SIZE_ENV, BatchingSqliteEventLogStorage

DAYS = DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-03-02")
PROJECT_YAML = Path(__file__).resolve().parents[2] / "dagster_project" / "dagster.yaml"


@asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.single_run())
def upstream(context) -> None:
    return None


@asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.single_run(), deps=[upstream])
def downstream(context) -> None:
    return None


def _run_range(home: Path, project_yaml: bool) -> dict:
    home.mkdir()
    if project_yaml:
        shutil.copyfile(PROJECT_YAML, home / "dagster.yaml")
    with (
        temporary_env({"DAGSTER_HOME": str(home), BATCH_SIZE_ENV: "1000"}),
        DagsterInstance.get() as instance,
    ):
        storage = instance.event_log_storage
        opened = []
        connect = storage._connect
        storage._connect = lambda shard: opened.append(shard) or connect(shard)  # count transactions
        keys = DAYS.get_partition_keys()
        result = materialize(
            [upstream, downstream],
            instance=instance,
            tags={ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]},
        )
        assert result.success
        answers = {"storage": type(storage).__name__, "connections": len(opened)}
        for key in (AssetKey("upstream"), AssetKey("downstream")):
            records = instance.fetch_materializations(key, limit=1000).records
            answers[key.to_user_string()] = {
                "materialized": sorted(instance.get_materialized_partitions(key)),
                "latest": instance.get_latest_materialization_event(key).dagster_event.partition,
                "order": [r.event_log_entry.dagster_event.partition for r in records],
                "data versions": {
                    r.event_log_entry.dagster_event.partition: r.asset_materialization.tags.get(
                        "dagster/data_version"
                    )
                    for r in records
                },
                "status": sorted(instance.get_status_by_partition(key, keys, DAYS).items())[::20],
            }
        return answers


@pytest.mark.filterwarnings("ignore::dagster.BetaWarning")
def test_the_batching_log_answers_as_dagsters_own_with_a_fraction_of_the_transactions(tmp_path: Path) -> None:
    ours = _run_range(tmp_path / "ours", project_yaml=True)
    theirs = _run_range(tmp_path / "theirs", project_yaml=False)
    assert ours["storage"] == BatchingSqliteEventLogStorage.__name__
    assert theirs["storage"] == "SqliteEventLogStorage"
    for key in ("upstream", "downstream"):
        assert len(ours[key]["materialized"]) == len(DAYS.get_partition_keys()) == 60
        assert ours[key]["latest"] == "2026-03-01"
        for question in ("materialized", "latest", "order", "status"):
            assert ours[key][question] == theirs[key][question], question
        # data versions are computed from the run's own inputs: present for every day in both
        assert set(ours[key]["data versions"]) == set(theirs[key]["data versions"])
        assert all(ours[key]["data versions"].values())
    # Dagster's own: two connections per materialization (run shard and index); ours: two per asset.
    assert theirs["connections"] >= 2 * 2 * 60
    assert ours["connections"] < theirs["connections"] - 2 * 2 * 55, (
        ours["connections"],
        theirs["connections"],
    )

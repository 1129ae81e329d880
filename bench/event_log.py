"""`python -m bench event_log`: one range run of many daily-partitioned assets in one step (as a dbt
step), stored by Dagster's SQLite event log and by the project's (dagster_project/deploy/event_log.py),
in the same invocation.

Why: on `make run`'s 90-day demo Dagster records one materialization per asset and day (~9,100), and
its SQLite storage writes each alone; the project's instance writes an asset's days together. The
assets here do nothing, so the figure is the event log's cost alone, the part of a range run that grows
with days x assets. Prints each storage's wall time, its transactions (connections opened) and the ratio.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from dagster import (
    AssetsDefinition,
    AssetSpec,
    BackfillPolicy,
    DagsterInstance,
    DailyPartitionsDefinition,
    MaterializeResult,
    materialize,
    multi_asset,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from dagster_project.core.settings import temporary_env
from dagster_project.deploy.event_log import BATCH_SIZE, BATCH_SIZE_ENV
from dagster_project.pipeline import PLANNED_EVENTS_ENV

from .common import say

PROJECT_YAML = Path(__file__).resolve().parents[1] / "dagster_project" / "dagster.yaml"


def _assets(count: int, days: DailyPartitionsDefinition) -> list[AssetsDefinition]:
    """`count` partitioned assets in one step, each reading the one before: the shape of a dbt step."""
    specs = [AssetSpec(f"a{i:03d}", deps=[f"a{i - 1:03d}"] if i else []) for i in range(count)]

    @multi_asset(specs=specs, partitions_def=days, backfill_policy=BackfillPolicy.single_run())
    def _step() -> Iterator[MaterializeResult]:
        for spec in specs:
            yield MaterializeResult(asset_key=spec.key)

    return [_step]


def _run(
    home: Path, project_yaml: bool, assets: list[AssetsDefinition], keys: list[str]
) -> tuple[float, int]:
    home.mkdir(parents=True)
    if project_yaml:
        shutil.copyfile(PROJECT_YAML, home / "dagster.yaml")
    with (
        # as `onboarding run`: the batch size, and one planned event per asset for the whole range
        temporary_env({"DAGSTER_HOME": str(home), BATCH_SIZE_ENV: BATCH_SIZE, PLANNED_EVENTS_ENV: "true"}),
        DagsterInstance.get() as instance,
    ):
        storage = instance.event_log_storage
        opened = [0]
        connect = storage._connect

        def counted(shard):
            opened[0] += 1
            return connect(shard)

        storage._connect = counted
        started = time.perf_counter()
        result = materialize(
            assets,
            instance=instance,
            tags={ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]},
        )
        seconds = time.perf_counter() - started
        assert result.success
        assert all(len(instance.get_materialized_partitions(k)) == len(keys) for a in assets for k in a.keys)
    return seconds, opened[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench event_log", description=__doc__)
    parser.add_argument("--assets", type=int, default=100, help="assets in the step (100, a dbt step's)")
    parser.add_argument("--days", type=int, default=90, help="days in the run's range (90, the demo's)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    days = DailyPartitionsDefinition(start_date="2026-01-01")
    keys = days.get_partition_keys()[: args.days]
    assets = _assets(args.assets, days)
    with tempfile.TemporaryDirectory() as tmp:
        theirs, theirs_tx = _run(Path(tmp) / "dagster", False, assets, keys)
        ours, ours_tx = _run(Path(tmp) / "project", True, assets, keys)
    events = args.assets * args.days
    say(f"event log: {args.assets} assets x {args.days} days = {events:,} materializations in one range run")
    say(f"  Dagster's SQLite event log:   {theirs:7.1f} s, {theirs_tx:,} connections")
    say(f"  the project's (batched):      {ours:7.1f} s, {ours_tx:,} connections")
    say(f"  ratio: {theirs / ours:.1f}x faster, {theirs_tx / max(ours_tx, 1):.1f}x fewer connections")
    return 0

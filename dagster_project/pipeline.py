"""Run the whole Dagster job in-process over a range of landing days (what `onboarding run` does).

A range runs as one run, exactly like a single-run backfill launched from the UI, so the CLI and the
UI exercise the same code path.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from dagster import DagsterInstance

from .core.settings import Settings, temporary_env
from .progress import Progress, progress_sink


@dataclass
class PipelineResult:
    success: bool
    run_id: str
    start: date
    end: date
    seconds: float
    failures: list[str] = field(default_factory=list)


def _instance() -> DagsterInstance:
    """The persistent instance when DAGSTER_HOME is set (runs then show up in `dagster dev`)."""
    if os.environ.get("DAGSTER_HOME"):
        Path(os.environ["DAGSTER_HOME"]).mkdir(parents=True, exist_ok=True)
        return DagsterInstance.get()
    return DagsterInstance.ephemeral()


# A run over a range of partitions, as a single-run backfill launched from the UI is: Dagster reads the
# range from these two run tags (documented for launching range runs: dagster-io/dagster discussion
# 11653). `execute_in_process` has no public range argument and Dagster exports no public name for the
# tags, so they are spelled out here; tests/test_definitions.py checks that a run tagged so sees the range.
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"

# Dagster's own switch: a run over a range of days records one "materialization planned" event per
# asset for the whole range, instead of one per asset and day. Why: with ~40 partitioned assets a
# 30-day run wrote ~1,200 planned events before its first step, each its own SQLite transaction in a
# persistent instance (`make run` on the demo: 103.7 s -> 64.6 s). The cost, as Dagster documents it:
# if such a run fails, its days are not marked failed in the UI's partition view (the run is). Only the
# command line sets it, for the run only; backfills launched from the UI keep Dagster's default. Set it
# to false to opt out.
PLANNED_EVENTS_ENV = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"


def run_config(settings: Settings) -> dict[str, Any]:
    """The run's config: the command line's progress logger, and the warehouse resource's paths."""
    paths = {"db_path": str(settings.db_path), "landing": str(settings.landing)}
    return {"loggers": {"progress": {}}, "resources": {"warehouse": {"config": paths}}}


def run_pipeline(
    start: date, end: date, progress: Progress | None = None, settings: Settings | None = None
) -> PipelineResult:
    """Materialise every asset for landing days start..end (inclusive) in one in-process run.

    The paths are `settings`' (default: `Settings.from_env()` at call time); they reach the steps as
    the config of the `warehouse` resource, and dbt through it.
    """
    from .definitions import defs

    settings = settings or Settings.from_env()
    job = defs.resolve_job_def("daily_onboarding")
    started = time.perf_counter()
    if progress:
        progress_sink.append(progress)
    try:
        # A user's own setting wins; ours holds for this run only.
        with temporary_env({PLANNED_EVENTS_ENV: os.environ.get(PLANNED_EVENTS_ENV, "true")}), _instance() as instance:
            result = job.execute_in_process(
                instance=instance,
                raise_on_error=False,
                tags={PARTITION_RANGE_START_TAG: start.isoformat(), PARTITION_RANGE_END_TAG: end.isoformat()},
                run_config=run_config(settings),
            )
    finally:
        if progress:
            progress_sink.pop()
    failures = [
        f"{e.step_key}: {e.event_specific_data.error.message.strip().splitlines()[0]}"  # type: ignore[union-attr]
        for e in result.all_events
        if e.event_type_value == "STEP_FAILURE"
    ]
    return PipelineResult(
        success=result.success,
        run_id=result.run_id,
        start=start,
        end=end,
        seconds=round(time.perf_counter() - started, 1),
        failures=failures,
    )

"""Run the whole Dagster job in-process over a range of landing days (what `onboarding run` does).

A range runs as one run, exactly like a single-run backfill launched from the UI, so the CLI and the
UI exercise the same code path. The run is recorded with the code location's origin, as a run the UI
launched would be: it shows in the job's history and the Overview timeline, and re-executes from the UI.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from dagster import DagsterInstance
from dagster._core.definitions.reconstruct import ReconstructableJob, ReconstructableRepository
from dagster._core.definitions.repository_definition.valid_definitions import SINGLETON_REPOSITORY_NAME
from dagster._core.execution.api import execute_run
from dagster._core.remote_origin import (
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from .assets.jobs import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG
from .core.settings import Settings, temporary_env
from .deploy import CODE_LOCATION_NAME, DEFINITIONS_MODULE
from .deploy.event_log import BATCH_SIZE, BATCH_SIZE_ENV, ephemeral_instance
from .progress import Progress, progress_sink

__all__ = ["PARTITION_RANGE_END_TAG", "PARTITION_RANGE_START_TAG", "PipelineResult", "run_pipeline"]

JOB_NAME = "daily_onboarding"


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
    return ephemeral_instance()  # Dagster's ephemeral instance, writing a range's events in batches


# A run over a range of partitions is tagged with the range (PARTITION_RANGE_*_TAG, defined beside the
# sensor that launches range runs too): Dagster has no public range argument for a run.


def job_origins(job_name: str = JOB_NAME) -> tuple[ReconstructableJob, RemoteJobOrigin]:
    """The job as the code location serves it: how to load it (its code origin) and where it lives (its
    remote origin: repository `__repository__` of location `onboarding`, as workspace.yaml names it).

    Why both: a run stored without a remote origin carries no `.dagster/repository` tag, so the UI
    lists it under Runs but not in the job's history or the Overview timeline, and warns on re-execute
    (issue 16, item 8). `execute_in_process` records neither and takes no origin; Dagster has no public
    way to record one on an in-process run, hence the internal names, all of them also used by
    `dagster job launch`. Only the location and repository names matter to the UI (its label).
    """
    recon = ReconstructableRepository.for_module(DEFINITIONS_MODULE, "defs").get_reconstructable_job(job_name)
    location = ManagedGrpcPythonEnvCodeLocationOrigin(
        LoadableTargetOrigin(executable_path=sys.executable, module_name=DEFINITIONS_MODULE),
        CODE_LOCATION_NAME,
    )
    return recon, RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME).get_job_origin(job_name)

# Dagster's own switch: a run over a range of days records one "materialization planned" event per
# asset for the whole range, instead of one per asset and day. Why: with ~40 partitioned assets a
# 30-day run wrote ~1,200 planned events before its first step, each its own SQLite transaction in a
# persistent instance (`make run` on the demo: 103.7 s -> 64.6 s). The cost, as Dagster documents it:
# if such a run fails, its days are not marked failed in the UI's partition view (the run is). Only the
# command line sets it, for the run only; backfills launched from the UI keep Dagster's default. Set it
# to false to opt out.
PLANNED_EVENTS_ENV = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"


def run_config(settings: Settings) -> dict[str, Any]:
    """The run's config: the command line's progress logger, and the resources' config as the code
    location builds it from the environment now (variable references, never a secret's value) with
    the warehouse settings of `settings` that differ from the environment's (a caller's own paths).
    The run then resolves every setting as a run launched from the UI does (docs/deploy.md, section 2;
    `resources.run_config_resources`)."""
    from .resources import run_config_resources

    return {"loggers": {"progress": {}}, "resources": run_config_resources(settings)}


def run_pipeline(
    start: date, end: date, progress: Progress | None = None, settings: Settings | None = None
) -> PipelineResult:
    """Materialise every asset for landing days start..end (inclusive) in one in-process run.

    The paths are `settings`' (default: `Settings.from_env()` at call time); they reach the steps as
    the config of the `warehouse` resource, and dbt through it.
    """
    settings = settings or Settings.from_env()
    recon, origin = job_origins()
    started = time.perf_counter()
    if progress:
        progress_sink.append(progress)
    try:
        # A user's own setting wins; ours holds for this run only.
        # An asset's per-day materializations are stored together (deploy/event_log.py).
        ours = {
            PLANNED_EVENTS_ENV: os.environ.get(PLANNED_EVENTS_ENV, "true"),
            BATCH_SIZE_ENV: os.environ.get(BATCH_SIZE_ENV, BATCH_SIZE),
        }
        with temporary_env(ours), _instance() as instance:
            # What `execute_job` does, plus the remote origin; the job's in-process executor keeps every
            # step (and the progress logger) in this process.
            job = recon.get_definition()
            run = instance.create_run_for_job(
                job_def=job,
                run_config=run_config(settings),
                tags={**job.run_tags, PARTITION_RANGE_START_TAG: start.isoformat(), PARTITION_RANGE_END_TAG: end.isoformat()},
                remote_job_origin=origin,
                job_code_origin=recon.get_python_origin(),
            )
            result = execute_run(recon, run, instance, raise_on_error=False)
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

"""The daily job, its schedule, and the sensor that notices new landing files."""

import json

from dagster import (
    AssetSelection,
    DagsterInstance,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SkipReason,
    build_schedule_from_partitioned_job,
    define_asset_job,
    sensor,
)

from ..core.settings import Settings
from ..ingest.files import landing_fingerprints
from ..partitions import daily_partitions

daily_job = define_asset_job(
    name="daily_onboarding",
    selection=AssetSelection.all(),  # daily partitions: inferred from the assets
    description="Ingest a landing day, build the dbt decisions for it and sync the results.",
)

daily_schedule = build_schedule_from_partitioned_job(
    daily_job, hour_of_day=2, default_status=DefaultScheduleStatus.STOPPED
)


# A failed day is requested again at most this many times for the same files; then it waits for its
# files to change (or for an operator's re-run), instead of failing every minute.
MAX_ATTEMPTS = 3
RUN_KEY_TAG = "dagster/run_key"  # the tag Dagster gives a run launched from a sensor's run key
_FAILED = (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)


def _run_status(instance: DagsterInstance, run_key: str) -> DagsterRunStatus | None:
    runs = instance.get_runs(filters=RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1)
    return runs[0].status if runs else None


def _read_cursor(cursor: str | None) -> tuple[dict[str, str], dict[str, dict]]:
    """(done: day -> fingerprint whose run succeeded, requested: day -> {fp, key, attempt})."""
    state = json.loads(cursor) if cursor else {}
    if state and "done" not in state:  # the cursor before issue 15: day -> fingerprint requested
        return dict(state), {}
    return dict(state.get("done", {})), dict(state.get("requested", {}))


@sensor(job=daily_job, minimum_interval_seconds=60, default_status=DefaultSensorStatus.STOPPED)
def landing_files_sensor(context: SensorEvaluationContext):
    """Request a run for every landing day whose files appeared or changed, until a run of it succeeds.

    A day is done when the run requested for its files succeeded, not when the run was requested: the
    cursor keeps the requested days with their run keys, and each tick looks their runs up in the
    instance. A failed (or canceled) run is requested again, with a new run key, up to MAX_ATTEMPTS
    times for the same files; a day whose files changed meanwhile is requested for the new files.
    """
    landing = Settings.from_env().landing
    done, requested = _read_cursor(context.cursor)
    fingerprints = landing_fingerprints(landing, set(daily_partitions.get_partition_keys()))
    requests: list[RunRequest] = []
    notes: list[str] = []
    for day, fp in sorted(fingerprints.items()):
        pending = requested.get(day)
        attempt = 0
        if pending and pending["fp"] == fp:
            status = _run_status(context.instance, pending["key"])
            if status == DagsterRunStatus.SUCCESS:
                done[day] = fp
                del requested[day]
                continue
            if status not in _FAILED:
                continue  # not launched yet, queued or running: look again next tick
            attempt = pending["attempt"] + 1
            if attempt >= MAX_ATTEMPTS:
                notes.append(f"{day} failed {attempt} times; waiting for its files to change or a manual run")
                continue
        elif done.get(day) == fp:
            continue
        key = f"{day}:{fp}:{attempt}"
        requested[day] = {"fp": fp, "key": key, "attempt": attempt}
        requests.append(RunRequest(run_key=key, partition_key=day))
    context.update_cursor(json.dumps({"done": done, "requested": requested}, sort_keys=True))
    if not requests:
        yield SkipReason("; ".join(notes) or "no new or changed landing files")
        return
    for note in notes:
        context.log.warning(note)
    yield from requests

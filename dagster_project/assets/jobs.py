"""The daily job, its schedule, and the sensor that notices new landing files."""

import hashlib
import json

from dagster import (
    AssetSelection,
    DagsterInstance,
    DagsterRun,
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

from ..ingest.files import landing_fingerprints
from ..partitions import daily_partitions
from ..resources import WarehouseResource
from .ingest import ingest_assets

daily_job = define_asset_job(
    name="daily_onboarding",
    selection=AssetSelection.all(),  # daily partitions: inferred from the assets
    description="Ingest a landing day, build the dbt decisions for it and sync the results.",
)

daily_schedule = build_schedule_from_partitioned_job(
    daily_job, hour_of_day=2, default_status=DefaultScheduleStatus.STOPPED
)


# A run over a range of days, as a single-run backfill launched from the UI is: Dagster reads the range
# from these two run tags (RunRequest.partition_key_range reads the same ones). Dagster exports no
# public name for them; tests/test_definitions.py checks that a run tagged so sees the range.
PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"
# The landing days whose files were new or changed, on a sensor's run: the range may hold days that
# were done already (a gap between two new days), and the preview and the run's tags say which ones.
LANDING_DAYS_TAG = "onboarding/landing_days"

# A failed day is run at most this many times for the same files, counting the instance's own run
# retries (dagster.yaml `run_retries`) and the sensor's new requests alike; then it waits for its files
# to change (or for an operator's re-run), instead of failing every minute.
MAX_ATTEMPTS = 3
RUN_KEY_TAG = "dagster/run_key"  # the tag Dagster gives a run launched from a sensor's run key
WILL_RETRY_TAG = "dagster/will_retry"  # set on a failed run the instance is about to retry
_FAILED = (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)
_INGEST_KEYS = [key for a in ingest_assets for key in a.keys]


def _runs(instance: DagsterInstance, run_key: str) -> list[DagsterRun]:
    """The runs of one request, newest first: the sensor's run and the instance's retries of it
    (a retry keeps its parent's tags, the run key among them)."""
    return list(instance.get_runs(filters=RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=MAX_ATTEMPTS + 1))


def _materialized_days(instance: DagsterInstance, days: set[str]) -> set[str]:
    """The days among `days` that every ingest asset has materialized, whoever ran them.

    Why: the sensor is usually turned on after `onboarding run` or a backfill loaded the history; those
    days have runs already, and requesting them again (30 runs for the demo) would redo a minute of work
    per day for nothing.
    """
    found = set(days)
    for key in _INGEST_KEYS:
        if not found:
            break
        found &= instance.get_materialized_partitions(key)
    return found


def _read_cursor(cursor: str | None) -> tuple[dict[str, str], dict[str, dict]]:
    """(done: day -> fingerprint whose run succeeded, requested: day -> {fp, key, attempt}).

    `attempt` counts the runs the day's files already had under earlier run keys.
    """
    state = json.loads(cursor) if cursor else {}
    if state and "done" not in state:  # the cursor before issue 15: day -> fingerprint requested
        return dict(state), {}
    return dict(state.get("done", {})), dict(state.get("requested", {}))


def _range_request(days: dict[str, tuple[str, int]]) -> RunRequest:
    """One run for the days (day -> (fingerprint, attempt)): a partition run for one day, else a range
    run from the first to the last. The run key names the range, hashes the files and counts the
    attempts, so a key is never used twice (Dagster would skip it), and the UI's preview names the days."""
    first, last = min(days), max(days)
    digest = hashlib.sha1(json.dumps(days, sort_keys=True).encode()).hexdigest()[:12]
    span = first if first == last else f"{first}..{last}"
    key = f"{span}:{len(days)}d:{digest}:{max(a for _, a in days.values())}"
    tags = {LANDING_DAYS_TAG: ",".join(sorted(days))}
    if first == last:
        return RunRequest(run_key=key, partition_key=first, tags=tags)
    return RunRequest(
        run_key=key, tags={**tags, PARTITION_RANGE_START_TAG: first, PARTITION_RANGE_END_TAG: last}
    )


@sensor(job=daily_job, minimum_interval_seconds=60, default_status=DefaultSensorStatus.STOPPED)
def landing_files_sensor(context: SensorEvaluationContext, warehouse: WarehouseResource):
    """Request one run over the landing days whose files appeared or changed and are not loaded yet.

    Every tick fingerprints each landing day's files. A day the sensor has not seen before and every
    ingest asset has already materialized (by `onboarding run`, a backfill, the schedule) is taken as
    done with its current files; the others, and days whose files changed since, go into ONE run over
    the range from the first to the last of them (DuckDB has one writer: runs queue anyway, and one
    range run starts dbt once instead of once per day).

    A day is done when the run requested for its files succeeded, not when the run was requested: the
    cursor keeps the requested days with their run keys, and each tick looks their runs up in the
    instance. A failed (or canceled) run is requested again, with a new run key, while the day's files
    had fewer than MAX_ATTEMPTS runs (the instance's automatic retries count); a failed run the
    instance is about to retry is waited for. A day whose files changed meanwhile is requested for the
    new files.
    """
    landing = warehouse.settings().landing
    done, requested = _read_cursor(context.cursor)
    fingerprints = landing_fingerprints(landing, set(daily_partitions.get_partition_keys()))
    unseen = {day for day, fp in fingerprints.items() if day not in done and day not in requested}
    for day in _materialized_days(context.instance, unseen):
        done[day] = fingerprints[day]
    runs_of: dict[str, list[DagsterRun]] = {}
    wanted: dict[str, tuple[str, int]] = {}
    notes: list[str] = []
    for day, fp in sorted(fingerprints.items()):
        pending = requested.get(day)
        attempt = 0
        if pending and pending["fp"] == fp:
            runs = runs_of.setdefault(pending["key"], _runs(context.instance, pending["key"]))
            latest = runs[0] if runs else None
            if latest and latest.status == DagsterRunStatus.SUCCESS:
                done[day] = fp
                del requested[day]
                continue
            if latest is None or latest.status not in _FAILED or latest.tags.get(WILL_RETRY_TAG) == "true":
                continue  # not launched yet, queued, running, or about to be retried: look next tick
            used = pending["attempt"] + len(runs)
            if used >= MAX_ATTEMPTS:
                notes.append(f"{day} failed {used} times; waiting for its files to change or a manual run")
                continue
            attempt = used
        elif done.get(day) == fp:
            continue
        wanted[day] = (fp, attempt)
    if wanted:
        request = _range_request(wanted)
        for day, (fp, attempt) in wanted.items():
            requested[day] = {"fp": fp, "key": request.run_key, "attempt": attempt}
    context.update_cursor(json.dumps({"done": done, "requested": requested}, sort_keys=True))
    for note in notes:
        context.log.warning(note)
    if not wanted:
        yield SkipReason("; ".join(notes) or "no new or changed landing files")
        return
    context.log.info(f"requesting one run for landing days {', '.join(sorted(wanted))}")
    yield request

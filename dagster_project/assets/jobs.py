"""The daily job, its schedule, and the sensor that notices new landing files."""

import hashlib
import json

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    build_schedule_from_partitioned_job,
    define_asset_job,
    sensor,
)

from ..core.settings import Settings
from ..ingest.files import SOURCES, iter_landing_files
from ..partitions import daily_partitions

daily_job = define_asset_job(
    name="daily_onboarding",
    selection=AssetSelection.all(),  # daily partitions: inferred from the assets
    description="Ingest a landing day, build the dbt decisions for it and sync the results.",
)

daily_schedule = build_schedule_from_partitioned_job(
    daily_job, hour_of_day=2, default_status=DefaultScheduleStatus.STOPPED
)


@sensor(job=daily_job, minimum_interval_seconds=60, default_status=DefaultSensorStatus.STOPPED)
def landing_files_sensor(context: SensorEvaluationContext):
    """Request a run for every landing day whose files appeared or changed since the last tick."""
    landing = Settings.from_env().landing
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    current: dict[str, list[str]] = {}
    for source in SOURCES:
        for f in iter_landing_files(landing, source):
            st = f.path.stat()
            current.setdefault(f.day.isoformat(), []).append(f"{f.relative}:{st.st_size}:{st.st_mtime_ns}")
    partitions = set(daily_partitions.get_partition_keys())
    fingerprints = {
        day: hashlib.sha1("\n".join(sorted(files)).encode()).hexdigest() for day, files in current.items()
    }
    changed = [d for d, fp in sorted(fingerprints.items()) if seen.get(d) != fp and d in partitions]
    if not changed:
        yield SkipReason("no new or changed landing files")
        return
    for day in changed:
        yield RunRequest(run_key=f"{day}:{fingerprints[day]}", partition_key=day)
    context.update_cursor(json.dumps(fingerprints))

"""The landing sensor: a day is done when its run succeeded; a failed day is requested again (issue 15
item 13); days already materialized are not requested, the others go into one range run (issue 16 item 8)."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunRequest,
    build_sensor_context,
)

from dagster_project.assets.ingest import RAW_SOURCES
from dagster_project.assets.jobs import (
    LANDING_DAYS_TAG,
    MAX_ATTEMPTS,
    PARTITION_RANGE_END_TAG,
    PARTITION_RANGE_START_TAG,
    RUN_KEY_TAG,
    WILL_RETRY_TAG,
    landing_files_sensor,
)
from dagster_project.ingest.files import landing_fingerprints
from dagster_project.partitions import daily_partitions
from dagster_project.resources import WarehouseResource


@pytest.fixture
def instance():
    with DagsterInstance.ephemeral() as inst:
        yield inst


@pytest.fixture
def days(tmp_path: Path, monkeypatch) -> list[str]:
    """Two landing days that are partitions, with a signup file each, in a landing of their own."""
    landing = tmp_path / "landing"
    (landing / "signups").mkdir(parents=True)
    keys = daily_partitions.get_partition_keys()[-2:]
    for day in keys:
        (landing / "signups" / f"{day}.jsonl").write_text('{"uid": "x"}\n')
    monkeypatch.setenv("ONBOARDING_LANDING", str(landing))
    return keys


def tick(instance: DagsterInstance, cursor: str | None) -> tuple[list[RunRequest], str | None]:
    # The sensor reads the landing location from the warehouse resource (ONBOARDING_LANDING, set above).
    context = build_sensor_context(instance=instance, cursor=cursor, resources={"warehouse": WarehouseResource()})
    result = list(landing_files_sensor(context) or [])
    return [r for r in result if isinstance(r, RunRequest)], context.cursor


def days_of(request: RunRequest) -> list[str]:
    """The days a request runs: its partition, or every day of its range."""
    if request.partition_key:
        return [request.partition_key]
    start, end = request.tags[PARTITION_RANGE_START_TAG], request.tags[PARTITION_RANGE_END_TAG]
    return [d for d in daily_partitions.get_partition_keys() if start <= d <= end]


def finish(instance: DagsterInstance, request: RunRequest, status: DagsterRunStatus, **tags: str) -> None:
    """What the daemon does with a request: a run tagged with its run key, here already ended."""
    partition = {"dagster/partition": request.partition_key} if request.partition_key else {}
    instance.add_run(
        DagsterRun(
            job_name="daily_onboarding",
            run_id=str(uuid.uuid4()),
            status=status,
            tags={**request.tags, **partition, RUN_KEY_TAG: request.run_key, **tags},
        )
    )


def materialize(instance: DagsterInstance, days: list[str], tables=tuple(RAW_SOURCES)) -> None:
    """What a run of `onboarding run` leaves in the instance: the ingest assets' materialized days."""
    for table in tables:
        for day in days:
            instance.report_runless_asset_event(AssetMaterialization(AssetKey(["raw", table]), partition=day))


def test_new_days_go_into_one_range_run_that_names_them(instance, days):
    requests, _ = tick(instance, None)
    assert len(requests) == 1
    (request,) = requests
    assert days_of(request) == days and request.partition_key is None
    assert request.tags[LANDING_DAYS_TAG] == ",".join(days)
    assert f"{days[0]}..{days[1]}" in request.run_key  # the UI's preview shows the run key and tags


def test_a_failed_run_is_requested_again_and_a_succeeded_one_is_done(instance, days):
    requests, cursor = tick(instance, None)
    assert [days_of(r) for r in requests] == [days]

    # Not launched yet, then running: nothing new is requested, the cursor keeps waiting.
    assert tick(instance, cursor)[0] == []

    finish(instance, requests[0], DagsterRunStatus.FAILURE)
    again, cursor = tick(instance, cursor)
    assert [days_of(r) for r in again] == [days]
    assert again[0].run_key != requests[0].run_key  # a new key: Dagster would skip a used one
    assert set(json.loads(cursor)["requested"]) == set(days)

    finish(instance, again[0], DagsterRunStatus.SUCCESS)
    assert tick(instance, cursor)[0] == []
    state = json.loads(tick(instance, cursor)[1])
    assert set(state["done"]) == set(days) and state["requested"] == {}


def test_a_day_failing_every_time_stops_being_requested_until_its_files_change(instance, days, tmp_path):
    cursor = None
    for _ in range(MAX_ATTEMPTS):
        requests, cursor = tick(instance, cursor)
        assert [days_of(r) for r in requests] == [days]
        finish(instance, requests[0], DagsterRunStatus.FAILURE)
    assert tick(instance, cursor)[0] == []
    (tmp_path / "landing" / "signups" / f"{days[1]}.jsonl").write_text('{"uid": "y"}\n{"uid": "z"}\n')
    requests, _ = tick(instance, cursor)
    assert [r.partition_key for r in requests] == [days[1]]  # one day: a plain partition run


def test_the_instance_retries_count_as_attempts_and_are_waited_for(instance, days):
    """With run retries on (deploy/dagster.yaml), a failed run the instance will retry is not requested
    again; its retries (same run key) use up the day's attempts, so a day fails MAX_ATTEMPTS runs, not
    MAX_ATTEMPTS times the instance's retries."""
    requests, cursor = tick(instance, None)
    finish(instance, requests[0], DagsterRunStatus.FAILURE, **{WILL_RETRY_TAG: "true"})
    assert tick(instance, cursor)[0] == []  # the instance retries it
    for _ in range(MAX_ATTEMPTS - 1):  # the retries, failed too: the budget is spent
        finish(instance, requests[0], DagsterRunStatus.FAILURE, **{WILL_RETRY_TAG: "false"})
    assert tick(instance, cursor)[0] == []


def test_days_already_materialized_are_not_requested(instance, days):
    """The sensor turned on after `make run`: the days the run loaded are done; a day only some ingest
    assets have (a run that failed half-way) is not."""
    materialize(instance, days)
    requests, cursor = tick(instance, None)
    assert requests == []
    assert set(json.loads(cursor)["done"]) == set(days)

    with DagsterInstance.ephemeral() as fresh:
        materialize(fresh, days[:1])
        materialize(fresh, days[1:], tables=("signups",))
        requests, _ = tick(fresh, None)
    assert [days_of(r) for r in requests] == [days[1:]]


def test_today_is_not_fingerprinted_before_it_is_a_partition(instance, days, tmp_path):
    """Before, today's files went into the cursor while today was no partition: never requested later."""
    today = datetime.now(UTC).date().isoformat()
    assert today not in daily_partitions.get_partition_keys()
    (tmp_path / "landing" / "signups" / f"{today}.jsonl").write_text('{"uid": "x"}\n')
    _, cursor = tick(instance, None)
    state = json.loads(cursor)
    assert today not in state["requested"] and today not in state["done"]
    assert set(state["requested"]) == set(days)


def test_the_cursor_before_the_fix_is_read_as_done_days(instance, days):
    landing = Path(os.environ["ONBOARDING_LANDING"])
    old = json.dumps(landing_fingerprints(landing, set(days)))
    assert tick(instance, old)[0] == []

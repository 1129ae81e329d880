"""The landing sensor (issue 15 item 13): a day is done when its run succeeded; a failed day is requested again."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, RunRequest, build_sensor_context

from dagster_project.assets.jobs import MAX_ATTEMPTS, RUN_KEY_TAG, landing_files_sensor
from dagster_project.ingest.files import landing_fingerprints
from dagster_project.partitions import daily_partitions


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
    context = build_sensor_context(instance=instance, cursor=cursor)
    result = list(landing_files_sensor(context) or [])
    return [r for r in result if isinstance(r, RunRequest)], context.cursor


def finish(instance: DagsterInstance, request: RunRequest, status: DagsterRunStatus) -> None:
    """What the daemon does with a request: a run tagged with its run key, here already ended."""
    instance.add_run(
        DagsterRun(
            job_name="daily_onboarding",
            run_id=str(uuid.uuid4()),
            status=status,
            tags={RUN_KEY_TAG: request.run_key, "dagster/partition": request.partition_key},
        )
    )


def test_a_failed_day_is_requested_again_and_a_succeeded_one_is_done(instance, days):
    requests, cursor = tick(instance, None)
    assert [r.partition_key for r in requests] == days

    # Not launched yet, then running: nothing new is requested, the cursor keeps waiting.
    assert tick(instance, cursor)[0] == []

    finish(instance, requests[0], DagsterRunStatus.SUCCESS)
    finish(instance, requests[1], DagsterRunStatus.FAILURE)
    again, cursor = tick(instance, cursor)
    assert [r.partition_key for r in again] == [days[1]]
    assert again[0].run_key != requests[1].run_key  # a new key: Dagster would skip a used one
    state = json.loads(cursor)
    assert set(state["done"]) == {days[0]} and set(state["requested"]) == {days[1]}

    finish(instance, again[0], DagsterRunStatus.SUCCESS)
    assert tick(instance, cursor)[0] == []
    assert set(json.loads(tick(instance, cursor)[1])["done"]) == set(days)


def test_a_day_failing_every_time_stops_being_requested_until_its_files_change(instance, days, tmp_path):
    cursor = None
    for _ in range(MAX_ATTEMPTS):
        requests, cursor = tick(instance, cursor)
        assert [r.partition_key for r in requests] == days
        for r in requests:
            finish(instance, r, DagsterRunStatus.FAILURE)
    assert tick(instance, cursor)[0] == []
    (tmp_path / "landing" / "signups" / f"{days[1]}.jsonl").write_text('{"uid": "y"}\n{"uid": "z"}\n')
    requests, _ = tick(instance, cursor)
    assert [r.partition_key for r in requests] == [days[1]]


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

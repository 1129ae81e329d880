"""The deployment of docs/deploy.md, section 3, step by step, on a real PostgreSQL server.

`python -m dagster_project.deploy` sets up a Dagster home with the shipped dagster.yaml; `dagster-daemon
run -w workspace.yaml` runs against it; `dagster sensor start` turns the landing sensor on; the sensor
requests one range run over the two landed days, the queue starts it, and it succeeds - read back from
PostgreSQL's `runs` table itself. A third landing day, dropped while that run works, makes the sensor
request exactly one more run, for that day only, which the queue starts only after the first run ended
(one run at a time); the daemon is stopped once it started. Then `dagster schedule start` turns the
schedule on, and its next tick is evaluated (its cron is 02:00: waiting for the daemon to fire it is not
affordable).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.deploy.postgres import Postgres, postgres_server, unavailable

pytestmark = pytest.mark.slow

# .ci/run sets this: there the test must run, and a machine where it cannot fails, saying why.
REQUIRED = os.environ.get("ONBOARDING_REQUIRE_POSTGRES") == "1"


@pytest.fixture
def pg() -> Iterator[Postgres]:
    if why := unavailable():
        (pytest.fail if REQUIRED else pytest.skip)(f"no PostgreSQL server here: {why}")
    with postgres_server() as server:
        yield server

BIN = Path(sys.executable).parent
# Seconds for a run to be requested, queued, started and finished. A run takes about a minute on an idle
# two-core machine; the limit is a ceiling for a shared, loaded one (eight minutes seen at load 12; the
# first run still in its dbt decisions after 15 minutes at load 25).
RUN_TIMEOUT = 1800


def _landing(staging: Path, landing: Path, day: date) -> None:
    """Copy the files of one landing day from the generated set into the landing, keeping their paths."""
    from dagster_project.ingest.files import SOURCES, iter_landing_files

    for source in SOURCES:
        for f in iter_landing_files(staging, source):
            if f.day == day:
                target = landing / f.relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f.path, target)


def _runs(pg: Postgres) -> list[tuple[str, str, float | None, float | None]]:
    """(run_id, status, start_time, end_time) of every run, oldest first, from PostgreSQL."""
    return pg.query("select run_id, status, start_time, end_time from runs order by create_timestamp, id")


def _tags(pg: Postgres, run_id: str) -> dict[str, str]:
    return dict(pg.query("select key, value from run_tags where run_id = %s", (run_id,)))


def _wait_for(pg: Postgres, daemon: subprocess.Popen, log: Path, count: int, status: str = "SUCCESS") -> list[tuple]:
    """Wait until the first `count` runs succeeded (status SUCCESS), or the last of them got past the
    queue (STARTED), and return them; fail with the daemon's log on a failed run."""
    deadline = time.monotonic() + RUN_TIMEOUT * count
    while time.monotonic() < deadline:
        runs = _runs(pg)
        failed = [r for r in runs if r[1] in ("FAILURE", "CANCELED")]
        assert not failed, f"run failed: {failed}\n{_failure(pg, failed[0][0])}\n{log.read_text()[-3000:]}"
        ours = runs[:count]
        if status == "STARTED" and len(ours) == count and ours[-1][1] in ("STARTED", "SUCCESS"):
            return ours
        if len(ours) == count and all(r[1] == "SUCCESS" for r in ours):
            return ours
        assert daemon.poll() is None, f"the daemon exited ({daemon.returncode}):\n{log.read_text()[-3000:]}"
        time.sleep(2)
    raise AssertionError(f"no {count} runs {status} after {RUN_TIMEOUT * count} s: {_runs(pg)}\n{log.read_text()[-3000:]}")


def _stop(daemon: subprocess.Popen) -> None:
    """Stop the daemon as Ctrl-C does (it shuts its code servers down), then whatever of its process
    group is left (a code server may ignore SIGTERM)."""
    daemon.send_signal(signal.SIGINT)
    try:
        daemon.wait(30)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait(10)
    for _ in range(10):
        try:
            os.killpg(daemon.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(1)
    os.killpg(daemon.pid, signal.SIGKILL)


def _failure(pg: Postgres, run_id: str) -> str:
    rows = pg.query(
        "select event from event_logs where run_id = %s and dagster_event_type in ('STEP_FAILURE', 'RUN_FAILURE', "
        "'ENGINE_EVENT') order by id desc limit 3", (run_id,)
    )
    return "\n".join(r[0][-1500:] for r in rows)


def _timeline(pg: Postgres, run_id: str) -> str:
    """Where a run's time went, from its events in PostgreSQL: queued (RUN_ENQUEUED -> RUN_STARTING),
    worker start (-> RUN_START), the longest steps (STEP_START -> its end): the test's printed summary."""
    rows = pg.query(
        "select dagster_event_type, step_key, extract(epoch from timestamp) from event_logs where run_id = %s and "
        "dagster_event_type in ('RUN_STARTING', 'RUN_START', 'RUN_SUCCESS', 'STEP_START', 'STEP_SUCCESS', "
        "'STEP_FAILURE', 'RUN_ENQUEUED') order by id", (run_id,))
    marks, parts = {}, []
    for kind, step, at in rows:
        if kind == "STEP_START":
            marks[step] = float(at)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and step in marks:
            parts.append((float(at) - marks.pop(step), step))
        else:
            marks[kind] = float(at)
    head = [f"{name} {marks[end] - marks[begin]:.0f} s" for name, begin, end in (
        ("queued", "RUN_ENQUEUED", "RUN_STARTING"), ("worker start", "RUN_STARTING", "RUN_START"),
        ("run", "RUN_START", "RUN_SUCCESS")) if begin in marks and end in marks]
    return ", ".join(head + [f"{step} {seconds:.0f} s" for seconds, step in sorted(parts, reverse=True)[:8]])


def _instance_is_the_deployments(home: Path, env: dict[str, str]) -> None:
    """The instance the home's dagster.yaml makes: PostgreSQL storage, one run at a time, run retries
    for crashed runs only (a step's failure has the steps' own retry policies)."""
    from dagster import DagsterInstance
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    from dagster_project.core.settings import temporary_env

    pg_env = {k: v for k, v in env.items() if k.startswith("DAGSTER_PG_")}
    with temporary_env(pg_env), DagsterInstance.from_config(str(home)) as instance:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        assert instance.run_coordinator.get_run_queue_config().max_concurrent_runs == 1
        assert (instance.run_retries_enabled, instance.run_retries_max_retries) == (True, 2)
        assert instance.run_retries_retry_on_asset_or_op_failure is False


def _cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    # Each command loads the code location (the dbt manifest's ~450 nodes): 3 minutes were not enough
    # at a load average of 18 on the shared two-core machine.
    done = subprocess.run([str(BIN / args[0]), *args[1:]], env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done.stdout + done.stderr


def test_daemon_on_postgres_runs_the_sensor_and_the_schedule(tmp_path: Path, pg: Postgres):
    from dagster import build_schedule_context

    from dagster_project.assets.jobs import (
        LANDING_DAYS_TAG,
        PARTITION_RANGE_END_TAG,
        PARTITION_RANGE_START_TAG,
    )
    from dagster_project.demo import generate
    from dagster_project.pipeline import job_origins

    started = time.monotonic()
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    days = [yesterday - timedelta(days=2 - i) for i in range(3)]
    staging, landing, home, work = (tmp_path / n for n in ("staging", "landing", "dagster_home", "work"))
    generate(staging, users=40, days=3, seed=11, end_date=yesterday, malformed_rate=0.0)
    for day in days[:2]:
        _landing(staging, landing, day)
    work.mkdir()

    env = {
        **os.environ,
        **pg.env(),
        "DAGSTER_HOME": str(home),
        "ONBOARDING_DB": str(tmp_path / "warehouse" / "warehouse.duckdb"),
        "ONBOARDING_LANDING": str(landing),
        "ONBOARDING_START_DATE": days[0].isoformat(),
    }
    # Step 1: the Dagster home (and the dbt manifest the daemon's code server loads).
    _cli(env, work, "python", "-m", "dagster_project.deploy")
    assert (home / "dagster.yaml").read_text() == (Path(__file__).parents[2] / "dagster_project/deploy/dagster.yaml").read_text()
    workspace = str(home / "workspace.yaml")
    _instance_is_the_deployments(home, env)

    # Step 2: the daemon, started from a folder outside the checkout.
    log = tmp_path / "daemon.log"
    with log.open("w") as out:
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", workspace], env=env, cwd=work,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        # Step 3: the sensor on. Its first tick requests the two landed days as one range run.
        _cli(env, work, "dagster", "sensor", "start", "landing_files_sensor", "-w", workspace)
        _wait_for(pg, daemon, log, 1, "STARTED")
        # Step 4: one more landing day, while that run works: exactly one more run, for that day only.
        _landing(staging, landing, days[2])
        (first,) = _wait_for(pg, daemon, log, 1)
        seconds_first = time.monotonic() - started
        timeline = _timeline(pg, first[0])
        tags = _tags(pg, first[0])
        assert (tags[PARTITION_RANGE_START_TAG], tags[PARTITION_RANGE_END_TAG]) == (days[0].isoformat(), days[1].isoformat())
        assert tags[LANDING_DAYS_TAG] == f"{days[0]},{days[1]}"
        # The daemon's run and `onboarding run`'s carry the same repository label: the UI lists both
        # under the job (pipeline.py records the origin a run launched from this workspace has).
        assert tags[".dagster/repository"] == job_origins()[1].repository_origin.get_label() == "__repository__@onboarding"

        # The second run is not waited for to its end (another minute of the same work): that the
        # queue starts it, after the first ended, is what this step shows.
        first, second = _wait_for(pg, daemon, log, 2, "STARTED")
        tags = _tags(pg, second[0])
        assert tags["dagster/partition"] == days[2].isoformat() and PARTITION_RANGE_START_TAG not in tags
        assert second[2] >= first[3]  # started after the first ended: one run at a time
        # The daemon (and the second run with it) stops here: the schedule's command below only writes
        # its state to PostgreSQL, and would otherwise share the two cores with that run's dbt.
        _stop(daemon)
        assert len(_runs(pg)) == 2  # nothing else was requested while the daemon ran

        # Step 5: the schedule on (after the runs: a 02:00 tick would add a run of its own).
        _cli(env, work, "dagster", "schedule", "start", "daily_onboarding_schedule", "-w", workspace)
        # (Dagster stores the instigator's name in its serialized origin, under its legacy key job_name.)
        states = dict(pg.query("select instigator_body::json -> 'origin' ->> 'job_name', status from instigators"))
        assert states["landing_files_sensor"] == states["daily_onboarding_schedule"] == "RUNNING"
    finally:
        _stop(daemon)  # (again, if a step above failed: stopping a stopped daemon does nothing)

    from dagster_project.definitions import defs  # after step 1: it made the dbt manifest they load

    tick = datetime.combine(days[2] + timedelta(days=1), datetime.min.time(), UTC).replace(hour=2)
    with build_schedule_context(scheduled_execution_time=tick) as context:
        (request,) = defs.resolve_schedule_def("daily_onboarding_schedule").evaluate_tick(context).run_requests
    assert request.partition_key == days[2].isoformat()

    assert pg.password not in log.read_text()  # the daemon never logs the connection's secret
    print(f"first run done {seconds_first:.0f} s into the test, in {first[3] - first[2]:.0f} s ({timeline}); second "
          f"started {second[2] - first[3]:.1f} s after it ended; whole test {time.monotonic() - started:.0f} s")

"""Crash safety: the sync runs as a real subprocess and is SIGKILLed at random moments, then finishes.

Between kills new work arrives (a new user with messages, alerts, invites and links; a changed score),
so the kills land in every phase: attribute writes, link creation, customer messages, alerts.
Afterwards: no customer message reached the stand-in twice, every CSM alert reached it at least
once, contact attributes and Appcues profiles converged to the marts, and every message left in doubt
is surfaced (counted in ``sync.runs``, listed by ``in-doubt``) and can be settled with ``resolve``.

Set ``SYNC_CRASH_SEED`` to replay a particular sequence of kill moments.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from rich.console import Console
from typer.testing import CliRunner

from sync.cli import sync_app
from tests.standins import StandinSet, start_all
from tests.standins.marts import alert, contact, message, profile
from tests.sync.conftest import FAST, Warehouse

pytestmark = pytest.mark.slow  # 20 SIGKILLed sync processes (~60 s)

KILLS = 20
MAX_ITERATIONS = 80
runner = CliRunner()


@pytest.fixture
def slow_standins() -> Iterator[StandinSet]:
    servers = start_all(latency=0.01)
    # Customer messages take a little longer: more kills land while one is in flight.
    servers.intercom.inject("slow", times=10**6, delay=0.04, match="POST /messages")
    try:
        yield servers
    finally:
        servers.stop()


def add_user(warehouse: Warehouse, u: int) -> None:
    warehouse.insert("intercom_contacts", [contact(u)])
    warehouse.insert("appcues_profiles", [profile(u)])
    rows = [message(f"w-{u}", u)]
    if u % 2 == 0:
        rows.append(message(f"e-{u}", u, "intercom_email"))
    if u % 3 == 0:
        rows += [message(f"link-{u}", u, "calendly", body="", subject=None),
                 message(f"coach-{u}", u, body=f"Book a call: {{{{booking_link}}}} [coach-{u}]",
                         booking_link_key=f"link-{u}")]
    if u % 4 == 0:
        rows.append(message(f"inv-{u}", u, "slack", body="", subject=None))
    if u % 5 == 0:
        rows.append(message(f"flow-{u}", u, "appcues", body='{"tour_variant": "b"}'))
    warehouse.insert("triggered_messages", rows)
    warehouse.insert("csm_alerts", [alert(f"a-{u}", u)] if u % 2 == 1 else [])


def start_sync(db: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:
        return subprocess.Popen([sys.executable, "-m", "sync", "--db", str(db)], env=env,
                                stdout=subprocess.DEVNULL, stderr=err)


def wait_until_talking(standins: StandinSet, before: int, process: subprocess.Popen[bytes],
                       limit: float = 20.0) -> None:
    """Until the sync has sent its first request (or ended): a process on a loaded machine takes
    seconds to start, and a kill before its run begins would test nothing."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and process.poll() is None:
        if sum(len(s.received) for s in standins.all()) > before:
            return
        time.sleep(0.02)


def request_count(standins: StandinSet) -> int:
    return sum(len(s.received) for s in standins.all())


def customer_keys(warehouse: Warehouse) -> list[str]:
    return [k for (k,) in warehouse.rows(
        "select message_key from marts.triggered_messages where channel like 'intercom%'")]


def received_messages(standins: StandinSet) -> Counter[str]:
    """How often each customer message key reached the Intercom stand-in (bodies end with [key])."""
    with standins.intercom.lock:
        return Counter(m["body"].rsplit("[", 1)[1].rstrip("]") for m in standins.intercom.messages)


def received_invites(standins: StandinSet, warehouse: Warehouse) -> Counter[str]:
    email_to_key = {email: key for key, email in warehouse.rows(
        "select message_key, payload->>'email' from sync.outbox where stream = 'invites'")}
    with standins.slack.lock:
        return Counter(email_to_key[i["email"]] for i in standins.slack.invites)


def test_sigkill_at_random_moments_never_double_sends(tmp_path: Path, slow_standins: StandinSet) -> None:
    standins = slow_standins
    seed = int(os.environ.get("SYNC_CRASH_SEED", time.time_ns() % 2**32))
    rng = random.Random(seed)
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    for u in range(8):
        add_user(warehouse, u)
    env = {**os.environ, **FAST, **standins.env(), "SYNC_SLACK_CHANNEL_INTERVAL": "0.01",
           "SYNC_INTERCOM_CONCURRENCY": "3", "SYNC_MESSAGE_NOT_FOUND_ATTEMPTS": "50"}
    log = tmp_path / "sync-stderr.log"

    kills, iteration = 0, 0
    while kills < KILLS and iteration < MAX_ITERATIONS:
        iteration += 1
        add_user(warehouse, 100 + iteration)
        warehouse.execute("update marts.intercom_contacts set onboarding_score = onboarding_score + 1"
                          " where user_id = ?", [f"auth0|user{iteration % 8:05d}"])
        before = request_count(standins)
        process = start_sync(warehouse.path, env, log)
        wait_until_talking(standins, before, process)
        time.sleep(rng.uniform(0.0, 1.4))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait()
    assert kills >= KILLS, f"only {kills} kills landed (seed {seed})"

    for _ in range(2):  # let it finish: once to catch up, once more to prove nothing is left
        finished = subprocess.run([sys.executable, "-m", "sync", "--db", str(warehouse.path)], env=env,
                                  capture_output=True, timeout=120)
        assert finished.returncode == 0, finished.stderr.decode()[-2000:]

    context = f"seed {seed}, {kills} kills in {iteration} runs"
    print(context, "in doubt:", warehouse.value("select count(*) from sync.outbox where status = 'in_doubt'"),
          "interrupted runs:", warehouse.value("select count(*) from sync.runs where status = 'interrupted'"))
    # 1. No customer message reached the customer twice; each is sent once or surfaced as in doubt.
    counts = received_messages(standins)
    assert max(counts.values()) == 1, f"double-sent: {[k for k, n in counts.items() if n > 1]} ({context})"
    statuses = dict(warehouse.rows("select message_key, status from sync.outbox where destination = 'intercom'"))
    for key in customer_keys(warehouse):
        assert statuses[key] in ("sent", "in_doubt"), (key, statuses[key], context)
        if statuses[key] == "sent":
            assert counts[key] == 1, (key, context)
    invites = received_invites(standins, warehouse)
    assert not invites or max(invites.values()) == 1, context

    # 2. Every CSM alert reached Slack at least once (duplicates allowed, and visible by alert_key).
    alerts = Counter(standins.slack.alert_keys())
    for (key,) in warehouse.rows("select alert_key from marts.csm_alerts"):
        assert alerts[key] >= 1, (key, context)

    # 3. Attributes converged to the marts.
    for user_id, email, score, stage in warehouse.rows(
            "select user_id, email, onboarding_score, onboarding_stage from marts.intercom_contacts"):
        remote = standins.intercom.contact_by_external_id(user_id)
        assert remote is not None, (user_id, context)
        assert (remote["email"], remote["custom_attributes"]["onboarding_score"],
                remote["custom_attributes"]["onboarding_stage"]) == (email, score, stage), context
    assert len(standins.intercom.contacts) == warehouse.value("select count(*) from marts.intercom_contacts")
    for user_id, track, flow in warehouse.rows(
            "select user_id, onboarding_track, appcues_flow_id from marts.appcues_profiles"):
        assert (standins.appcues.profiles[user_id]["onboarding_track"],
                standins.appcues.profiles[user_id]["appcues_flow_id"]) == (track, flow), context
    # Every coaching message that went out carries a link Calendly really created.
    links = {link["booking_url"] for link in standins.calendly.links}
    for message_body in (m["body"] for m in standins.intercom.messages if m["body"].startswith("Book a call")):
        assert message_body.split(": ", 1)[1].split(" [")[0] in links, context

    # 4. In-doubt rows are surfaced: counted on the runs, listed by the CLI, resolvable.
    in_doubt = dict(warehouse.rows("select message_key, destination from sync.outbox where status = 'in_doubt'"))
    last_counts = dict(warehouse.rows(
        "select destination, in_doubt from sync.runs qualify row_number() over"
        " (partition by destination order by started desc) = 1"))
    for destination in ("intercom", "slack"):
        assert last_counts[destination] == sum(1 for d in in_doubt.values() if d == destination), context
    with mock.patch("sync.cli.console", Console(width=250)):  # keys unwrapped whatever the import order
        listing = runner.invoke(sync_app, ["in-doubt", "--db", str(warehouse.path)])
    for key in in_doubt:
        assert key in listing.output, (key, context)
    assert warehouse.value("select count(*) from sync.runs where status = 'interrupted'") >= 1
    for key, destination in in_doubt.items():
        arrived = (counts[key] if destination == "intercom" else invites[key]) == 1
        verdict = runner.invoke(sync_app, ["resolve", key, "--as", "sent" if arrived else "retry",
                                           "--db", str(warehouse.path)])
        assert verdict.exit_code == 0, verdict.output
    final = subprocess.run([sys.executable, "-m", "sync", "--db", str(warehouse.path)], env=env,
                           capture_output=True, timeout=120)
    assert final.returncode == 0
    counts = received_messages(standins)
    assert all(counts[key] == 1 for key in customer_keys(warehouse)), context
    assert warehouse.value("select count(*) from sync.outbox where status not in ('sent')") == 0, context
    for server in standins.all():
        assert server.validation_errors == [], (server.name, server.validation_errors[:3])

"""Chaos: the sync (a real subprocess, sometimes two at once) under a seeded random mix of vendor faults
aimed at the writes - answers that come after the vendor acted (500/502/504, a late answer, a dropped
connection), 429 with ``Retry-After: 3600`` and ``inf``, Slack ``invalid_blocks`` / ``msg_too_long`` /
an unknown error - and SIGKILLs at random moments. Then the faults stop.

Asserted server side (what the stand-ins received): every customer message (Intercom message, Slack
invite) delivered at most once; every CSM alert at least once; contact attributes and Appcues profiles
converged within two clean runs; every in-doubt row listed by ``sync in-doubt`` and settled by
``sync resolve``, after which every customer message has arrived exactly once.

``SYNC_CHAOS_SEED`` replays a sequence; the seed and the figures are printed (``pytest -s``).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from rich.console import Console
from typer.testing import CliRunner

from sync.cli import sync_app
from tests.standins import StandinSet, start_all
from tests.sync.conftest import FAST, Warehouse
from tests.sync.test_crash import (
    add_user,
    customer_keys,
    received_invites,
    received_messages,
    request_count,
    wait_until_talking,
)

pytestmark = pytest.mark.slow  # a seeded storm of faults and kills over many sync processes (~35 s)

FAULT_PHASE_SECONDS = 25.0
runner = CliRunner()

MESSAGES, CONTACTS = "POST /messages", "POST /contacts"
POSTS, INVITES = "POST /chat.postMessage", "POST /conversations.inviteShared"
LINKS, PROFILES = "POST /scheduling_links", "PATCH /v2/accounts"
# (stand-in, fault): every one aimed at a write request.
CATALOGUE: list[tuple[str, dict[str, Any]]] = [
    *[("intercom", {"kind": "status_after", "status": s, "match": MESSAGES}) for s in (500, 502, 504)],
    ("intercom", {"kind": "slow_after", "delay": 1.0, "match": MESSAGES}),
    ("intercom", {"kind": "drop_after", "match": MESSAGES}),
    ("intercom", {"kind": "status", "status": 429, "headers": {"Retry-After": "3600"}, "match": MESSAGES}),
    ("intercom", {"kind": "status", "status": 429, "headers": {"Retry-After": "inf"}, "match": MESSAGES}),
    ("intercom", {"kind": "status_after", "status": 500, "match": CONTACTS}),
    ("intercom", {"kind": "drop_after", "match": CONTACTS}),
    ("intercom", {"kind": "status", "status": 429, "headers": {"Retry-After": "3600"}, "match": CONTACTS}),
    ("slack", {"kind": "slack_error", "error": "invalid_blocks", "match": POSTS}),
    ("slack", {"kind": "slack_error", "error": "msg_too_long", "match": POSTS}),
    ("slack", {"kind": "slack_error", "error": "chaos_unknown_error", "match": POSTS}),
    ("slack", {"kind": "status_after", "status": 502, "match": POSTS}),
    ("slack", {"kind": "drop_after", "match": POSTS}),
    ("slack", {"kind": "status", "status": 429, "headers": {"Retry-After": "inf"}, "match": POSTS}),
    ("slack", {"kind": "status_after", "status": 500, "match": INVITES}),
    ("slack", {"kind": "drop_after", "match": INVITES}),
    ("calendly", {"kind": "status_after", "status": 504, "match": LINKS}),
    ("calendly", {"kind": "drop_after", "match": LINKS}),
    ("appcues", {"kind": "status_after", "status": 500, "match": PROFILES}),
    ("appcues", {"kind": "drop_after", "match": PROFILES}),
]


def start(db: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as err:
        return subprocess.Popen([sys.executable, "-m", "sync", "--db", str(db)], env=env,
                                stdout=subprocess.DEVNULL, stderr=err)


def triggered_faults(standins: StandinSet) -> Counter[str]:
    """Faults that actually hit a request, by kind (the constant ``slow`` latency not counted)."""
    counts: Counter[str] = Counter()
    for server in standins.all():
        with server.lock:
            counts.update(r.fault for r in server.received if r.fault and r.fault != "slow")
    return counts


def test_chaos(tmp_path: Path) -> None:
    seed = int(os.environ.get("SYNC_CHAOS_SEED", time.time_ns() % 2**32))
    print(f"chaos seed {seed} (replay with SYNC_CHAOS_SEED={seed})")
    rng = random.Random(seed)
    began = time.monotonic()
    standins = start_all(latency=0.01)
    standins.intercom.inject("slow", times=10**6, delay=0.03, match=MESSAGES)
    servers = {s.name: s for s in standins.all()}
    try:
        _run(tmp_path, standins, servers, rng, seed, began)
    finally:
        standins.stop()


def _run(tmp_path: Path, standins: StandinSet, servers: dict[str, Any], rng: random.Random, seed: int,
         began: float) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    for u in range(8):
        add_user(warehouse, u)
    env = {**os.environ, **FAST, **standins.env(), "SYNC_SLACK_CHANNEL_INTERVAL": "0.01",
           "SYNC_INTERCOM_CONCURRENCY": "3", "SYNC_INTERCOM_TIMEOUT": "0.5",
           "SYNC_MESSAGE_NOT_FOUND_ATTEMPTS": "100", "SYNC_SLACK_ALERT_MAX_ATTEMPTS": "100",
           "ONBOARDING_LOCK_TIMEOUT": "30"}
    log = tmp_path / "sync-stderr.log"

    kills = runs = pairs = 0
    while time.monotonic() - began < FAULT_PHASE_SECONDS:
        runs += 1
        add_user(warehouse, 100 + runs)
        warehouse.execute("update marts.intercom_contacts set onboarding_score = onboarding_score + 1"
                          " where user_id = ?", [f"auth0|user{runs % 8:05d}"])
        for name, fault in rng.sample(CATALOGUE, rng.randint(1, 4)):
            servers[name].inject(**fault, times=rng.randint(1, 2))
        before = request_count(standins)
        processes = [start(warehouse.path, env, log)]
        if rng.random() < 0.2:  # a second sync of the same warehouse at the same time
            pairs += 1
            processes.append(start(warehouse.path, env, log))
        if runs > 1 and rng.random() < 0.6:  # the first run always meets its faults
            wait_until_talking(standins, before, processes[0])
            time.sleep(rng.uniform(0.0, 1.2))
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGKILL)
                    kills += 1
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise AssertionError(f"a sync hung for 30 s under faults (seed {seed})") from None

    fault_phase = time.monotonic() - began
    faults = triggered_faults(standins)
    for server in standins.all():
        server.clear_faults()
    standins.intercom.inject("slow", times=10**6, delay=0.03, match=MESSAGES)
    context = f"seed {seed}, {runs} runs, {pairs} pairs, {kills} kills, faults {dict(faults)}"
    assert sum(faults.values()) > 0, f"no fault met a write request ({context})"
    for _ in range(2):  # the faults stopped: two clean runs converge
        clean = subprocess.run([sys.executable, "-m", "sync", "--db", str(warehouse.path)], env=env,
                               capture_output=True, timeout=120)
        assert clean.returncode == 0, (clean.stderr.decode()[-2000:], context)

    # 1. At most once for customers (Intercom messages and Slack invites), server side.
    messages = received_messages(standins)
    invites = received_invites(standins, warehouse)
    duplicates = [k for k, n in (messages + invites).items() if n > 1]
    assert not duplicates, (duplicates, context)
    statuses = dict(warehouse.rows("select message_key, status from sync.outbox"))
    for key in customer_keys(warehouse):
        assert statuses.get(key) in ("sent", "in_doubt"), (key, statuses.get(key), context)

    # 2. At least once for CSM alerts.
    alerts = Counter(standins.slack.alert_keys())
    lost = [key for (key,) in warehouse.rows("select alert_key from marts.csm_alerts") if alerts[key] < 1]
    assert not lost, (lost, context)

    # 3. Attributes converged within the two clean runs.
    for user_id, email, score in warehouse.rows(
            "select user_id, email, onboarding_score from marts.intercom_contacts"):
        remote = standins.intercom.contact_by_external_id(user_id)
        assert remote is not None and (remote["email"], remote["custom_attributes"]["onboarding_score"]) == (
            email, score), (user_id, context)
    assert len(standins.intercom.contacts) == warehouse.value("select count(*) from marts.intercom_contacts")
    for user_id, track in warehouse.rows("select user_id, onboarding_track from marts.appcues_profiles"):
        assert standins.appcues.profiles[user_id]["onboarding_track"] == track, (user_id, context)

    # 4. Every in-doubt row listed and resolvable; then every customer message arrived exactly once.
    in_doubt = dict(warehouse.rows("select message_key, destination from sync.outbox where status = 'in_doubt'"))
    with mock.patch("sync.cli.console", Console(width=250)):
        listing = runner.invoke(sync_app, ["in-doubt", "--db", str(warehouse.path)])
    assert all(key in listing.output for key in in_doubt), context
    for key, destination in in_doubt.items():
        arrived = (messages[key] if destination == "intercom" else invites[key]) == 1
        verdict = runner.invoke(sync_app, ["resolve", key, "--as", "sent" if arrived else "retry",
                                           "--db", str(warehouse.path)])
        assert verdict.exit_code == 0, (verdict.output, context)
    final = subprocess.run([sys.executable, "-m", "sync", "--db", str(warehouse.path)], env=env,
                           capture_output=True, timeout=120)
    assert final.returncode == 0, (final.stderr.decode()[-2000:], context)
    messages = received_messages(standins)
    assert all(messages[key] == 1 for key in customer_keys(warehouse)), context
    assert warehouse.value("select count(*) from sync.outbox where status <> 'sent'") == 0, context
    for server in standins.all():
        assert server.validation_errors == [], (server.name, server.validation_errors[:3])

    elapsed = time.monotonic() - began
    print(f"chaos {context}: {sum(faults.values())} faults hit a write, {len(customer_keys(warehouse))} customer"
          f" messages ({len(in_doubt)} in doubt, settled), {sum(invites.values())} invites, duplicates 0,"
          f" {len(alerts)} alerts ({sum(alerts.values()) - len(alerts)} duplicate posts), alerts lost 0,"
          f" {elapsed:.0f} s ({fault_phase:.0f} s of faults)")
    assert elapsed < 90, context

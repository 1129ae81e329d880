"""Delivery under faults that act *after* the vendor processed the request, aimed at the writes.

Each stand-in fault here lands on ``POST /messages``, ``chat.postMessage``, ``conversations.inviteShared``
or ``POST /scheduling_links`` - never on the first, idempotent data-attribute check - and most of them
let the vendor act before answering badly. What the tests assert is what the vendor received.
"""

from __future__ import annotations

import time
from datetime import date, datetime

import duckdb
import pytest
from typer.testing import CliRunner

from sync import ledger
from sync.cli import sync_app
from sync.outcomes import OutboxEntry
from tests.standins import StandinSet
from tests.standins.marts import alert, contact, message
from tests.sync.conftest import Warehouse, delivered, live_env, settings_for, sync

runner = CliRunner()


def users(warehouse: Warehouse, n: int) -> None:
    warehouse.insert("intercom_contacts", [contact(i) for i in range(n)])


# ------------------------------------------------------------------ item 1: the status -> outcome rule

@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_after_the_message_was_created_is_in_doubt_and_never_resent(
        warehouse: Warehouse, standins: StandinSet, status: int) -> None:
    users(warehouse, 2)
    warehouse.insert("triggered_messages", [message("m-0", 0), message("m-1", 1)])
    standins.intercom.inject("status_after", times=1, status=status, match="POST /messages")
    settings = settings_for(standins)

    first = sync(warehouse, settings, "intercom")["intercom"]
    second = sync(warehouse, settings, "intercom")["intercom"]

    doubtful = [k for (k,) in warehouse.rows("select message_key from sync.outbox where status = 'in_doubt'")]
    assert len(doubtful) == 1 and first.in_doubt == 1 and second.in_doubt == 1
    assert delivered(standins, "m-0") == 1 and delivered(standins, "m-1") == 1  # created once, never again
    assert len(standins.intercom.requests("POST", "/messages")) == 2
    error = warehouse.value("select last_error from sync.outbox where status = 'in_doubt'")
    assert f"answered {status}" in error and "may have been processed" in error


def test_a_timeout_after_the_message_was_created_is_in_doubt(warehouse: Warehouse, standins: StandinSet) -> None:
    users(warehouse, 1)
    warehouse.insert("triggered_messages", [message("m-0", 0)])
    standins.intercom.inject("slow_after", times=1, delay=1.0, match="POST /messages")
    settings = settings_for(standins, SYNC_INTERCOM_TIMEOUT="0.3")
    sync(warehouse, settings, "intercom")
    sync(warehouse, settings, "intercom")
    assert warehouse.outbox_status("m-0") == "in_doubt"
    assert delivered(standins, "m-0") == 1 and len(standins.intercom.requests("POST", "/messages")) == 1


@pytest.mark.parametrize("fault", [{"kind": "status_after", "status": 500}, {"kind": "drop_after"},
                                   {"kind": "slack_error", "error": "some_error_slack_added_last_week"}])
def test_an_invite_answered_ambiguously_is_in_doubt(warehouse: Warehouse, standins: StandinSet,
                                                    fault: dict[str, object]) -> None:
    users(warehouse, 1)
    warehouse.insert("triggered_messages", [message("inv-0", 0, "slack", body="", subject=None)])
    standins.slack.inject(fault.pop("kind"), times=1, match="POST /conversations.inviteShared", **fault)
    settings = settings_for(standins)
    sync(warehouse, settings, "slack")
    sync(warehouse, settings, "slack")
    assert warehouse.outbox_status("inv-0") == "in_doubt"
    assert len(standins.slack.requests("POST", "/conversations.inviteShared")) == 1


def test_a_calendly_5xx_after_creating_the_link_is_retried(warehouse: Warehouse, standins: StandinSet) -> None:
    """At least once: a second, never-shared link is the price; the coaching message gets one link."""
    users(warehouse, 1)
    warehouse.insert("triggered_messages", [
        message("link-0", 0, "calendly", body="", subject=None),
        message("coach-0", 0, body="Book: {{booking_link}} [coach-0]", booking_link_key="link-0")])
    standins.calendly.inject("status_after", times=1, status=502, match="POST /scheduling_links")
    sync(warehouse, settings_for(standins), ["calendly", "intercom"])
    assert warehouse.outbox_status("link-0") == "sent" and delivered(standins, "coach-0") == 1
    assert len(standins.calendly.links) == 2


# ------------------------------------------------------------------ item 3: capped rate-limit pauses

@pytest.mark.parametrize("retry_after", ["3600", "inf"])
def test_a_long_retry_after_ends_the_stream_with_rows_left_pending(
        warehouse: Warehouse, standins: StandinSet, retry_after: str) -> None:
    users(warehouse, 4)
    warehouse.insert("triggered_messages", [message(f"m-{i}", i) for i in range(4)])
    standins.intercom.inject("status", times=1, status=429, match="POST /messages",
                             headers={"Retry-After": retry_after},
                             body={"type": "error.list", "errors": [{"code": "rate_limit_exceeded"}]})
    settings = settings_for(standins, SYNC_INTERCOM_CONCURRENCY="1")

    started = time.monotonic()
    first = sync(warehouse, settings, "intercom")["intercom"]
    assert time.monotonic() - started < 20  # not an hour, not forever

    assert first.status == "completed" and first.throttled == 4 and first.failed == 0 and first.in_doubt == 0
    messages = next(s for s in first.streams if s.stream == "messages")
    assert messages.note is not None and "throttled: 4 row(s) left pending" in messages.note
    assert warehouse.value("select throttled from sync.runs where destination = 'intercom'") == 4
    assert warehouse.value("select count(*) from sync.outbox where status = 'pending' and attempts = 0") == 4
    assert standins.intercom.messages == []

    second = sync(warehouse, settings, "intercom")["intercom"]
    assert second.sent == 4 and second.throttled == 0
    assert all(delivered(standins, f"m-{i}") == 1 for i in range(4))


def test_a_long_retry_after_on_contact_writes_leaves_them_for_the_next_run(
        warehouse: Warehouse, standins: StandinSet) -> None:
    users(warehouse, 3)
    standins.intercom.inject("status", times=1, status=429, match="POST /contacts",
                             headers={"Retry-After": "3600"})
    first = sync(warehouse, settings_for(standins, SYNC_INTERCOM_CONCURRENCY="1"), "intercom")["intercom"]
    assert first.throttled == 3 and len(standins.intercom.contacts) == 0
    second = sync(warehouse, settings_for(standins), "intercom")["intercom"]
    assert second.sent == 3 and len(standins.intercom.contacts) == 3


# --------------------------------------------------------------------------- item 4: CSM alerts

def test_invalid_blocks_or_msg_too_long_reposts_the_alert_as_plain_text(warehouse: Warehouse,
                                                                        standins: StandinSet) -> None:
    for i, error in enumerate(("invalid_blocks", "msg_too_long")):
        warehouse.insert("csm_alerts", [alert(f"a-{i}", i)])
        standins.slack.inject("slack_error", times=1, error=error, match="POST /chat.postMessage")
        result = sync(warehouse, settings_for(standins), "slack")["slack"]
        assert result.status == "completed" and result.sent == 1
    assert sorted(standins.slack.alert_keys()) == ["a-0", "a-1"]
    assert all(p["blocks"] is None and "sent as plain text" in p["text"] for p in standins.slack.posts)


def test_an_unknown_slack_error_is_retried_on_later_runs_then_fails_loudly(warehouse: Warehouse,
                                                                           standins: StandinSet) -> None:
    warehouse.insert("csm_alerts", [alert("a-0", 0)])
    standins.slack.inject("slack_error", times=10, error="brand_new_error", match="POST /chat.postMessage")
    settings = settings_for(standins, SYNC_SLACK_ALERT_MAX_ATTEMPTS="3")

    runs = [sync(warehouse, settings, "slack")["slack"] for _ in range(3)]

    assert [r.status for r in runs] == ["completed", "completed", "failed"]
    assert warehouse.outbox_status("a-0") == "failed"
    assert runs[2].error is not None and "a-0" in runs[2].error and "brand_new_error" in runs[2].error
    # Loud on every run until someone settles it: the CLI exits 1 (the Dagster asset fails likewise).
    again = runner.invoke(sync_app, ["--db", str(warehouse.path), "--destination", "slack"],
                          env=live_env(standins, SYNC_SLACK_ALERT_MAX_ATTEMPTS="3"))
    assert again.exit_code == 1
    standins.slack.clear_faults()
    assert runner.invoke(sync_app, ["resolve", "a-0", "--as", "retry", "--db", str(warehouse.path)]).exit_code == 0
    healed = sync(warehouse, settings, "slack")["slack"]
    assert healed.status == "completed" and standins.slack.alert_keys() == ["a-0"]


def test_a_failed_alert_acknowledged_by_an_operator_stops_failing_the_run(warehouse: Warehouse,
                                                                          standins: StandinSet) -> None:
    warehouse.insert("csm_alerts", [alert("a-0", 0)])
    standins.slack.inject("slack_error", times=1, error="brand_new_error", match="POST /chat.postMessage")
    settings = settings_for(standins, SYNC_SLACK_ALERT_MAX_ATTEMPTS="1")
    assert sync(warehouse, settings, "slack")["slack"].status == "failed"
    assert runner.invoke(sync_app, ["resolve", "a-0", "--as", "failed", "--db", str(warehouse.path)]).exit_code == 0
    assert sync(warehouse, settings, "slack")["slack"].status == "completed"


def test_two_mart_rows_with_one_alert_key_send_one_alert(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("csm_alerts", [alert("a-0", 0, as_of_date=date(2026, 10, 31)), alert("a-0", 0)])
    result = sync(warehouse, settings_for(standins), "slack")["slack"]
    assert standins.slack.alert_keys() == ["a-0"]
    assert result.invalid == 1
    reason = warehouse.value("select error from sync.row_results where status = 'invalid'")
    assert "duplicate alert_key (2 rows): one was delivered" in reason


def test_a_sync_outage_longer_than_the_window_loses_no_alert(warehouse: Warehouse, standins: StandinSet) -> None:
    """Daily alerts, the sync down for 5 days: every alert raised since the last live run is sent."""
    settings = settings_for(standins)
    warehouse.insert("csm_alerts", [alert("a-d0", 0, as_of_date=date(2026, 11, 1))])
    sync(warehouse, settings, "slack", now=datetime(2026, 11, 2))
    warehouse.insert("csm_alerts", [alert(f"a-d{d}", d, as_of_date=date(2026, 11, 1 + d)) for d in range(1, 6)])
    result = sync(warehouse, settings, "slack", now=datetime(2026, 11, 7))["slack"]
    assert result.expired == 0
    assert sorted(standins.slack.alert_keys()) == [f"a-d{d}" for d in range(6)]


def test_before_the_first_live_run_old_alerts_still_expire_and_are_counted(warehouse: Warehouse,
                                                                            standins: StandinSet) -> None:
    warehouse.insert("csm_alerts", [alert("a-new", 0), alert("a-old", 1, as_of_date=date(2026, 10, 1))])
    result = sync(warehouse, settings_for(standins), "slack", now=datetime(2026, 11, 2))["slack"]
    assert result.expired == 1 and standins.slack.alert_keys() == ["a-new"]


# ------------------------------------------------------------------------------ item 2: the claim

def test_a_claim_is_checked(warehouse: Warehouse, standins: StandinSet) -> None:
    users(warehouse, 1)
    warehouse.insert("triggered_messages", [message("m-0", 0)])
    sync(warehouse, settings_for(standins), "intercom", dry_run=True)  # queued, pending
    with duckdb.connect(str(warehouse.path)) as con:
        entry = OutboxEntry("intercom", "messages", "m-0", "auth0|user00000", {}, 0)
        assert ledger.claim(con, entry) is True
        assert ledger.claim(con, entry) is False  # the second claimant must not send
        ledger.release(con, entry)
        assert con.execute("select status, attempts from sync.outbox").fetchall() == [("pending", 0)]


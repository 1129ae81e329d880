"""Fault storms against the stand-ins: everything still arrives, exactly once where it must."""

from __future__ import annotations

import time

from tests.standins import StandinSet
from tests.standins.marts import alert, contact, message
from tests.sync.conftest import Warehouse, delivered, settings_for, sync


def load(warehouse: Warehouse, users: int = 12) -> None:
    warehouse.insert("intercom_contacts", [contact(i) for i in range(users)])
    warehouse.insert("triggered_messages", [message(f"m-{i}", i) for i in range(users)])
    warehouse.insert("csm_alerts", [alert(f"a-{i}", i) for i in range(0, users, 3)])


def assert_everything_delivered_once(warehouse: Warehouse, standins: StandinSet, users: int = 12) -> None:
    for i in range(users):
        assert delivered(standins, f"m-{i}") == 1
        contact_row = standins.intercom.contact_by_external_id(f"auth0|user{i:05d}")
        assert contact_row is not None and contact_row["custom_attributes"]["onboarding_score"] == (i * 7) % 100
    assert sorted(standins.slack.alert_keys()) == sorted(f"a-{i}" for i in range(0, users, 3))
    assert warehouse.value("select count(*) from sync.outbox where status <> 'sent'") == 0
    for server in standins.all():
        assert server.validation_errors == []


def test_429_storm_ends_with_everything_delivered(warehouse: Warehouse, standins: StandinSet) -> None:
    load(warehouse)
    reset = str(int(time.time()))  # "the window resets now": honoured without a long wait
    standins.intercom.inject("status", times=25, status=429, headers={"X-RateLimit-Reset": reset},
                             body={"type": "error.list", "errors": [{"code": "rate_limit_exceeded"}]})
    standins.slack.inject("status", times=3, status=429, headers={"Retry-After": "0"},
                          body={"ok": False, "error": "ratelimited"})
    settings = settings_for(standins, SYNC_INTERCOM_MAX_ATTEMPTS="30", SYNC_SLACK_MAX_ATTEMPTS="10")

    result = sync(warehouse, settings, ["intercom", "slack"])

    assert result["intercom"].rate_limited == 25
    assert standins.intercom.faults_left() == 0
    assert_everything_delivered_once(warehouse, standins)


def test_5xx_burst_ends_with_everything_delivered(warehouse: Warehouse, standins: StandinSet) -> None:
    load(warehouse)
    standins.intercom.inject("status", times=10, status=500)
    standins.intercom.inject("status", times=10, status=503)
    standins.slack.inject("status", times=3, status=503)
    settings = settings_for(standins, SYNC_INTERCOM_MAX_ATTEMPTS="30", SYNC_SLACK_MAX_ATTEMPTS="10")

    sync(warehouse, settings, ["intercom", "slack"])

    assert standins.intercom.faults_left() == 0
    assert_everything_delivered_once(warehouse, standins)


def test_dropped_connections_on_attribute_writes_are_retried(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("intercom_contacts", [contact(i) for i in range(6)])
    standins.intercom.inject("drop_after", times=3, match="POST /contacts")
    result = sync(warehouse, settings_for(standins), "intercom")["intercom"]

    assert result.sent == 6
    assert len(standins.intercom.contacts) == 6  # a repeated create answered 409 and was adopted


def test_permanent_4xx_is_failed_with_reason_and_the_rest_completes(warehouse: Warehouse,
                                                                    standins: StandinSet) -> None:
    load(warehouse, 6)
    standins.intercom.inject("status", times=1, status=422, match="POST /messages", body={
        "type": "error.list", "errors": [{"code": "parameter_not_found", "message": "No subject supplied"}]})
    result = sync(warehouse, settings_for(standins), ["intercom", "slack"])

    assert result["intercom"].status == "completed" and result["slack"].status == "completed"
    failed = warehouse.rows("select key, error, http_status from sync.row_results where status = 'failed'")
    assert len(failed) == 1 and failed[0][2] == 422 and "No subject supplied" in failed[0][1]
    assert len(standins.intercom.messages) == 5
    assert len(standins.slack.posts) == 2

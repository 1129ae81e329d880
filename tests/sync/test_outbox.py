"""Outbox: customer messages at most once, booking links, waiting, withdrawal, in-doubt handling."""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from typer.testing import CliRunner

from sync.cli import print_summaries, sync_app
from tests.standins import StandinSet
from tests.standins.marts import alert, contact, message
from tests.sync.conftest import Warehouse, bodies, delivered, settings_for, sync

runner = CliRunner()


def seed(warehouse: Warehouse, users: int = 3) -> None:
    warehouse.insert("intercom_contacts", [contact(i) for i in range(users)])


def test_each_message_is_delivered_once(warehouse: Warehouse, standins: StandinSet) -> None:
    seed(warehouse)
    warehouse.insert("triggered_messages", [
        message("m-app", 0), message("m-mail", 1, "intercom_email", subject="Your 30-day plan")])
    settings = settings_for(standins)

    first = sync(warehouse, settings, "intercom")["intercom"]
    second = sync(warehouse, settings, "intercom")["intercom"]

    assert (first.sent, second.sent) == (3 + 2, 0)  # 3 contacts + 2 messages, then nothing
    assert delivered(standins, "m-app") == 1 and delivered(standins, "m-mail") == 1
    mail = next(m for m in standins.intercom.messages if m["message_type"] == "email")
    assert mail["subject"] == "Your 30-day plan"
    # the email's request, whichever of the two concurrent sends arrived first
    request = next(r.json for r in standins.intercom.requests("POST", "/messages") if r.json["message_type"] == "email")
    assert request["template"] == "plain" and request["from"] == {"type": "admin", "id": 991267459}
    assert standins.intercom.validation_errors == []
    assert warehouse.outbox_status("m-app") == "sent"

    warehouse.insert("triggered_messages", [message("m-new", 2)])
    third = sync(warehouse, settings, "intercom")["intercom"]
    assert (third.sent, third.unchanged) == (1, 5)
    assert len(standins.intercom.messages) == 3


def test_message_waits_for_its_contact(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("triggered_messages", [message("m-early", 7)])
    settings = settings_for(standins)

    first = sync(warehouse, settings, "intercom")["intercom"]
    assert (first.sent, first.waiting) == (0, 1)
    assert warehouse.value("select error from sync.row_results where status = 'waiting'") == \
        "waiting for the Intercom contact to exist"

    warehouse.insert("intercom_contacts", [contact(7)])
    second = sync(warehouse, settings, "intercom")["intercom"]
    assert second.sent == 2
    assert delivered(standins, "m-early") == 1


def test_404_for_a_just_created_contact_is_retried_on_a_later_run(warehouse: Warehouse,
                                                                   standins: StandinSet) -> None:
    standins.intercom.message_lag = 3600.0
    seed(warehouse, 1)
    warehouse.insert("triggered_messages", [message("m-1", 0)])
    settings = settings_for(standins)

    first = sync(warehouse, settings, "intercom")["intercom"]
    assert warehouse.outbox_status("m-1") == "pending"
    assert first.failed == 1 and delivered(standins, "m-1") == 0

    standins.intercom.message_lag = 0.0
    sync(warehouse, settings, "intercom")
    assert warehouse.outbox_status("m-1") == "sent"
    assert delivered(standins, "m-1") == 1


def test_repeated_404_ends_as_failed(warehouse: Warehouse, standins: StandinSet) -> None:
    standins.intercom.message_lag = 3600.0
    seed(warehouse, 1)
    warehouse.insert("triggered_messages", [message("m-1", 0)])
    settings = settings_for(standins, SYNC_MESSAGE_NOT_FOUND_ATTEMPTS="2")
    sync(warehouse, settings, "intercom")
    sync(warehouse, settings, "intercom")
    assert warehouse.outbox_status("m-1") == "failed"
    sync(warehouse, settings, "intercom")
    assert len(standins.intercom.requests("POST", "/messages")) == 2


def test_booking_link_is_created_once_and_put_into_the_message(warehouse: Warehouse,
                                                                standins: StandinSet) -> None:
    seed(warehouse, 1)
    warehouse.insert("triggered_messages", [
        message("link-0", 0, "calendly", body="", subject=None),
        message("coach-0", 0, body="Book 15 min: {{booking_link}} [coach-0]", booking_link_key="link-0")])
    settings = settings_for(standins)

    only_intercom = sync(warehouse, settings, "intercom")["intercom"]
    assert only_intercom.waiting == 1 and delivered(standins, "coach-0") == 0

    sync(warehouse, settings)
    sync(warehouse, settings)
    assert len(standins.calendly.links) == 1
    url = standins.calendly.links[0]["booking_url"]
    assert [b for b in bodies(standins) if "[coach-0]" in b] == [f"Book 15 min: {url} [coach-0]"]
    assert warehouse.value("select booking_url from sync.booking_links where link_key = 'link-0'") == url
    link_request = standins.calendly.requests("POST", "/scheduling_links")[0].json
    assert link_request["max_event_count"] == 1 and link_request["owner_type"] == "EventType"
    assert standins.calendly.validation_errors == []


def test_failed_booking_link_fails_the_dependent_message(warehouse: Warehouse, standins: StandinSet) -> None:
    seed(warehouse, 1)
    warehouse.insert("triggered_messages", [
        message("link-0", 0, "calendly", body="", subject=None),
        message("coach-0", 0, body="Book: {{booking_link}}", booking_link_key="link-0")])
    standins.calendly.inject("status", times=1, status=400, body={"title": "Invalid Argument",
                                                                  "message": "owner not found"})
    sync(warehouse, settings_for(standins))

    assert warehouse.outbox_status("link-0") == "failed"
    assert warehouse.outbox_status("coach-0") == "failed"
    assert "could not be created" in warehouse.value(
        "select last_error from sync.outbox where message_key = 'coach-0'")
    assert standins.intercom.messages == []


def test_invalid_messages_are_reported_not_sent(warehouse: Warehouse, standins: StandinSet) -> None:
    seed(warehouse, 1)
    warehouse.insert("triggered_messages", [
        message("ok", 0),
        message("no-subject", 0, "intercom_email", subject=None),
        message("raw-template", 0, body="Hi {{name}}"),
        message("no-link-key", 0, body="Book {{booking_link}}"),
        message("weird-channel", 0, "carrier_pigeon"),
        message("dup", 0), message("dup", 0),
    ])
    result = sync(warehouse, settings_for(standins), "intercom")["intercom"]

    assert result.invalid == 6
    assert delivered(standins, "ok") == 1 and len(standins.intercom.messages) == 1
    reasons = dict(warehouse.rows("select key, error from sync.row_results where status = 'invalid'"))
    assert reasons["no-subject"] == "email without subject"
    assert "placeholder" in reasons["raw-template"]
    assert "booking_link_key" in reasons["no-link-key"]
    assert "unknown channel" in reasons["weird-channel"]
    assert "duplicate" in reasons["dup"]


def test_messages_wait_until_due(warehouse: Warehouse, standins: StandinSet) -> None:
    seed(warehouse, 1)
    warehouse.insert("triggered_messages", [message("later", 0, due_at=datetime(2026, 11, 3, 9))])
    settings = settings_for(standins)

    early = sync(warehouse, settings, "intercom", now=datetime(2026, 11, 2))["intercom"]
    assert (early.waiting, delivered(standins, "later")) == (1, 0)
    sync(warehouse, settings, "intercom", now=datetime(2026, 11, 3, 10))
    assert delivered(standins, "later") == 1


def test_pending_message_removed_from_the_mart_is_withdrawn(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("triggered_messages", [message("stale", 9)])  # no contact yet: it waits
    settings = settings_for(standins)
    sync(warehouse, settings, "intercom")
    warehouse.execute("delete from marts.triggered_messages")
    warehouse.insert("intercom_contacts", [contact(9)])

    result = sync(warehouse, settings, "intercom")["intercom"]

    assert result.withdrawn == 1
    assert warehouse.outbox_status("stale") == "withdrawn"
    assert standins.intercom.messages == []


def test_dropped_answer_leaves_message_in_doubt_and_it_is_never_resent(warehouse: Warehouse,
                                                                      standins: StandinSet) -> None:
    seed(warehouse, 2)
    warehouse.insert("triggered_messages", [message("m-0", 0), message("m-1", 1)])
    standins.intercom.inject("drop_after", times=1, match="POST /messages")
    settings = settings_for(standins)

    first = sync(warehouse, settings, "intercom")["intercom"]
    in_doubt = [k for (k,) in warehouse.rows("select message_key from sync.outbox where status = 'in_doubt'")]
    assert first.in_doubt == 1 and len(in_doubt) == 1
    key = in_doubt[0]
    assert delivered(standins, key) == 1  # it did arrive...

    second = sync(warehouse, settings, "intercom")["intercom"]
    assert second.in_doubt == 1
    assert delivered(standins, key) == 1  # ...and is not sent again
    assert warehouse.value("select in_doubt from sync.runs order by started desc limit 1") == 1

    listing = runner.invoke(sync_app, ["in-doubt", "--db", str(warehouse.path)])
    assert listing.exit_code == 0 and key in listing.output

    resolved = runner.invoke(sync_app, ["resolve", key, "--as", "sent", "--db", str(warehouse.path)])
    assert resolved.exit_code == 0, resolved.output
    assert warehouse.outbox_status(key) == "sent"
    assert "No messages in doubt" in runner.invoke(sync_app, ["in-doubt", "--db", str(warehouse.path)]).output


def test_in_doubt_resolved_as_retry_is_sent_exactly_once(warehouse: Warehouse, standins: StandinSet) -> None:
    seed(warehouse, 1)
    warehouse.insert("triggered_messages", [message("m-0", 0)])
    standins.intercom.inject("drop", times=1, match="POST /messages")  # dropped before processing
    settings = settings_for(standins)
    sync(warehouse, settings, "intercom")
    assert warehouse.outbox_status("m-0") == "in_doubt" and delivered(standins, "m-0") == 0

    result = runner.invoke(sync_app, ["resolve", "m-0", "--as", "retry", "--db", str(warehouse.path)])
    assert result.exit_code == 0
    sync(warehouse, settings, "intercom")
    sync(warehouse, settings, "intercom")
    assert delivered(standins, "m-0") == 1

    refused = runner.invoke(sync_app, ["resolve", "m-0", "--as", "retry", "--db", str(warehouse.path)])
    assert refused.exit_code == 1  # a sent message can never be requeued


def test_message_left_sending_by_a_dead_run_becomes_in_doubt(warehouse: Warehouse, standins: StandinSet) -> None:
    seed(warehouse, 1)
    warehouse.insert("triggered_messages", [message("m-0", 0)])
    warehouse.insert("csm_alerts", [alert("a-0", 0)])
    settings = settings_for(standins)
    sync(warehouse, settings, ["intercom", "slack"], dry_run=True)  # enqueue both, send nothing
    # What a SIGKILL between "mark sending" and the answer leaves behind:
    warehouse.execute("update sync.outbox set status = 'sending'")

    result = sync(warehouse, settings, ["intercom", "slack"])

    assert warehouse.outbox_status("m-0") == "in_doubt"  # customer-facing: not resent
    assert delivered(standins, "m-0") == 0
    assert result["intercom"].in_doubt == 1
    assert warehouse.outbox_status("a-0") == "sent"  # CSM alert: at least once, so resent
    assert standins.slack.alert_keys() == ["a-0"]


def test_permanent_4xx_fails_one_message_and_the_run_completes(warehouse: Warehouse,
                                                               standins: StandinSet) -> None:
    seed(warehouse, 3)
    warehouse.insert("triggered_messages", [message(f"m-{i}", i) for i in range(3)])
    standins.intercom.inject("status", times=1, status=400, match="POST /messages", body={
        "type": "error.list", "errors": [{"code": "parameter_invalid", "message": "Body is required"}]})
    settings = settings_for(standins)

    result = sync(warehouse, settings, "intercom")["intercom"]

    assert (result.status, result.failed) == ("completed", 1)
    assert len(standins.intercom.messages) == 2
    key, error, http = warehouse.rows(
        "select key, error, http_status from sync.row_results where status = 'failed'")[0]
    assert http == 400 and "parameter_invalid: Body is required" in error
    assert warehouse.outbox_status(key) == "failed"
    sync(warehouse, settings, "intercom")
    assert len(standins.intercom.messages) == 2  # a rejected message is not retried by itself


def test_appcues_flow_switch_is_patched_once(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("triggered_messages", [
        message("flow-1", 1, "appcues", body='{"appcues_flow_id": "advanced-tour", "content_difficulty": "advanced"}'),
        message("flow-bad", 2, "appcues", body="not json")])
    settings = settings_for(standins)
    first = sync(warehouse, settings, "appcues")["appcues"]
    sync(warehouse, settings, "appcues")

    assert (first.sent, first.invalid) == (1, 1)
    assert standins.appcues.patches == [{"user": "auth0|user00001", "attributes": {
        "appcues_flow_id": "advanced-tour", "content_difficulty": "advanced"}}]


def test_messages_due_before_the_delivery_window_expire(warehouse: Warehouse, standins: StandinSet) -> None:
    """A backfill computes months of messages; only those due in the last few days are sent."""
    seed(warehouse, 2)
    latest = datetime(2026, 11, 1, 9)  # the fixture's decision day is 2026-11-01
    warehouse.insert("triggered_messages", [
        message("fresh", 0, due_at=latest),
        message("edge", 1, due_at=datetime(2026, 10, 30)),  # exactly 3 days before 2026-11-02 00:00
        message("old", 0, due_at=datetime(2026, 10, 29, 23, 59)),
        message("ancient", 1, due_at=datetime(2026, 9, 1)),
    ])
    warehouse.insert("csm_alerts", [alert("a-new", 0), alert("a-old", 1, as_of_date=datetime(2026, 10, 1).date())])
    settings = settings_for(standins)

    result = sync(warehouse, settings, ["intercom", "slack"], now=datetime(2026, 11, 2))

    assert result["intercom"].expired == 2 and result["slack"].expired == 1
    assert [delivered(standins, k) for k in ("fresh", "edge", "old", "ancient")] == [1, 1, 0, 0]
    assert warehouse.value("select count(*) from sync.outbox where message_key in ('old', 'ancient', 'a-old')") == 0
    assert warehouse.value("select expired from sync.runs where destination = 'intercom'") == 2
    shown = Console(record=True, width=200)
    print_summaries(list(result.values()), shown)
    assert "expired: due before 2026-10-30 00:00 (SYNC_MESSAGE_MAX_AGE_DAYS), never sent" in shown.export_text()

    # A message still pending from an earlier run expires instead of going out late.
    warehouse.insert("triggered_messages", [message("waits", 9, due_at=latest)])  # no contact yet: it waits
    sync(warehouse, settings, "intercom", now=datetime(2026, 11, 2))
    assert warehouse.outbox_status("waits") == "pending"
    warehouse.execute("update marts.triggered_messages set as_of_date = date '2026-11-10'")
    warehouse.insert("intercom_contacts", [contact(9)])
    later = sync(warehouse, settings, "intercom", now=datetime(2026, 11, 11))["intercom"]
    assert warehouse.outbox_status("waits") == "withdrawn" and delivered(standins, "waits") == 0
    assert "expired" in warehouse.value("select last_error from sync.outbox where message_key = 'waits'")
    messages = next(st for st in later.streams if st.stream == "messages")
    # Expired counts rows never queued (old, ancient); fresh and edge were sent, "waits" is withdrawn.
    assert (messages.sent, messages.withdrawn, messages.expired) == (0, 1, 2)


def test_message_window_can_be_switched_off(warehouse: Warehouse, standins: StandinSet) -> None:
    seed(warehouse, 1)
    warehouse.insert("triggered_messages", [message("ancient", 0, due_at=datetime(2026, 9, 1))])
    result = sync(warehouse, settings_for(standins, SYNC_MESSAGE_MAX_AGE_DAYS="none"), "intercom")["intercom"]
    assert (result.expired, delivered(standins, "ancient")) == (0, 1)

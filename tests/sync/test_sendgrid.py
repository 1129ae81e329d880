"""SendGrid: the email channel setting, the request SendGrid gets, at most once."""

from __future__ import annotations

from typing import Any

from sync.settings import SyncSettings
from tests.standins import StandinSet
from tests.standins.marts import contact, message
from tests.sync.conftest import Warehouse, settings_for, sync

FAST_SENDGRID = {"SYNC_SENDGRID_BACKOFF_BASE": "0.01", "SYNC_SENDGRID_BACKOFF_MAX": "0.05",
                 "SYNC_SENDGRID_MAX_ATTEMPTS": "4", "SYNC_SENDGRID_TIMEOUT": "5"}
HOSTILE = 'Ann <a href="https://evil.example">reset</a>'


def playbook(key: str, user: int, **overrides: Any) -> dict[str, Any]:
    # The body as dbt renders it for an HTML channel: the value escaped, the template's own markup kept.
    escaped = HOSTILE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return message(key, user, "intercom_email", **{
        "trigger": "playbook_day_14", "subject": "Your weeks 3-4 playbook",
        "body": f"<p>Hi {escaped},</p><p>Your playbook [{key}]<br>Step 1</p>", **overrides})


def seed(warehouse: Warehouse) -> None:
    warehouse.insert("intercom_contacts", [contact(i) for i in range(3)])
    warehouse.insert("triggered_messages", [playbook("pb-0", 0), playbook("pb-1", 1),
                                            message("plan-2", 2, "intercom_email", trigger="day_1_plan",
                                                    subject="Your 30-day plan")])


def settings(standins: StandinSet, **overrides: str) -> SyncSettings:
    return settings_for(standins, **FAST_SENDGRID, SENDGRID_UNSUBSCRIBE_GROUP_ID="4242",
                        SENDGRID_CATEGORIES="cs-playbooks", **overrides)


def test_playbook_goes_through_sendgrid_once_with_text_part_and_message_key(
        warehouse: Warehouse, standins: StandinSet) -> None:
    seed(warehouse)
    s = settings(standins)

    first = sync(warehouse, s, ["intercom", "sendgrid"])
    again = sync(warehouse, s, ["intercom", "sendgrid"])

    assert (first["sendgrid"].sent, again["sendgrid"].sent, again["sendgrid"].unchanged) == (2, 0, 2)
    assert sorted(standins.sendgrid.keys()) == ["pb-0", "pb-1"]
    # the other email type stays with Intercom, and Intercom does not send the playbook
    intercom_bodies = [m["body"] for m in standins.intercom.messages]
    assert any("plan-2" in b for b in intercom_bodies) and not any("pb-" in b for b in intercom_bodies)
    mail = next(m for m in standins.sendgrid.mails if m["custom_args"]["message_key"] == "pb-0")
    assert mail["to"] == ["user00000@example.com"]
    assert mail["from"] == {"email": "cs@yourcompany.example", "name": "Customer Success"}
    assert mail["categories"] == ["onboarding", "playbook_day_14", "cs-playbooks"]
    assert mail["asm"] == {"group_id": 4242}
    assert "&lt;a href=&quot;https://evil.example&quot;&gt;" in mail["content"]["text/html"]  # still inert
    assert mail["content"]["text/plain"].startswith(f"Hi {HOSTILE},")  # text: decoded, not markup
    assert "\n\nYour playbook [pb-0]\nStep 1" in mail["content"]["text/plain"]
    assert warehouse.value("select remote_id from sync.outbox where message_key = 'pb-0'") == mail["id"]
    assert standins.sendgrid.validation_errors == []


def test_without_sendgrid_credentials_the_playbook_stays_with_intercom(
        warehouse: Warehouse, standins: StandinSet) -> None:
    seed(warehouse)
    s = settings(standins, SENDGRID_API_KEY="")

    result = sync(warehouse, s, ["intercom", "sendgrid"])

    assert result["sendgrid"].dry_run and result["sendgrid"].planned == 0
    assert sum("pb-" in m["body"] for m in standins.intercom.messages) == 2
    assert standins.sendgrid.received == []


def test_a_message_intercom_sent_is_never_sent_again_when_the_routing_moves_it(
        warehouse: Warehouse, standins: StandinSet) -> None:
    seed(warehouse)
    sync(warehouse, settings(standins, SYNC_EMAIL_CHANNELS="none"), ["intercom", "sendgrid"])
    warehouse.insert("triggered_messages", [playbook("pb-2", 2)])

    moved = sync(warehouse, settings(standins, SYNC_EMAIL_CHANNELS="playbook_day_14=sendgrid"),
                 ["intercom", "sendgrid"])

    assert standins.sendgrid.keys() == ["pb-2"]  # the new one only
    assert moved["sendgrid"].sent == 1 and moved["intercom"].sent == 0
    assert sum("pb-" in m["body"] for m in standins.intercom.messages) == 2


def test_an_answer_lost_after_sendgrid_accepted_the_mail_is_in_doubt_and_not_resent(
        warehouse: Warehouse, standins: StandinSet) -> None:
    seed(warehouse)
    standins.sendgrid.inject("status_after", status=500, match="POST /v3/mail/send")
    standins.sendgrid.inject("drop_after", match="POST /v3/mail/send")
    s = settings(standins, SYNC_SENDGRID_CONCURRENCY="1")

    first = sync(warehouse, s, "sendgrid")["sendgrid"]
    second = sync(warehouse, s, "sendgrid")["sendgrid"]

    assert (first.sent, first.in_doubt, second.sent, second.in_doubt) == (0, 2, 0, 2)
    assert len(standins.sendgrid.mails) == 2  # SendGrid did accept both; neither went out twice
    assert warehouse.outbox_status("pb-0") == warehouse.outbox_status("pb-1") == "in_doubt"


def test_a_429_before_sending_is_waited_out_and_sent_once(warehouse: Warehouse, standins: StandinSet) -> None:
    seed(warehouse)
    standins.sendgrid.inject("status", status=429, headers={"X-RateLimit-Reset": "0"}, match="POST /v3/mail/send")

    result = sync(warehouse, settings(standins), "sendgrid")["sendgrid"]

    assert (result.sent, result.rate_limited) == (2, 1)
    assert sorted(standins.sendgrid.keys()) == ["pb-0", "pb-1"]


def test_a_user_without_a_valid_address_is_invalid_not_sent(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("intercom_contacts", [contact(0, email="not-an-address")])
    warehouse.insert("triggered_messages", [playbook("pb-0", 0)])

    result = sync(warehouse, settings(standins), "sendgrid")["sendgrid"]

    assert (result.invalid, result.sent) == (1, 0)
    assert warehouse.value("select error from sync.row_results where key = 'pb-0'") == \
        "no valid email address for the user"


def test_the_playbooks_booking_link_is_filled_in_both_parts(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("intercom_contacts", [contact(0)])
    warehouse.insert("triggered_messages", [
        message("link-0", 0, "calendly", trigger="booking_link", body="", subject=None),
        playbook("pb-0", 0, body='<p>Book a demo: <a href="{{booking_link}}">pick a time</a> [pb-0]</p>',
                 booking_link_key="link-0")])

    result = sync(warehouse, settings(standins), ["calendly", "intercom", "sendgrid"])

    assert result["sendgrid"].sent == 1
    url = warehouse.value("select booking_url from sync.booking_links where link_key = 'link-0'")
    [mail] = standins.sendgrid.mails
    assert f'<a href="{url}">pick a time</a>' in mail["content"]["text/html"]
    assert f"pick a time ({url})" in mail["content"]["text/plain"]

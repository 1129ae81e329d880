"""Slack: Block Kit alerts with escaping and metadata, ok:false handling, invites."""

from __future__ import annotations

from tests.standins import StandinSet
from tests.standins.marts import alert, contact, message
from tests.sync.conftest import Warehouse, settings_for, sync


def all_text(post: dict) -> str:
    """Everything a reader (or Slack's mention parser) sees in a posted message."""
    return post["text"] + repr(post["blocks"])


def test_alert_has_blocks_fallback_and_metadata(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("csm_alerts", [alert("a-1", 1)])
    result = sync(warehouse, settings_for(standins), "slack")["slack"]

    assert result.sent == 1
    post = standins.slack.posts[0]
    assert post["channel"] == "#csm-alerts"
    assert post["text"].startswith("High churn risk: User 1 (Acme)")
    assert post["metadata"] == {"event_type": "csm_alert", "event_payload": {
        "alert_key": "a-1", "alert_type": "churn_risk", "user_id": "auth0|user00001"}}
    types = [b["type"] for b in post["blocks"]]
    assert types[0] == "header" and "section" in types and types[-1] == "context"
    assert "<@U0CSM0001>" in repr(post["blocks"])  # the assigned CSM is mentioned on purpose
    request = standins.slack.requests("POST", "/chat.postMessage")[0]
    assert request.form["unfurl_links"] == "false"
    assert standins.slack.validation_errors == []


def test_user_supplied_text_is_escaped(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("csm_alerts", [alert(
        "a-1", 1, user_name="<!channel> Mallory", company="Tom & Jerry <Inc>", csm_slack_id="<!here>",
        csm_name="<@U999> Eve", text="Risk for <!channel> Mallory", reason="<https://evil.example|click>")])
    sync(warehouse, settings_for(standins), "slack")

    seen = all_text(standins.slack.posts[0])
    for raw in ("<!channel>", "<!here>", "<@U999>", "<https://evil", "Tom & Jerry"):
        assert raw not in seen
    assert "&lt;!channel&gt; Mallory" in seen
    assert "Tom &amp; Jerry &lt;Inc&gt;" in seen
    assert "&lt;@U999&gt; Eve" in seen  # an invalid CSM id falls back to the escaped name


def test_ratelimited_ok_false_is_retried(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("csm_alerts", [alert("a-1", 1)])
    standins.slack.inject("slack_error", times=2, error="ratelimited")
    standins.slack.inject("status", times=1, status=429, headers={"Retry-After": "0"},
                          body={"ok": False, "error": "ratelimited"})
    result = sync(warehouse, settings_for(standins), "slack")["slack"]

    assert result.sent == 1
    assert standins.slack.alert_keys() == ["a-1"]
    assert len(standins.slack.requests("POST", "/chat.postMessage")) == 4


def test_channel_not_found_fails_fast_and_keeps_rows_pending(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("csm_alerts", [alert(f"a-{i}", i) for i in range(5)])
    settings = settings_for(standins, SLACK_CSM_CHANNEL="#no-such-channel")

    result = sync(warehouse, settings, "slack")["slack"]

    assert result.status == "aborted"
    assert "channel_not_found" in (result.error or "")
    assert len(standins.slack.requests("POST", "/chat.postMessage")) == 1  # no point asking 5 times
    assert warehouse.value("select count(*) from sync.outbox where status = 'pending'") == 5

    fixed = sync(warehouse, settings_for(standins), "slack")["slack"]
    assert fixed.sent == 5
    assert sorted(standins.slack.alert_keys()) == [f"a-{i}" for i in range(5)]


def test_invalid_auth_stops_the_destination(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("csm_alerts", [alert("a-1", 1), alert("a-2", 2)])
    result = sync(warehouse, settings_for(standins, SLACK_BOT_TOKEN="xoxb-wrong-token"), "slack")["slack"]
    assert result.status == "aborted" and "invalid_auth" in (result.error or "")
    assert standins.slack.posts == []


def test_invites_one_email_per_call_at_most_once(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("intercom_contacts", [contact(1), contact(2), contact(3, email=None)])
    warehouse.insert("triggered_messages", [
        message("inv-1", 1, "slack", body="", subject=None), message("inv-2", 2, "slack", body="", subject=None),
        message("inv-3", 3, "slack", body="", subject=None)])
    standins.slack.inject("slack_error", times=1, error="internal_error", match="inviteShared")
    settings = settings_for(standins)

    first = sync(warehouse, settings, "slack")["slack"]
    sync(warehouse, settings, "slack")

    assert (first.sent, first.in_doubt, first.invalid) == (1, 1, 1)  # internal_error may have taken effect
    assert len(standins.slack.invites) == 1
    assert len(standins.slack.requests("POST", "/conversations.inviteShared")) == 2
    assert all(r.form["emails"].count("@") == 1 for r in standins.slack.requests("POST"))
    assert standins.slack.validation_errors == []
    reason = warehouse.value("select error from sync.row_results where key = 'inv-3'")
    assert reason == "no valid email for the invitee"


def test_invites_without_community_channel_are_only_planned(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("intercom_contacts", [contact(1)])
    warehouse.insert("triggered_messages", [message("inv-1", 1, "slack", body="", subject=None)])
    result = sync(warehouse, settings_for(standins, SLACK_COMMUNITY_CHANNEL=""), "slack")["slack"]

    invites = next(s for s in result.streams if s.stream == "invites")
    assert invites.dry_run and invites.planned == 1 and "SLACK_COMMUNITY_CHANNEL" in (invites.note or "")
    assert standins.slack.invites == []
    assert warehouse.outbox_status("inv-1") == "pending"

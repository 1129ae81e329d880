"""Slack: CSM alerts to #csm-alerts and community invites.

* ``alerts`` (outbox, **at least once**, ``marts.csm_alerts``): ``chat.postMessage`` with Block Kit
  blocks plus the plain fallback ``text``, and message ``metadata`` carrying the ``alert_key`` - a
  duplicate after a crash is therefore visible (and machine-detectable) in the channel. Posts are paced
  to about one per second per channel.
* ``invites`` (outbox, **at most once**, ``marts.triggered_messages`` rows with channel ``slack``):
  ``conversations.inviteShared`` to ``SLACK_COMMUNITY_CHANNEL``, one invitee per call (the invitee's
  email comes from ``marts.intercom_contacts``). The invitee receives an email, so this is
  customer-facing and never repeated blindly.

Slack answers most errors with HTTP 200 and ``ok: false``. ``ratelimited`` and transient server
errors are retried; authentication and channel errors (``invalid_auth``, ``channel_not_found``,
``not_in_channel``...) stop the stream at once - every further call would fail the same way - and
leave the rows pending. Documented refusals (``invalid_arguments``, ``invalid_email``...) fail the
row. Any other error is not a documented refusal: an invite is then ``in_doubt`` (it may have been
sent). An alert that did not go through, for any reason but bad credentials or channel, is retried
on later runs, at most ``SYNC_SLACK_ALERT_MAX_ATTEMPTS`` runs, and then fails - which fails the Slack
run until an operator settles it. An alert Slack rejects for its
blocks or length (``invalid_blocks``, ``msg_too_long``...) is posted again at once as plain text. Everything user-supplied is escaped (``&``, ``<``, ``>``) so that a name like
``<!channel>`` pings nobody.

Requests are form-encoded (``application/x-www-form-urlencoded``), the encoding every Slack Web API
method accepts, with JSON-valued arguments (``blocks``, ``metadata``) as JSON strings.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

import httpx

from sync.adapters.base import (
    EMAIL_RE,
    Adapter,
    AttributeStream,
    OutboxStream,
    StreamContext,
    clean_str,
    priority_rank,
    required_user_id,
)
from sync.escaping import slack_text
from sync.ledger import OutboxMessage
from sync.masking import mask_email
from sync.outcomes import Delivery, InvalidRow, OutboxEntry, Outcome, OutcomeKind, classify_response
from sync.settings import SlackSettings
from sync.transport import SlidingWindowLimiter

RETRYABLE_ERRORS = frozenset({"ratelimited", "rate_limited", "internal_error", "fatal_error",
                              "service_unavailable", "request_timeout"})
# Slack's own words for these: "it's possible some aspect of the operation succeeded".
AMBIGUOUS_ERRORS = frozenset({"internal_error", "fatal_error", "request_timeout"})
FATAL_ERRORS = frozenset({
    "invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired", "no_permission",
    "missing_scope", "not_allowed_token_type", "ekm_access_denied", "org_login_required",
    "team_access_not_granted", "channel_not_found", "not_in_channel", "is_archived", "restricted_action",
    "not_paid", "method_deprecated",
})
# Documented errors that mean Slack rejected the call before doing anything.
REJECTED_ERRORS = frozenset({
    "invalid_arguments", "invalid_arg_name", "invalid_array_arg", "invalid_charset", "invalid_form_data",
    "invalid_post_type", "missing_post_type", "invalid_json", "json_not_object", "no_text", "msg_too_long",
    "too_many_attachments", "invalid_blocks", "invalid_blocks_format", "invalid_metadata_format",
    "invalid_metadata_schema", "metadata_too_large", "metadata_must_be_sent_from_app", "invalid_email",
    "too_many_emails", "too_many_users", "user_not_found", "missing_argument",
})
# Rejections of an alert's shape: the same alert is posted again as plain text.
DEGRADABLE_ERRORS = frozenset({"invalid_blocks", "invalid_blocks_format", "msg_too_long",
                               "invalid_metadata_format", "invalid_metadata_schema", "metadata_too_large"})
PLAIN_TEXT_LIMIT = 1000
ALERT_TITLES = {
    "churn_risk": ":rotating_light: High churn risk",
    "escalation": ":warning: Escalation",
    "nps_detractor": ":disappointed: NPS detractor",
}
_SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
TEXT_LIMIT = 3000


def escape(text: Any) -> str:
    """User text as inert mrkdwn: ``&<>`` escaped, bare URLs and ``@channel`` defanged (sync/escaping.py)."""
    return slack_text(text)


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_outcome(response: httpx.Response, *, at_most_once: bool) -> Outcome:
    """Map a Slack Web API answer (HTTP status and ``ok``/``error``) to an outcome."""
    if response.status_code != 200:
        return classify_response(response, idempotent=not at_most_once)
    try:
        body = response.json()
    except ValueError:
        return Outcome.retry("Slack returned a non-JSON answer", 200)
    if body.get("ok") is True:
        return Outcome.sent(200, remote_id=str(body.get("ts") or body.get("invite_id") or "") or None)
    error = str(body.get("error") or "unknown_error")
    if error in FATAL_ERRORS:
        return Outcome.abort(f"Slack error {error}", 200)
    if error in RETRYABLE_ERRORS:
        if at_most_once and error in AMBIGUOUS_ERRORS:
            return Outcome.in_doubt(f"Slack error {error}: the call may have taken effect", 200)
        return Outcome.retry(f"Slack error {error} (gave up after retries)", 200)
    if error in REJECTED_ERRORS:
        return Outcome.failed(f"Slack error {error}", 200)
    if at_most_once:
        return Outcome.in_doubt(f"Slack error {error} is not a documented refusal; the call may have taken"
                                " effect", 200)
    return Outcome.retry(f"Slack error {error} (not a documented error; retried on later runs)", 200)


def slack_error(response: httpx.Response) -> str | None:
    """The ``error`` of an ``ok: false`` answer, else ``None``."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("ok") is False:
        return str(body.get("error") or "unknown_error")
    return None


def _retry_on(at_most_once: bool) -> Any:
    def retry(response: httpx.Response) -> bool:
        try:
            body = response.json()
        except ValueError:
            return False
        error = body.get("error") if isinstance(body, dict) and body.get("ok") is False else None
        if error not in RETRYABLE_ERRORS:
            return False
        return not (at_most_once and error in AMBIGUOUS_ERRORS)
    return retry


def alert_blocks(row: dict[str, Any]) -> list[dict[str, Any]]:
    """Block Kit for one alert; every warehouse string is escaped."""
    alert_type = str(row.get("alert_type") or "alert")
    title = ALERT_TITLES.get(alert_type, ":bell: CSM alert")
    who = f"*{escape(row.get('user_name') or row.get('user_id') or 'Unknown user')}*"
    if row.get("company"):
        who += f" ({escape(row['company'])})"
    csm_id = clean_str(row.get("csm_slack_id"))
    if csm_id and _SLACK_USER_ID.fullmatch(csm_id):
        csm = f"<@{csm_id}>"  # a deliberate mention of the assigned CSM, validated to be a user id
    else:
        csm = escape(row.get("csm_name") or "unassigned")
    fields = []
    if row.get("churn_risk") is not None:
        fields.append(f"*Churn risk*\n{float(row['churn_risk']):.2f}")
    if row.get("days_since_last_login") is not None:
        fields.append(f"*Last login*\n{escape(row['days_since_last_login'])} days ago")
    if row.get("unresolved_tickets") is not None:
        fields.append(f"*Unresolved tickets*\n{escape(row['unresolved_tickets'])}")
    fields.append(f"*Assigned CSM*\n{csm}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _truncate(title, 150), "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _truncate(who, SECTION_LIMIT)},
         "fields": [{"type": "mrkdwn", "text": _truncate(f, FIELD_LIMIT)} for f in fields]},
    ]
    if row.get("reason"):
        blocks.append({"type": "section",
                       "text": {"type": "mrkdwn", "text": _truncate(escape(row["reason"]), SECTION_LIMIT)}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _truncate(
        f"alert `{escape(row.get('alert_key'))}` · {escape(row.get('as_of_date') or '')}", 300)}]})
    return blocks


class SlackAlerts(OutboxStream):
    name: ClassVar[str] = "alerts"
    mart: ClassVar[str] = "marts.csm_alerts"
    key_column: ClassVar[str] = "alert_key"
    delivery: ClassVar[Delivery] = Delivery.AT_LEAST_ONCE
    operation: ClassVar[str] = "post_alert"
    max_concurrency: ClassVar[int | None] = 1  # one channel, paced and in priority order
    due_column: ClassVar[str] = "as_of_date"  # an alert is due on the day it was raised
    must_arrive: ClassVar[bool] = True

    def __init__(self, settings: SlackSettings) -> None:
        self.settings = settings
        self.channel_limiters: dict[str, SlidingWindowLimiter] = {}

    def query(self) -> str:
        return ("select alert_key, user_id, as_of_date, alert_type, user_name, company, churn_risk,"
                " days_since_last_login, unresolved_tickets, csm_name, csm_slack_id, text, reason"
                f" from {self.mart}")

    def build(self, row: dict[str, Any]) -> OutboxMessage:
        text = clean_str(row.get("text"))
        if text is None:
            raise InvalidRow("empty fallback text")
        metadata = {"event_type": "csm_alert", "event_payload": {
            "alert_key": row["alert_key"], "alert_type": row.get("alert_type"), "user_id": row.get("user_id")}}
        payload = {"text": _truncate(escape(text), TEXT_LIMIT), "blocks": alert_blocks(row), "metadata": metadata}
        urgent = row.get("alert_type") in ("churn_risk", "escalation")
        return OutboxMessage(row["alert_key"], clean_str(row.get("user_id")), payload, None, 1 if urgent else 2)

    def _limiter(self, channel: str) -> SlidingWindowLimiter | None:
        if self.settings.channel_interval <= 0:
            return None
        if channel not in self.channel_limiters:
            self.channel_limiters[channel] = SlidingWindowLimiter(1, self.settings.channel_interval)
        return self.channel_limiters[channel]

    async def deliver(self, ctx: StreamContext, entry: OutboxEntry) -> Outcome:
        t = ctx.require_transport()
        channel = self.settings.csm_channel
        form = {
            "channel": channel,
            "text": entry.payload["text"],
            "blocks": json.dumps(entry.payload["blocks"], ensure_ascii=False),
            "metadata": json.dumps(entry.payload["metadata"], ensure_ascii=False),
            "unfurl_links": "false",
            "unfurl_media": "false",
        }
        response = await t.request("POST", "/chat.postMessage", idempotent=True, data=form,
                                   retry_on=_retry_on(False), limiter=self._limiter(channel))
        error = slack_error(response) if response.status_code == 200 else None
        if error in DEGRADABLE_ERRORS:
            # Slack refused the alert's shape, not the alert: post it again as plain text (a CSM alert
            # must arrive), with the key in the text and, unless it was the problem, in the metadata.
            key = escape(entry.payload.get("metadata", {}).get("event_payload", {}).get("alert_key", entry.key))
            plain = {k: v for k, v in form.items() if k != "blocks"}
            plain["text"] = (f"{_truncate(entry.payload['text'], PLAIN_TEXT_LIMIT)}\n"
                             f"(alert {key}; sent as plain text: Slack answered {error})")
            if "metadata" in error:
                del plain["metadata"]
            response = await t.request("POST", "/chat.postMessage", idempotent=True, data=plain,
                                       retry_on=_retry_on(False), limiter=self._limiter(channel))
        outcome = slack_outcome(response, at_most_once=False)
        if outcome.kind not in (OutcomeKind.RETRY, OutcomeKind.FAILED):
            return outcome
        # An alert must arrive: anything short of a success is tried again by the next runs, up to
        # the bound, and only then failed (which fails the run until an operator settles it).
        if entry.attempts >= self.settings.alert_max_attempts:
            return Outcome.failed(f"{outcome.error}; gave up after {entry.attempts} runs"
                                  " (SYNC_SLACK_ALERT_MAX_ATTEMPTS)", outcome.http_status)
        return Outcome.retry(outcome.error or "not delivered", outcome.http_status)

    def describe(self, entry: OutboxEntry) -> str:
        alert_type = entry.payload.get("metadata", {}).get("event_payload", {}).get("alert_type")
        return f"{alert_type} alert for user {entry.user_id}"


class SlackInvites(OutboxStream):
    name: ClassVar[str] = "invites"
    mart: ClassVar[str] = "marts.triggered_messages"
    delivery: ClassVar[Delivery] = Delivery.AT_MOST_ONCE
    operation: ClassVar[str] = "invite"
    max_concurrency: ClassVar[int | None] = 1

    def __init__(self, settings: SlackSettings) -> None:
        self.settings = settings
        self.limiter = SlidingWindowLimiter(max(settings.invites_per_minute, 1), 60.0)

    def query(self) -> str:
        return ("select t.message_key, t.user_id, t.priority, t.due_at, c.email, coalesce(c.n, 0) as contact_rows"
                f" from {self.mart} t left join (select user_id, min(email) as email, count(*) as n"
                " from marts.intercom_contacts group by user_id) c on c.user_id = t.user_id"
                " where t.channel = 'slack'")

    def build(self, row: dict[str, Any]) -> OutboxMessage:
        user_id = required_user_id(row)
        if row.get("contact_rows", 0) > 1:
            raise InvalidRow("user has several rows in intercom_contacts; invitee email is ambiguous")
        email = clean_str(row.get("email"))
        if email is None or not EMAIL_RE.fullmatch(email):
            raise InvalidRow("no valid email for the invitee")
        return OutboxMessage(row["message_key"], user_id, {"email": email}, row.get("due_at"),
                             priority_rank(row.get("priority")))

    def dry_reason(self, ctx: StreamContext) -> str | None:
        return None if self.settings.community_channel else "SLACK_COMMUNITY_CHANNEL not set"

    async def deliver(self, ctx: StreamContext, entry: OutboxEntry) -> Outcome:
        t = ctx.require_transport()
        form = {
            "channel": self.settings.community_channel or "",
            "emails": entry.payload["email"],  # exactly one invitee per call
            "external_limited": "true",
        }
        response = await t.request("POST", "/conversations.inviteShared", idempotent=False, data=form,
                                   retry_on=_retry_on(True), limiter=self.limiter)
        return slack_outcome(response, at_most_once=True)

    def describe(self, entry: OutboxEntry) -> str:
        return f"invite {mask_email(entry.payload.get('email'))} (user {entry.user_id})"


class SlackAdapter(Adapter):
    name: ClassVar[str] = "slack"

    def headers(self) -> dict[str, str]:
        return self.bearer(self.sync_settings.slack.bot_token)

    def streams(self) -> list[AttributeStream | OutboxStream]:
        s = self.sync_settings.slack
        return [SlackAlerts(s), SlackInvites(s)]

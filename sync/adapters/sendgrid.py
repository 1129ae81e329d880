"""SendGrid: customer emails through ``POST /v3/mail/send``, at most once.

Which emails: the ``intercom_email`` rows of ``marts.triggered_messages`` whose message type (``trigger``)
the email channel setting routes to SendGrid (``SYNC_EMAIL_CHANNELS``; by default the day-14 playbook,
when the SendGrid key and sender are set - see :meth:`SyncSettings.sendgrid_triggers`). Intercom's
stream leaves exactly those rows out, and each side skips a key the other has already attempted, so a
change of routing can never send one message twice.

The request carries the HTML body dbt rendered (values escaped as for Intercom; a ``{{booking_link}}``
filled with the user's single-use Calendly link, as Intercom's stream does) and a plain-text part
made from it (:func:`sync.escaping.html_to_text`); ``custom_args`` carry the message key and the user,
so SendGrid's event webhook can be matched to the ledger; categories are ``onboarding``, the message
type and ``SENDGRID_CATEGORIES``; ``asm.group_id`` is ``SENDGRID_UNSUBSCRIBE_GROUP_ID`` when set.

A 202 is sent (``X-Message-Id`` is kept as the remote id). Anything else after the body left - a 5xx,
a timeout, a dropped connection - is ``in_doubt`` and never resent automatically. The recipient's
address is read from ``marts.intercom_contacts`` when the email is sent, never stored in the outbox.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sync.adapters.base import (
    EMAIL_RE,
    Adapter,
    AttributeStream,
    Blocked,
    OutboxStream,
    StreamContext,
    clean_str,
    priority_rank,
    required_user_id,
)
from sync.adapters.email_routing import routed_sql, taken_by
from sync.adapters.intercom import _PLACEHOLDER, BOOKING_PLACEHOLDER, BookingLinks
from sync.escaping import html_to_text
from sync.ledger import OutboxMessage
from sync.outcomes import Delivery, InvalidRow, OutboxEntry, Outcome, classify_response
from sync.settings import SendGridSettings

MAX_CATEGORIES = 10
MAX_CATEGORY = 255


class SendGridEmails(OutboxStream):
    name: ClassVar[str] = "emails"
    mart: ClassVar[str] = "marts.triggered_messages"
    delivery: ClassVar[Delivery] = Delivery.AT_MOST_ONCE
    operation: ClassVar[str] = "send_email"
    max_concurrency: ClassVar[int | None] = 8  # bounds how many emails one crash can leave in doubt

    def __init__(self, settings: SendGridSettings, triggers: list[str]) -> None:
        self.settings = settings
        self.triggers = triggers
        self.emails: dict[str, str] = {}
        self.links = BookingLinks()

    def query(self) -> str:
        return ("select m.message_key, m.user_id, m.trigger, m.subject, m.body, m.booking_link_key, m.priority,"
                " m.due_at, c.email"
                f" from {self.mart} as m left join (select user_id, min(email) as email"
                " from marts.intercom_contacts group by user_id) as c on m.user_id = c.user_id"
                f" where m.channel = 'intercom_email' and m.trigger in {routed_sql(self.triggers)}"
                f" and (m.message_key is null or m.message_key not in {taken_by('intercom', 'messages')})")

    def build(self, row: dict[str, Any]) -> OutboxMessage:
        user_id = required_user_id(row)
        body, subject = row.get("body"), clean_str(row.get("subject"))
        if not isinstance(body, str) or not body.strip():
            raise InvalidRow("empty body")
        if not subject:
            raise InvalidRow("email without subject")
        link_key = clean_str(row.get("booking_link_key"))
        if BOOKING_PLACEHOLDER in body and link_key is None:
            raise InvalidRow("body has {{booking_link}} but no booking_link_key")
        if _PLACEHOLDER.search(body.replace(BOOKING_PLACEHOLDER, "")) or _PLACEHOLDER.search(subject):
            raise InvalidRow("unrendered template placeholder in the message")
        email = clean_str(row.get("email"))
        if email is None or not EMAIL_RE.fullmatch(email):
            raise InvalidRow("no valid email address for the user")
        trigger = clean_str(row.get("trigger")) or "onboarding"
        return OutboxMessage(row["message_key"], user_id, {"subject": subject, "html": body, "trigger": trigger,
                                                           "booking_link_key": link_key},
                             row.get("due_at"), priority_rank(row.get("priority")))

    def dry_reason(self, ctx: StreamContext) -> str | None:
        return None if self.settings.from_email else "SENDGRID_FROM_EMAIL not set"

    def prepare(self, ctx: StreamContext) -> None:
        self.emails = {user: email for user, email in ctx.con.execute(
            "select user_id, min(email) from marts.intercom_contacts where user_id is not null group by user_id"
        ).fetchall() if email}
        # Booking links (Calendly, created before Intercom runs), exactly as the Intercom stream uses them.
        self.links.load(ctx)

    def blocked(self, ctx: StreamContext, entry: OutboxEntry) -> Blocked | None:
        email = self.emails.get(entry.user_id or "")
        if email is None or not EMAIL_RE.fullmatch(email):
            return Blocked("no valid email address for the user any more", fail=True)
        return self.links.blocked(entry)

    def render(self, entry: OutboxEntry) -> str:
        """The HTML part: the rendered body with its booking link."""
        return self.links.fill(entry.payload["html"], entry)

    def categories(self, trigger: str) -> list[str]:
        found: list[str] = []
        for category in ("onboarding", trigger, *self.settings.categories):
            category = category[:MAX_CATEGORY]
            if category and category not in found:
                found.append(category)
        return found[:MAX_CATEGORIES]

    def request(self, entry: OutboxEntry) -> dict[str, Any]:
        payload = entry.payload
        html = self.render(entry)
        sender: dict[str, str] = {"email": self.settings.from_email or ""}
        if self.settings.from_name:
            sender["name"] = self.settings.from_name
        body: dict[str, Any] = {
            "personalizations": [{
                "to": [{"email": self.emails[entry.user_id or ""]}],
                "custom_args": {"message_key": entry.key, "user_id": entry.user_id or ""},
            }],
            "from": sender,
            "subject": payload["subject"],
            # text/plain first: SendGrid requires that order when both are given.
            "content": [{"type": "text/plain", "value": html_to_text(html) or payload["subject"]},
                        {"type": "text/html", "value": html}],
            "categories": self.categories(payload.get("trigger") or "onboarding"),
        }
        if self.settings.unsubscribe_group_id is not None:
            body["asm"] = {"group_id": self.settings.unsubscribe_group_id}
        return body

    async def deliver(self, ctx: StreamContext, entry: OutboxEntry) -> Outcome:
        response = await ctx.require_transport().request("POST", "/v3/mail/send", idempotent=False,
                                                         json=self.request(entry))
        if response.status_code == 202:
            return Outcome.sent(202, remote_id=response.headers.get("X-Message-Id") or None)
        return classify_response(response, idempotent=False)

    def describe(self, entry: OutboxEntry) -> str:
        link = " + booking link" if entry.payload.get("booking_link_key") else ""
        return f"{entry.payload.get('trigger')} email to user {entry.user_id}{link}"


class SendGridAdapter(Adapter):
    name: ClassVar[str] = "sendgrid"

    def headers(self) -> dict[str, str]:
        return {**self.bearer(self.sync_settings.sendgrid.api_key), "Accept": "application/json"}

    def streams(self) -> list[AttributeStream | OutboxStream]:
        return [SendGridEmails(self.sync_settings.sendgrid, self.sync_settings.sendgrid_triggers())]

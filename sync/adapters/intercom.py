"""Intercom (API version 2.14): contact attributes and customer messages.

* ``contacts`` (attribute stream, ``marts.intercom_contacts``): custom data attributes are checked
  (and created with the right type) through ``/data_attributes`` before the first write of a run.
  A key without a known contact id is created with ``POST /contacts`` (role user, external_id, email,
  name, signed_up_at, custom_attributes); Intercom answers 409 when the contact already exists, and
  the existing id is then taken from the error, or looked up with
  ``GET /contacts/find_by_external_id/{id}``, verified to carry our external_id and updated. The id is
  kept in the ledger because a just-created contact is not searchable for minutes. A key with an id
  gets ``PUT /contacts/{id}`` with only the attributes that changed.
  Create-first (instead of find-then-create) costs one request per new user instead of two.
* ``messages`` (outbox, **at most once**, ``marts.triggered_messages`` rows with channel
  ``intercom_in_app`` / ``intercom_email``): ``POST /messages`` from the admin in
  ``INTERCOM_ADMIN_ID`` to the contact. A message waits until its contact has an id and, when it
  carries ``{{booking_link}}``, until the Calendly link exists. A 404 (contact not yet messageable,
  as the API reference warns) is retried on later runs.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from sync import ledger
from sync.adapters.base import (
    EMAIL_RE,
    Adapter,
    AttributeStream,
    Blocked,
    OutboxStream,
    StreamContext,
    bounded_str,
    clean_str,
    priority_rank,
    required_user_id,
    to_epoch,
    to_float,
    to_int,
)
from sync.adapters.email_routing import routed_sql, taken_by
from sync.escaping import html_text
from sync.ledger import OutboxMessage
from sync.outcomes import (
    AbortDestination,
    AttributeChange,
    Delivery,
    InvalidRow,
    OutboxEntry,
    Outcome,
    classify_response,
    error_detail,
)
from sync.settings import IntercomSettings
from sync.transport import Transport

API_VERSION = "2.14"

# Custom data attributes and their Intercom data types. as_of_date is deliberately not synced: it
# changes every day and would turn every run into a full re-send.
CUSTOM_ATTRIBUTES: dict[str, str] = {
    "onboarding_track": "string",
    "onboarding_stage": "string",
    "onboarding_score": "integer",
    "next_action": "string",
    "content_difficulty": "string",
    "churn_risk": "float",
    "company_size": "string",
    "industry": "string",
}
STANDARD_ATTRIBUTES = ("email", "name", "signed_up_at")
MAX_STRING = 255
MESSAGE_CHANNELS = {"intercom_in_app": "in_app", "intercom_email": "email"}
KNOWN_CHANNELS = ("intercom_in_app", "intercom_email", "slack", "calendly", "appcues")
BOOKING_PLACEHOLDER = "{{booking_link}}"
_PLACEHOLDER = re.compile(r"\{\{\s*[^{}]*\}\}")
_CONFLICT_ID = re.compile(r"\bid=([A-Za-z0-9]+)")
_SAFE_URL = re.compile(r"https?://[^\s\"'<>]+")


class BookingLinks:
    """The Calendly booking links the message streams (Intercom, SendGrid) wait for and fill in: loaded once
    per run from the ledger, so both channels block, fail and render a `{{booking_link}}` the same way."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self.states: dict[str, str] = {}
        self.planned: set[str] = set()

    def load(self, ctx: StreamContext) -> None:
        self.urls = ledger.booking_links(ctx.con)
        self.states = {key: status for key, (status, _) in
                       ledger.outbox_attempts(ctx.con, "calendly", "links").items()}
        if ctx.dry_run:
            # What the plan would create in this same run counts as available in a dry plan.
            self.planned = {k for (k,) in ctx.con.execute(
                "select message_key from marts.triggered_messages where channel = 'calendly'").fetchall()}

    def blocked(self, entry: OutboxEntry) -> Blocked | None:
        link_key = entry.payload.get("booking_link_key")
        if link_key and link_key not in self.urls and link_key not in self.planned:
            if self.states.get(link_key) == "failed":
                return Blocked(f"booking link {link_key} could not be created", fail=True)
            return Blocked(f"waiting for booking link {link_key}")
        return None

    def fill(self, body: str, entry: OutboxEntry) -> str:
        """The HTML body with its booking link (a plain URL, escaped for the href)."""
        link_key = entry.payload.get("booking_link_key")
        if link_key:
            url = self.urls[link_key]
            if not _SAFE_URL.fullmatch(url):
                raise InvalidRow("booking link is not a plain URL")
            body = body.replace(BOOKING_PLACEHOLDER, html_text(url))
        return body


def contact_path(contact_id: str) -> str:
    return f"/contacts/{quote(contact_id, safe='')}"


class IntercomContacts(AttributeStream):
    name: ClassVar[str] = "contacts"
    mart: ClassVar[str] = "marts.intercom_contacts"
    columns: ClassVar[tuple[str, ...]] = (*STANDARD_ATTRIBUTES, *CUSTOM_ATTRIBUTES)
    creates: ClassVar[bool] = True

    def map_values(self, row: dict[str, Any]) -> dict[str, Any]:
        email = clean_str(row.get("email"))
        if email is not None and (len(email) > MAX_STRING or not EMAIL_RE.fullmatch(email)):
            raise InvalidRow("email is not a valid address")
        values: dict[str, Any] = {
            "email": email,
            "name": bounded_str("name", row.get("name"), MAX_STRING),
            "signed_up_at": to_epoch(row.get("signed_up_at")),
        }
        for attr, data_type in CUSTOM_ATTRIBUTES.items():
            raw = row.get(attr)
            if data_type == "integer":
                values[attr] = to_int(attr, raw)
            elif data_type == "float":
                values[attr] = to_float(attr, raw, digits=4)
            else:
                values[attr] = bounded_str(attr, raw, MAX_STRING)
        return values

    async def prepare(self, ctx: StreamContext) -> None:
        """Make sure every custom attribute exists, unarchived, with the type we send."""
        t = ctx.require_transport()
        response = await t.request("GET", "/data_attributes", idempotent=True,
                                   params={"model": "contact", "include_archived": "true"})
        if response.status_code != 200:
            raise AbortDestination(f"cannot list data attributes ({error_detail(response)})",
                                   response.status_code)
        existing = {a.get("name"): a for a in response.json().get("data", [])
                    if isinstance(a, dict) and a.get("model", "contact") == "contact"}
        for attr, data_type in CUSTOM_ATTRIBUTES.items():
            current = existing.get(attr)
            if current is None:
                created = await t.request("POST", "/data_attributes", idempotent=True, json={
                    "name": attr, "model": "contact", "data_type": data_type,
                    "description": "Set by the onboarding engine (reverse ETL)."})
                if created.status_code != 200:
                    raise AbortDestination(f"cannot create data attribute {attr} ({error_detail(created)})",
                                           created.status_code)
            elif current.get("data_type") != data_type:
                raise AbortDestination(
                    f"data attribute {attr} has type {current.get('data_type')}, the sync sends {data_type};"
                    " Intercom cannot change a type - rename or archive the attribute")
            elif current.get("archived"):
                unarchived = await t.request("PUT", f"/data_attributes/{current.get('id')}", idempotent=True,
                                             json={"archived": False})
                if unarchived.status_code != 200:
                    raise AbortDestination(f"cannot unarchive data attribute {attr} ({error_detail(unarchived)})",
                                           unarchived.status_code)

    @staticmethod
    def body(values: dict[str, Any], *, include_nulls: bool) -> dict[str, Any]:
        body: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        for name, value in values.items():
            if value is None and (not include_nulls or name == "email"):
                continue  # Intercom cannot null an email; a vanished email is simply not sent
            (custom if name in CUSTOM_ATTRIBUTES else body)[name] = value
        if custom:
            body["custom_attributes"] = custom
        return body

    async def send(self, ctx: StreamContext, change: AttributeChange) -> Outcome:
        t = ctx.require_transport()
        if change.remote_id:
            response = await t.request("PUT", contact_path(change.remote_id), idempotent=True,
                                       json=self.body(change.changed, include_nulls=True))
            if response.status_code == 404:
                # Deleted in Intercom since we last wrote it: create it again with every value.
                return await self._create(t, change)
            outcome = classify_response(response, idempotent=True)
            return Outcome(outcome.kind, outcome.http_status, outcome.error, change.remote_id, "update")
        return await self._create(t, change)

    async def _create(self, t: Transport, change: AttributeChange) -> Outcome:
        body = {"role": "user", "external_id": change.key, **self.body(change.values, include_nulls=False)}
        # POST is safe to repeat here: a second create of the same external_id answers 409.
        response = await t.request("POST", "/contacts", idempotent=True, json=body)
        if response.status_code == 200:
            return Outcome.sent(200, remote_id=str(response.json()["id"]), operation="create")
        if response.status_code != 409:
            return classify_response(response, idempotent=True)
        contact_id, problem = await self._adopt(t, change.key, response)
        if contact_id is None:
            return problem or Outcome.retry("contact exists but could not be found yet", 409)
        update = await t.request("PUT", contact_path(contact_id), idempotent=True,
                                 json=self.body(change.values, include_nulls=True))
        outcome = classify_response(update, idempotent=True)
        return Outcome(outcome.kind, outcome.http_status, outcome.error, contact_id, "update")

    async def _adopt(self, t: Transport, external_id: str,
                     conflict: httpx.Response) -> tuple[str | None, Outcome | None]:
        """Find the id of the contact a 409 refers to, and check it really is our user."""
        match = _CONFLICT_ID.search(error_detail(conflict))
        if match:
            fetched = await t.request("GET", contact_path(match.group(1)), idempotent=True)
            if fetched.status_code == 200:
                found = fetched.json()
                if str(found.get("external_id") or "") == external_id:
                    return str(found["id"]), None
                return None, Outcome.failed(
                    "an Intercom contact with this email already exists with a different external_id"
                    f" (id {match.group(1)}); merge or fix it in Intercom", 409)
        lookup = await t.request("GET", f"/contacts/find_by_external_id/{quote(external_id, safe='')}",
                                 idempotent=True)
        if lookup.status_code == 200:
            return str(lookup.json()["id"]), None
        if lookup.status_code == 404:
            return None, Outcome.retry("contact exists (409) but is not searchable yet; retried next run", 409)
        return None, classify_response(lookup, idempotent=True)


class IntercomMessages(OutboxStream):
    name: ClassVar[str] = "messages"
    mart: ClassVar[str] = "marts.triggered_messages"
    delivery: ClassVar[Delivery] = Delivery.AT_MOST_ONCE
    operation: ClassVar[str] = "send_message"
    max_concurrency: ClassVar[int | None] = 8  # bounds how many messages one crash can leave in doubt

    def __init__(self, settings: IntercomSettings, not_found_attempts: int,
                 sendgrid_triggers: list[str] | None = None) -> None:
        self.settings = settings
        self.not_found_attempts = not_found_attempts
        self.sendgrid_triggers = sendgrid_triggers or []
        self.contacts: dict[str, str] = {}
        self.links = BookingLinks()
        self.planned_contacts: set[str] = set()

    def query(self) -> str:
        # Intercom is the customer-messaging destination, so it also reports rows whose channel no
        # destination handles (they would otherwise be silently ignored).
        known = ", ".join(f"'{c}'" for c in KNOWN_CHANNELS)
        mine = ("select message_key, user_id, channel, subject, body, booking_link_key, priority, due_at, trigger"
                f" from {self.mart} where channel in ('intercom_in_app', 'intercom_email')"
                f" or channel is null or channel not in ({known})")
        # Email types routed to SendGrid are SendGrid's, and so is any key SendGrid already attempted
        # (the routing changed since): one message key, one channel (docs/sync.md, "SendGrid").
        return (f"select * from ({mine}) as m where not coalesce(m.channel = 'intercom_email' and m.trigger in"
                f" {routed_sql(self.sendgrid_triggers)}, false) and (m.message_key is null or m.message_key"
                f" not in {taken_by('sendgrid', 'emails')})")

    def build(self, row: dict[str, Any]) -> OutboxMessage:
        channel = row.get("channel")
        if channel not in MESSAGE_CHANNELS:
            raise InvalidRow(f"unknown channel {channel!r}")
        user_id = required_user_id(row)
        message_type = MESSAGE_CHANNELS[channel]
        body = row.get("body")
        if not isinstance(body, str) or not body.strip():
            raise InvalidRow("empty body")
        subject = clean_str(row.get("subject"))
        if message_type == "email" and not subject:
            raise InvalidRow("email without subject")
        link_key = clean_str(row.get("booking_link_key"))
        if BOOKING_PLACEHOLDER in body and link_key is None:
            raise InvalidRow("body has {{booking_link}} but no booking_link_key")
        leftover = _PLACEHOLDER.search(body.replace(BOOKING_PLACEHOLDER, ""))
        if leftover or (subject and _PLACEHOLDER.search(subject)):
            raise InvalidRow("unrendered template placeholder in the message")
        payload = {"message_type": message_type, "body": body, "booking_link_key": link_key}
        if message_type == "email":
            payload["subject"] = subject
        return OutboxMessage(row["message_key"], user_id, payload, row.get("due_at"),
                             priority_rank(row.get("priority")))

    def dry_reason(self, ctx: StreamContext) -> str | None:
        return None if self.settings.admin_id is not None else "INTERCOM_ADMIN_ID not set"

    def prepare(self, ctx: StreamContext) -> None:
        self.contacts = ledger.remote_ids(ctx.con, "intercom", "contacts")
        self.links.load(ctx)
        if ctx.dry_run:
            # What the plan would create in this same run counts as available in a dry plan.
            self.planned_contacts = {k for (k,) in ctx.con.execute(
                "select user_id from marts.intercom_contacts where user_id is not null").fetchall()}

    def blocked(self, ctx: StreamContext, entry: OutboxEntry) -> Blocked | None:
        if entry.user_id not in self.contacts and entry.user_id not in self.planned_contacts:
            return Blocked("waiting for the Intercom contact to exist")
        return self.links.blocked(entry)

    def render(self, entry: OutboxEntry) -> str:
        return self.links.fill(entry.payload["body"], entry)  # the body is HTML (an href)

    async def deliver(self, ctx: StreamContext, entry: OutboxEntry) -> Outcome:
        t = ctx.require_transport()
        request: dict[str, Any] = {
            "message_type": entry.payload["message_type"],
            "body": self.render(entry),
            "from": {"type": "admin", "id": self.settings.admin_id},
            "to": {"type": "user", "id": self.contacts[entry.user_id or ""]},
        }
        if entry.payload["message_type"] == "email":
            request["subject"] = entry.payload["subject"]
            request["template"] = "plain"
        response = await t.request("POST", "/messages", idempotent=False, json=request)
        if response.status_code == 200:
            return Outcome.sent(200, remote_id=str(response.json().get("id") or "") or None)
        if response.status_code == 404:
            if entry.attempts >= self.not_found_attempts:
                return Outcome.failed(f"contact still not found after {entry.attempts} attempts", 404)
            return Outcome.retry("contact not yet messageable (404); retried next run", 404)
        return classify_response(response, idempotent=False)

    def describe(self, entry: OutboxEntry) -> str:
        link = " + booking link" if entry.payload.get("booking_link_key") else ""
        return f"{entry.payload.get('message_type')} to user {entry.user_id}{link}"


class IntercomAdapter(Adapter):
    name: ClassVar[str] = "intercom"

    def headers(self) -> dict[str, str]:
        return {
            **self.bearer(self.sync_settings.intercom.access_token),
            "Intercom-Version": API_VERSION,
            "Accept": "application/json",
        }

    def streams(self) -> list[AttributeStream | OutboxStream]:
        s = self.sync_settings
        return [IntercomContacts(),
                IntercomMessages(s.intercom, s.message_not_found_attempts, s.sendgrid_triggers())]

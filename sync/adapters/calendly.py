"""Calendly: one single-use booking link per user and episode.

``links`` (outbox, at least once, ``marts.triggered_messages`` rows with channel ``calendly``): each
row's ``message_key`` names one episode; ``POST /scheduling_links`` with ``max_event_count`` 1 and the
event type in ``CALENDLY_EVENT_TYPE`` as owner returns a ``booking_url`` that is stored in
``sync.booking_links``. Intercom messages whose ``booking_link_key`` points at that row wait for the
link and carry it in place of ``{{booking_link}}``.

At least once because creating a link is invisible to the customer: after a crash between Calendly's
answer and our commit, a second, never-shared link is created - wasteful, not harmful - whereas a
lost link would block the CSM introduction indefinitely.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from sync.adapters.base import (
    Adapter,
    AttributeStream,
    OutboxStream,
    StreamContext,
    priority_rank,
    required_user_id,
)
from sync.ledger import OutboxMessage
from sync.outcomes import Delivery, OutboxEntry, Outcome, classify_response
from sync.settings import CalendlySettings

_URL = re.compile(r"https?://[^\s\"'<>]+")


class CalendlyLinks(OutboxStream):
    name: ClassVar[str] = "links"
    mart: ClassVar[str] = "marts.triggered_messages"
    delivery: ClassVar[Delivery] = Delivery.AT_LEAST_ONCE
    operation: ClassVar[str] = "create_link"

    def __init__(self, settings: CalendlySettings) -> None:
        self.settings = settings

    def query(self) -> str:
        return f"select message_key, user_id, priority, due_at from {self.mart} where channel = 'calendly'"

    def build(self, row: dict[str, Any]) -> OutboxMessage:
        user_id = required_user_id(row)
        # Links are created as soon as possible: the messages that embed them have their own due_at.
        return OutboxMessage(row["message_key"], user_id, {}, None, priority_rank(row.get("priority")))

    async def deliver(self, ctx: StreamContext, entry: OutboxEntry) -> Outcome:
        t = ctx.require_transport()
        owner = self.settings.event_type or ""
        # Repeating this call after an ambiguous failure only creates an unused link (see above).
        response = await t.request("POST", "/scheduling_links", idempotent=True, json={
            "max_event_count": 1, "owner": owner, "owner_type": "EventType"})
        if response.status_code in (200, 201):
            resource = (response.json() or {}).get("resource") or {}
            url = resource.get("booking_url")
            if not isinstance(url, str) or not _URL.fullmatch(url):
                return Outcome.failed("Calendly answered without a usable booking_url", response.status_code)
            return Outcome.sent(response.status_code, artifact={"booking_url": url, "owner": owner})
        return classify_response(response, idempotent=True)

    def booking_link(self, entry: OutboxEntry, outcome: Outcome) -> tuple[str, str] | None:
        if outcome.artifact and outcome.artifact.get("booking_url"):
            return outcome.artifact["booking_url"], outcome.artifact.get("owner") or ""
        return None

    def describe(self, entry: OutboxEntry) -> str:
        return f"single-use link for user {entry.user_id}"


class CalendlyAdapter(Adapter):
    name: ClassVar[str] = "calendly"

    def headers(self) -> dict[str, str]:
        return {**self.bearer(self.sync_settings.calendly.token), "Accept": "application/json"}

    def streams(self) -> list[AttributeStream | OutboxStream]:
        return [CalendlyLinks(self.sync_settings.calendly)]

"""Appcues: user profile attributes that flows target.

Appcues has no API that pushes a flow to a user (the origin workflow's ``POST .../flow`` does not
exist); flows are targeted by profile attributes. So both streams use the documented v2 call
``PATCH /v2/accounts/{account}/users/{user}/profile`` (HTTP Basic auth with API key and secret) whose
body is a flat JSON object of attributes, merged into the profile:

* ``profiles`` (attribute stream, ``marts.appcues_profiles``): onboarding track, content
  difficulty, flow id, stage and score; only changed attributes are sent.
* ``flow_updates`` (outbox, at least once, ``marts.triggered_messages`` rows with channel
  ``appcues``): ``body`` is a JSON object of attributes (a flow switch), sent once per message. A
  PATCH is idempotent, so a resend after a crash is harmless.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from sync.adapters.base import (
    Adapter,
    AttributeStream,
    OutboxStream,
    StreamContext,
    bounded_str,
    priority_rank,
    required_user_id,
    to_int,
)
from sync.ledger import OutboxMessage
from sync.outcomes import AttributeChange, Delivery, InvalidRow, OutboxEntry, Outcome, classify_response
from sync.settings import AppcuesSettings
from sync.transport import Transport

MAX_STRING = 1000
MAX_ATTRIBUTES = 50


def profile_path(account_id: str, user_id: str) -> str:
    return f"/v2/accounts/{quote(account_id, safe='')}/users/{quote(user_id, safe='')}/profile"


async def patch_profile(t: Transport, account_id: str, user_id: str, attributes: dict[str, Any]) -> Outcome:
    response = await t.request("PATCH", profile_path(account_id, user_id), idempotent=True, json=attributes)
    return classify_response(response, idempotent=True)


class AppcuesProfiles(AttributeStream):
    name: ClassVar[str] = "profiles"
    mart: ClassVar[str] = "marts.appcues_profiles"
    columns: ClassVar[tuple[str, ...]] = ("onboarding_track", "content_difficulty", "appcues_flow_id",
                                          "onboarding_stage", "onboarding_score")

    def __init__(self, settings: AppcuesSettings) -> None:
        self.settings = settings

    def map_values(self, row: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {
            name: bounded_str(name, row.get(name), MAX_STRING)
            for name in ("onboarding_track", "content_difficulty", "appcues_flow_id", "onboarding_stage")
        }
        values["onboarding_score"] = to_int("onboarding_score", row.get("onboarding_score"))
        return values

    async def send(self, ctx: StreamContext, change: AttributeChange) -> Outcome:
        return await patch_profile(ctx.require_transport(), self.settings.account_id or "", change.key,
                                   change.changed)


class AppcuesFlowUpdates(OutboxStream):
    name: ClassVar[str] = "flow_updates"
    mart: ClassVar[str] = "marts.triggered_messages"
    delivery: ClassVar[Delivery] = Delivery.AT_LEAST_ONCE
    operation: ClassVar[str] = "patch_profile"

    def __init__(self, settings: AppcuesSettings) -> None:
        self.settings = settings

    def query(self) -> str:
        return f"select message_key, user_id, body, priority, due_at from {self.mart} where channel = 'appcues'"

    def build(self, row: dict[str, Any]) -> OutboxMessage:
        user_id = required_user_id(row)
        try:
            attributes = json.loads(row.get("body") or "")
        except (TypeError, ValueError) as exc:
            raise InvalidRow("body is not JSON") from exc
        if not isinstance(attributes, dict) or not attributes:
            raise InvalidRow("body is not a non-empty JSON object of attributes")
        if len(attributes) > MAX_ATTRIBUTES:
            raise InvalidRow(f"more than {MAX_ATTRIBUTES} attributes")
        for name, value in attributes.items():
            if not name or not isinstance(value, str | int | float | bool | type(None)):
                raise InvalidRow(f"attribute {name!r} is not a flat value")
            if isinstance(value, str) and len(value) > MAX_STRING:
                raise InvalidRow(f"attribute {name!r} is longer than {MAX_STRING} characters")
        return OutboxMessage(row["message_key"], user_id, {"attributes": attributes}, row.get("due_at"),
                             priority_rank(row.get("priority")))

    async def deliver(self, ctx: StreamContext, entry: OutboxEntry) -> Outcome:
        return await patch_profile(ctx.require_transport(), self.settings.account_id or "",
                                   entry.user_id or "", entry.payload["attributes"])

    def describe(self, entry: OutboxEntry) -> str:
        return f"set {', '.join(sorted(entry.payload.get('attributes', {})))} for user {entry.user_id}"


class AppcuesAdapter(Adapter):
    name: ClassVar[str] = "appcues"

    def headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    def auth(self) -> httpx.Auth:
        s = self.sync_settings.appcues
        if s.api_key is None or s.api_secret is None:  # never: without them Appcues runs dry
            raise RuntimeError("no Appcues key and secret: a destination without credentials must not send")
        return httpx.BasicAuth(s.api_key.get_secret_value(), s.api_secret.get_secret_value())

    def streams(self) -> list[AttributeStream | OutboxStream]:
        s = self.sync_settings.appcues
        return [AppcuesProfiles(s), AppcuesFlowUpdates(s)]


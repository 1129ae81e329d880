"""Mixpanel: the engine's traits on user profiles, and the A/B layer's outcomes as events.

* ``profiles`` (attribute stream, ``marts.destination_traits``): ``POST /engage`` with ``$set`` of the
  traits of :mod:`sync.adapters.traits` that changed, up to 2,000 profiles and 2 MB per request (the
  Ingestion API's limits). The project token travels in each record's ``$token``. Mixpanel answers
  ``1`` when it took the batch and ``0`` when it did not.
* ``experiment_events`` (attribute stream, ``marts.mixpanel_experiment_events``): one event
  ``Onboarding Experiment Outcome`` per user and experiment once the experiment's metric is decided,
  through ``POST /import?strict=1`` (a service account, Basic auth, ``project_id`` in the query), up to
  2,000 events per request. ``$insert_id`` is the mart's stable ``event_key``, so Mixpanel keeps one
  event however often it is resent; with ``strict=1`` a 400 names the records it refused
  (``failed_records``) and imports the rest. Why an attribute stream and not an outbox: an event is
  the mart row's values under a stable key - unchanged rows are never sent again, a failed batch is
  simply sent again, and Mixpanel's dedupe makes a resend harmless. Without the service account the
  stream stays planned.
"""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

import httpx

from sync.adapters.base import (
    Adapter,
    AttributeStream,
    OutboxStream,
    StreamContext,
    bounded_str,
    clean_str,
    to_epoch,
    to_float,
)
from sync.adapters.traits import TRAIT_COLUMNS, trait_values
from sync.outcomes import AttributeChange, InvalidRow, Outcome, classify_response
from sync.settings import MixpanelSettings

MAX_RECORDS = 2000
MAX_BODY_BYTES = 2 * 1024 * 1024
EVENT_NAME = "Onboarding Experiment Outcome"
_INSERT_ID = re.compile(r"^[A-Za-z0-9_\-]{1,36}$")


def _size(item: Any) -> int:
    return len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode())


def pack(changes: list[AttributeChange], render: Any) -> list[list[AttributeChange]]:
    """Consecutive changes in requests of at most 2,000 records and 2 MB."""
    batches: list[list[AttributeChange]] = []
    current: list[AttributeChange] = []
    used = 2
    for change in changes:
        needed = _size(render(change)) + 1
        if current and (used + needed > MAX_BODY_BYTES or len(current) >= MAX_RECORDS):
            batches.append(current)
            current, used = [], 2
        current.append(change)
        used += needed
    if current:
        batches.append(current)
    return batches


class MixpanelProfiles(AttributeStream):
    name: ClassVar[str] = "profiles"
    mart: ClassVar[str] = "marts.destination_traits"
    columns: ClassVar[tuple[str, ...]] = TRAIT_COLUMNS
    batch_size: ClassVar[int] = MAX_RECORDS

    def __init__(self, settings: MixpanelSettings) -> None:
        self.settings = settings

    def map_values(self, row: dict[str, Any]) -> dict[str, Any]:
        return trait_values(row)

    def record(self, change: AttributeChange) -> dict[str, Any]:
        token = self.settings.project_token
        return {"$token": token.get_secret_value() if token else "", "$distinct_id": change.key,
                "$set": change.changed}

    def batches(self, changes: list[AttributeChange]) -> list[list[AttributeChange]]:
        return pack(changes, self.record)

    async def send_batch(self, ctx: StreamContext, changes: list[AttributeChange]) -> list[Outcome]:
        response = await ctx.require_transport().request("POST", "/engage", idempotent=True,
                                                         json=[self.record(c) for c in changes])
        if response.status_code == 200 and response.text.strip() == "0":
            return [Outcome.failed("Mixpanel did not accept the profile batch (answered 0)", 200)] * len(changes)
        return [classify_response(response, idempotent=True)] * len(changes)


class MixpanelExperimentEvents(AttributeStream):
    name: ClassVar[str] = "experiment_events"
    mart: ClassVar[str] = "marts.mixpanel_experiment_events"
    key_column: ClassVar[str] = "event_key"
    columns: ClassVar[tuple[str, ...]] = ("user_id", "experiment_id", "variant", "metric", "is_converted",
                                          "days_to_metric", "decided_at")
    batch_size: ClassVar[int] = MAX_RECORDS

    def __init__(self, settings: MixpanelSettings) -> None:
        self.settings = settings

    def map_values(self, row: dict[str, Any]) -> dict[str, Any]:
        if not _INSERT_ID.fullmatch(str(row.get("event_key"))):
            raise InvalidRow("event_key is not a Mixpanel $insert_id (1-36 letters, digits, _ or -)")
        user_id = clean_str(row.get("user_id"))
        if user_id is None:
            raise InvalidRow("no user_id")
        decided = to_epoch(row.get("decided_at"))
        if decided is None:
            raise InvalidRow("no decided_at")
        converted = row.get("is_converted")
        if not isinstance(converted, bool):
            raise InvalidRow("is_converted is not a boolean")
        return {
            "distinct_id": user_id,
            "time": decided,
            "experiment_id": bounded_str("experiment_id", row.get("experiment_id"), 255),
            "variant": bounded_str("variant", row.get("variant"), 255),
            "metric": bounded_str("metric", row.get("metric"), 255),
            "converted": converted,
            "days_to_metric": to_float("days_to_metric", row.get("days_to_metric"), digits=3),
        }

    def dry_reason(self, ctx: StreamContext) -> str | None:
        missing = self.settings.missing_import_credentials()
        return f"{', '.join(missing)} not set" if missing else None

    @staticmethod
    def event(change: AttributeChange) -> dict[str, Any]:
        # Every value, not only the changed ones: an event is replaced whole (same $insert_id).
        return {"event": EVENT_NAME, "properties": {**change.values, "$insert_id": change.key}}

    def batches(self, changes: list[AttributeChange]) -> list[list[AttributeChange]]:
        return pack(changes, self.event)

    async def send_batch(self, ctx: StreamContext, changes: list[AttributeChange]) -> list[Outcome]:
        response = await ctx.require_transport().request(
            "POST", "/import", idempotent=True, params={"strict": "1", "project_id": self.settings.project_id or ""},
            json=[self.event(c) for c in changes])
        if response.status_code == 400:
            refused = _failed_records(response)
            if refused is not None:
                return [Outcome.failed(f"Mixpanel refused the event: {refused[i]}", 400) if i in refused
                        else Outcome.sent(200) for i in range(len(changes))]
        return [classify_response(response, idempotent=True)] * len(changes)

    def describe(self, change: AttributeChange) -> str:
        v = change.values
        return f"{v.get('experiment_id')}: {v.get('variant')}, converted={v.get('converted')}"


def _failed_records(response: httpx.Response) -> dict[int, str] | None:
    """index -> reason of the records a strict import refused; ``None`` when the answer names none."""
    try:
        body = response.json()
    except ValueError:
        return None
    records = body.get("failed_records") if isinstance(body, dict) else None
    if not isinstance(records, list) or not records:
        return None
    found: dict[int, str] = {}
    for record in records:
        if isinstance(record, dict) and isinstance(record.get("index"), int | float):
            found[int(record["index"])] = str(record.get("message") or "invalid")[:200]
    return found or None


class MixpanelAdapter(Adapter):
    name: ClassVar[str] = "mixpanel"

    def headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    def auth(self) -> httpx.Auth | None:
        """The service account of ``/import`` (``/engage`` needs none: the token is in each record)."""
        s = self.sync_settings.mixpanel
        if s.service_account_username is None or s.service_account_secret is None:
            return None
        return httpx.BasicAuth(s.service_account_username, s.service_account_secret.get_secret_value())

    def streams(self) -> list[AttributeStream | OutboxStream]:
        s = self.sync_settings.mixpanel
        return [MixpanelProfiles(s), MixpanelExperimentEvents(s)]

"""Segment: the engine's traits as ``identify`` calls through ``POST /v1/batch``.

``identities`` (attribute stream, ``marts.destination_traits``): per user, the traits of
:mod:`sync.adapters.traits` (track, stage, score, churn risk and band, completion day, one
``experiment_<id>`` per experiment); only changed traits are sent. Calls are grouped into batches
under Segment's limits - 500 KB and 2,500 calls per batch, 32 KB per call - and each call's
``messageId`` is derived from the user and the values it carries, so a batch resent after a lost
answer is deduplicated by Segment, and a new change gets a new id.

Auth: the source's write key as the Basic user name (empty password). A 200 acknowledges the whole
batch; Segment answers 400 for a batch it refuses (too large, malformed), which fails its calls.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, ClassVar

import httpx

from sync.adapters.base import Adapter, AttributeStream, OutboxStream, StreamContext
from sync.adapters.traits import TRAIT_COLUMNS, trait_values
from sync.outcomes import AttributeChange, InvalidRow, Outcome, classify_response

MAX_BATCH_BYTES = 500 * 1024
MAX_CALL_BYTES = 32 * 1024
MAX_BATCH_CALLS = 2500
ENVELOPE_BYTES = 64  # '{"batch":[', the commas and ']}', with room to spare


def message_id(change: AttributeChange) -> str:
    """Stable per (user, values): a retry of the same change reuses it; under Segment's 100 characters."""
    return "onb-" + hashlib.sha256(f"{change.key}\x1f{change.values_hash}".encode()).hexdigest()[:40]


def identify(change: AttributeChange) -> dict[str, Any]:
    return {"type": "identify", "userId": change.key, "traits": change.changed, "messageId": message_id(change)}


def size(call: dict[str, Any]) -> int:
    return len(json.dumps(call, ensure_ascii=False, separators=(",", ":")).encode())


class SegmentIdentities(AttributeStream):
    name: ClassVar[str] = "identities"
    mart: ClassVar[str] = "marts.destination_traits"
    columns: ClassVar[tuple[str, ...]] = TRAIT_COLUMNS
    batch_size: ClassVar[int] = MAX_BATCH_CALLS

    def map_values(self, row: dict[str, Any]) -> dict[str, Any]:
        values = trait_values(row)
        if size({"type": "identify", "userId": row.get("user_id"), "traits": values,
                 "messageId": "onb-" + "0" * 40}) > MAX_CALL_BYTES:
            raise InvalidRow(f"identify would be over Segment's {MAX_CALL_BYTES} bytes per call")
        return values

    def batches(self, changes: list[AttributeChange]) -> list[list[AttributeChange]]:
        """Consecutive changes packed under 500 KB and 2,500 calls per batch."""
        batches: list[list[AttributeChange]] = []
        current: list[AttributeChange] = []
        used = ENVELOPE_BYTES
        for change in changes:
            needed = size(identify(change)) + 1
            if current and (used + needed > MAX_BATCH_BYTES or len(current) >= MAX_BATCH_CALLS):
                batches.append(current)
                current, used = [], ENVELOPE_BYTES
            current.append(change)
            used += needed
        if current:
            batches.append(current)
        return batches

    async def send_batch(self, ctx: StreamContext, changes: list[AttributeChange]) -> list[Outcome]:
        response = await ctx.require_transport().request(
            "POST", "/v1/batch", idempotent=True, json={"batch": [identify(c) for c in changes]})
        return [classify_response(response, idempotent=True)] * len(changes)


class SegmentAdapter(Adapter):
    name: ClassVar[str] = "segment"

    def headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    def auth(self) -> httpx.Auth:
        key = self.sync_settings.segment.write_key
        if key is None:  # never: without a write key Segment runs dry
            raise RuntimeError("no Segment write key: a destination without credentials must not send")
        return httpx.BasicAuth(key.get_secret_value(), "")

    def streams(self) -> list[AttributeStream | OutboxStream]:
        return [SegmentIdentities()]

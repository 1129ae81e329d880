"""Segment stand-in: ``POST /v1/batch`` (and ``/v1/identify``) of the HTTP Tracking API.

Validated against the project's Segment schema (``sync/schemas/segment.json``): write-key Basic auth,
a userId or anonymousId on every call, at most 500 KB per batch and 32 KB per call. Like Segment it
deduplicates by ``messageId``: a call whose id it has seen is acknowledged and ignored
(:attr:`SegmentStandin.duplicates`). Traits of accepted identify calls are merged into
:attr:`SegmentStandin.traits`.
"""

from __future__ import annotations

import base64
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.standins.base import StandinServer, json_response
from tests.standins.specs import request_errors


class SegmentStandin(StandinServer):
    name = "segment"

    def __init__(self, *, write_key: str = "standin-segment-write-key", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.write_key = write_key
        self.credentials = base64.b64encode(f"{write_key}:".encode()).decode()
        self.calls: dict[str, dict[str, Any]] = {}
        self.traits: dict[str, dict[str, Any]] = {}
        self.duplicates = 0
        self.batches = 0

    def extra_stats(self) -> dict[str, Any]:
        return {"calls": len(self.calls), "duplicates": self.duplicates, "batches": self.batches}

    def validate(self, request: Request) -> list[str]:
        return request_errors("segment", request)

    def validation_failure(self, errors: list[str]) -> Response:
        return json_response({"success": False, "message": "; ".join(errors)[:500]}, 400)

    def handle(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"Basic {self.credentials}":
            return json_response({"success": False, "message": "invalid write key"}, 401)
        body = request.get_json()
        calls = body["batch"] if request.path == "/v1/batch" else [{"type": "identify", **body}]
        with self.lock:
            self.batches += 1
            for call in calls:
                message_id = call.get("messageId")
                if message_id and message_id in self.calls:
                    self.duplicates += 1
                    continue
                self.calls[message_id or f"anon-{len(self.calls)}"] = call
                if call.get("type") == "identify":
                    self.traits.setdefault(call.get("userId") or call.get("anonymousId"), {}).update(
                        call.get("traits") or {})
        return json_response({"success": True})

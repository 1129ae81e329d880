"""Calendly stand-in: ``POST /scheduling_links`` (create a single-use scheduling link).

Validated against the project's Calendly schema (``sync/schemas/calendly.json``, from the API v2
documentation): bearer token, JSON body with exactly ``max_event_count`` (only ``1`` allowed), ``owner``
(an event type URI) and ``owner_type`` (only ``EventType``). Answers
201 ``{"resource": {"booking_url", "owner", "owner_type"}}``; the booking URLs point at the stand-in
itself so no vendor host is ever named.
"""

from __future__ import annotations

import secrets
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.standins.base import StandinServer, bearer_token, json_response
from tests.standins.specs import request_errors


class CalendlyStandin(StandinServer):
    name = "calendly"

    def __init__(self, *, token: str = "standin-calendly-token", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token = token
        self.links: list[dict[str, Any]] = []

    def extra_stats(self) -> dict[str, Any]:
        return {"links": len(self.links)}

    def validate(self, request: Request) -> list[str]:
        return request_errors("calendly", request)

    def validation_failure(self, errors: list[str]) -> Response:
        return json_response({"title": "Invalid Argument", "message": "; ".join(errors)[:500]}, 400)

    def handle(self, request: Request) -> Response:
        if bearer_token(request) != self.token:
            return json_response({"title": "Unauthenticated", "message": "The access token is invalid"}, 401)
        body = request.get_json()
        resource = {"booking_url": f"{self.base_url}/d/{secrets.token_hex(4)}/onboarding-call",
                    "owner": body["owner"], "owner_type": "EventType"}
        with self.lock:
            self.links.append(resource)
        return json_response({"resource": resource}, 201)

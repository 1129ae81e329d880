"""Calendly stand-in: ``POST /scheduling_links`` (create a single-use scheduling link).

Validated against the documented request: bearer token, JSON body with exactly ``max_event_count``
(only ``1`` allowed), ``owner`` (an event type URI) and ``owner_type`` (only ``EventType``). Answers
201 ``{"resource": {"booking_url", "owner", "owner_type"}}``; the booking URLs point at the stand-in
itself so no vendor host is ever named.
"""

from __future__ import annotations

import secrets
from typing import Any

import jsonschema
from werkzeug.wrappers import Request, Response

from tests.standins.base import StandinServer, bearer_token, json_response

REQUEST_SCHEMA = {
    "type": "object",
    "required": ["max_event_count", "owner", "owner_type"],
    "additionalProperties": False,
    "properties": {
        "max_event_count": {"enum": [1]},
        "owner": {"type": "string", "pattern": r"^https?://[^\s]+/event_types/[^/\s]+$"},
        "owner_type": {"enum": ["EventType"]},
    },
}


class CalendlyStandin(StandinServer):
    name = "calendly"

    def __init__(self, *, token: str = "standin-calendly-token", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token = token
        self.links: list[dict[str, Any]] = []

    def extra_stats(self) -> dict[str, Any]:
        return {"links": len(self.links)}

    def validate(self, request: Request) -> list[str]:
        if request.path != "/scheduling_links" or request.method != "POST":
            return [f"{request.method} {request.path} is not modelled by the stand-in"]
        errors = [] if bearer_token(request) else ["a bearer token is required"]
        if request.mimetype != "application/json":
            return [*errors, "Content-Type must be application/json"]
        body = request.get_json(silent=True)
        errors += [e.message for e in jsonschema.Draft7Validator(REQUEST_SCHEMA).iter_errors(body)]
        return errors

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

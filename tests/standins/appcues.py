"""Appcues stand-in: ``PATCH /v2/accounts/{account}/users/{user}/profile``.

Validated against the project's Appcues schema (``sync/schemas/appcues.json``, from the v2 public API
documentation): HTTP Basic auth (API key and secret), ``Content-Type: application/json`` and a body that
is a non-empty, flat JSON object of profile attributes (string, number, boolean or null values). Attributes are merged into the stored profile,
as Appcues does; there is deliberately no endpoint that "pushes a flow" - it does not exist.
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from tests.standins.base import StandinServer, json_response
from tests.standins.specs import request_errors

PROFILE_PATH = re.compile(r"^/v2/accounts/(?P<account>[^/]+)/users/(?P<user>[^/]+)/profile$")


class AppcuesStandin(StandinServer):
    name = "appcues"

    def __init__(self, *, account_id: str = "12345", api_key: str = "standin-appcues-key",
                 api_secret: str = "standin-appcues-secret", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.account_id = account_id
        self.credentials = base64.b64encode(f"{api_key}:{api_secret}".encode()).decode()
        self.profiles: dict[str, dict[str, Any]] = {}
        self.patches: list[dict[str, Any]] = []

    def extra_stats(self) -> dict[str, Any]:
        return {"profiles": len(self.profiles), "patches": len(self.patches)}

    def validate(self, request: Request) -> list[str]:
        return request_errors("appcues", request)

    def validation_failure(self, errors: list[str]) -> Response:
        return json_response({"title": "Bad Request", "status": 400, "detail": "; ".join(errors)[:500]}, 400)

    def handle(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"Basic {self.credentials}":
            return json_response({"title": "Unauthorized", "status": 401}, 401)
        match = PROFILE_PATH.match(request.path)
        assert match is not None
        if unquote(match["account"]) != self.account_id:
            return json_response({"title": "Not Found", "status": 404}, 404)
        user = unquote(match["user"])
        body = request.get_json()
        with self.lock:
            self.profiles.setdefault(user, {}).update(body)
            self.patches.append({"user": user, "attributes": body})
        return json_response({"status": 200, "title": "OK"})

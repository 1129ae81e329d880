"""Mixpanel stand-in: ``POST /engage`` (profile ``$set``) and ``POST /import`` (events) of the Ingestion API.

Validated against the project's Mixpanel schema (``sync/schemas/mixpanel.json``): at most 2,000 records
and 2 MB per request, ``$token`` in every profile record, a service account (Basic) and ``project_id``
for ``/import``, ``$insert_id`` on every event. ``/engage`` answers ``1`` (or ``0`` for a wrong token,
as Mixpanel does without ``verbose``); ``/import`` keeps one event per ``$insert_id`` (a resend replaces
it, :attr:`MixpanelStandin.resent` counts them) and, with ``strict=1``, refuses the records whose
``$insert_id`` is in :attr:`MixpanelStandin.refuse` with a 400 naming them while importing the rest.
"""

from __future__ import annotations

import base64
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.standins.base import StandinServer, json_response
from tests.standins.specs import request_errors


class MixpanelStandin(StandinServer):
    name = "mixpanel"

    def __init__(self, *, token: str = "standin-mixpanel-token", username: str = "standin.sa",
                 secret: str = "standin-mixpanel-secret", project_id: str = "3141592", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token = token
        self.username, self.secret, self.project_id = username, secret, project_id
        self.credentials = base64.b64encode(f"{username}:{secret}".encode()).decode()
        self.profiles: dict[str, dict[str, Any]] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self.resent = 0
        self.refuse: set[str] = set()

    def extra_stats(self) -> dict[str, Any]:
        return {"profiles": len(self.profiles), "events": len(self.events), "resent": self.resent}

    def validate(self, request: Request) -> list[str]:
        return request_errors("mixpanel", request)

    def validation_failure(self, errors: list[str]) -> Response:
        return json_response({"code": 400, "status": "Bad Request", "error": "; ".join(errors)[:500]}, 400)

    def handle(self, request: Request) -> Response:
        body = request.get_json()
        if request.path == "/engage":
            if any(record["$token"] != self.token for record in body):
                return Response(b"0", status=200, mimetype="text/plain")
            with self.lock:
                for record in body:
                    self.profiles.setdefault(record["$distinct_id"], {}).update(record["$set"])
            return Response(b"1", status=200, mimetype="text/plain")
        if request.headers.get("Authorization") != f"Basic {self.credentials}":
            return json_response({"code": 401, "status": "Unauthorized", "error": "Invalid credentials"}, 401)
        if request.args.get("project_id") != self.project_id:
            return json_response({"code": 401, "status": "Unauthorized", "error": "project not found"}, 401)
        failed = [{"index": i, "insert_id": e["properties"]["$insert_id"], "field": "properties",
                   "message": "refused by the stand-in"}
                  for i, e in enumerate(body) if e["properties"]["$insert_id"] in self.refuse]
        with self.lock:
            for index, event in enumerate(body):
                if any(f["index"] == index for f in failed):
                    continue
                insert_id = event["properties"]["$insert_id"]
                if insert_id in self.events:
                    self.resent += 1
                self.events[insert_id] = event
        imported = len(body) - len(failed)
        if failed:
            return json_response({"code": 400, "status": "Bad Request", "error": "some data points were invalid",
                                  "num_records_imported": imported, "failed_records": failed}, 400)
        return json_response({"code": 200, "status": "OK", "num_records_imported": imported})

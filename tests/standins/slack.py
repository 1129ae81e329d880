"""Slack stand-in: ``chat.postMessage`` and ``conversations.inviteShared``.

Requests are validated with jsonschema against the Swagger 2.0 parameter definitions in
``slack-web-openapi-v2.json``: the ``token`` header parameter (sent as ``Authorization: Bearer``),
the declared content types, every ``formData`` parameter (unknown ones rejected, required ones
enforced, booleans as ``true``/``false``), and JSON-valued arguments (``blocks``, ``attachments``,
``metadata``) must parse. The published file predates two things the sync uses, so they are
supplemented here from Slack's current method documentation: the ``metadata`` argument of
``chat.postMessage`` (``event_type`` + ``event_payload``) and the whole
``conversations.inviteShared`` method (``channel``; ``emails`` or ``user_ids``, one invitee per call;
``external_limited``).

Like Slack, errors are HTTP 200 with ``ok: false`` (``invalid_auth``, ``channel_not_found``,
``no_text``); HTTP 429 with ``Retry-After`` can be injected as a fault.
"""

from __future__ import annotations

import itertools
import json
import time
from functools import cache
from typing import Any

import jsonschema
from werkzeug.wrappers import Request, Response

from tests.standins.base import StandinServer, bearer_token, json_response
from tests.standins.specs import slack_swagger

METHODS = ("chat.postMessage", "conversations.inviteShared")
JSON_ARGUMENTS = ("blocks", "attachments", "metadata")

# Documented by Slack but absent from the published Swagger file.
SUPPLEMENT: dict[str, dict[str, Any]] = {
    "chat.postMessage": {
        "parameters": [{"in": "formData", "name": "metadata", "type": "string",
                        "description": "JSON object with event_type and event_payload fields"}],
    },
    "conversations.inviteShared": {
        "consumes": ["application/x-www-form-urlencoded", "application/json"],
        "parameters": [
            {"in": "header", "name": "token", "required": True, "type": "string"},
            {"in": "formData", "name": "channel", "required": True, "type": "string"},
            {"in": "formData", "name": "emails", "type": "string"},
            {"in": "formData", "name": "user_ids", "type": "string"},
            {"in": "formData", "name": "external_limited", "type": "boolean"},
        ],
    },
}
METADATA_SCHEMA = {"type": "object", "required": ["event_type", "event_payload"],
                   "properties": {"event_type": {"type": "string", "minLength": 1},
                                  "event_payload": {"type": "object"}}}
BLOCKS_SCHEMA = {"type": "array", "maxItems": 50, "items": {"type": "object", "required": ["type"]}}


def _form_type(parameter: dict[str, Any]) -> dict[str, Any]:
    kind = parameter.get("type", "string")
    if kind == "boolean":
        return {"type": "string", "enum": ["true", "false", "1", "0"]}
    if kind == "integer":
        return {"type": "string", "pattern": r"^-?\d+$"}
    if kind == "number":
        return {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}
    return {"type": "string"}


@cache
def method_contract(method: str) -> tuple[dict[str, Any], tuple[str, ...], bool]:
    """(JSON schema of the form body, accepted content types, token required) for one method."""
    operation = dict(slack_swagger()["paths"].get(f"/{method}", {}).get("post") or {})
    extra = SUPPLEMENT.get(method, {})
    parameters = list(operation.get("parameters", [])) + list(extra.get("parameters", []))
    consumes = tuple(operation.get("consumes") or extra.get("consumes") or ())
    form = [p for p in parameters if p.get("in") == "formData"]
    schema = {
        "type": "object",
        "properties": {p["name"]: _form_type(p) for p in form},
        "required": sorted({p["name"] for p in form if p.get("required")}),
        "additionalProperties": False,
    }
    token_required = any(p.get("in") == "header" and p.get("name") == "token" and p.get("required")
                         for p in parameters)
    return schema, consumes, token_required


class SlackStandin(StandinServer):
    name = "slack"

    def __init__(self, *, token: str = "xoxb-standin-token",
                 channels: tuple[str, ...] = ("#csm-alerts", "C0CSMALERTS", "C0COMMUNITY"),
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token = token
        self.channels = set(channels)
        self.posts: list[dict[str, Any]] = []
        self.invites: list[dict[str, Any]] = []
        self._ts = itertools.count(1)
        if self.validate_requests:
            for method in METHODS:
                method_contract(method)

    def extra_stats(self) -> dict[str, Any]:
        return {"posts": len(self.posts), "invites": len(self.invites)}

    def alert_keys(self) -> list[str]:
        """``alert_key`` of every posted message, from its metadata (duplicates included)."""
        with self.lock:
            return [p["metadata"]["event_payload"].get("alert_key") for p in self.posts if p.get("metadata")]

    def validate(self, request: Request) -> list[str]:
        method = request.path.removeprefix("/")
        if method not in METHODS:
            return [f"method {method} is not modelled by the stand-in"]
        schema, consumes, token_required = method_contract(method)
        errors: list[str] = []
        if request.method != "POST":
            errors.append("Slack Web API methods are called with POST")
        if token_required and not bearer_token(request):
            errors.append("token is required (Authorization: Bearer)")
        if request.mimetype not in consumes:
            errors.append(f"content type {request.mimetype!r} not accepted ({', '.join(consumes)})")
            return errors
        if request.mimetype == "application/json":
            errors.append("the stand-in expects form-encoded arguments as the sync sends them")
            return errors
        form = request.form.to_dict()
        validator = jsonschema.Draft7Validator(schema)
        errors += [f"{'/'.join(map(str, e.path)) or 'body'}: {e.message}" for e in validator.iter_errors(form)]
        for name in JSON_ARGUMENTS:
            if name in form:
                try:
                    value = json.loads(form[name])
                except ValueError:
                    errors.append(f"{name} is not valid JSON")
                    continue
                sub = METADATA_SCHEMA if name == "metadata" else BLOCKS_SCHEMA if name == "blocks" else None
                if sub is not None:
                    errors += [f"{name}: {e.message}" for e in jsonschema.Draft7Validator(sub).iter_errors(value)]
        if method == "conversations.inviteShared":
            emails = [e for e in form.get("emails", "").split(",") if e.strip()]
            users = [u for u in form.get("user_ids", "").split(",") if u.strip()]
            if len(emails) + len(users) != 1:
                errors.append("exactly one invitee (emails or user_ids) per call")
        return errors

    def validation_failure(self, errors: list[str]) -> Response:
        return json_response({"ok": False, "error": "invalid_arguments", "response_metadata": {
            "messages": errors[:5]}}, 200)

    def handle(self, request: Request) -> Response:
        if bearer_token(request) != self.token:
            return json_response({"ok": False, "error": "invalid_auth"})
        form = request.form.to_dict()
        channel = form.get("channel", "")
        if channel not in self.channels:
            return json_response({"ok": False, "error": "channel_not_found"})
        with self.lock:
            if request.path == "/chat.postMessage":
                if not form.get("text") and not form.get("blocks"):
                    return json_response({"ok": False, "error": "no_text"})
                ts = f"{int(time.time())}.{next(self._ts):06d}"
                post = {"channel": channel, "text": form.get("text"), "ts": ts,
                        "blocks": json.loads(form["blocks"]) if form.get("blocks") else None,
                        "metadata": json.loads(form["metadata"]) if form.get("metadata") else None}
                self.posts.append(post)
                return json_response({"ok": True, "channel": "C0CSMALERTS", "ts": ts, "message": {
                    "type": "message", "text": post["text"], "user": "U0STANDIN", "bot_id": "B0STANDIN", "ts": ts}})
            invite_id = f"I{next(self._ts):08d}"
            self.invites.append({"channel": channel, "email": form.get("emails"), "invite_id": invite_id,
                                 "external_limited": form.get("external_limited")})
            return json_response({"ok": True, "invite_id": invite_id, "is_legacy_shared_channel": False})

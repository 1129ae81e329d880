"""Slack stand-in: ``chat.postMessage`` and ``conversations.inviteShared``.

Requests are validated against the project's Slack schema (``sync/schemas/slack.json``): the bearer
token, the accepted content types, every form argument (unknown ones rejected, required ones enforced,
booleans as ``true``/``false``), JSON-valued arguments (``blocks``, ``attachments``, ``metadata``) must
parse and match their shapes, and an invite names exactly one invitee. The stand-in itself only reads
form-encoded arguments, as the sync sends them.

Like Slack, errors are HTTP 200 with ``ok: false`` (``invalid_auth``, ``channel_not_found``,
``no_text``); HTTP 429 with ``Retry-After`` can be injected as a fault.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.standins.base import StandinServer, bearer_token, json_response
from tests.standins.specs import request_errors


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

    def extra_stats(self) -> dict[str, Any]:
        return {"posts": len(self.posts), "invites": len(self.invites)}

    def alert_keys(self) -> list[str]:
        """``alert_key`` of every posted message, from its metadata (duplicates included)."""
        with self.lock:
            return [p["metadata"]["event_payload"].get("alert_key") for p in self.posts if p.get("metadata")]

    def validate(self, request: Request) -> list[str]:
        errors = request_errors("slack", request)
        if request.mimetype == "application/json":
            errors.append("the stand-in expects form-encoded arguments as the sync sends them")
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

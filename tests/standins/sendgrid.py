"""SendGrid stand-in: ``POST /v3/mail/send``.

Validated against the project's SendGrid schema (``sync/schemas/sendgrid.json``): bearer API key,
personalizations with a recipient, a sender, content or a template, at most 10 categories. Each accepted
mail is kept in :attr:`SendGridStandin.mails` and answered ``202`` with an ``X-Message-Id``, as SendGrid
does; the faults of :class:`~tests.standins.base.StandinServer` (``status_after``, ``drop_after``...)
simulate a mail accepted but not acknowledged.
"""

from __future__ import annotations

import secrets
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.standins.base import StandinServer, bearer_token, json_response
from tests.standins.specs import request_errors


def _error(status: int, message: str, field: str | None = None) -> Response:
    return json_response({"errors": [{"message": message, "field": field, "help": {}}]}, status)


class SendGridStandin(StandinServer):
    name = "sendgrid"

    def __init__(self, *, token: str = "SG.standin-sendgrid-key", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token = token
        self.mails: list[dict[str, Any]] = []

    def extra_stats(self) -> dict[str, Any]:
        return {"mails": len(self.mails)}

    def validate(self, request: Request) -> list[str]:
        return request_errors("sendgrid", request)

    def validation_failure(self, errors: list[str]) -> Response:
        return _error(400, "; ".join(errors)[:500])

    def handle(self, request: Request) -> Response:
        if bearer_token(request) != self.token:
            return _error(401, "The provided authorization grant is invalid, expired, or revoked")
        body = request.get_json()
        message_id = secrets.token_urlsafe(16)
        personalization = body["personalizations"][0]
        with self.lock:
            self.mails.append({
                "id": message_id, "to": [t["email"] for t in personalization["to"]],
                "from": body["from"], "subject": body.get("subject"),
                "custom_args": personalization.get("custom_args", {}),
                "categories": body.get("categories", []), "asm": body.get("asm"),
                "content": {c["type"]: c["value"] for c in body.get("content", [])},
            })
        return Response(b"", status=202, headers={"X-Message-Id": message_id})

    def keys(self) -> list[str]:
        """The message keys of the accepted mails (``custom_args.message_key``), in order."""
        with self.lock:
            return [m["custom_args"].get("message_key") for m in self.mails]

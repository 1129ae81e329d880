"""Salesforce stand-in: the client-credentials token and upserts by external id on Lead / Contact.

Validated against the project's Salesforce schema (``sync/schemas/salesforce.json``): the token request
(``grant_type=client_credentials``, form-encoded), bearer auth, API version, object and field names,
field values of the allowed types. Like an org it:

* issues a token for the right client, answers 401 ``INVALID_SESSION_ID`` to an expired one
  (:meth:`SalesforceStandin.expire_tokens`);
* knows the fields it has (:attr:`SalesforceStandin.fields`: a missing custom field is 400
  ``INVALID_FIELD``), requires ``LastName`` (and ``Company`` on a Lead) to create a record;
* creates (201) or updates (200) by the external id field, keeping :attr:`SalesforceStandin.records`;
* counts every API call against a 24-hour allowance and reports it in ``Sforce-Limit-Info``
  (``api-usage=USED/LIMIT``); past the limit it answers 403 ``REQUEST_LIMIT_EXCEEDED``.
"""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from tests.standins.base import StandinServer, bearer_token, json_response
from tests.standins.specs import request_errors

ROW_PATH = re.compile(r"^/services/data/v(?P<version>[^/]+)/sobjects/(?P<object>[^/]+)/(?P<field>[^/]+)/(?P<value>[^/]+)$")
STANDARD = {"Lead": {"Email", "LastName", "Company", "Status", "OwnerId"},
            "Contact": {"Email", "LastName", "OwnerId"}}
CUSTOM = {"Onboarding_User_Id__c", "Onboarding_Track__c", "Onboarding_Stage__c", "Onboarding_Score__c",
          "Onboarding_Completed_Date__c", "Churn_Risk_Band__c"}


def _errors(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response([{"message": message, "errorCode": code, "fields": []}], status, headers=headers)


class SalesforceStandin(StandinServer):
    name = "salesforce"

    def __init__(self, *, client_id: str = "standin-sf-client", client_secret: str = "standin-sf-secret",
                 daily_limit: int = 15000, used: int = 0, external_id_field: str = "Onboarding_User_Id__c",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client_id, self.client_secret = client_id, client_secret
        self.daily_limit, self.used = daily_limit, used
        self.external_id_field = external_id_field
        self.tokens: set[str] = set()
        self.tokens_issued = 0
        self.fields: dict[str, set[str]] = {obj: names | CUSTOM for obj, names in STANDARD.items()}
        self.records: dict[tuple[str, str], dict[str, Any]] = {}
        self.updates: list[tuple[str, str, dict[str, Any]]] = []

    def extra_stats(self) -> dict[str, Any]:
        return {"records": len(self.records), "api_usage": f"{self.used}/{self.daily_limit}",
                "tokens_issued": self.tokens_issued}

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def validate(self, request: Request) -> list[str]:
        return request_errors("salesforce", request)

    def validation_failure(self, errors: list[str]) -> Response:
        if request_path_is_token(errors):
            return json_response({"error": "invalid_request", "error_description": "; ".join(errors)[:300]}, 400)
        return _errors(400, "JSON_PARSER_ERROR", "; ".join(errors)[:500])

    def handle(self, request: Request) -> Response:
        if request.path == "/services/oauth2/token":
            form = request.form
            if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
                return json_response({"error": "invalid_client", "error_description": "invalid client credentials"},
                                     400)
            token = "00Dstandin!" + secrets.token_urlsafe(24)
            with self.lock:
                self.tokens.add(token)
                self.tokens_issued += 1
            return json_response({"access_token": token, "instance_url": f"http://{request.host}",
                                  "token_type": "Bearer", "issued_at": "1700000000000",
                                  "id": f"http://{request.host}/id/00D/005", "signature": "standin"})
        with self.lock:
            if bearer_token(request) not in self.tokens:
                return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
            if self.used >= self.daily_limit:
                return _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", self._usage())
            self.used += 1
            usage = self._usage()
        match = ROW_PATH.match(request.path)
        assert match is not None
        obj, field, value = match["object"], match["field"], unquote(match["value"])
        if obj not in self.fields:
            return _errors(404, "NOT_FOUND", f"The requested resource does not exist: {obj}", usage)
        if field != self.external_id_field or field not in self.fields[obj]:
            return _errors(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {field}",
                           usage)
        body = request.get_json()
        unknown = sorted(set(body) - self.fields[obj])
        if unknown:
            return _errors(400, "INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {obj}", usage)
        with self.lock:
            key = (obj, value)
            existing = self.records.get(key)
            self.updates.append((obj, value, dict(body)))
            if existing is None:
                required = ["LastName"] + (["Company"] if obj == "Lead" else [])
                missing = [name for name in required if not body.get(name)]
                if missing:
                    return _errors(400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: {missing}", usage)
                record_id = ("00Q" if obj == "Lead" else "003") + secrets.token_hex(6)[:12].upper()
                self.records[key] = {"Id": record_id, field: value, **body}
                return json_response({"id": record_id, "success": True, "errors": [], "created": True}, 201,
                                     headers=usage)
            existing.update(body)
            return json_response({"id": existing["Id"], "success": True, "errors": [], "created": False}, 200,
                                 headers=usage)

    def _usage(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.used}/{self.daily_limit}"}

    def record(self, user_id: str, obj: str = "Lead") -> dict[str, Any] | None:
        with self.lock:
            found = self.records.get((obj, user_id))
            return dict(found) if found else None


def request_path_is_token(errors: list[str]) -> bool:
    return any("grant_type" in e or "client_" in e for e in errors)

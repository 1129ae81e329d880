"""Intercom stand-in: the contact, data-attribute and message endpoints of API 2.14.

Every request is validated against the project's Intercom schema (``sync/schemas/intercom.json``:
operation, bearer security, the ``Intercom-Version: 2.14`` header, path, query and body, an email
message's ``subject`` and ``template``); a violation is answered 400 with Intercom's error list. Custom
attribute values must match the data attribute's type, which depends on the workspace's state, so the
handlers check that (400 ``parameter_invalid``, as Intercom does).

Vendor behaviour modelled because the sync must cope with it:

* ``POST /contacts`` with an external_id that exists answers 409 ``conflict`` with the existing id in
  the message (``conflict_reveals_id=False`` hides it);
* ``GET /contacts/find_by_external_id`` does not see a contact until ``search_lag`` seconds after it
  was created (search indexing);
* ``POST /messages`` answers 404 for a contact younger than ``message_lag`` seconds (the API reference
  warns about this delay).
"""

from __future__ import annotations

import itertools
import secrets
import time
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.standins.base import StandinServer, bearer_token, json_response
from tests.standins.specs import request_errors

STANDARD_ATTRIBUTES = [
    {"name": "name", "data_type": "string"}, {"name": "email", "data_type": "string"},
    {"name": "signed_up_at", "data_type": "date"}, {"name": "external_id", "data_type": "string"},
]


def _error(status: int, code: str, message: str) -> Response:
    return json_response({"type": "error.list", "request_id": secrets.token_hex(8),
                          "errors": [{"code": code, "message": message}]}, status)


class IntercomStandin(StandinServer):
    name = "intercom"

    def __init__(self, *, token: str = "standin-intercom-token", admin_ids: tuple[int, ...] = (991267459,),
                 search_lag: float = 0.0, message_lag: float = 0.0, conflict_reveals_id: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token = token
        self.admin_ids = set(admin_ids)
        self.search_lag = search_lag
        self.message_lag = message_lag
        self.conflict_reveals_id = conflict_reveals_id
        self.contacts: dict[str, dict[str, Any]] = {}
        self.by_external_id: dict[str, str] = {}
        self.by_email: dict[str, str] = {}  # users only: Intercom keeps user emails unique
        self.created_at: dict[str, float] = {}
        self.data_attributes: dict[str, dict[str, Any]] = {}
        self.messages: list[dict[str, Any]] = []
        self._ids = itertools.count(100)

    # ----------------------------------------------------------------------------- helpers for tests
    def add_contact(self, external_id: str, email: str | None = None, created_ago: float = 3600.0,
                    **fields: Any) -> str:
        """Seed a contact that already exists in the workspace."""
        with self.lock:
            contact_id = secrets.token_hex(12)
            self.contacts[contact_id] = self._contact(contact_id, external_id, email, fields)
            self.by_external_id[external_id] = contact_id
            if email:
                self.by_email[email] = contact_id
            self.created_at[contact_id] = time.monotonic() - created_ago
            return contact_id

    def add_data_attribute(self, name: str, data_type: str, archived: bool = False) -> None:
        with self.lock:
            self.data_attributes[name] = {"type": "data_attribute", "id": next(self._ids), "model": "contact",
                                          "name": name, "full_name": f"custom_attributes.{name}",
                                          "label": name, "data_type": data_type, "custom": True,
                                          "archived": archived, "api_writable": True}

    def delete_contact(self, contact_id: str) -> None:
        """Remove a contact as if someone deleted it in the Intercom UI."""
        with self.lock:
            contact = self.contacts.pop(contact_id)
            self.by_external_id.pop(contact["external_id"] or "", None)
            self.by_email.pop(contact["email"] or "", None)

    def contact_by_external_id(self, external_id: str) -> dict[str, Any] | None:
        with self.lock:
            contact_id = self.by_external_id.get(external_id)
            return dict(self.contacts[contact_id]) if contact_id else None

    def extra_stats(self) -> dict[str, Any]:
        return {"contacts": len(self.contacts), "messages": len(self.messages)}

    # ------------------------------------------------------------------------------ validation
    def validate(self, request: Request) -> list[str]:
        return request_errors("intercom", request)

    def validation_failure(self, errors: list[str]) -> Response:
        return _error(400, "parameter_invalid", "; ".join(errors)[:500])

    # -------------------------------------------------------------------------------- handlers
    def handle(self, request: Request) -> Response:
        if bearer_token(request) != self.token:
            return _error(401, "unauthorized", "Access Token Invalid")
        path, method = request.path, request.method
        body = request.get_json(silent=True) or {}
        with self.lock:
            if path == "/data_attributes" and method == "GET":
                return self._list_attributes(request)
            if path == "/data_attributes" and method == "POST":
                return self._create_attribute(body)
            if path.startswith("/data_attributes/") and method == "PUT":
                return self._update_attribute(path.rsplit("/", 1)[1], body)
            if path == "/contacts" and method == "POST":
                return self._create_contact(body)
            if path.startswith("/contacts/find_by_external_id/") and method == "GET":
                return self._find(path.removeprefix("/contacts/find_by_external_id/"))
            if path.startswith("/contacts/") and path.count("/") == 2:
                contact_id = path.rsplit("/", 1)[1]
                if method == "GET":
                    return self._get_contact(contact_id)
                if method == "PUT":
                    return self._update_contact(contact_id, body)
            if path == "/messages" and method == "POST":
                return self._create_message(body)
        return _error(404, "not_found", "Resource Not Found")

    def _list_attributes(self, request: Request) -> Response:
        include_archived = request.args.get("include_archived") == "true"
        data = [{"type": "data_attribute", "model": "contact", "custom": False, "archived": False, **a}
                for a in STANDARD_ATTRIBUTES]
        data += [a for a in self.data_attributes.values() if include_archived or not a["archived"]]
        return json_response({"type": "list", "data": data})

    def _create_attribute(self, body: dict[str, Any]) -> Response:
        name = body["name"]
        if name in self.data_attributes or name in {a["name"] for a in STANDARD_ATTRIBUTES}:
            return _error(400, "parameter_invalid", f"You already have '{name}' in your people data.")
        self.add_data_attribute(name, body["data_type"])
        return json_response(self.data_attributes[name])

    def _update_attribute(self, attribute_id: str, body: dict[str, Any]) -> Response:
        for attribute in self.data_attributes.values():
            if str(attribute["id"]) == attribute_id:
                if "archived" in body:
                    attribute["archived"] = bool(body["archived"])
                return json_response(attribute)
        return _error(404, "field_not_found", "We couldn't find that data attribute to update")

    def _check_custom(self, custom: dict[str, Any] | None) -> str | None:
        for name, value in (custom or {}).items():
            attribute = self.data_attributes.get(name)
            if attribute is None:
                return f"Custom attribute '{name}' does not exist"
            if value is None:
                continue
            expected = attribute["data_type"]
            ok = {"string": isinstance(value, str),
                  "integer": isinstance(value, int) and not isinstance(value, bool),
                  "float": isinstance(value, int | float) and not isinstance(value, bool),
                  "boolean": isinstance(value, bool)}.get(expected, True)
            if not ok:
                return f"Custom attribute '{name}' must be of type {expected}"
        return None

    def _contact(self, contact_id: str, external_id: str | None, email: str | None,
                 fields: dict[str, Any]) -> dict[str, Any]:
        now = int(time.time())
        return {"type": "contact", "id": contact_id, "workspace_id": "standin", "external_id": external_id,
                "role": fields.get("role", "user"), "email": email, "name": fields.get("name"),
                "signed_up_at": fields.get("signed_up_at"), "created_at": now, "updated_at": now,
                "custom_attributes": dict(fields.get("custom_attributes") or {})}

    def _create_contact(self, body: dict[str, Any]) -> Response:
        external_id = body.get("external_id")
        existing = self.by_external_id.get(external_id) if external_id else None
        if existing is None and body.get("email"):
            existing = self.by_email.get(body["email"])
        if existing is not None:
            message = "A contact matching those details already exists"
            if self.conflict_reveals_id:
                message += f" with id={existing}"
            return _error(409, "conflict", message)
        problem = self._check_custom(body.get("custom_attributes"))
        if problem:
            return _error(400, "parameter_invalid", problem)
        contact_id = secrets.token_hex(12)
        contact = self._contact(contact_id, external_id, body.get("email"), body)
        self.contacts[contact_id] = contact
        if external_id:
            self.by_external_id[external_id] = contact_id
        if contact["email"] and contact["role"] == "user":
            self.by_email[contact["email"]] = contact_id
        self.created_at[contact_id] = time.monotonic()
        return json_response(contact)

    def _get_contact(self, contact_id: str) -> Response:
        contact = self.contacts.get(contact_id)
        return json_response(contact) if contact else _error(404, "not_found", "User Not Found")

    def _find(self, external_id: str) -> Response:
        contact_id = self.by_external_id.get(external_id)
        if contact_id is None or time.monotonic() - self.created_at[contact_id] < self.search_lag:
            return _error(404, "not_found", "User Not Found")
        return json_response(self.contacts[contact_id])

    def _update_contact(self, contact_id: str, body: dict[str, Any]) -> Response:
        contact = self.contacts.get(contact_id)
        if contact is None:
            return _error(404, "not_found", "User Not Found")
        problem = self._check_custom(body.get("custom_attributes"))
        if problem:
            return _error(400, "parameter_invalid", problem)
        for name, value in body.items():
            if name == "custom_attributes":
                contact["custom_attributes"].update(value or {})
            elif name in ("email", "name", "signed_up_at", "role", "external_id", "phone", "avatar"):
                if name == "email" and value != contact["email"]:
                    self.by_email.pop(contact["email"] or "", None)
                    if value:
                        self.by_email[value] = contact_id
                contact[name] = value
        contact["updated_at"] = int(time.time())
        return json_response(contact)

    def _create_message(self, body: dict[str, Any]) -> Response:
        sender = body.get("from") or {}
        if sender.get("id") not in self.admin_ids:
            return _error(404, "admin_not_found", "Admin not found")
        recipient = body.get("to") or {}
        contact_id = recipient.get("id") if isinstance(recipient, dict) else None
        if contact_id not in self.contacts or time.monotonic() - self.created_at[contact_id] < self.message_lag:
            return _error(404, "not_found", "User Not Found")
        message = {"type": "admin_message", "id": str(next(self._ids)), "created_at": int(time.time()),
                   "subject": body.get("subject", ""), "body": body["body"],
                   "message_type": body["message_type"], "to": contact_id,
                   "owner": {"type": "admin", "id": str(sender["id"])}}
        self.messages.append(message)
        return json_response(message)

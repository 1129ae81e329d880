"""The vendors' request and response shapes the sync relies on, as data: one JSON file per vendor.

Why files of our own rather than the vendors' API descriptions: the descriptions are large (Intercom's is
close to a megabyte), two vendors publish none (Appcues, Calendly, Segment's is a web page, Salesforce's a
Postman collection), and the repository has to stand alone. So each file holds the facts of exactly the
operations the project uses - paths, methods, required fields, types, enums, limits, status codes, the
auth scheme - written by us from the vendors' descriptions and documentation (``derived_from`` says which,
in words); ``tests/test_schemas.py`` compares them with the descriptions when a copy is at hand.

The format (``docs/sync.md``, "Where the request shapes come from")::

    {"vendor", "api_version", "derived_from", "description_file" (null when there is none),
     "auth": {"scheme": "bearer" | "basic" | "none", ...},        # the default of every operation
     "headers": {name: JSON Schema},                              # request headers every operation must send
     "content_types": [...],                                      # accepted request body encodings
     "$defs": {...},                                              # shared schemas ("#/$defs/name")
     "operations": {"METHOD /path/{param}": {
         "auth", "headers", "content_types"                       # optional per-operation overrides
         "path": {param: JSON Schema}, "query": JSON Schema, "request": JSON Schema,
         "limits": {"max_body_bytes", "max_item_bytes", "items_at"},
         "responses": {"200": {"body": JSON Schema, "headers": {name: JSON Schema}}, ...},
         "described_as": "how the vendor's description names it, when that differs"}}}

Schemas are JSON Schema 2020-12. Path, query and form values arrive as text: a value declared integer,
number or boolean is compared after reading the text as one. ``"x-beyond-description": "<why>"`` marks an
operation, response or field that the vendor's machine-readable description lacks (it comes from the
vendor's prose documentation or observed behaviour), so the consistency test does not look for it there;
``"$comment"`` says where a constraint on a field the description has comes from. ``"x-error"`` gives
the message a failure of that subschema is reported with.

This module only reads the files (the shipped code needs no validator); validation lives with the
stand-ins (``tests/standins/specs.py``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

VENDORS = ("intercom", "slack", "appcues", "calendly", "sendgrid", "mixpanel", "segment", "salesforce")
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class UnknownOperation(LookupError):
    """The method and path match no operation of the vendor's schema."""


@dataclass(frozen=True)
class Operation:
    """One operation of a vendor schema, matched against a concrete request path."""

    vendor: str
    method: str
    template: str
    params: dict[str, str]
    spec: dict[str, Any] = field(repr=False)
    defs: dict[str, Any] = field(repr=False)
    vendor_spec: dict[str, Any] = field(repr=False)

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"

    @property
    def auth(self) -> dict[str, Any]:
        return dict(self.spec.get("auth") or self.vendor_spec.get("auth") or {"scheme": "none"})

    @property
    def headers(self) -> dict[str, Any]:
        """Request headers this operation needs: the vendor's, then the operation's own."""
        return {**self.vendor_spec.get("headers", {}), **self.spec.get("headers", {})}

    @property
    def content_types(self) -> tuple[str, ...]:
        return tuple(self.spec.get("content_types") or self.vendor_spec.get("content_types") or ())

    @property
    def limits(self) -> dict[str, Any]:
        return dict(self.spec.get("limits") or {})

    def schema(self, part: str) -> dict[str, Any] | None:
        """``path``, ``query`` or ``request`` as a standalone JSON Schema (``$defs`` carried along)."""
        if part == "path":
            properties = self.spec.get("path") or {}
            if not properties:
                return None
            return self._standalone({"type": "object", "properties": properties, "required": sorted(properties)})
        found = self.spec.get(part)
        return None if found is None else self._standalone(found)

    @property
    def statuses(self) -> tuple[str, ...]:
        return tuple(self.spec.get("responses", {}))

    def response(self, status: int | str) -> dict[str, Any] | None:
        """The declared response for a status (``{"body": schema, "headers": {...}}``), else ``None``."""
        found = self.spec.get("responses", {}).get(str(status))
        if found is None:
            return None
        body = found.get("body")
        return {**found, "body": None if body is None else self._standalone(body)}

    def _standalone(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$defs": self.defs, **schema}


@cache
def _load(vendor: str) -> str:
    if vendor not in VENDORS:
        raise KeyError(f"no request schema for vendor {vendor!r} (known: {', '.join(VENDORS)})")
    return resources.files(__name__).joinpath(f"{vendor}.json").read_text(encoding="utf-8")


def load(vendor: str) -> dict[str, Any]:
    """The vendor's schema file as a dict (a fresh copy: callers may change it)."""
    document: dict[str, Any] = json.loads(_load(vendor))
    return document


@cache
def _document(vendor: str) -> dict[str, Any]:
    """The parsed file, once per process: the stand-ins look an operation up for every request.
    Operations hand out parts of it, which nobody may change (use :func:`load` for a copy)."""
    return load(vendor)


@cache
def _templates(vendor: str) -> list[tuple[str, str, re.Pattern[str], int]]:
    """(method, template, regex, literal characters) per operation, most literal first."""
    found = []
    for key in _document(vendor)["operations"]:
        method, template = key.split(" ", 1)
        # split() with a group alternates literal text (even places) and parameter names (odd places)
        parts = _PARAM.split(template)
        pattern = "".join(f"(?P<{part}>[^/]+)" if i % 2 else re.escape(part) for i, part in enumerate(parts))
        literal = sum(len(part) for part in parts[::2])
        found.append((method, template, re.compile(f"^{pattern}$"), literal))
    return sorted(found, key=lambda t: -t[3])


def operation(vendor: str, method: str, path: str) -> Operation:
    """The operation a concrete request (``PUT``, ``/contacts/abc``) belongs to.

    Parameters match one path segment (or part of one: ``v{version}``); a template with more literal
    text wins over a looser one, so ``/contacts/find_by_external_id/{id}`` is not read as a contact id.
    Raises :class:`UnknownOperation`.
    """
    method = method.upper()
    document = _document(vendor)
    for candidate_method, template, regex, _ in _templates(vendor):
        if candidate_method != method:
            continue
        match = regex.match(path)
        if match:
            spec = document["operations"][f"{method} {template}"]
            return Operation(vendor, method, template, match.groupdict(), spec, document.get("$defs", {}),
                             document)
    raise UnknownOperation(f"{method} {path} is not an operation of the {vendor} schema")


def operations(vendor: str) -> list[str]:
    """Every ``"METHOD /template"`` key of the vendor's schema."""
    return list(load(vendor)["operations"])

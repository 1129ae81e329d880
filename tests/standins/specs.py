"""Validation of requests and responses against the project's own vendor schemas (``sync/schemas/``).

The schemas ship with the sync and are plain data; validating them needs ``jsonschema``, a dev
dependency, so the validator lives here with the stand-ins and the shipped code never imports it.

Both functions return a list of one-line error strings (empty when valid): the stand-ins answer with
them the way each vendor answers a bad request, and tests can assert on them. What is checked:

* the operation exists (method and path against the schema's templates);
* auth: the scheme's ``Authorization`` header is there (``Security: ...``; whether the token is the
  right one is the stand-in's business, as it is the vendor's);
* the headers every operation must send (``Intercom-Version``);
* path parameters, query and body against their JSON Schemas (2020-12). Path, query and form values
  are text, so a value declared boolean, integer or number is read as one first (``true``/``false``/
  ``1``/``0`` for a boolean), as the vendors read them;
* form arguments declared ``contentMediaType: application/json`` must parse, and match their
  ``contentSchema`` (Slack's ``blocks`` and ``metadata``);
* ``limits``: the body's size and, for batches, each item's size.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import jsonschema
from werkzeug.wrappers import Request

from sync.schemas import Operation, UnknownOperation, operation

FORM = "application/x-www-form-urlencoded"
NDJSON = "application/x-ndjson"
# Keywords that move validation to another part of the instance: an "x-error" above them does not
# describe a failure below them.
_DESCENDING = frozenset({"properties", "patternProperties", "additionalProperties", "items", "prefixItems",
                         "contains", "propertyNames", "unevaluatedProperties", "unevaluatedItems"})
_INTEGER = re.compile(r"^-?\d+$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


# ------------------------------------------------------------------------------------------ requests
def validate_request(vendor: str, method: str, path: str, *, headers: Mapping[str, str] | None = None,
                     query: Mapping[str, str] | None = None, body: bytes = b"",
                     content_type: str | None = None) -> list[str]:
    """Errors of one request against the vendor's schema (empty when it is valid)."""
    try:
        op = operation(vendor, method, path)
    except UnknownOperation as exc:
        return [str(exc)]
    headers = _casefold(headers or {})
    errors = _auth_errors(op, headers)
    errors += _header_errors(op, op.headers, headers)
    if op.schema("path") is not None:
        errors += _errors(op, "path", _coerce_text(op, "path", op.params), "path")
    if op.schema("query") is not None:
        errors += _errors(op, "query", _coerce_text(op, "query", dict(query or {})), "query")
    request_schema = op.schema("request")
    if request_schema is None:
        return errors
    mimetype = (content_type or "").split(";")[0].strip().lower()
    if mimetype not in op.content_types:
        return [*errors, f"Content-Type must be {' or '.join(op.content_types)} (got {mimetype or 'none'})"]
    try:
        instance = _parse(body, mimetype)
    except ValueError:
        return [*errors, "body is not valid JSON"]
    if mimetype == FORM:
        instance = _coerce_text(op, "request", instance)
    errors += _errors(op, "request", instance, "body")
    errors += _json_argument_errors(op, request_schema, instance)
    errors += _limit_errors(op, body, instance)
    return errors


def request_errors(vendor: str, request: Request) -> list[str]:
    """:func:`validate_request` for a request as a stand-in receives it."""
    return validate_request(vendor, request.method, request.path, headers=dict(request.headers),
                            query=request.args.to_dict(), body=request.get_data(),
                            content_type=request.content_type)


# ----------------------------------------------------------------------------------------- responses
def validate_response(vendor: str, method: str, path: str, status: int, *,
                      headers: Mapping[str, str] | None = None, body: bytes = b"",
                      content_type: str | None = None) -> list[str]:
    """Errors of one answer against what the schema declares for its status."""
    try:
        op = operation(vendor, method, path)
    except UnknownOperation as exc:
        return [str(exc)]
    declared = op.response(status)
    if declared is None:
        return [f"status {status} is not declared for {op.key}"]
    errors = _header_errors(op, declared.get("headers") or {}, _casefold(headers or {}))
    schema = declared.get("body")
    if schema is not None:
        try:
            instance = _parse(body, (content_type or "application/json").split(";")[0].strip().lower())
        except ValueError:
            return [*errors, "response body is not valid JSON"]
        errors += _format(op, schema, _validator(op, f"response {status}", schema).iter_errors(instance),
                          "response")
    return errors


# ---------------------------------------------------------------------------------------- internals
def _casefold(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _auth_errors(op: Operation, headers: Mapping[str, str]) -> list[str]:
    scheme = op.auth.get("scheme", "none")
    value = headers.get("authorization", "")
    if scheme == "bearer" and not (value[:7].lower() == "bearer " and value[7:].strip()):
        return ["Security: a bearer token is required (Authorization: Bearer <token>)"]
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value[6:], validate=True).decode() if value[:6].lower() == "basic " else ""
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        if ":" not in decoded:
            return ["Security: HTTP Basic authentication is required (Authorization: Basic <user:password>)"]
    return []


def _header_errors(op: Operation, declared: Mapping[str, Any], headers: Mapping[str, str]) -> list[str]:
    errors = []
    for name, schema in declared.items():
        value = headers.get(name.lower())
        if value is None:
            errors.append(schema.get("x-error") or f"header {name} is required")
            continue
        for error in _validator(op, f"header {name}", {"$defs": op.defs, **schema}).iter_errors(value):
            errors.append(schema.get("x-error") or f"header {name}: {error.message}")
    return errors


def _parse(body: bytes, mimetype: str) -> Any:
    if mimetype == FORM:
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    text = body.decode("utf-8") if body else ""
    if mimetype == NDJSON:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text) if text.strip() else None


def _resolve(op: Operation, schema: Any) -> Any:
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/$defs/"):
        schema = {**op.defs[schema["$ref"].removeprefix("#/$defs/")],
                  **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _types(schema: Any) -> set[str]:
    declared = schema.get("type") if isinstance(schema, dict) else None
    return {declared} if isinstance(declared, str) else set(declared or ())


def _coerce_text(op: Operation, part: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Read text values as the types their properties declare (a value that does not read stays text)."""
    schema = _resolve(op, op.schema(part) or {})
    properties = schema.get("properties", {}) if isinstance(schema, dict) else {}
    coerced: dict[str, Any] = {}
    for name, value in values.items():
        types = _types(_resolve(op, properties.get(name, {})))
        if isinstance(value, str) and types and "string" not in types:
            if "boolean" in types and value in ("true", "false", "1", "0"):
                value = value in ("true", "1")
            elif types & {"integer", "number"} and _INTEGER.match(value):
                value = int(value)
            elif "number" in types and _NUMBER.match(value):
                value = float(value)
        coerced[name] = value
    return coerced


_COMPILED: dict[tuple[str, ...], jsonschema.Draft202012Validator] = {}


def _validator(op: Operation, label: str, schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """One compiled validator per part of an operation (the stand-ins validate every request)."""
    key = (op.vendor, op.key, label)
    if key not in _COMPILED:
        _COMPILED[key] = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    return _COMPILED[key]


def _errors(op: Operation, part: str, instance: Any, where: str) -> list[str]:
    schema = op.schema(part)
    assert schema is not None
    return _format(op, schema, _validator(op, part, schema).iter_errors(instance), where)


def _format(op: Operation, root: dict[str, Any], errors: Iterable[jsonschema.ValidationError],
            where: str, prefix: str = "") -> list[str]:
    """One line per distinct failure, at most 300 characters (jsonschema quotes whole instances)."""
    found: list[str] = []
    for error in sorted(errors, key=lambda e: list(map(str, e.absolute_path))):
        location = "/".join([*([prefix] if prefix else []), *map(str, error.absolute_path)]) or where
        message = _x_error(op, root, error) or error.message
        if len(message) > 200:  # the instance quoted whole: name the rule instead
            message = f"fails {error.validator} {json.dumps(error.validator_value)[:100]}"
        line = f"{location}: {message}"
        line = line if len(line) <= 300 else line[:299] + "…"
        if line not in found:
            found.append(line)
    return found


def _x_error(op: Operation, root: dict[str, Any], error: jsonschema.ValidationError) -> str | None:
    """The ``x-error`` of the nearest schema around the failed keyword at the same instance location.

    jsonschema leaves ``$ref`` out of an error's schema path, so a reference is followed whenever the
    next step is not a key of the schema at hand.
    """
    node: Any = root
    message = root.get("x-error")
    path = list(error.absolute_schema_path)
    for index, part in enumerate(path):
        if part in _DESCENDING and isinstance(node, dict):
            message = None
        while isinstance(node, dict) and part not in node and "$ref" in node:
            node = _resolve(op, {"$ref": node["$ref"]})
            message = node.get("x-error", message)
        if index == len(path) - 1:
            break  # the failed keyword itself
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return message
        if isinstance(node, dict) and "x-error" in node:
            message = node["x-error"]
    return message


def _json_argument_errors(op: Operation, schema: dict[str, Any], instance: Any) -> list[str]:
    """Arguments sent as JSON text inside a form (``contentMediaType: application/json``)."""
    if not isinstance(instance, dict):
        return []
    errors = []
    for name, prop in _resolve(op, schema).get("properties", {}).items():
        if prop.get("contentMediaType") != "application/json" or not isinstance(instance.get(name), str):
            continue
        try:
            value = json.loads(instance[name])
        except ValueError:
            errors.append(f"{name} is not valid JSON")
            continue
        content = {"$defs": op.defs, **prop.get("contentSchema", {})}
        errors += _format(op, content, _validator(op, f"argument {name}", content).iter_errors(value), name,
                          prefix=name)
    return errors


def _limit_errors(op: Operation, body: bytes, instance: Any) -> list[str]:
    limits = op.limits
    errors = []
    if "max_body_bytes" in limits and len(body) > limits["max_body_bytes"]:
        errors.append(f"body is {len(body)} bytes, over the limit of {limits['max_body_bytes']}")
    if "max_item_bytes" in limits:
        items = instance
        for part in limits.get("items_at", "").strip("/").split("/"):
            items = items.get(part) if part and isinstance(items, dict) else items
        for index, item in enumerate(items if isinstance(items, list) else []):
            size = len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode())
            if size > limits["max_item_bytes"]:
                errors.append(f"item {index} is {size} bytes, over the limit of {limits['max_item_bytes']}")
    return errors

"""The project's vendor schemas (``sync/schemas/``): the sync's requests fit them, bad requests are refused,
they agree with the vendors' own descriptions, and nothing in the repository reads outside it.

Why: the schemas are what the stand-ins validate against, so they are what "the sync sends valid requests"
means in every sync test. They are written by hand from the vendors' files, so one test compares them with
those files when a copy is at hand (``ONBOARDING_VENDOR_SPECS``; ``docs/sync.md``, "Where the request shapes
come from") and is skipped when it is not - the only place the test suite may read outside the repository.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import duckdb
import httpx
import jsonschema
import pytest
import yaml
from werkzeug.wrappers import Request, Response

from sync import schemas
from sync.engine import run_sync
from sync.settings import SyncSettings
from tests.standins import StandinSet
from tests.standins.marts import contact, demo, insert
from tests.standins.specs import validate_request, validate_response

REPO_ROOT = Path(__file__).resolve().parent.parent
SPECS_ENV = "ONBOARDING_VENDOR_SPECS"
FAST = {"SYNC_SLACK_CHANNEL_INTERVAL": "0", **{f"SYNC_{d}_{k}": v for d in ("INTERCOM", "SLACK", "APPCUES", "CALENDLY")
        for k, v in (("BACKOFF_BASE", "0.01"), ("BACKOFF_MAX", "0.05"), ("TIMEOUT", "5"))}}
STANDIN_VENDORS = ("intercom", "slack", "appcues", "calendly")


# ------------------------------------------------------------------------------------- the files
@pytest.mark.parametrize("vendor", schemas.VENDORS)
def test_schema_file_is_well_formed(vendor: str) -> None:
    """Every part is a valid 2020-12 schema, every reference resolves, every status is an HTTP status."""
    document = schemas.load(vendor)
    assert document["vendor"] == vendor and document["derived_from"] and document["operations"]
    jsonschema.Draft202012Validator.check_schema({"$defs": document.get("$defs", {})})
    for key in schemas.operations(vendor):
        method, template = key.split(" ", 1)
        concrete = re.sub(r"\{[^}]+\}", "59", template)
        op = schemas.operation(vendor, method, concrete)
        assert op.key == key
        assert op.auth["scheme"] in ("bearer", "basic", "none")
        parts = [op.schema(p) for p in ("path", "query", "request")]
        parts += [(op.response(s) or {}).get("body") for s in op.statuses]
        parts += [{"$defs": op.defs, **h} for s in op.statuses for h in ((op.response(s) or {}).get("headers") or {}).values()]
        for schema in filter(None, parts):
            jsonschema.Draft202012Validator.check_schema({k: v for k, v in schema.items() if k != "$defs"})
            _resolve_all(schema, schema)
        assert all(re.fullmatch(r"[1-5][0-9][0-9]", s) for s in op.statuses), op.statuses
        assert any(s.startswith("2") for s in op.statuses), f"{key} declares no success"


def _resolve_all(node: Any, root: dict[str, Any]) -> None:
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = root
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
        for value in node.values():
            _resolve_all(value, root)
    elif isinstance(node, list):
        for value in node:
            _resolve_all(value, root)


def test_operation_matches_the_most_literal_template() -> None:
    assert schemas.operation("intercom", "GET", "/contacts/find_by_external_id/u-1").params == {"external_id": "u-1"}
    assert schemas.operation("intercom", "get", "/contacts/abc").key == "GET /contacts/{contact_id}"
    upsert = schemas.operation("salesforce", "PATCH", "/services/data/v59.0/sobjects/Lead/Ext__c/u-1")
    assert upsert.params == {"version": "59.0", "object": "Lead", "field": "Ext__c", "value": "u-1"}
    with pytest.raises(schemas.UnknownOperation, match="DELETE /contacts/abc"):
        schemas.operation("intercom", "DELETE", "/contacts/abc")
    with pytest.raises(schemas.UnknownOperation):  # a user id with a slash is not one path segment
        schemas.operation("appcues", "PATCH", "/v2/accounts/1/users/a/b/profile")


# ------------------------------------------------------------------ (a) what the adapters send
def _record_responses(server: Any, seen: list[tuple[str, str, Response]]) -> None:
    """Keep every answer the stand-in's handlers give, to check it against the schema too."""
    handle = server.handle

    def recording(request: Request) -> Response:
        response = handle(request)
        seen.append((request.method, request.path, response))
        return response

    server.handle = recording


@pytest.mark.slow  # four destinations synced twice over loopback: ~6 s
def test_every_adapter_request_fits_the_schema_and_every_operation_is_used(tmp_path: Path,
                                                                           standins: StandinSet) -> None:
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        demo(con, users=12)
    # Exercise the rarer operations too: an archived attribute (PUT /data_attributes/{id}), a contact
    # that exists (409, its id in the message: GET /contacts/{id}), later one whose 409 names no id
    # (GET /contacts/find_by_external_id/{id}).
    standins.intercom.add_data_attribute("industry", "string", archived=True)
    standins.intercom.add_contact("auth0|user00000", email="user00000@example.com")
    answers: dict[str, list[tuple[str, str, Response]]] = {}
    for server in standins.all():
        _record_responses(server, answers.setdefault(server.name, []))
    settings = SyncSettings.from_env({**FAST, **standins.env()})

    first = run_sync(db, None, False, settings=settings)
    standins.intercom.conflict_reveals_id = False
    standins.intercom.add_contact("auth0|user00099", email="user00099@example.com")
    with duckdb.connect(str(db)) as con:
        insert(con, "intercom_contacts", [contact(99)])
    second = run_sync(db, ["intercom"], False, settings=settings)

    assert all(s.status == "completed" for s in [*first, *second]), [(s.destination, s.error) for s in first]
    for server in standins.all():
        assert server.validation_errors == [], (server.name, server.validation_errors[:3])
    for vendor in STANDIN_VENDORS:
        server = getattr(standins, vendor)
        used = {schemas.operation(vendor, r.method, r.path).key for r in server.received}
        assert used == set(schemas.operations(vendor)), f"{vendor}: schema and adapter differ"
        for method, path, response in answers[vendor]:
            problems = validate_response(vendor, method, path, response.status_code, headers=dict(response.headers),
                                         body=response.get_data(), content_type=response.content_type)
            assert problems == [], (vendor, method, path, response.status_code, problems)


# ---------------------------------------------------------------- (a) bad requests are refused
BASIC = "Basic " + base64.b64encode(b"key:secret").decode()
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def _body(value: Any) -> bytes:
    return json.dumps(value).encode()


# vendor, method, path, headers, query, a valid body, the same request broken, a fragment of the error
CASES: list[tuple[str, str, str, dict[str, str], dict[str, str], Any, Any, str]] = [
    ("sendgrid", "POST", "/v3/mail/send", {"Authorization": "Bearer SG.x"}, {},
     {"personalizations": [{"to": [{"email": "a@example.com"}]}], "from": {"email": "cs@example.com"},
      "subject": "Your plan", "content": [{"type": "text/html", "value": "<p>Hi</p>"}]},
     {"personalizations": [{"to": [{"email": "a@example.com"}]}], "from": {"email": "cs@example.com"},
      "subject": "Your plan"}, "content or a template_id"),
    ("mixpanel", "POST", "/import", {"Authorization": BASIC}, {"strict": "1", "project_id": "123"},
     [{"event": "onboarding_step", "properties": {"time": 1767225600, "distinct_id": "u1", "$insert_id": "k-1"}}],
     [{"event": "onboarding_step", "properties": {"time": 1767225600, "distinct_id": "u1"}}], "$insert_id"),
    ("mixpanel", "POST", "/engage", {}, {"ip": "0"},
     [{"$token": "tok", "$distinct_id": "u1", "$set": {"onboarding_track": "power_user"}}],
     [{"$token": "tok", "$distinct_id": "u1", "$set": {}} for _ in range(2001)], "fails maxItems 2000"),
    ("segment", "POST", "/v1/identify", {"Authorization": "Basic " + base64.b64encode(b"wk:").decode()}, {},
     {"userId": "u1", "traits": {"onboarding_track": "power_user"}},
     {"traits": {"onboarding_track": "power_user"}}, "userId or an anonymousId"),
    ("segment", "POST", "/v1/batch", {"Authorization": "Basic " + base64.b64encode(b"wk:").decode()}, {},
     {"batch": [{"type": "identify", "userId": "u1", "traits": {"a": "b"}}]},
     {"batch": [{"type": "identify", "userId": "u1", "traits": {"a": "x" * 33_000}}]}, "over the limit of 32768"),
    ("salesforce", "POST", "/services/oauth2/token", {}, {},
     {"grant_type": "client_credentials", "client_id": "id", "client_secret": "s"},
     {"grant_type": "password", "client_id": "id", "client_secret": "s"}, "grant_type"),
    ("salesforce", "PATCH", "/services/data/v59.0/sobjects/Lead/Onboarding_Id__c/u1", {"Authorization": "Bearer t"}, {},
     {"Status": "Working"}, {"Status": {"nested": True}}, "Status"),
    ("salesforce", "PATCH", "/services/data/v59.0/composite/sobjects", {"Authorization": "Bearer t"}, {},
     {"allOrNone": False, "records": [{"attributes": {"type": "Lead"}, "id": "00Q000000000001AAA", "Status": "x"}]},
     {"allOrNone": False, "records": [{"attributes": {"type": "Lead"}, "id": "00Q000000000001AAA"}] * 201},
     "fails maxItems 200"),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]} {c[1]} {c[2]}" for c in CASES])
def test_new_destinations_refuse_a_known_bad_request(case: tuple[Any, ...]) -> None:
    vendor, method, path, headers, query, good, bad, expected = case
    content_type = FORM if vendor == "salesforce" and path.endswith("/token") else JSON
    encode = (lambda v: urlencode(v).encode()) if content_type == FORM else _body
    assert validate_request(vendor, method, path, headers=headers, query=query, body=encode(good),
                            content_type=content_type) == []
    errors = validate_request(vendor, method, path, headers=headers, query=query, body=encode(bad),
                              content_type=content_type)
    assert any(expected in e for e in errors), errors
    # and without credentials, unless the vendor wants none (Mixpanel's /engage, the token endpoint)
    unauthenticated = validate_request(vendor, method, path, headers={}, query=query, body=encode(good),
                                       content_type=content_type)
    needs_auth = schemas.operation(vendor, method, path).auth["scheme"] != "none"
    assert any(e.startswith("Security:") for e in unauthenticated) == needs_auth, unauthenticated


def test_standins_refuse_a_known_bad_request_as_the_vendor_does(standins: StandinSet) -> None:
    """Each stand-in answers a request our schema refuses the way its vendor answers a bad request."""
    intercom = httpx.post(f"{standins.intercom.base_url}/contacts", json={"role": "user", "signed_up_at": "monday"},
                          headers={"Authorization": "Bearer standin-intercom-token", "Intercom-Version": "2.14"})
    assert intercom.status_code == 400 and intercom.json()["type"] == "error.list"
    assert intercom.json()["errors"][0]["code"] == "parameter_invalid" and "signed_up_at" in intercom.text

    slack = httpx.post(f"{standins.slack.base_url}/chat.postMessage", headers={"Authorization": "Bearer xoxb-standin-token"},
                       data={"channel": "#csm-alerts", "text": "x", "metadata": json.dumps({"event_type": "csm_alert"})})
    assert slack.status_code == 200 and slack.json()["ok"] is False and slack.json()["error"] == "invalid_arguments"

    appcues = httpx.patch(f"{standins.appcues.base_url}/v2/accounts/12345/users/u1/profile", json={},
                          auth=("standin-appcues-key", "standin-appcues-secret"))
    assert appcues.status_code == 400 and appcues.json()["status"] == 400

    calendly = httpx.post(f"{standins.calendly.base_url}/scheduling_links", json={
        "max_event_count": 1, "owner": "not-a-uri", "owner_type": "EventType"},
        headers={"Authorization": "Bearer standin-calendly-token"})
    assert calendly.status_code == 400 and "owner" in calendly.json()["message"]

    # issue 18's four: a mail without content, an event without $insert_id, a call without a user,
    # a Lead field name with a space
    sendgrid = httpx.post(f"{standins.sendgrid.base_url}/v3/mail/send", headers={"Authorization": "Bearer x"}, json={
        "personalizations": [{"to": [{"email": "a@example.com"}]}], "from": {"email": "cs@example.com"}})
    assert sendgrid.status_code == 400 and "content or a template_id" in sendgrid.json()["errors"][0]["message"]
    mixpanel = httpx.post(f"{standins.mixpanel.base_url}/import", params={"strict": "1", "project_id": "1"},
                          auth=("sa", "secret"), json=[{"event": "e", "properties": {"time": 1, "distinct_id": "u"}}])
    assert mixpanel.status_code == 400 and "$insert_id" in mixpanel.json()["error"]
    segment = httpx.post(f"{standins.segment.base_url}/v1/batch", auth=("key", ""),
                         json={"batch": [{"type": "identify", "traits": {}}]})
    assert segment.status_code == 400 and "userId or an anonymousId" in segment.json()["message"]
    salesforce = httpx.patch(f"{standins.salesforce.base_url}/services/data/v62.0/sobjects/Lead/Onboarding_User_Id__c/u1",
                             headers={"Authorization": "Bearer x"}, json={"Bad Field": 1})
    assert salesforce.status_code == 400 and salesforce.json()[0]["errorCode"] == "JSON_PARSER_ERROR"

    for server in standins.all():
        assert len(server.validation_errors) == 1, (server.name, server.validation_errors)
    assert standins.intercom.contacts == {} and standins.slack.posts == [] and standins.appcues.patches == []


# ------------------------------------------------- (b) the schemas agree with the vendors' files
def vendor_specs_dir() -> Path | None:
    """The folder of the vendors' descriptions: ``$ONBOARDING_VENDOR_SPECS``, else ``../shared/specs``
    beside the checkout; ``None`` when neither exists (a clone has no copy: the test is skipped)."""
    configured = os.environ.get(SPECS_ENV)
    for candidate in [Path(configured)] if configured else [REPO_ROOT.parent / "shared" / "specs"]:
        if candidate.is_dir():
            return candidate
    return None


DESCRIBED = [v for v in schemas.VENDORS if schemas.load(v).get("description_file")]


@pytest.mark.parametrize("vendor", DESCRIBED)
def test_schema_agrees_with_the_vendor_description(vendor: str) -> None:
    """Every path, method, field, type, enum value and status we wrote down is in the vendor's own file,
    unless marked ``x-beyond-description``; every field the vendor requires, we require."""
    folder = vendor_specs_dir()
    if folder is None:
        pytest.skip(f"no copy of the vendors' descriptions (set {SPECS_ENV} to a folder holding them)")
    document = schemas.load(vendor)
    path = folder / document["description_file"]
    if not path.exists():
        pytest.skip(f"{path.name} is not in {folder}")
    text = path.read_text(encoding="utf-8")
    compare = {"slack": _compare_swagger, "salesforce": _compare_postman, "segment": _compare_page}.get(
        vendor, _compare_openapi)
    problems = compare(document, text)
    assert problems == [], "\n".join(problems)
    # The comparison is not vacuous: a field the vendor does not have is noticed.
    altered = _with_made_up_field(document)
    assert any("made_up_field" in p for p in compare(altered, text)), "the comparison missed a made-up field"


def _with_made_up_field(document: dict[str, Any]) -> dict[str, Any]:
    """A copy whose first described request (or its items) gains a field no vendor has."""
    altered = json.loads(json.dumps(document))
    for spec in altered["operations"].values():
        node = spec.get("request")
        while isinstance(node, dict) and "properties" not in node:
            ref = node.get("$ref", "")
            node = altered["$defs"][ref.rsplit("/", 1)[1]] if ref else node.get("items")
        if not _beyond(spec) and isinstance(node, dict):
            node["properties"]["made_up_field"] = {"type": "string"}
            return altered
    raise AssertionError(f"{document['vendor']}: no request schema with properties")


def _beyond(node: Any) -> bool:
    return isinstance(node, dict) and "x-beyond-description" in node


class _Schemas:
    """Resolves references and flattens composition, so a field can be looked up on either side."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def deref(self, node: Any) -> Any:
        seen = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
            target: Any = self.root
            for part in node["$ref"][2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            seen += 1
            assert seen < 50, "reference cycle"
        return node

    def flat(self, node: Any, required: bool = True) -> dict[str, Any]:
        """type set, enum, properties, items and required of a schema with its allOf/anyOf/oneOf/then
        branches merged (a branch's required fields count when ``required``: ours, not the vendor's)."""
        node = self.deref(node) if isinstance(node, dict) else {}
        out: dict[str, Any] = {"types": _json_types(node), "enum": _enum(node), "properties": {},
                               "items": node.get("items"), "required": set(node.get("required") or []),
                               "beyond": _beyond(node)}
        out["properties"].update(node.get("properties") or {})
        branches = [*(("allOf", b) for b in node.get("allOf") or ()), *(("anyOf", b) for b in node.get("anyOf") or ()),
                    *(("oneOf", b) for b in node.get("oneOf") or ()), *([("then", node["then"])] if "then" in node else [])]
        for kind, branch in branches:
            sub = self.flat(branch, required)
            out["types"] |= sub["types"]
            if sub["enum"] is not None:  # the values any branch allows
                out["enum"] = (out["enum"] or set()) | sub["enum"]
            for name, prop in sub["properties"].items():  # a field in several branches: any of them
                known = out["properties"].get(name)
                out["properties"][name] = prop if known is None or known == prop else {"anyOf": [known, prop]}
            out["items"] = out["items"] or sub["items"]
            if required or kind == "allOf":
                out["required"] |= sub["required"]
        return out


def _json_types(node: dict[str, Any]) -> set[str]:
    declared = node.get("type")
    types = {declared} if isinstance(declared, str) else set(declared or ())
    if "const" in node:
        types.add(_type_of(node["const"]))
    types |= {_type_of(v) for v in node.get("enum") or ()}
    return types - {"null"}


def _type_of(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object", type(None): "null"}[type(value)]


def _enum(node: dict[str, Any]) -> set[Any] | None:
    if "const" in node:
        return {node["const"]}
    return set(node["enum"]) if "enum" in node else None


def _compare_schema(ours: _Schemas, ours_node: Any, theirs: _Schemas, their_node: Any, where: str,
                    problems: list[str], request: bool) -> None:
    a, b = ours.flat(ours_node), theirs.flat(their_node, required=False)
    if a["beyond"]:
        return
    if a["types"] and b["types"] and not a["types"] <= b["types"] | ({"integer"} if "number" in b["types"] else set()):
        problems.append(f"{where}: type {sorted(a['types'])}, the vendor's {sorted(b['types'])}")
    if a["enum"] is not None and b["enum"] is not None and not a["enum"] <= b["enum"]:
        problems.append(f"{where}: values {sorted(map(str, a['enum'] - b['enum']))} are not among the vendor's")
    if b["properties"]:
        for name in sorted(set(a["properties"]) | a["required"]):
            if name not in b["properties"] and not _beyond(a["properties"].get(name)):
                problems.append(f"{where}/{name}: not in the vendor's description")
        if request:
            for name in sorted(b["required"] - a["required"]):
                problems.append(f"{where}/{name}: the vendor requires it, our schema does not")
    for name, prop in a["properties"].items():
        if name in b["properties"]:
            _compare_schema(ours, prop, theirs, b["properties"][name], f"{where}/{name}", problems, request)
    if isinstance(a["items"], dict) and isinstance(b["items"], dict):
        _compare_schema(ours, a["items"], theirs, b["items"], f"{where}[]", problems, request)


def _their_auth(doc: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    requirements = operation.get("security", doc.get("security")) or [{}]
    found = set()
    for requirement in requirements:
        if not requirement:
            found.add("none")
        for name in requirement:
            scheme = doc["components"]["securitySchemes"][name]
            found.add(scheme.get("scheme", scheme.get("type")))
    return found


def _compare_openapi(document: dict[str, Any], text: str) -> list[str]:
    """Intercom, SendGrid and Mixpanel publish OpenAPI 3 descriptions."""
    doc = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    theirs, problems = _Schemas(doc), []
    for key, spec in document["operations"].items():
        if _beyond(spec):
            continue
        op = _operation(document, key)
        ours = _Schemas({"$defs": op.defs})
        method, path = spec.get("described_as", key).split(" ", 1)
        operation = (doc["paths"].get(path) or {}).get(method.lower())
        if operation is None:
            problems.append(f"{key}: no {method} {path} in the description")
            continue
        if op.auth["scheme"] not in _their_auth(doc, operation):
            problems.append(f"{key}: auth {op.auth['scheme']}, the vendor's {sorted(_their_auth(doc, operation))}")
        parameters = [theirs.deref(p) for p in [*doc["paths"][path].get("parameters", []),
                                                *operation.get("parameters", [])]]
        by_place = {(p["in"], p["name"].lower()): p for p in parameters}
        for name, schema in op.headers.items():
            header = by_place.get(("header", name.lower()))
            if header is None:
                problems.append(f"{key}: header {name} is not in the description")
            else:
                _compare_schema(ours, schema, theirs, header.get("schema", {}), f"{key} header {name}", problems, True)
        content_header = by_place.get(("header", "content-type"))
        if content_header and not set(op.content_types) <= set(theirs.flat(content_header["schema"])["enum"] or ()):
            problems.append(f"{key}: content types {op.content_types} are not among the vendor's")
        for place, part in (("path", "path"), ("query", "query")):
            schema = op.schema(part) or {"properties": {}}
            required = set(schema.get("required") or ())
            for name, prop in schema["properties"].items():
                parameter = by_place.get((place, name.lower()))
                if parameter is None:
                    problems.append(f"{key}: {place} parameter {name} is not in the description")
                    continue
                _compare_schema(ours, prop, theirs, parameter.get("schema", {}), f"{key} {place} {name}", problems, True)
                if parameter.get("required") and name not in required:
                    problems.append(f"{key}: the vendor requires {place} parameter {name}, our schema does not")
        body = theirs.deref(operation.get("requestBody") or {})
        if op.schema("request") is not None:
            content = body.get("content") or {}
            media = next((m for m in op.content_types if m in content), None)
            if media is None:
                problems.append(f"{key}: the description takes no {op.content_types} body")
            else:
                _compare_schema(ours, op.schema("request"), theirs, content[media].get("schema", {}), f"{key} body",
                                problems, True)
        for status in op.statuses:
            declared = spec["responses"][status]
            if _beyond(declared):
                continue
            response = operation["responses"].get(status)
            if response is None:
                problems.append(f"{key}: status {status} is not in the description")
                continue
            response = theirs.deref(response)
            content = response.get("content") or {}
            body_schema = (op.response(status) or {}).get("body")
            if body_schema is not None and content:
                _compare_schema(ours, body_schema, theirs, next(iter(content.values())).get("schema", {}),
                                f"{key} {status}", problems, False)
        for limit in op.limits.values():
            if isinstance(limit, int) and str(limit) not in text:
                problems.append(f"{key}: the limit {limit} is not in the description")
    return problems


def _operation(document: dict[str, Any], key: str) -> schemas.Operation:
    """The operation as ``document`` (perhaps an altered copy) has it."""
    method, template = key.split(" ", 1)
    return schemas.Operation(document["vendor"], method, template, {}, document["operations"][key],
                             document.get("$defs", {}), document)


def _compare_swagger(document: dict[str, Any], text: str) -> list[str]:
    """Slack publishes a Swagger 2 description: arguments are form parameters with simple types."""
    doc, problems = json.loads(text), []
    for key, spec in document["operations"].items():
        if _beyond(spec):
            continue
        op = _operation(document, key)
        method, path = key.split(" ", 1)
        operation = (doc["paths"].get(path) or {}).get(method.lower())
        if operation is None:
            problems.append(f"{key}: not in the description")
            continue
        form = {p["name"]: p for p in operation.get("parameters", []) if p.get("in") == "formData"}
        token = any(p.get("in") == "header" and p.get("name") == "token" and p.get("required")
                    for p in operation.get("parameters", []))
        if token != (op.auth["scheme"] == "bearer"):
            problems.append(f"{key}: auth {op.auth['scheme']}, the description's token header required: {token}")
        if not set(op.content_types) <= set(operation.get("consumes") or ()):
            problems.append(f"{key}: content types {op.content_types} are not all in {operation.get('consumes')}")
        request = op.schema("request") or {}
        for name, prop in request.get("properties", {}).items():
            if _beyond(prop):
                continue
            if name not in form:
                problems.append(f"{key}: argument {name} is not in the description")
            elif form[name].get("type", "string") not in _json_types(prop):
                problems.append(f"{key}: argument {name} is {sorted(_json_types(prop))}, the vendor's {form[name]['type']}")
        required = {n for n, p in form.items() if p.get("required")}
        if required != set(request.get("required") or ()):
            problems.append(f"{key}: required {sorted(request.get('required') or ())}, the vendor's {sorted(required)}")
        for status in op.statuses:
            if not _beyond(spec["responses"][status]) and status not in operation.get("responses", {}):
                problems.append(f"{key}: status {status} is not in the description")
    return problems


def _postman_path(url: str) -> str:
    path = re.sub(r"^\{\{[^}]+\}\}(\{\{[^}]+\}\})?", "", url.split("?")[0])
    return re.sub(r"<[^>]+>", "{}", path.replace("{{version}}", "{}"))


def _compare_postman(document: dict[str, Any], text: str) -> list[str]:
    """Salesforce publishes a Postman collection: paths, body keys, form keys and auth can be compared;
    its methods cannot (its upsert request is a GET where the REST documentation says PATCH)."""
    collection, problems = json.loads(text), []
    requests = collection["requests"]
    for key, spec in document["operations"].items():
        if _beyond(spec):
            continue
        op = _operation(document, key)
        path = re.sub(r"\{[^}]+\}", "{}", key.split(" ", 1)[1])
        matching = [r for r in requests if _postman_path(r["url"]) == path]
        named = [r for r in matching if r["name"] == spec.get("described_as")] or matching
        if not named:
            problems.append(f"{key}: no request for {path} in the collection")
            continue
        request = named[0]
        no_auth = (request.get("auth") or {}).get("type") == "noauth"
        if no_auth != (op.auth["scheme"] == "none"):
            problems.append(f"{key}: auth {op.auth['scheme']}, the collection's {request.get('auth')}")
        if request.get("dataMode") in ("urlencoded", "params"):
            keys = {d["key"]: "string" for d in request.get("data") or []}
        elif request.get("rawModeData"):
            raw = json.loads(request["rawModeData"])
            keys = {k: "boolean" if v == "Boolean" else "array" if str(v).endswith("[]") else "string"
                    for k, v in raw.items()} if isinstance(raw, dict) else {}
        else:
            keys = {}
        ours = _Schemas({"$defs": op.defs})
        for name, prop in ours.flat(op.schema("request") or {})["properties"].items():
            types = ours.flat(prop)["types"]
            if keys and name not in keys:
                problems.append(f"{key}: field {name} is not in the collection's request")
            elif name in keys and types and keys[name] not in types:
                problems.append(f"{key}: field {name} is {sorted(types)}, the collection's {keys[name]}")
    return problems


def _compare_page(document: dict[str, Any], text: str) -> list[str]:
    """Segment publishes a documentation page only: its paths, field names and limits must appear in it."""
    problems = []
    for key in document["operations"]:
        op = _operation(document, key)
        method, path = key.split(" ", 1)
        if not re.search(rf"{method} \S*{re.escape(path)}\b", text):
            problems.append(f"{key}: not on the page")
        flat = _Schemas({"$defs": op.defs}).flat(op.schema("request") or {})
        fields = set(flat["properties"]) | flat["required"]
        items = flat["items"] or (flat["properties"].get("batch") or {}).get("items")
        if items:
            fields |= set(_Schemas({"$defs": op.defs}).flat(items)["properties"])
        for name in sorted(fields):
            if not re.search(rf"\b{re.escape(name)}\b", text):
                problems.append(f"{key}: field {name} is not on the page")
        for limit in op.limits.values():
            if isinstance(limit, int) and f"{limit // 1024}KB" not in text.replace(" KB", "KB"):
                problems.append(f"{key}: the limit {limit} bytes ({limit // 1024} KB) is not on the page")
        batch = (flat["properties"].get("batch") or {})
        if "maxItems" in batch and f"{batch['maxItems']} events" not in text:
            problems.append(f"{key}: {batch['maxItems']} calls per batch is not on the page")
    if "Authorization: Basic" not in text:
        problems.append("the page does not describe Basic auth")
    return problems


# ------------------------------------------------------------- nothing reads outside the repository
RULE_SECTION = "## Where the request shapes come from"


def test_nothing_in_the_repository_points_at_the_shared_folder() -> None:
    """The tracked files name neither shared folder (vendor descriptions, origin workflow), except the
    rule in docs/sync.md and this file's consistency test, the one reader that may use a copy."""
    needles = ("shared" + "/specs", "shared" + "/seed")
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: no list of tracked files")
    hits = []
    for name in filter(None, listed.stdout.decode().split("\0")):
        path = REPO_ROOT / name
        if name == "tests/test_schemas.py" or not path.is_file():
            continue
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (UnicodeDecodeError, OSError):
            continue
        in_rule = False
        for number, line in enumerate(lines, 1):
            if name == "docs/sync.md" and line.startswith("#"):
                in_rule = line.strip() == RULE_SECTION
            if any(n in line for n in needles) and not in_rule:
                hits.append(f"{name}:{number}: {line.strip()[:120]}")
    assert hits == [], "files that point outside the repository:\n" + "\n".join(hits)

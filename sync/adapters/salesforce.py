"""Salesforce: onboarding state on each user's Lead (or Contact), and "onboarding complete -> MQL".

* ``records`` (attribute stream, ``marts.destination_traits``): track, stage, score, completion day
  and churn-risk band (custom fields ``Onboarding_Track__c`` ...), plus the email, last name and
  company a new Lead needs, upserted by external id: ``PATCH /services/data/vXX.X/sobjects/{Lead|
  Contact}/{SALESFORCE_EXTERNAL_ID_FIELD}/{user_id}`` with only the fields that changed (the first
  time, all of them: Salesforce creates the record). Why one PATCH per record and not sObject
  Collections: collections update by Salesforce record id, which an upsert by external id does not
  need us to keep; at a few hundred changed users a day the per-record calls are far below any limit.
* ``mql`` (outbox, at least once, ``marts.salesforce_mql``): when a user completes onboarding, the
  Lead's ``Status`` becomes ``SALESFORCE_MQL_STATUS`` and its ``OwnerId`` the account executive the
  mart assigned round robin from ``seeds/ae_roster.csv`` - once per user (the key is the user), recorded
  in the outbox. It waits until the Lead exists (the ``records`` stream created it). A PATCH is
  idempotent, so a resend after a crash is harmless. On Contact there is no lead status: planned only.

Auth: OAuth 2.0 client credentials (``POST /services/oauth2/token`` on the instance), the token kept for
the run and fetched again on a 401. Limits: every answer's ``Sforce-Limit-Info: api-usage=USED/LIMIT``
is read; when fewer than ``SALESFORCE_API_RESERVE`` calls of the 24-hour allowance remain the
destination stops sending (throttled: rows stay pending for the next run), and the last reading is the
run summary's ``api_usage``. A 403 ``REQUEST_LIMIT_EXCEEDED`` stops it the same way.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Generator
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from sync import ledger
from sync.adapters.base import (
    EMAIL_RE,
    Adapter,
    AttributeStream,
    Blocked,
    OutboxStream,
    StreamContext,
    bounded_str,
    clean_str,
    required_user_id,
    to_int,
)
from sync.adapters.traits import _iso_date
from sync.ledger import OutboxMessage
from sync.masking import register_secret, scrub
from sync.outcomes import (
    AbortDestination,
    AttributeChange,
    Delivery,
    InvalidRow,
    OutboxEntry,
    Outcome,
    classify_response,
    error_detail,
)
from sync.settings import SalesforceSettings
from sync.transport import Throttled, Transport

# mart column -> Salesforce field API name
FIELDS: dict[str, str] = {
    "email": "Email",
    "last_name": "LastName",
    "company": "Company",
    "onboarding_track": "Onboarding_Track__c",
    "onboarding_stage": "Onboarding_Stage__c",
    "onboarding_score": "Onboarding_Score__c",
    "onboarding_completed_on": "Onboarding_Completed_Date__c",
    "churn_risk_band": "Churn_Risk_Band__c",
}
LIMITS = {"email": 80, "last_name": 80, "company": 255}
TOKEN_PATH = "/services/oauth2/token"
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")
_USER_ID = re.compile(r"^005[A-Za-z0-9]{12}([A-Za-z0-9]{3})?$")
# Errors that every record would repeat: the org lacks the field or object, or refuses the type.
_SETUP_ERRORS = {"INVALID_FIELD", "NOT_FOUND", "INVALID_TYPE", "INVALID_FIELD_FOR_INSERT_UPDATE"}


class ClientCredentials(httpx.Auth):
    """OAuth 2.0 client-credentials bearer token for the instance: fetched once, again after a 401.

    Why an ``httpx.Auth``: the transport (its rate limit, retries, shards) stays the one every
    destination uses; the token request happens inside the auth flow of whichever request needs it,
    and one lock keeps concurrent requests from fetching a token each.
    """

    requires_response_body = True

    def __init__(self, client_id: str, client_secret: str, token_url: str) -> None:
        self.form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
        self.token_url = token_url
        self.token: str | None = None
        self._lock: asyncio.Lock | None = None

    def _token_request(self) -> httpx.Request:
        return httpx.Request("POST", self.token_url, data=self.form, headers={"Accept": "application/json"})

    def _read_token(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            raise AbortDestination(f"the OAuth token request was refused ({error_detail(response)})",
                                   response.status_code)
        token = response.json().get("access_token")
        if not isinstance(token, str) or not token:
            raise AbortDestination("the OAuth token answer carries no access_token", response.status_code)
        register_secret(token)
        self.token = token

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("the Salesforce adapter only runs on the async transport")  # pragma: no cover

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if self._lock is None:
            self._lock = asyncio.Lock()
        used = self.token
        if used is None:
            async with self._lock:
                if self.token is None:
                    response = yield self._token_request()
                    await response.aread()
                    self._read_token(response)
                used = self.token
        request.headers["Authorization"] = f"Bearer {used}"
        response = yield request
        if response.status_code == 401:
            async with self._lock:
                if self.token == used:  # nobody refreshed it meanwhile
                    refreshed = yield self._token_request()
                    await refreshed.aread()
                    self._read_token(refreshed)
            request.headers["Authorization"] = f"Bearer {self.token}"
            yield request


class ApiUsage:
    """The org's 24-hour API allowance as Salesforce last reported it (``Sforce-Limit-Info``)."""

    def __init__(self, reserve: int) -> None:
        self.reserve = reserve
        self.used: int | None = None
        self.limit: int | None = None

    def read(self, response: httpx.Response) -> None:
        match = _LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
        if match:
            # Answers of concurrent calls arrive in any order: within a run, usage only grows.
            used, limit = int(match.group(1)), int(match.group(2))
            self.used = used if self.used is None or limit != self.limit else max(self.used, used)
            self.limit = limit

    @property
    def exhausted(self) -> bool:
        return self.used is not None and self.limit is not None and self.used >= self.limit - self.reserve

    def describe(self) -> str | None:
        if self.used is None or self.limit is None:
            return None
        return f"api-usage={self.used}/{self.limit} in the last 24 hours"

    def stop(self, t: Transport, why: str) -> Throttled:
        """Make the transport throttled for the rest of the run (the engine leaves rows pending)."""
        t.throttled = (f"salesforce: {why} ({self.describe() or 'no usage reported'}, reserve"
                       f" {self.reserve} calls, SALESFORCE_API_RESERVE); the rest is left pending for the next run")
        return Throttled(t.throttled)


class _Calls:
    """One PATCH by external id, with the allowance checked before and read after every call."""

    def __init__(self, settings: SalesforceSettings, usage: ApiUsage) -> None:
        self.settings = settings
        self.usage = usage

    def path(self, value: str) -> str:
        s = self.settings
        return (f"/services/data/v{s.api_version}/sobjects/{s.sobject}/{s.external_id_field}/"
                f"{quote(value, safe='')}")

    async def patch(self, t: Transport, value: str, fields: dict[str, Any]) -> httpx.Response:
        if t.throttled is not None:
            raise Throttled(t.throttled)
        if self.usage.exhausted:
            raise self.usage.stop(t, "the 24-hour API allowance is nearly used up")
        response = await t.request("PATCH", self.path(value), idempotent=True, json=fields)
        self.usage.read(response)
        if response.status_code == 403 and "REQUEST_LIMIT_EXCEEDED" in response.text:
            raise self.usage.stop(t, "Salesforce refused the call: REQUEST_LIMIT_EXCEEDED")
        return response


def detail(response: httpx.Response) -> str:
    """Salesforce's error list (``[{"errorCode", "message"}]``) as one short line, else the default."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, list) and body and isinstance(body[0], dict) and body[0].get("errorCode"):
        first = body[0]
        return scrub(f"HTTP {response.status_code} {first.get('errorCode')}: {first.get('message') or ''}", limit=300)
    return error_detail(response)


def outcome_of(response: httpx.Response) -> Outcome:
    """Salesforce's answers to an upsert by external id."""
    status = response.status_code
    if status in (200, 201, 204):
        record_id = None
        if status != 204:
            try:
                record_id = response.json().get("id")
            except ValueError:
                record_id = None
        return Outcome.sent(status, remote_id=str(record_id) if record_id else None,
                            operation="create" if status == 201 else None)
    if status == 300:
        return Outcome.failed("more than one record has this external id; merge them in Salesforce", 300)
    if status in (400, 404):
        reason = detail(response)
        try:
            body = response.json()
            codes = {e.get("errorCode") for e in body if isinstance(e, dict)} if isinstance(body, list) else set()
        except ValueError:
            codes = set()
        if codes & _SETUP_ERRORS:
            return Outcome.abort(f"the org refuses the fields the sync writes ({reason}); create them or fix"
                                 " SALESFORCE_OBJECT / SALESFORCE_EXTERNAL_ID_FIELD", status)
        return Outcome.failed(reason, status)
    return classify_response(response, idempotent=True)


class SalesforceRecords(AttributeStream):
    name: ClassVar[str] = "records"
    mart: ClassVar[str] = "marts.destination_traits"
    columns: ClassVar[tuple[str, ...]] = tuple(FIELDS)

    def __init__(self, settings: SalesforceSettings, calls: _Calls) -> None:
        self.settings = settings
        self.calls = calls

    def map_values(self, row: dict[str, Any]) -> dict[str, Any]:
        email = clean_str(row.get("email"))
        if email is not None and (len(email) > LIMITS["email"] or not EMAIL_RE.fullmatch(email)):
            email = None  # a Lead without an email is still a Lead; an invalid one would fail the upsert
        values: dict[str, Any] = {
            "email": email,
            "last_name": bounded_str("last_name", row.get("last_name"), LIMITS["last_name"]),
            "onboarding_track": bounded_str("onboarding_track", row.get("onboarding_track"), 255),
            "onboarding_stage": bounded_str("onboarding_stage", row.get("onboarding_stage"), 255),
            "onboarding_score": to_int("onboarding_score", row.get("onboarding_score")),
            "onboarding_completed_on": _iso_date(row.get("onboarding_completed_on")),
            "churn_risk_band": bounded_str("churn_risk_band", row.get("churn_risk_band"), 255),
        }
        if values["last_name"] is None:
            raise InvalidRow("no last name (Salesforce requires one)")
        if self.settings.sobject == "Lead":
            values["company"] = bounded_str("company", row.get("company"), LIMITS["company"])
            if values["company"] is None:
                raise InvalidRow("no company (a Lead requires one)")
        return values

    async def send(self, ctx: StreamContext, change: AttributeChange) -> Outcome:
        fields = {FIELDS[name]: value for name, value in change.changed.items()}
        response = await self.calls.patch(ctx.require_transport(), change.key, fields)
        return outcome_of(response)


class SalesforceMql(OutboxStream):
    name: ClassVar[str] = "mql"
    mart: ClassVar[str] = "marts.salesforce_mql"
    key_column: ClassVar[str] = "mql_key"
    delivery: ClassVar[Delivery] = Delivery.AT_LEAST_ONCE
    operation: ClassVar[str] = "mark_mql"

    def __init__(self, settings: SalesforceSettings, calls: _Calls) -> None:
        self.settings = settings
        self.calls = calls
        self.records: set[str] = set()

    def query(self) -> str:
        return f"select mql_key, user_id, ae_id, ae_salesforce_user_id, due_at from {self.mart}"

    def build(self, row: dict[str, Any]) -> OutboxMessage:
        user_id = required_user_id(row)
        owner = clean_str(row.get("ae_salesforce_user_id"))
        if owner is not None and not _USER_ID.fullmatch(owner):
            raise InvalidRow("ae_salesforce_user_id is not a Salesforce user id (005...)")
        return OutboxMessage(row["mql_key"], user_id, {"owner_id": owner, "ae_id": clean_str(row.get("ae_id"))},
                             row.get("due_at"), 5)

    def dry_reason(self, ctx: StreamContext) -> str | None:
        if self.settings.sobject != "Lead":
            return "a lead status exists only on Lead (SALESFORCE_OBJECT is Contact)"
        return None

    def prepare(self, ctx: StreamContext) -> None:
        state = ledger.load_attribute_state(ctx.con, "salesforce", SalesforceRecords.name)
        self.records = {key for key, s in state.items() if s.sent_hash is not None}
        if ctx.dry_run:
            self.records |= {k for (k,) in ctx.con.execute(
                "select user_id from marts.destination_traits where user_id is not null").fetchall()}

    def blocked(self, ctx: StreamContext, entry: OutboxEntry) -> Blocked | None:
        if entry.user_id not in self.records:
            return Blocked(f"waiting for the {self.settings.sobject} to exist in Salesforce")
        return None

    async def deliver(self, ctx: StreamContext, entry: OutboxEntry) -> Outcome:
        fields: dict[str, Any] = {"Status": self.settings.mql_status}
        if entry.payload.get("owner_id"):
            fields["OwnerId"] = entry.payload["owner_id"]
        response = await self.calls.patch(ctx.require_transport(), entry.user_id or "", fields)
        outcome = outcome_of(response)
        return Outcome(outcome.kind, outcome.http_status, outcome.error, outcome.remote_id)

    def describe(self, entry: OutboxEntry) -> str:
        return f"MQL for user {entry.user_id}, owner {entry.payload.get('ae_id') or 'unchanged'}"


class SalesforceAdapter(Adapter):
    name: ClassVar[str] = "salesforce"

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.usage = ApiUsage(self.sync_settings.salesforce.api_reserve)
        self.calls = _Calls(self.sync_settings.salesforce, self.usage)

    def headers(self) -> dict[str, str]:
        return {"Accept": "application/json"}

    def auth(self) -> httpx.Auth:
        s = self.sync_settings.salesforce
        if s.client_id is None or s.client_secret is None or s.instance_url is None:
            raise RuntimeError("no Salesforce client: a destination without credentials must not send")
        return ClientCredentials(s.client_id.get_secret_value(), s.client_secret.get_secret_value(),
                                 f"{s.instance_url}{TOKEN_PATH}")

    def api_usage(self) -> str | None:
        return self.usage.describe()

    def streams(self) -> list[AttributeStream | OutboxStream]:
        s = self.sync_settings.salesforce
        return [SalesforceRecords(s, self.calls), SalesforceMql(s, self.calls)]

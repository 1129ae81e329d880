"""The vocabulary shared by the engine and the adapters: outcomes of a send, and run summaries.

Why a separate module: adapters must stay thin and must not decide what a failure *means* for the
ledger. An adapter answers "what happened to this request" with an :class:`Outcome`; the engine alone
turns outcomes into ledger states (pending / failed / in_doubt / sent) according to the stream's
delivery guarantee.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import httpx
from pydantic import BaseModel, Field

from sync.masking import scrub


class Delivery(StrEnum):
    """Delivery guarantee of an outbox stream."""

    AT_MOST_ONCE = "at_most_once"
    """Customer-facing: never sent twice; a crash mid-request leaves the row ``in_doubt``."""
    AT_LEAST_ONCE = "at_least_once"
    """Internal or idempotent: resent after a crash; duplicates are visible, never silent loss."""


class OutcomeKind(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    """Not delivered, nothing happened remotely: stays pending and is retried on a later run."""
    FAILED = "failed"
    """Rejected by the destination for a reason retrying will not fix (a 4xx)."""
    IN_DOUBT = "in_doubt"
    """May or may not have been acted on."""
    ABORT = "abort"
    """The destination as a whole is unusable (bad credentials, missing channel): stop the run."""


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    http_status: int | None = None
    error: str | None = None
    remote_id: str | None = None
    operation: str | None = None
    """The operation actually performed, when it differs from the plan (create became update)."""
    artifact: dict[str, Any] | None = None
    """Anything the stream wants to keep, e.g. a Calendly booking URL."""

    @classmethod
    def sent(cls, http_status: int | None = None, remote_id: str | None = None, **kw: Any) -> Outcome:
        return cls(OutcomeKind.SENT, http_status=http_status, remote_id=remote_id, **kw)

    @classmethod
    def retry(cls, error: str, http_status: int | None = None, **kw: Any) -> Outcome:
        return cls(OutcomeKind.RETRY, http_status=http_status, error=scrub(error), **kw)

    @classmethod
    def failed(cls, error: str, http_status: int | None = None, **kw: Any) -> Outcome:
        return cls(OutcomeKind.FAILED, http_status=http_status, error=scrub(error), **kw)

    @classmethod
    def in_doubt(cls, error: str, http_status: int | None = None, **kw: Any) -> Outcome:
        return cls(OutcomeKind.IN_DOUBT, http_status=http_status, error=scrub(error), **kw)

    @classmethod
    def abort(cls, error: str, http_status: int | None = None, **kw: Any) -> Outcome:
        return cls(OutcomeKind.ABORT, http_status=http_status, error=scrub(error), **kw)


class InvalidRow(Exception):
    """A mart row the destination would reject (or that cannot be addressed): reported, not sent."""


class AbortDestination(Exception):
    """Raised by an adapter when continuing would only repeat the same failure for every row."""

    def __init__(self, reason: str, http_status: int | None = None) -> None:
        super().__init__(scrub(reason))
        self.http_status = http_status


def error_detail(response: httpx.Response) -> str:
    """A short, scrubbed description of an error response (vendor code and message, no body dump)."""
    text = ""
    try:
        body = response.json()
    except (json.JSONDecodeError, ValueError):
        body = None
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            text = ": ".join(str(x) for x in (first.get("code"), first.get("message")) if x)
        elif body.get("error"):
            text = str(body["error"])
        elif body.get("message"):
            text = str(body["message"])
        elif body.get("title"):
            text = str(body["title"])
    if not text:
        text = response.reason_phrase or "error"
    return scrub(f"HTTP {response.status_code} {text}", limit=300)


def classify_response(response: httpx.Response, *, idempotent: bool) -> Outcome:
    """Default mapping of an HTTP answer to an outcome (adapters handle their special cases first).

    The rule for a request that is not idempotent (a customer message, an invite): once its body has
    left, only a definite success or a documented "not processed" - 429, a 4xx rejection, 401/403 -
    lets the engine decide; anything else (any 5xx, a 1xx/3xx) may have been acted on and is
    ``in_doubt``, never resent automatically. An idempotent request is simply retried on a later run.
    """
    status = response.status_code
    if 200 <= status < 300:
        return Outcome.sent(status)
    detail = error_detail(response)
    if status in (401, 403):
        return Outcome.abort(f"credentials rejected ({detail})", status)
    if status == 429:
        return Outcome.retry(f"rate limited, gave up after retries ({detail})", status)
    if 400 <= status < 500:
        return Outcome.failed(detail, status)
    if idempotent:
        return Outcome.retry(f"gave up after retries ({detail})", status)
    return Outcome.in_doubt(f"answered {status} after the request was sent; it may have been processed"
                            f" ({detail})", status)


class PlanSample(BaseModel):
    """One example row of a plan, safe to print: masked emails, no message bodies."""

    stream: str
    key: str
    operation: str
    detail: str


class Counts(BaseModel):
    """The per-row outcome counts shared by a stream's and a destination run's summary."""

    planned: int = 0
    sent: int = 0
    unchanged: int = 0
    failed: int = 0
    invalid: int = 0
    in_doubt: int = 0
    waiting: int = 0
    withdrawn: int = 0
    expired: int = 0
    """Mart rows due before the delivery window (history from a backfill): never queued, never sent."""
    throttled: int = 0
    """Rows left pending because the destination asked for a pause beyond the cap: sent next run."""


class StreamSummary(Counts):
    stream: str
    delivery: str
    dry_run: bool
    operations: dict[str, int] = Field(default_factory=dict)
    samples: list[PlanSample] = Field(default_factory=list)
    note: str | None = None
    expired_before: datetime | None = None
    """The delivery window's start: rows due before it were not queued (counted in ``expired``)."""


COUNT_FIELDS = tuple(Counts.model_fields)


class RunSummary(Counts):
    """What one destination's run did; the same counts land in ``sync.runs`` and Dagster metadata."""

    run_id: str
    destination: str
    dry_run: bool
    status: str
    """``completed``; ``aborted`` (the destination stopped early; see ``error``); ``failed`` (it ran,
    but messages that must arrive - CSM alerts - were given up on; see ``error``)."""
    started: datetime
    finished: datetime | None = None
    requests: int = 0
    rate_limited: int = 0
    api_usage: str | None = None
    """The vendor's own account of its quota after the run (Salesforce: calls used of the 24-hour
    allowance, from ``Sforce-Limit-Info``), when it reports one."""
    error: str | None = None
    dry_reason: str | None = None
    streams: list[StreamSummary] = Field(default_factory=list)

    def absorb(self, stream: StreamSummary) -> None:
        self.streams.append(stream)
        for name in COUNT_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(stream, name))

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNT_FIELDS}


@dataclass
class AttributeChange:
    """One key whose mapped values differ from what was last sent."""

    key: str
    operation: str
    values: dict[str, Any]
    changed: dict[str, Any]
    values_hash: str
    remote_id: str | None
    attempts: int = 0


@dataclass
class OutboxEntry:
    """One message of the outbox as the engine hands it to a stream's ``deliver``."""

    destination: str
    stream: str
    key: str
    user_id: str | None
    payload: dict[str, Any]
    attempts: int
    due_at: datetime | None = None
    priority: int = 9
    extras: dict[str, Any] = field(default_factory=dict)

"""What a destination adapter provides to the engine.

An adapter is thin on purpose: it says which mart columns it reads, how a row maps to the vendor's
shape, which rows the vendor would reject, and how one change or message is sent. It never touches
the ledger and never decides whether a failure is retried, failed or in doubt beyond returning an
:class:`~sync.outcomes.Outcome` - that is the engine's job, identical for every destination.

Two kinds of streams:

* :class:`AttributeStream` - state to mirror (contact attributes, Appcues profiles). Diffed against
  the ledger; only changed keys are sent; re-sending is harmless.
* :class:`OutboxStream` - events to deliver once per key (messages, alerts, invites, links), with a
  declared :class:`~sync.outcomes.Delivery` guarantee.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, ClassVar

import duckdb
import httpx
from pydantic import SecretStr

from sync.ledger import OutboxMessage
from sync.masking import mask_name, scrub
from sync.outcomes import AttributeChange, Delivery, InvalidRow, OutboxEntry, Outcome
from sync.settings import DestinationSettings, SyncSettings
from sync.transport import Transport

EMAIL_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?)+")
PRIORITY_RANK = {"critical": 0, "urgent": 0, "high": 1, "medium": 2, "normal": 2, "low": 3}


@dataclass
class StreamContext:
    """What a stream may use while it runs: the open connection, the transport (``None`` when dry)."""

    con: duckdb.DuckDBPyConnection
    settings: SyncSettings
    now: datetime
    dry_run: bool
    transport: Transport | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    def require_transport(self) -> Transport:
        if self.transport is None:  # pragma: no cover - the engine never sends when dry
            raise RuntimeError("a dry run must not send")
        return self.transport


@dataclass(frozen=True)
class Blocked:
    """Why a pending message cannot be sent now; ``fail`` turns it into a terminal failure."""

    reason: str
    fail: bool = False


class AttributeStream(ABC):
    name: ClassVar[str]
    mart: ClassVar[str]
    key_column: ClassVar[str] = "user_id"
    columns: ClassVar[tuple[str, ...]]
    creates: ClassVar[bool] = False
    """True when the destination assigns its own id on create (Intercom): the ledger keeps it."""
    batch_size: ClassVar[int] = 1
    """More than 1: the engine hands :meth:`send_batch` groups of changes (:meth:`batches`), one
    request each, instead of calling :meth:`send` per change (Mixpanel's and Segment's batch APIs)."""

    def query(self) -> str:
        return f"select {self.key_column}, {', '.join(self.columns)} from {self.mart}"

    @abstractmethod
    def map_values(self, row: dict[str, Any]) -> dict[str, Any]:
        """Map a mart row to the flat dict of values the destination stores; raise InvalidRow."""

    def plan_operation(self, has_remote: bool, ever_sent: bool) -> str:
        if self.creates:
            return "update" if has_remote else "create"
        return "update" if ever_sent else "upsert"

    async def prepare(self, ctx: StreamContext) -> None:
        """Run once before the first send of a live run (e.g. make sure attributes exist)."""
        return None

    def dry_reason(self, ctx: StreamContext) -> str | None:
        """A stream-specific reason to stay dry (plan only) even when the destination has credentials."""
        return None

    async def send(self, ctx: StreamContext, change: AttributeChange) -> Outcome:
        """Send one change; ``change.changed`` holds only the values that differ from the ledger."""
        raise NotImplementedError

    def batches(self, changes: list[AttributeChange]) -> list[list[AttributeChange]]:
        """Changes grouped into requests: ``batch_size`` at most (a stream with a byte limit overrides)."""
        return [changes[i:i + self.batch_size] for i in range(0, len(changes), self.batch_size)]

    async def send_batch(self, ctx: StreamContext, changes: list[AttributeChange]) -> list[Outcome]:
        """Send a group of changes in one request; one outcome per change, in order."""
        raise NotImplementedError

    def describe(self, change: AttributeChange) -> str:
        """A short, masked summary: up to three changed values and how many more."""
        items = sorted(change.changed.items(), key=lambda kv: (kv[0] not in ("email", "name"), kv[0]))
        parts = [f"{k}={mask_name(v) if k == 'name' else _short(v)}" for k, v in items[:3]]
        if len(items) > 3:
            parts.append(f"+{len(items) - 3} more")
        return scrub(", ".join(parts), limit=160)


class OutboxStream(ABC):
    name: ClassVar[str]
    mart: ClassVar[str]
    key_column: ClassVar[str] = "message_key"
    delivery: ClassVar[Delivery]
    operation: ClassVar[str]
    max_concurrency: ClassVar[int | None] = None
    """Cap below the transport's concurrency; 1 keeps order and lets an abort stop the very next send."""
    due_column: ClassVar[str] = "due_at"
    """The query's column saying when a row is due; rows due before the delivery window expire."""
    must_arrive: ClassVar[bool] = False
    """CSM alerts: a row given up on fails the destination's run (loudly) until an operator settles
    it; a sync outage cannot age rows out of the delivery window; of rows sharing a key, one is sent."""

    @abstractmethod
    def query(self) -> str:
        """SQL selecting the rows of this stream (the key column first)."""

    @abstractmethod
    def build(self, row: dict[str, Any]) -> OutboxMessage:
        """Turn a mart row into the payload to store and send; raise InvalidRow."""

    def dry_reason(self, ctx: StreamContext) -> str | None:
        """A stream-specific reason to stay dry even when the destination has credentials."""
        return None

    def prepare(self, ctx: StreamContext) -> None:
        """Load lookups (contact ids, booking links) before readiness checks."""
        return None

    def blocked(self, ctx: StreamContext, entry: OutboxEntry) -> Blocked | None:
        return None

    @abstractmethod
    async def deliver(self, ctx: StreamContext, entry: OutboxEntry) -> Outcome:
        """Send one message. ``entry.attempts`` already counts this attempt."""

    def booking_link(self, entry: OutboxEntry, outcome: Outcome) -> tuple[str, str] | None:
        return None

    def describe(self, entry: OutboxEntry) -> str:
        return f"user {entry.user_id}"


class Adapter(ABC):
    """A destination: its settings, its transport and its streams in the order they run."""

    name: ClassVar[str]

    def __init__(self, settings: SyncSettings) -> None:
        self.sync_settings = settings

    @property
    def settings(self) -> DestinationSettings:
        return self.sync_settings.for_destination(self.name)

    def dry_reason(self) -> str | None:
        missing = self.settings.missing_credentials()
        return f"no credentials ({', '.join(missing)} not set)" if missing else None

    def make_transport(self) -> Transport:
        """The destination's HTTP client, from its transport settings and credentials; the engine asks
        for it only when the destination is live (``dry_reason`` is ``None``)."""
        return Transport(self.settings.transport, name=self.name, headers=self.headers(), auth=self.auth())

    @abstractmethod
    def headers(self) -> dict[str, str]:
        """Headers sent on every request (credentials, API version, accepted type)."""

    def auth(self) -> httpx.Auth | None:
        """Credentials sent as HTTP auth rather than as a header (Appcues' basic auth)."""
        return None

    def api_usage(self) -> str | None:
        """The vendor's quota as last reported (Salesforce's 24-hour allowance), for the run summary."""
        return None

    @staticmethod
    def bearer(token: SecretStr | None) -> dict[str, str]:
        """The ``Authorization`` header for a bearer token (Intercom, Slack, Calendly)."""
        if token is None:  # never: a destination without its token runs dry and makes no transport
            raise RuntimeError("no token: a destination without credentials must not send")
        return {"Authorization": f"Bearer {token.get_secret_value()}"}

    @abstractmethod
    def streams(self) -> list[AttributeStream | OutboxStream]: ...


# ------------------------------------------------------------------------------ mapping helpers

def clean_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def required_user_id(row: dict[str, Any]) -> str:
    """The row's user, which every per-user message needs: InvalidRow ("no user_id") when blank."""
    user_id = clean_str(row.get("user_id"))
    if user_id is None:
        raise InvalidRow("no user_id")
    return user_id


def to_epoch(value: Any) -> int | None:
    """Warehouse timestamps are naive UTC; Intercom wants Unix seconds."""
    if value is None:
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(aware.timestamp())
    if isinstance(value, date):
        return int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp())
    raise InvalidRow(f"not a timestamp: {type(value).__name__}")


def to_int(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidRow(f"{name} must be an integer")
    if isinstance(value, int):
        result = value
    else:
        try:
            as_float = float(value)
        except (TypeError, ValueError) as exc:
            raise InvalidRow(f"{name} must be an integer") from exc
        if as_float != as_float or not as_float.is_integer():
            raise InvalidRow(f"{name} must be an integer")
        result = int(as_float)
    if abs(result) > 2**53:
        raise InvalidRow(f"{name} is out of range")
    return result


def to_float(name: str, value: Any, digits: int = 6) -> float | None:
    """Round so that recomputation noise (0.30000000000000004) does not look like a change."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidRow(f"{name} must be a number") from exc
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidRow(f"{name} is not a finite number")
    return round(number, digits)


def bounded_str(name: str, value: Any, limit: int) -> str | None:
    text = clean_str(value)
    if text is not None and len(text) > limit:
        raise InvalidRow(f"{name} is longer than {limit} characters")
    return text


def priority_rank(value: Any) -> int:
    """Order sends by the mart's priority: words (critical..low) or small integers."""
    if value is None:
        return 9
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(0, min(int(value), 99))
    return PRIORITY_RANK.get(str(value).strip().lower(), 9)


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:39] + "…"

"""The ``sync`` schema in DuckDB: what was sent, what is owed, and what each run did.

Why in the warehouse: the ledger is the memory that makes the sync diff-based and crash-safe, and
analysts can query it next to the marts it mirrors. Tables:

``sync.attribute_state``
    One row per (destination, stream, key) of an attribute sync: the values and hash last *sent and
    acknowledged*, the remote id (Intercom contact id - kept because a just-created contact takes
    minutes to appear in search), the latest plan (``planned_hash``/``planned_operation`` - a dry
    run stores its plan here) and the latest status (``synced``, ``pending``, ``failed``,
    ``invalid``). A run sends exactly the keys whose current hash differs from ``sent_hash``, so a
    failed row is simply still different and is retried by the next run.
``sync.outbox``
    One row per message (``message_key`` / ``alert_key``) with the payload to send and its state:
    ``pending`` -> ``sending`` -> ``sent``; or ``failed`` (rejected), ``in_doubt`` (was ``sending``
    when a run died - at-most-once streams only), ``withdrawn`` (a customer message the marts no
    longer ask for before it was ever sent).
``sync.booking_links``
    Calendly single-use links by the ``message_key`` of the calendly row (one per user and episode).
``sync.stream_marks``
    Per outbox stream, the latest decision day a *live* run has seen (``data_through``): an alert
    raised after it was never in front of a live sync, so a sync outage cannot age it out.
``sync.runs`` / ``sync.row_results``
    One row per destination run with its counts; one row per key that was planned, sent, failed,
    invalid, waiting or in doubt in that run (unchanged keys are counted, not listed).

Every function takes an open DuckDB connection; the engine owns the connection's lifetime. Status
changes that guard a customer message (``sending``) commit before the request leaves.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    import pyarrow as pa

from sync.masking import scrub
from sync.outcomes import COUNT_FIELDS, AttributeChange, OutboxEntry, Outcome, RunSummary

DDL = """
create schema if not exists sync;

create table if not exists sync.runs (
    run_id varchar primary key,
    destination varchar not null,
    dry_run boolean not null,
    status varchar not null,
    planned integer not null default 0,
    sent integer not null default 0,
    unchanged integer not null default 0,
    failed integer not null default 0,
    invalid integer not null default 0,
    in_doubt integer not null default 0,
    waiting integer not null default 0,
    withdrawn integer not null default 0,
    expired integer not null default 0,
    requests integer not null default 0,
    rate_limited integer not null default 0,
    started timestamp not null,
    finished timestamp,
    error varchar,
    dry_reason varchar,
    summary json
);

create table if not exists sync.row_results (
    run_id varchar not null,
    destination varchar not null,
    stream varchar not null,
    key varchar,
    operation varchar not null,
    status varchar not null,
    http_status integer,
    error varchar,
    recorded_at timestamp not null
);

create table if not exists sync.attribute_state (
    destination varchar not null,
    stream varchar not null,
    key varchar not null,
    remote_id varchar,
    sent_values json,
    sent_hash varchar,
    sent_at timestamp,
    status varchar not null,
    planned_hash varchar,
    planned_operation varchar,
    attempts integer not null default 0,
    http_status integer,
    last_error varchar,
    last_attempt_at timestamp,
    updated_at timestamp not null,
    primary key (destination, stream, key)
);

create table if not exists sync.outbox (
    destination varchar not null,
    stream varchar not null,
    message_key varchar not null,
    user_id varchar,
    delivery varchar not null,
    status varchar not null,
    payload json not null,
    payload_hash varchar not null,
    due_at timestamp,
    priority integer not null default 9,
    attempts integer not null default 0,
    remote_id varchar,
    http_status integer,
    last_error varchar,
    created_at timestamp not null,
    updated_at timestamp not null,
    sending_at timestamp,
    sent_at timestamp,
    resolved_by varchar,
    resolved_at timestamp,
    primary key (destination, stream, message_key)
);

create table if not exists sync.stream_marks (
    destination varchar not null,
    stream varchar not null,
    data_through timestamp not null,
    updated_at timestamp not null,
    primary key (destination, stream)
);

create table if not exists sync.booking_links (
    link_key varchar primary key,
    user_id varchar,
    booking_url varchar not null,
    owner varchar,
    created_at timestamp not null
);
"""


def utcnow() -> datetime:
    """Naive UTC, the warehouse's timestamp convention (see docs/data-contracts.md)."""
    return datetime.now(UTC).replace(tzinfo=None)


def canonical_json(values: Any) -> str:
    """Stable JSON (sorted keys, no NaN) so that equal values always hash equal."""
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                      default=str)


def values_hash(values: Any) -> str:
    return hashlib.sha256(canonical_json(values).encode()).hexdigest()


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(DDL)
    # Ledgers created before the column existed.
    con.execute("alter table sync.runs add column if not exists summary json")
    con.execute("alter table sync.runs add column if not exists expired integer default 0")
    con.execute("alter table sync.runs add column if not exists throttled integer default 0")


class _Tx:
    """``with _Tx(con):`` - one DuckDB transaction, rolled back on error."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def __enter__(self) -> duckdb.DuckDBPyConnection:
        self.con.execute("begin transaction")
        return self.con

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.con.execute("commit")
        else:
            self.con.execute("rollback")


def transaction(con: duckdb.DuckDBPyConnection) -> _Tx:
    return _Tx(con)


def _arrow(columns: dict[str, str], rows: Sequence[Sequence[Any]]) -> pa.Table:
    """Rows as an Arrow table with the given column types, for set-based inserts and updates.

    Why: binding thousands of ``?`` per statement (or one statement per row) made planning a large
    outbox take minutes; DuckDB reads a registered Arrow table in one scan. pyarrow is imported here,
    not with the module: the Dagster process imports this module when it starts and should not hold
    pyarrow (~35 MB) through the ingest and the dbt build, before its sync step runs.
    """
    import pyarrow as pa

    return pa.table({
        name: pa.array([row[i] for row in rows], type=pa.type_for_alias(kind))
        for i, (name, kind) in enumerate(columns.items())
    })


# Arrow type names (`pa.type_for_alias`) of the ledger's columns, for `_arrow`.
_TEXT, _STAMP, _INT = "string", "timestamp[us]", "int32"


@contextmanager
def _registered(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> Iterator[None]:
    """``table`` visible to SQL as ``name`` for the duration of the block."""
    con.register(name, table)
    try:
        yield
    finally:
        con.unregister(name)


# --------------------------------------------------------------------------------------------- runs

def close_interrupted_runs(con: duckdb.DuckDBPyConnection) -> int:
    """Runs still ``running`` belong to a process that died (DuckDB allows one writer at a time)."""
    rows = con.execute(
        "update sync.runs set status = 'interrupted' where status = 'running' returning run_id"
    ).fetchall()
    return len(rows)


def begin_run(con: duckdb.DuckDBPyConnection, destination: str, dry_run: bool,
              dry_reason: str | None) -> tuple[str, datetime]:
    run_id = uuid.uuid4().hex
    started = utcnow()
    con.execute(
        "insert into sync.runs (run_id, destination, dry_run, status, started, dry_reason)"
        " values (?, ?, ?, 'running', ?, ?)",
        [run_id, destination, dry_run, started, dry_reason],
    )
    return run_id, started


def finish_run(con: duckdb.DuckDBPyConnection, summary: RunSummary) -> None:
    assignments = ", ".join(f"{name} = ?" for name in COUNT_FIELDS)
    con.execute(
        f"update sync.runs set {assignments}, requests = ?, rate_limited = ?, status = ?, finished = ?,"
        " error = ?, summary = ? where run_id = ?",
        [*(getattr(summary, name) for name in COUNT_FIELDS), summary.requests, summary.rate_limited,
         summary.status, summary.finished, summary.error, summary.model_dump_json(), summary.run_id],
    )


def latest_summaries(con: duckdb.DuckDBPyConnection) -> list[RunSummary]:
    """The last finished run per destination, as it was reported (plan operations and masked samples).

    Why stored: the pipeline's sync assets run inside Dagster; the command line prints their plan
    afterwards from here instead of planning a second time.
    """
    exists = con.execute(
        "select count(*) from duckdb_columns() where schema_name = 'sync' and table_name = 'runs'"
        " and column_name = 'summary'"
    ).fetchone()
    if not exists or not exists[0]:
        return []
    rows = con.execute(
        """
        select summary from sync.runs
        where summary is not null
        qualify row_number() over (partition by destination order by started desc) = 1
        order by started
        """
    ).fetchall()
    return [RunSummary.model_validate_json(row[0]) for row in rows]


def result_status(ledger_status: str) -> str:
    """Row-result wording: a row left ``pending`` after an attempt is a ``retry``; ``synced`` is ``sent``."""
    return {"pending": "retry", "synced": "sent"}.get(ledger_status, ledger_status)


def add_row_results(con: duckdb.DuckDBPyConnection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Rows are (run_id, destination, stream, key, operation, status, http_status, error)."""
    if not rows:
        return
    now = utcnow()
    table = _arrow(
        {"run_id": _TEXT, "destination": _TEXT, "stream": _TEXT, "key": _TEXT, "operation": _TEXT,
         "status": _TEXT, "http_status": _INT, "error": _TEXT},
        [(*row[:7], scrub(row[7]) if row[7] else None) for row in rows],
    )
    with _registered(con, "_row_results_in", table):
        con.execute(
            "insert into sync.row_results select run_id, destination, stream, key, operation, status,"
            " http_status, error, ? from _row_results_in",
            [now],
        )


# -------------------------------------------------------------------------------- attribute syncs

@dataclass(frozen=True)
class AttributeState:
    key: str
    remote_id: str | None
    sent_values: dict[str, Any] | None
    sent_hash: str | None
    status: str
    attempts: int


def load_attribute_state(con: duckdb.DuckDBPyConnection, destination: str,
                         stream: str) -> dict[str, AttributeState]:
    rows = con.execute(
        "select key, remote_id, sent_values, sent_hash, status, attempts from sync.attribute_state"
        " where destination = ? and stream = ?",
        [destination, stream],
    ).fetchall()
    return {
        key: AttributeState(key, remote_id, json.loads(sent) if sent else None, sent_hash, status, attempts)
        for key, remote_id, sent, sent_hash, status, attempts in rows
    }


def remote_ids(con: duckdb.DuckDBPyConnection, destination: str, stream: str) -> dict[str, str]:
    rows = con.execute(
        "select key, remote_id from sync.attribute_state where destination = ? and stream = ?"
        " and remote_id is not null",
        [destination, stream],
    ).fetchall()
    return dict(rows)


_ATTR_UPSERT = """
insert into sync.attribute_state (destination, stream, key, remote_id, sent_values, sent_hash, sent_at,
    status, planned_hash, planned_operation, attempts, http_status, last_error, last_attempt_at, updated_at)
select destination, stream, key, remote_id, sent_values::json, sent_hash, sent_at, status, planned_hash,
    planned_operation, attempts, http_status, last_error, last_attempt_at, updated_at
from _attribute_rows_in
on conflict (destination, stream, key) do update set
    remote_id = coalesce(excluded.remote_id, sync.attribute_state.remote_id),
    sent_values = coalesce(excluded.sent_values, sync.attribute_state.sent_values),
    sent_hash = coalesce(excluded.sent_hash, sync.attribute_state.sent_hash),
    sent_at = coalesce(excluded.sent_at, sync.attribute_state.sent_at),
    status = excluded.status,
    planned_hash = excluded.planned_hash,
    planned_operation = excluded.planned_operation,
    attempts = case when excluded.status = 'synced' then 0
                    else sync.attribute_state.attempts + excluded.attempts end,
    http_status = excluded.http_status,
    last_error = excluded.last_error,
    last_attempt_at = coalesce(excluded.last_attempt_at, sync.attribute_state.last_attempt_at),
    updated_at = excluded.updated_at
"""

_ATTR_COLUMNS: dict[str, str] = {
    "destination": _TEXT, "stream": _TEXT, "key": _TEXT, "remote_id": _TEXT, "sent_values": _TEXT,
    "sent_hash": _TEXT, "sent_at": _STAMP, "status": _TEXT, "planned_hash": _TEXT, "planned_operation": _TEXT,
    "attempts": _INT, "http_status": _INT, "last_error": _TEXT, "last_attempt_at": _STAMP, "updated_at": _STAMP,
}


def _upsert_attribute_rows(con: duckdb.DuckDBPyConnection, rows: Sequence[list[Any]]) -> None:
    """One set-based upsert from Arrow (15 bound parameters per row took 3 s for 13,000 dry-plan rows)."""
    if not rows:
        return
    with _registered(con, "_attribute_rows_in", _arrow(_ATTR_COLUMNS, rows)):
        con.execute(_ATTR_UPSERT)


def save_attribute_results(con: duckdb.DuckDBPyConnection, run_id: str, destination: str, stream: str,
                           results: Sequence[tuple[AttributeChange, Outcome, str]]) -> None:
    """Record sends: ``results`` holds (change, outcome, ledger status) in one transaction."""
    now = utcnow()
    rows: list[list[Any]] = []
    row_results: list[tuple[Any, ...]] = []
    for change, outcome, status in results:
        ok = status == "synced"
        rows.append([
            destination, stream, change.key, outcome.remote_id or change.remote_id,
            canonical_json(change.values) if ok else None, change.values_hash if ok else None,
            now if ok else None, status, change.values_hash, outcome.operation or change.operation,
            0 if ok else 1, outcome.http_status, None if ok else scrub(outcome.error or ""), now, now,
        ])
        row_results.append((run_id, destination, stream, change.key, outcome.operation or change.operation,
                            result_status(status), outcome.http_status, None if ok else outcome.error))
    with transaction(con):
        _upsert_attribute_rows(con, rows)
        add_row_results(con, row_results)


def save_attribute_plan(con: duckdb.DuckDBPyConnection, run_id: str, destination: str, stream: str,
                        changes: Sequence[AttributeChange]) -> None:
    """A dry run stores its plan (status ``pending``) without touching what was last sent."""
    now = utcnow()
    rows = [[destination, stream, c.key, None, None, None, None, "pending", c.values_hash, c.operation,
             0, None, None, None, now] for c in changes]
    with transaction(con):
        _upsert_attribute_rows(con, rows)
        add_row_results(con, [(run_id, destination, stream, c.key, c.operation, "planned", None, None)
                              for c in changes])


def mark_attribute_status(con: duckdb.DuckDBPyConnection, destination: str, stream: str,
                          keys_errors: Sequence[tuple[str, str | None]], status: str) -> None:
    """Set ``status`` (``synced`` for rows back in line, ``invalid`` with a reason) for known keys."""
    if not keys_errors:
        return
    now = utcnow()
    rows = [[destination, stream, key, None, None, None, None, status, None, None, 0, None,
             scrub(error) if error else None, None, now] for key, error in keys_errors]
    with transaction(con):
        _upsert_attribute_rows(con, rows)


# ------------------------------------------------------------------------------------------ outbox

@dataclass(frozen=True)
class OutboxMessage:
    """A message as read from a mart, ready to be enqueued."""

    key: str
    user_id: str | None
    payload: dict[str, Any]
    due_at: datetime | None
    priority: int


def recover_in_flight(con: duckdb.DuckDBPyConnection, destination: str, stream: str,
                      at_most_once: bool) -> int:
    """Rows left ``sending`` by a dead run: ``in_doubt`` if at-most-once, else back to ``pending``."""
    new_status = "in_doubt" if at_most_once else "pending"
    note = ("run ended while the request was in flight; not resent automatically" if at_most_once
            else "run ended while the request was in flight; resending (at-least-once)")
    rows = con.execute(
        "update sync.outbox set status = ?, last_error = ?, updated_at = ? where destination = ?"
        " and stream = ? and status = 'sending' returning message_key",
        [new_status, note, utcnow(), destination, stream],
    ).fetchall()
    return len(rows)


def enqueue(con: duckdb.DuckDBPyConnection, destination: str, stream: str, delivery: str,
            messages: Sequence[OutboxMessage]) -> dict[str, str]:
    """Add new messages as ``pending``; refresh the payload of ones not yet attempted.

    Returns the status of every given key after the call. A message that was sent, failed, is in
    doubt or is being sent is never touched: its ``message_key`` is delivered once.
    """
    now = utcnow()
    existing = dict(con.execute(
        "select message_key, status from sync.outbox where destination = ? and stream = ?",
        [destination, stream]).fetchall())
    hashes = dict(con.execute(
        "select message_key, payload_hash from sync.outbox where destination = ? and stream = ?",
        [destination, stream]).fetchall())
    inserts: list[list[Any]] = []
    refresh: list[list[Any]] = []
    for m in messages:
        payload = canonical_json(m.payload)
        digest = values_hash(m.payload)
        status = existing.get(m.key)
        if status is None:
            inserts.append([destination, stream, m.key, m.user_id, delivery, "pending", payload, digest,
                            m.due_at, m.priority, 0, now, now])
            existing[m.key] = "pending"
        elif status in ("pending", "withdrawn") and (hashes.get(m.key) != digest or status == "withdrawn"):
            refresh.append([payload, digest, m.user_id, m.due_at, m.priority, now, destination, stream, m.key])
            existing[m.key] = "pending"
    with transaction(con):
        if inserts:
            new = _arrow(
                {"destination": _TEXT, "stream": _TEXT, "message_key": _TEXT, "user_id": _TEXT, "delivery": _TEXT,
                 "status": _TEXT, "payload": _TEXT, "payload_hash": _TEXT, "due_at": _STAMP, "priority": _INT,
                 "attempts": _INT, "created_at": _STAMP, "updated_at": _STAMP},
                inserts,
            )
            with _registered(con, "_outbox_new", new):
                con.execute(
                    "insert into sync.outbox (destination, stream, message_key, user_id, delivery, status,"
                    " payload, payload_hash, due_at, priority, attempts, created_at, updated_at)"
                    " select destination, stream, message_key, user_id, delivery, status, payload::json,"
                    " payload_hash, due_at, priority, attempts, created_at, updated_at from _outbox_new"
                )
        if refresh:
            changed = _arrow(
                {"payload": _TEXT, "payload_hash": _TEXT, "user_id": _TEXT, "due_at": _STAMP, "priority": _INT,
                 "updated_at": _STAMP, "destination": _TEXT, "stream": _TEXT, "message_key": _TEXT},
                refresh,
            )
            with _registered(con, "_outbox_refresh", changed):
                con.execute(
                    "update sync.outbox as o set payload = r.payload::json, payload_hash = r.payload_hash,"
                    " user_id = r.user_id, due_at = r.due_at, priority = r.priority, status = 'pending',"
                    " updated_at = r.updated_at from _outbox_refresh as r where o.destination = r.destination"
                    " and o.stream = r.stream and o.message_key = r.message_key"
                )
    return {m.key: existing[m.key] for m in messages}


def withdraw_absent(con: duckdb.DuckDBPyConnection, destination: str, stream: str,
                    present: set[str]) -> list[str]:
    """Pending messages the mart no longer contains become ``withdrawn`` (never sent); set-based."""
    keys = _arrow({"message_key": _TEXT}, [(key,) for key in sorted(present)])
    with _registered(con, "_outbox_present", keys), transaction(con):
        rows = con.execute(
            "update sync.outbox set status = 'withdrawn', last_error = 'no longer in the mart', updated_at = ?"
            " where destination = ? and stream = ? and status = 'pending'"
            " and message_key not in (select message_key from _outbox_present) returning message_key",
            [utcnow(), destination, stream],
        ).fetchall()
    return sorted(k for (k,) in rows)


def expire_pending(con: duckdb.DuckDBPyConnection, destination: str, stream: str, cutoff: datetime,
                   reason: str) -> list[str]:
    """Pending messages due before ``cutoff`` are ``withdrawn`` with ``reason``: too late to send."""
    with transaction(con):
        rows = con.execute(
            "update sync.outbox set status = 'withdrawn', last_error = ?, updated_at = ?"
            " where destination = ? and stream = ? and status = 'pending' and due_at < ?"
            " returning message_key",
            [reason, utcnow(), destination, stream, cutoff],
        ).fetchall()
    return sorted(k for (k,) in rows)


def data_through(con: duckdb.DuckDBPyConnection, destination: str, stream: str) -> datetime | None:
    """The end of the latest decision day a live run of this stream has seen (``None``: never live)."""
    row = con.execute("select data_through from sync.stream_marks where destination = ? and stream = ?",
                      [destination, stream]).fetchone()
    return row[0] if row else None


def mark_data_through(con: duckdb.DuckDBPyConnection, destination: str, stream: str, through: datetime) -> None:
    """Remember what a live run has seen; never moves backwards (re-running an old day)."""
    now = utcnow()
    con.execute(
        "insert into sync.stream_marks values (?, ?, ?, ?) on conflict (destination, stream) do update set"
        " data_through = greatest(sync.stream_marks.data_through, excluded.data_through),"
        " updated_at = excluded.updated_at",
        [destination, stream, through, now],
    )


def load_pending(con: duckdb.DuckDBPyConnection, destination: str, stream: str) -> list[OutboxEntry]:
    rows = con.execute(
        "select message_key, user_id, payload, attempts, due_at, priority from sync.outbox"
        " where destination = ? and stream = ? and status = 'pending'"
        " order by priority, due_at nulls first, message_key",
        [destination, stream],
    ).fetchall()
    return [OutboxEntry(destination, stream, key, user_id, json.loads(payload), attempts, due_at, priority)
            for key, user_id, payload, attempts, due_at, priority in rows]


def claim(con: duckdb.DuckDBPyConnection, entry: OutboxEntry) -> bool:
    """Durably claim a message before its request leaves; ``False`` if it was not ``pending`` any more.

    One autocommitted ``update ... where status = 'pending' returning``: the claim and its check are
    one statement, so of two runs that loaded the same pending row (threads, tasks or processes)
    exactly one gets it back and sends; the other must skip it.
    """
    now = utcnow()
    rows = con.execute(
        "update sync.outbox set status = 'sending', attempts = attempts + 1, sending_at = ?,"
        " updated_at = ? where destination = ? and stream = ? and message_key = ? and status = 'pending'"
        " returning message_key",
        [now, now, entry.destination, entry.stream, entry.key],
    ).fetchall()
    return len(rows) == 1


def release(con: duckdb.DuckDBPyConnection, entry: OutboxEntry) -> None:
    """Undo a claim whose request never left (the destination was throttled): pending again, the
    attempt not counted."""
    con.execute(
        "update sync.outbox set status = 'pending', attempts = greatest(attempts - 1, 0), updated_at = ?"
        " where destination = ? and stream = ? and message_key = ? and status = 'sending'",
        [utcnow(), entry.destination, entry.stream, entry.key],
    )


def record_delivery(con: duckdb.DuckDBPyConnection, run_id: str, entry: OutboxEntry, status: str,
                    outcome: Outcome, operation: str, booking_link: tuple[str, str] | None = None) -> None:
    """Store the outcome of one send, its row result and (Calendly) the link, in one transaction."""
    now = utcnow()
    with transaction(con):
        con.execute(
            "update sync.outbox set status = ?, http_status = ?, last_error = ?, remote_id = coalesce(?, remote_id),"
            " sent_at = case when ? = 'sent' then ? else sent_at end, updated_at = ?,"
            # A new failure or doubt is new: an operator's earlier verdict no longer covers it.
            " resolved_by = case when ? in ('failed', 'in_doubt') then null else resolved_by end,"
            " resolved_at = case when ? in ('failed', 'in_doubt') then null else resolved_at end"
            " where destination = ? and stream = ? and message_key = ?",
            [status, outcome.http_status, None if status == "sent" else scrub(outcome.error or ""),
             outcome.remote_id, status, now, now, status, status, entry.destination, entry.stream, entry.key],
        )
        if booking_link is not None:
            url, owner = booking_link
            con.execute(
                "insert into sync.booking_links values (?, ?, ?, ?, ?) on conflict (link_key) do nothing",
                [entry.key, entry.user_id, url, owner, now],
            )
        add_row_results(con, [(run_id, entry.destination, entry.stream, entry.key, operation,
                               result_status(status), outcome.http_status,
                               None if status == "sent" else outcome.error)])


def count_outbox(con: duckdb.DuckDBPyConnection, destination: str, stream: str, status: str) -> int:
    row = con.execute(
        "select count(*) from sync.outbox where destination = ? and stream = ? and status = ?",
        [destination, stream, status]).fetchone()
    return int(row[0]) if row else 0


def unsettled_failures(con: duckdb.DuckDBPyConnection, destination: str, stream: str) -> list[tuple[str, str]]:
    """(key, last error) of failed messages no operator has settled yet (``resolve``)."""
    return [(k, e or "") for k, e in con.execute(
        "select message_key, last_error from sync.outbox where destination = ? and stream = ?"
        " and status = 'failed' and resolved_by is null order by updated_at, message_key",
        [destination, stream]).fetchall()]


def outbox_attempts(con: duckdb.DuckDBPyConnection, destination: str, stream: str) -> dict[str, tuple[str, int]]:
    rows = con.execute(
        "select message_key, status, attempts from sync.outbox where destination = ? and stream = ?",
        [destination, stream]).fetchall()
    return {key: (status, attempts) for key, status, attempts in rows}


def booking_links(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute("select link_key, booking_url from sync.booking_links").fetchall())


# ------------------------------------------------------------------------------ in-doubt handling

RESOLUTIONS = ("sent", "failed", "retry")
_ALLOWED_FROM = {
    "sent": ("in_doubt", "failed", "pending"),
    # failed -> failed: the operator acknowledges a message that will not arrive (silences the alarm).
    "failed": ("in_doubt", "pending", "failed"),
    "retry": ("in_doubt", "failed", "withdrawn"),
}


def list_outbox(con: duckdb.DuckDBPyConnection, status: str = "in_doubt",
                destination: str | None = None) -> list[dict[str, Any]]:
    sql = ("select destination, stream, message_key, user_id, delivery, status, attempts, http_status,"
           " last_error, sending_at, updated_at from sync.outbox where status = ?")
    params: list[Any] = [status]
    if destination:
        sql += " and destination = ?"
        params.append(destination)
    sql += " order by sending_at nulls last, message_key"
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def resolve(con: duckdb.DuckDBPyConnection, key: str, resolution: str,
            destination: str | None = None) -> dict[str, Any]:
    """An operator's verdict on one message: ``sent`` (it arrived), ``failed`` (drop it) or
    ``retry`` (it did not arrive; send it on the next run). Only sensible transitions are allowed:
    a ``sent`` message can never be requeued by this command. ``failed`` on a failed message records
    that an operator has seen it: a CSM alert that failed no longer fails every sync after that.
    """
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {', '.join(RESOLUTIONS)}")
    sql = "select destination, stream, status from sync.outbox where message_key = ?"
    params: list[Any] = [key]
    if destination:
        sql += " and destination = ?"
        params.append(destination)
    rows = con.execute(sql, params).fetchall()
    if not rows:
        raise KeyError(f"no outbox message with key {key!r}")
    if len(rows) > 1:
        raise ValueError(f"key {key!r} exists in several streams or destinations; pass --destination")
    dest, stream, status = rows[0]
    if status not in _ALLOWED_FROM[resolution]:
        raise ValueError(f"message {key!r} is {status}; it cannot be resolved as {resolution}")
    new_status = "pending" if resolution == "retry" else resolution
    now = utcnow()
    con.execute(
        "update sync.outbox set status = ?, resolved_by = 'operator', resolved_at = ?, updated_at = ?,"
        " last_error = case when ? = 'pending' then null else last_error end,"
        " sent_at = case when ? = 'sent' then coalesce(sent_at, ?) else sent_at end"
        " where destination = ? and stream = ? and message_key = ?",
        [new_status, now, now, new_status, new_status, now, dest, stream, key],
    )
    return {"destination": dest, "message_key": key, "previous": status, "status": new_status}

"""The one reverse-ETL engine: plan -> (invalid | unchanged | changed) -> send -> record.

Python API (what the CLI, ``make run`` and the Dagster assets call)::

    from sync.engine import run_sync
    summaries = run_sync("data/warehouse.duckdb", destinations=["intercom"], dry_run=None)
    for s in summaries:
        print(s.destination, s.status, s.planned, s.sent, s.unchanged, s.failed, s.invalid, s.in_doubt)

``run_sync(db_path, destinations=None, dry_run=None, *, settings=None, now=None, progress=None) -> list[RunSummary]``
    ``destinations``: names or comma lists (``"intercom,slack"``); ``None`` = all, always run in the
    dependency order calendly -> intercom -> appcues -> slack. ``dry_run``: ``None`` = each destination
    is live if its credentials are set and dry otherwise; ``True`` = everything dry; ``False`` = refuse
    (``SyncConfigError``) if a selected destination lacks credentials. ``settings`` defaults to
    :meth:`SyncSettings.from_env`; ``now`` (naive UTC) decides which messages are due. ``connection``
    (the warehouse resource's settings) gives the DuckDB memory limit and lock wait; default: the
    environment's. ``progress``
    (optional) is called with a :class:`StreamProgress` when a stream's plan is known, after every row
    it sends and when it ends: what the command line's bars show.
    The DuckDB connection is opened for the call and closed before it returns.
``run_sync_async(...)``
    The same, for callers that already run an event loop.

How a destination runs (identically for all four):

1. Runs left ``running`` by a dead process are marked ``interrupted``; outbox rows left ``sending``
   become ``in_doubt`` (at-most-once streams) or ``pending`` again (at-least-once streams).
2. Each stream reads its mart. Null, blank or duplicate keys and values the destination would
   reject are *invalid*: recorded in ``sync.row_results``, never sent.
3. Attribute streams hash the mapped values and compare with the ledger's last acknowledged hash:
   equal -> unchanged (nothing sent); different -> create/update with only the changed values.
   Outbox streams enqueue new message keys and pick the pending ones that are due and ready.
4. Dry (no credentials, or ``dry_run=True``): the plan is stored (attribute plan in
   ``sync.attribute_state``, messages enqueued as ``pending``, ``planned`` row results) and returned.
   Nothing is claimed sent.
5. Live: bounded-concurrency workers send through the destination's rate-limited transport. Every
   at-most-once message is committed as ``sending`` *before* its request leaves. Outcomes land in the
   ledger (attribute results in batches, messages one by one), and the run's counts in ``sync.runs``.

A destination that rejects our credentials or channel stops at the first such answer (``aborted``);
the other destinations still run. A destination that asks for a pause beyond the cap is *throttled*:
its streams end for this run with their rows left pending (``throttled`` count, a note). A destination
with CSM alerts given up on ends ``failed`` (the Dagster asset fails) until an operator settles them.

One sync per warehouse at a time: another process cannot open the file while a sync holds it (DuckDB
allows one writer; ``connect`` waits up to ``ONBOARDING_LOCK_TIMEOUT``), and a second sync in the same
process - a thread or a task, which DuckDB would let in - waits for the first just as long, then raises
:class:`SyncBusy`. So step 1 only ever recovers what a dead run left behind, and on top of that every
message is claimed with one checked ``update ... returning`` before it is sent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import os
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import duckdb

from dagster_project.core import warehouse
from sync import ledger
from sync.adapters import ADAPTERS
from sync.adapters.base import Adapter, AttributeStream, OutboxStream, StreamContext
from sync.masking import get_logger, scrub
from sync.outcomes import (
    AbortDestination,
    AttributeChange,
    Delivery,
    InvalidRow,
    OutboxEntry,
    Outcome,
    OutcomeKind,
    PlanSample,
    RunSummary,
    StreamSummary,
)
from sync.settings import DESTINATIONS, SyncConfigError, SyncSettings
from sync.transport import DeliveryUncertain, RequestFailed, Throttled

log = get_logger(__name__)

FLUSH_EVERY = 200
"""Attribute results are written in batches: a crash loses at most this many acknowledgements,
which only means those idempotent updates are sent again."""
SAMPLES = 5
LOGGED_FAILURES = 20

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")

__all__ = ["RunSummary", "StreamProgress", "SyncBusy", "expired_sql", "parse_destinations", "run_sync",
           "run_sync_async"]

_RUN_LOCKS: dict[str, threading.Lock] = {}
_RUN_LOCKS_GUARD = threading.Lock()


class SyncBusy(warehouse.WarehouseLockedError):
    """Another sync of the same warehouse is running in this process and did not finish in time."""


@dataclasses.dataclass(frozen=True)
class StreamProgress:
    """Where one stream of a run is: ``done`` of the ``total`` rows it will send this run were handled.

    Why a callback: a live sync is rate limited and can take many minutes; the command line shows a
    bar per destination and stream (and the running sent / failed / throttled counts of ``summary``)
    instead of nothing until the end. A dry stream reports its plan once, with ``total`` planned rows.
    """

    destination: str
    stream: str
    done: int
    total: int
    finished: bool
    summary: StreamSummary


SyncProgress = Callable[[StreamProgress], None]


class _Reporter:
    """A stream's progress, forwarded to the caller's callback; a failing callback never stops a sync."""

    def __init__(self, callback: SyncProgress | None, destination: str, ss: StreamSummary) -> None:
        self.callback, self.destination, self.ss = callback, destination, ss
        self.done = self.total = 0

    def planned(self, total: int) -> None:
        self.total = total
        self._send(False)

    def handled(self) -> None:
        self.done += 1
        self._send(False)

    def finished(self) -> None:
        self._send(True)

    def _send(self, finished: bool) -> None:
        if self.callback is None:
            return
        try:
            self.callback(StreamProgress(self.destination, self.ss.stream, self.done, self.total, finished, self.ss))
        except Exception as exc:  # the display is not worth a message in doubt
            log.debug("progress callback failed: %s", type(exc).__name__)


def _run_lock(db_path: str | Path) -> threading.Lock:
    key = os.path.realpath(db_path)
    with _RUN_LOCKS_GUARD:
        return _RUN_LOCKS.setdefault(key, threading.Lock())


async def _acquire_run_lock(lock: threading.Lock, db_path: str | Path, timeout: float) -> None:
    """Wait (without blocking the event loop: the holder may be a task of this loop) up to the lock
    timeout (``ONBOARDING_LOCK_TIMEOUT``) for a sync of the same warehouse in this process to finish."""
    deadline = time.monotonic() + timeout
    warned = False
    while not lock.acquire(blocking=False):
        if time.monotonic() >= deadline:
            raise SyncBusy(f"another sync of {db_path} is running in this process, still after waiting"
                           f" {timeout:g}s ({warehouse.LOCK_TIMEOUT_ENV}); run again when it has finished")
        if not warned:
            log.warning("another sync of this warehouse is running in this process; waiting up to %gs", timeout)
            warned = True
        await asyncio.sleep(0.05)


def parse_destinations(values: str | Iterable[str] | None) -> list[str]:
    """Accept names, comma lists or ``None`` (all); return them in dependency order."""
    if values is None:
        return list(DESTINATIONS)
    raw = [values] if isinstance(values, str) else list(values)
    wanted: set[str] = set()
    for item in raw:
        for part in str(item).split(","):
            name = part.strip().lower()
            if not name:
                continue
            if name not in DESTINATIONS:
                raise SyncConfigError(f"unknown destination {name!r}; expected one of {', '.join(DESTINATIONS)}")
            wanted.add(name)
    if not wanted:
        return list(DESTINATIONS)
    return [name for name in DESTINATIONS if name in wanted]


def _blocking(coro_fn: Callable[P, Coroutine[Any, Any, R]], name: str, doc: str) -> Callable[P, R]:
    """``coro_fn`` for callers without an event loop (CLI, Dagster): the same parameters, run to the
    end on a fresh loop, so the blocking and the async entry points cannot drift apart."""

    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        return asyncio.run(coro_fn(*args, **kwargs))

    functools.update_wrapper(call, coro_fn, assigned=("__module__",))  # inspect.signature: coro_fn's
    call.__name__ = call.__qualname__ = name
    call.__doc__ = doc
    return call


async def run_sync_async(
    db_path: str | Path,
    destinations: str | Iterable[str] | None = None,
    dry_run: bool | None = None,
    *,
    settings: SyncSettings | None = None,
    now: datetime | None = None,
    progress: SyncProgress | None = None,
    connection: warehouse.ConnectionSettings | None = None,
) -> list[RunSummary]:
    """Sync the marts in ``db_path`` to the destinations; see the module docstring."""
    settings = settings or SyncSettings.from_env()
    names = parse_destinations(destinations)
    if dry_run is False:
        missing = {n: settings.for_destination(n).missing_credentials() for n in names}
        missing = {n: m for n, m in missing.items() if m}
        if missing:
            detail = "; ".join(f"{n}: {', '.join(m)}" for n, m in missing.items())
            raise SyncConfigError(f"live run requested but credentials are missing ({detail})")
    moment = _naive_utc(now) if now is not None else ledger.utcnow()
    lock = _run_lock(db_path)
    await _acquire_run_lock(lock, db_path, connection.lock_timeout if connection else warehouse.lock_timeout())
    try:
        con = warehouse.connect(db_path, settings=connection)
        try:
            ledger.ensure_schema(con)
            # Safe only because no other sync of this file is running (see the module docstring).
            interrupted = ledger.close_interrupted_runs(con)
            if interrupted:
                log.warning("%d earlier sync run(s) had not finished; marked interrupted", interrupted)
            summaries = []
            for name in names:
                adapter = ADAPTERS[name](settings)
                summaries.append(await _run_destination(con, adapter, settings, dry_run is True, moment, progress))
            return summaries
        finally:
            con.close()
    finally:
        lock.release()


run_sync = _blocking(
    run_sync_async, "run_sync", "Sync the marts in ``db_path`` to the destinations; see the module docstring."
)


async def _run_destination(con: duckdb.DuckDBPyConnection, adapter: Adapter, settings: SyncSettings,
                           force_dry: bool, now: datetime, progress: SyncProgress | None = None) -> RunSummary:
    dry_reason = "dry run requested" if force_dry else adapter.dry_reason()
    dry = dry_reason is not None
    run_id, started = ledger.begin_run(con, adapter.name, dry, dry_reason)
    summary = RunSummary(run_id=run_id, destination=adapter.name, dry_run=dry, status="running",
                         started=started, dry_reason=dry_reason)
    transport = None if dry else adapter.make_transport()
    ctx = StreamContext(con=con, settings=settings, now=now, dry_run=dry, transport=transport)
    try:
        for stream in adapter.streams():
            ss = StreamSummary(stream=stream.name, dry_run=dry,
                               delivery="attributes" if isinstance(stream, AttributeStream)
                               else stream.delivery.value)
            reporter = _Reporter(progress, adapter.name, ss)
            try:
                if isinstance(stream, AttributeStream):
                    await _attribute_stream(ctx, run_id, adapter.name, stream, ss, reporter)
                else:
                    await _outbox_stream(ctx, run_id, adapter.name, stream, ss, reporter)
            finally:
                summary.absorb(ss)
                reporter.finished()
        summary.status = "completed"
        _fail_loudly(con, adapter, summary)
    except AbortDestination as exc:
        summary.status = "aborted"
        summary.error = str(exc)
        log.error("%s: stopped early: %s", adapter.name, exc)
    except duckdb.CatalogException as exc:
        summary.status = "aborted"
        summary.error = scrub(f"cannot read a mart: {exc}")
        log.error("%s: %s", adapter.name, summary.error)
    except BaseException as exc:
        summary.status = "error"
        summary.error = scrub(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        if transport is not None:
            summary.requests = transport.requests_sent
            summary.rate_limited = transport.rate_limited
            summary.api_usage = adapter.api_usage()
            await transport.aclose()
        summary.in_doubt = _count_in_doubt(con, adapter.name)
        summary.finished = ledger.utcnow()
        ledger.finish_run(con, summary)
        log.info("%s%s: %s planned=%d sent=%d unchanged=%d failed=%d invalid=%d in_doubt=%d waiting=%d"
                 " requests=%d", adapter.name, " (dry)" if dry else "", summary.status, summary.planned,
                 summary.sent, summary.unchanged, summary.failed, summary.invalid, summary.in_doubt,
                 summary.waiting, summary.requests)
    return summary


def _fail_loudly(con: duckdb.DuckDBPyConnection, adapter: Adapter, summary: RunSummary) -> None:
    """A run with messages that must arrive (CSM alerts) and were given up on is ``failed``, every run,
    until an operator settles them - so the Dagster asset and the CLI fail instead of a count nobody
    reads."""
    failures = [(stream.name, key, error) for stream in adapter.streams()
                if isinstance(stream, OutboxStream) and stream.must_arrive
                for key, error in ledger.unsettled_failures(con, adapter.name, stream.name)]
    if not failures:
        return
    keys = ", ".join(key for _, key, _ in failures[:5]) + (" ..." if len(failures) > 5 else "")
    summary.status = "failed"
    summary.error = scrub(
        f"{len(failures)} {failures[0][0]} message(s) that must arrive were given up on ({keys}; last error:"
        f" {failures[-1][2]}); fix the cause, then `onboarding sync resolve KEY --as retry` (send again)"
        " or `--as failed` (acknowledge)", limit=600)
    log.error("%s: %s", adapter.name, summary.error)


def _count_in_doubt(con: duckdb.DuckDBPyConnection, destination: str) -> int:
    row = con.execute("select count(*) from sync.outbox where destination = ? and status = 'in_doubt'",
                      [destination]).fetchone()
    return int(row[0]) if row else 0


def _read(con: duckdb.DuckDBPyConnection, query: str, key_column: str, params: dict[str, Any] | None = None,
          *, keep_one_by: str | None = None,
          ) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str | None, str]]]:
    """Rows of a stream's query, split into addressable rows and rows with null/duplicate keys.

    Rows sharing a key are all invalid (which one is meant?), unless ``keep_one_by`` names a column:
    then the row with its latest value (ties: the greatest row as canonical JSON) is kept and only the
    other copies are invalid - two mart rows with one ``alert_key`` must not silence the alert.
    """
    cursor = con.execute(
        f"select q.*, count(*) over (partition by q.{key_column}) as __sync_copies from ({query}) as q",
        params or {})
    names = [d[0] for d in cursor.description]
    rows: list[tuple[str, dict[str, Any]]] = []
    invalid: list[tuple[str | None, str]] = []
    duplicates: dict[str, list[dict[str, Any]]] = {}
    for values in cursor.fetchall():
        row = dict(zip(names, values, strict=True))
        copies = row.pop("__sync_copies")
        raw_key = row.get(key_column)
        if raw_key is None or not str(raw_key).strip():
            invalid.append((None, f"null or blank {key_column}"))
            continue
        key = str(raw_key)
        if copies > 1:
            if keep_one_by is not None:
                duplicates.setdefault(key, []).append(row)
                continue
            invalid.append((key, f"duplicate {key_column} ({copies} rows)"))
            continue
        rows.append((key, row))
    for key, copies_of_key in duplicates.items():
        copies_of_key.sort(key=lambda r: (r.get(keep_one_by) is not None, str(r.get(keep_one_by)),
                                          ledger.canonical_json(r)), reverse=True)
        rows.append((key, copies_of_key[0]))
        invalid.extend((key, f"duplicate {key_column} ({len(copies_of_key)} rows): one was delivered, this copy"
                        " skipped") for _ in copies_of_key[1:])
    return rows, invalid


def _scalar(con: duckdb.DuckDBPyConnection, query: str, params: dict[str, Any]) -> int:
    row = con.execute(query, params).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _delivery_cutoff(con: duckdb.DuckDBPyConnection, stream: OutboxStream, max_age_days: int | None,
                     ) -> datetime | None:
    """The earliest due time still worth sending: ``max_age_days`` before the end of the stream's latest
    decision day (its mart's ``max(as_of_date)``).

    Why relative to the data and not the clock: a backfill of 60 days computes every message of those
    60 days, and the first live sync after it must not send two months of welcome mails; a daily run's
    latest decision day is yesterday, so the window is the last few days either way, and a re-run of
    an old day gives the same answer as the day itself.
    """
    if max_age_days is None:
        return None
    end = _latest_decision_end(con, stream)
    return None if end is None else end - timedelta(days=max_age_days)


def _stream_cutoff(con: duckdb.DuckDBPyConnection, destination: str, stream: OutboxStream,
                   max_age_days: int | None) -> datetime | None:
    """The stream's delivery window: rows due before it are never queued (``None``: no window)."""
    cutoff = _delivery_cutoff(con, stream, max_age_days)
    seen = ledger.data_through(con, destination, stream.name) if stream.must_arrive else None
    if cutoff is not None and seen is not None:
        # Everything after what the last live run saw is news, however old: a sync outage of a week
        # must not age CSM alerts out. The window still trims a backfill before the first live run.
        cutoff = min(cutoff, seen)
    return cutoff


def expired_sql(con: duckdb.DuckDBPyConnection, settings: SyncSettings | None = None) -> str | None:
    """A query of the mart rows the sync leaves behind for age: due before their stream's delivery
    window (``SYNC_MESSAGE_MAX_AGE_DAYS``) and never queued. Columns: ``destination, stream,
    message_key, due_at, expired_before, max_age_days``; ``None`` when the window is switched off.

    Why here: the engine does not write one ledger row per expired key (a backfill's history is tens
    of thousands), so `onboarding explain` asks the same streams with the same window the next run
    would use, instead of calling such a message "not in the sync ledger yet" when it never goes out.
    Needs the ledger's tables (``sync.outbox``, ``sync.stream_marks``) and the marts.
    """
    settings = settings or SyncSettings.from_env()
    days = settings.message_max_age_days
    parts = []
    for name in DESTINATIONS:
        for stream in ADAPTERS[name](settings).streams():
            if not isinstance(stream, OutboxStream):
                continue
            cutoff = _stream_cutoff(con, name, stream, days)
            if cutoff is None:
                continue
            at = f"timestamp '{cutoff:%Y-%m-%d %H:%M:%S}'"
            key, due = f"s.{stream.key_column}", f"s.{stream.due_column}"
            parts.append(
                f"select '{name}' as destination, '{stream.name}' as stream, cast({key} as varchar) as message_key,"
                f" cast({due} as timestamp) as due_at, {at} as expired_before, {days} as max_age_days"
                f" from ({stream.query()}) as s where {due} < {at} and {key} not in"
                f" (select message_key from sync.outbox where destination = '{name}' and stream = '{stream.name}')")
    return "\nunion all\n".join(parts) or None


def _latest_decision_end(con: duckdb.DuckDBPyConnection, stream: OutboxStream) -> datetime | None:
    """The end (midnight after) of the stream's mart's latest decision day, ``None`` when empty."""
    row = con.execute(f"select max(as_of_date) from {stream.mart}").fetchone()
    if row is None or row[0] is None:
        return None
    latest = row[0]
    return datetime(latest.year, latest.month, latest.day) + timedelta(days=1)


def _convert(rows: Iterable[tuple[str, dict[str, Any]]], convert: Callable[[dict[str, Any]], T],
             invalid: list[tuple[str | None, str]]) -> Iterator[tuple[str, T]]:
    """``(key, convert(row))`` per row; a row the destination would reject (``InvalidRow``) goes to
    ``invalid`` with its reason instead, so both kinds of stream record rejects the same way."""
    for key, row in rows:
        try:
            converted = convert(row)
        except InvalidRow as exc:
            invalid.append((key, str(exc)))
            continue
        yield key, converted


def _record_invalid(ctx: StreamContext, run_id: str, destination: str, stream: str,
                    invalid: Sequence[tuple[str | None, str]], ss: StreamSummary, *, attribute: bool) -> None:
    ss.invalid = len(invalid)
    if not invalid:
        return
    ledger.add_row_results(ctx.con, [(run_id, destination, stream, key, "validate", "invalid", None, reason)
                                     for key, reason in invalid])
    if attribute:
        unique: dict[str, str] = {}
        for key, reason in invalid:
            if key is not None:
                unique.setdefault(key, reason)
        ledger.mark_attribute_status(ctx.con, destination, stream, list(unique.items()), "invalid")
    for key, reason in invalid[:LOGGED_FAILURES]:
        log.warning("%s/%s: invalid row %s: %s", destination, stream, key, reason)


async def _bounded(items: Sequence[T], work: Callable[[T], Awaitable[None]], concurrency: int,
                   stop: asyncio.Event) -> None:
    """Run ``work`` over ``items`` with at most ``concurrency`` in flight; stop taking new items on
    ``stop``. A TaskGroup cancels the siblings if a worker dies of an unexpected error."""
    iterator = iter(items)

    async def worker() -> None:
        for item in iterator:
            if stop.is_set():
                return
            await work(item)

    async with asyncio.TaskGroup() as group:
        for _ in range(max(1, min(concurrency, len(items)))):
            group.create_task(worker())


# ----------------------------------------------------------------------------- attribute streams

async def _attribute_stream(ctx: StreamContext, run_id: str, destination: str, stream: AttributeStream,
                            ss: StreamSummary, reporter: _Reporter) -> None:
    rows, invalid = _read(ctx.con, stream.query(), stream.key_column)
    state = ledger.load_attribute_state(ctx.con, destination, stream.name)
    changes: list[AttributeChange] = []
    back_in_line: list[tuple[str, str | None]] = []
    for key, values in _convert(rows, stream.map_values, invalid):
        digest = ledger.values_hash(values)
        prev = state.get(key)
        has_remote = bool(prev and prev.remote_id)
        if prev is not None and prev.sent_hash == digest and (has_remote or not stream.creates):
            ss.unchanged += 1
            if prev.status != "synced":
                back_in_line.append((key, None))
            continue
        ever_sent = prev is not None and prev.sent_values is not None
        operation = stream.plan_operation(has_remote, ever_sent)
        if operation == "create" or prev is None or prev.sent_values is None:
            changed = dict(values)
        else:
            sent = prev.sent_values
            changed = {k: v for k, v in values.items() if k not in sent or sent[k] != v} or dict(values)
        changes.append(AttributeChange(key, operation, values, changed, digest,
                                       prev.remote_id if prev else None, prev.attempts if prev else 0))
    _record_invalid(ctx, run_id, destination, stream.name, invalid, ss, attribute=True)
    ledger.mark_attribute_status(ctx.con, destination, stream.name, back_in_line, "synced")
    ss.planned = len(changes)
    reporter.planned(len(changes))
    ss.operations = dict(Counter(c.operation for c in changes))
    ss.samples = [PlanSample(stream=stream.name, key=c.key, operation=c.operation, detail=stream.describe(c))
                  for c in changes[:SAMPLES]]
    stream_dry = stream.dry_reason(ctx)
    if stream_dry is not None and not ctx.dry_run:
        ss.dry_run = True
        ss.note = f"planned only: {stream_dry}"
    if ctx.dry_run or stream_dry is not None:
        ledger.save_attribute_plan(ctx.con, run_id, destination, stream.name, changes)
        return
    if not changes:
        return
    transport = ctx.require_transport()
    try:
        await stream.prepare(ctx)
    except Throttled as exc:
        _note_throttled(ss, len(changes), str(exc))
        return
    buffer: list[tuple[AttributeChange, Outcome, str]] = []
    stop = asyncio.Event()
    abort: list[Outcome] = []
    logged = 0
    handled = 0

    # Acknowledgements are written by a worker thread on its own cursor, one batch at a time, so the
    # event loop keeps sending while DuckDB commits (DuckDB releases the GIL while it works).
    writer = ctx.con.cursor()
    pending_write: asyncio.Task[None] | None = None

    async def flush() -> None:
        nonlocal pending_write
        if pending_write is not None:
            await pending_write
            pending_write = None
        if buffer:
            batch = list(buffer)
            buffer.clear()
            pending_write = asyncio.create_task(asyncio.to_thread(
                ledger.save_attribute_results, writer, run_id, destination, stream.name, batch))

    def record(change: AttributeChange, outcome: Outcome) -> None:
        nonlocal logged, handled
        handled += 1
        reporter.handled()
        status = {OutcomeKind.SENT: "synced", OutcomeKind.FAILED: "failed"}.get(outcome.kind, "pending")
        if outcome.kind == OutcomeKind.SENT:
            ss.sent += 1
        else:
            ss.failed += 1
            if logged < LOGGED_FAILURES:
                logged += 1
                log.warning("%s/%s %s: %s (%s)", destination, stream.name, change.key, outcome.kind.value,
                            outcome.error)
        if outcome.kind == OutcomeKind.ABORT:
            abort.append(outcome)
            stop.set()
        buffer.append((change, outcome, status))

    async def work(batch: list[AttributeChange]) -> None:
        try:
            if stream.batch_size > 1:
                outcomes = await stream.send_batch(ctx, batch)
            else:
                outcomes = [await stream.send(ctx, batch[0])]
        except Throttled:
            stop.set()  # nothing was sent; the rows are still different and go out next run
            return
        except AbortDestination as exc:
            outcomes = [Outcome.abort(str(exc), exc.http_status)] * len(batch)
        except (RequestFailed, DeliveryUncertain) as exc:
            outcomes = [Outcome.retry(str(exc))] * len(batch)
        except Exception as exc:
            log.warning("%s/%s %s: unexpected %s", destination, stream.name, batch[0].key, type(exc).__name__)
            outcomes = [Outcome.retry(f"unexpected error: {type(exc).__name__}")] * len(batch)
        for change, outcome in zip(batch, outcomes, strict=True):
            record(change, outcome)
        if len(buffer) >= FLUSH_EVERY and (pending_write is None or pending_write.done()):
            await flush()

    # A batching stream (Mixpanel, Segment) groups changes into requests; every other sends one per change.
    batches = stream.batches(changes) if stream.batch_size > 1 else [[c] for c in changes]
    try:
        await _bounded(batches, work, transport.settings.concurrency, stop)
    finally:
        await flush()  # waits for the batch in flight, then writes the rest
        if pending_write is not None:
            await pending_write
        writer.close()
    if transport.throttled is not None:
        _note_throttled(ss, len(changes) - handled, transport.throttled)
    if abort:
        raise AbortDestination(abort[0].error or "destination rejected the request", abort[0].http_status)


# -------------------------------------------------------------------------------- outbox streams

def _outbox_status(kind: OutcomeKind, at_most_once: bool) -> str:
    if kind == OutcomeKind.SENT:
        return "sent"
    if kind == OutcomeKind.FAILED:
        return "failed"
    if kind == OutcomeKind.IN_DOUBT:
        return "in_doubt" if at_most_once else "pending"
    return "pending"  # RETRY, and ABORT (the request was refused, nothing happened)


async def _outbox_stream(ctx: StreamContext, run_id: str, destination: str, stream: OutboxStream,
                         ss: StreamSummary, reporter: _Reporter) -> None:
    con = ctx.con
    at_most_once = stream.delivery == Delivery.AT_MOST_ONCE
    recovered = ledger.recover_in_flight(con, destination, stream.name, at_most_once)
    if recovered:
        log.warning("%s/%s: %d message(s) were in flight when a run died -> %s", destination, stream.name,
                    recovered, "in_doubt" if at_most_once else "pending (resend)")
    query = stream.query()
    cutoff = _stream_cutoff(con, destination, stream, ctx.settings.message_max_age_days)
    if cutoff is not None:
        ss.expired_before = cutoff
        due = f"s.{stream.due_column}"
        # Only rows never queued: one sent (or queued) before it aged out was not dropped by age.
        ss.expired = _scalar(
            con, f"select count(*) from ({query}) as s where {due} < $cutoff and s.{stream.key_column} not in"
            " (select message_key from sync.outbox where destination = $destination and stream = $stream)",
            {"cutoff": cutoff, "destination": destination, "stream": stream.name})
        query = f"select s.* from ({query}) as s where {due} is null or {due} >= $cutoff"
        reason = (f"expired: due before {cutoff:%Y-%m-%d %H:%M}, older than {ctx.settings.message_max_age_days}"
                  " day(s), never sent")
        late = ledger.expire_pending(con, destination, stream.name, cutoff, reason)
        ss.withdrawn += len(late)
        if late:
            ledger.add_row_results(con, [(run_id, destination, stream.name, key, stream.operation, "withdrawn",
                                          None, reason) for key in late])
    rows, invalid = _read(con, query, stream.key_column, {"cutoff": cutoff} if cutoff is not None else None,
                          keep_one_by=stream.due_column if stream.must_arrive else None)
    messages = [dataclasses.replace(message, key=key, due_at=_naive_utc(message.due_at))
                for key, message in _convert(rows, stream.build, invalid)]
    _record_invalid(ctx, run_id, destination, stream.name, invalid, ss, attribute=False)
    statuses = ledger.enqueue(con, destination, stream.name, stream.delivery.value, messages)
    ss.unchanged = sum(1 for status in statuses.values() if status == "sent")
    if at_most_once:
        # A customer message the marts no longer ask for is not sent late.
        gone = ledger.withdraw_absent(con, destination, stream.name, {m.key for m in messages})
        ss.withdrawn += len(gone)
        if gone:
            ledger.add_row_results(con, [(run_id, destination, stream.name, key, stream.operation, "withdrawn",
                                          None, "no longer in the mart") for key in gone])

    stream_dry = stream.dry_reason(ctx)
    dry = ctx.dry_run or stream_dry is not None
    if stream.must_arrive and not dry:
        through = _latest_decision_end(con, stream)
        if through is not None:
            ledger.mark_data_through(con, destination, stream.name, through)
    if stream_dry is not None and not ctx.dry_run:
        ss.dry_run = True
        ss.note = f"planned only: {stream_dry}"
    stream.prepare(ctx)
    ready: list[OutboxEntry] = []
    waiting: list[tuple[OutboxEntry, str]] = []
    doomed: list[tuple[OutboxEntry, str]] = []
    for entry in ledger.load_pending(con, destination, stream.name):
        if entry.due_at is not None and entry.due_at > ctx.now:
            ss.waiting += 1  # not due yet: counted, not listed
            continue
        blocked = stream.blocked(ctx, entry)
        if blocked is None:
            ready.append(entry)
        elif blocked.fail and not dry:
            doomed.append((entry, blocked.reason))
        else:
            waiting.append((entry, blocked.reason))
    ss.waiting += len(waiting)
    if waiting:
        ledger.add_row_results(con, [(run_id, destination, stream.name, e.key, stream.operation, "waiting",
                                      None, reason) for e, reason in waiting])
    for entry, reason in doomed:
        ledger.record_delivery(con, run_id, entry, "failed", Outcome.failed(reason), stream.operation)
        ss.failed += 1
    ss.planned = len(ready)
    reporter.planned(len(ready))
    ss.operations = {stream.operation: len(ready)} if ready else {}
    ss.samples = [PlanSample(stream=stream.name, key=e.key, operation=stream.operation,
                             detail=scrub(stream.describe(e), limit=160)) for e in ready[:SAMPLES]]
    if dry or not ready:
        if dry and ready:
            ledger.add_row_results(con, [(run_id, destination, stream.name, e.key, stream.operation, "planned",
                                          None, None) for e in ready])
        ss.in_doubt = ledger.count_outbox(con, destination, stream.name, "in_doubt")
        return

    transport = ctx.require_transport()
    stop = asyncio.Event()
    abort: list[Outcome] = []
    logged = 0
    handled = 0

    async def work(entry: OutboxEntry) -> None:
        nonlocal logged, handled
        # Claimed and committed before the request leaves; a row another run claimed is not ours.
        if not ledger.claim(con, entry):
            handled += 1
            reporter.handled()
            log.warning("%s/%s %s: claimed by another run; skipped", destination, stream.name, entry.key)
            return
        entry.attempts += 1
        try:
            outcome = await stream.deliver(ctx, entry)
        except Throttled:
            ledger.release(con, entry)  # the request never left: pending again, for the next run
            stop.set()
            return
        except AbortDestination as exc:
            outcome = Outcome.abort(str(exc), exc.http_status)
        except DeliveryUncertain as exc:
            outcome = Outcome.in_doubt(str(exc))
        except RequestFailed as exc:
            outcome = Outcome.retry(str(exc))
        except InvalidRow as exc:  # found while rendering, before any request
            outcome = Outcome.failed(str(exc))
        except Exception as exc:
            log.warning("%s/%s %s: unexpected %s", destination, stream.name, entry.key, type(exc).__name__)
            error = f"unexpected error: {type(exc).__name__}"
            outcome = Outcome.in_doubt(error) if at_most_once else Outcome.retry(error)
        handled += 1
        reporter.handled()
        status = _outbox_status(outcome.kind, at_most_once)
        ledger.record_delivery(con, run_id, entry, status, outcome, stream.operation,
                               stream.booking_link(entry, outcome))
        if status == "sent":
            ss.sent += 1
        elif status != "in_doubt":
            ss.failed += 1
        if status != "sent" and logged < LOGGED_FAILURES:
            logged += 1
            log.warning("%s/%s %s: %s (%s)", destination, stream.name, entry.key, status, outcome.error)
        if outcome.kind == OutcomeKind.ABORT:
            abort.append(outcome)
            stop.set()

    concurrency = min(transport.settings.concurrency, stream.max_concurrency or transport.settings.concurrency)
    try:
        await _bounded(ready, work, concurrency, stop)
    finally:
        # Only a cancelled or crashed send can still be 'sending' here; treat it as a dead run would be.
        ledger.recover_in_flight(con, destination, stream.name, at_most_once)
        ss.in_doubt = ledger.count_outbox(con, destination, stream.name, "in_doubt")
    if transport.throttled is not None:
        _note_throttled(ss, len(ready) - handled, transport.throttled)
    if abort:
        raise AbortDestination(abort[0].error or "destination rejected the request", abort[0].http_status)


def _note_throttled(ss: StreamSummary, rows: int, reason: str) -> None:
    """Count and report the rows a throttled destination left pending (sent by the next run)."""
    ss.throttled += max(rows, 0)
    if rows > 0:
        ss.note = scrub(f"throttled: {rows} row(s) left pending for the next run - {reason}", limit=300)
        log.warning("%s: %s", ss.stream, ss.note)


def _naive_utc(value: datetime | date | None) -> datetime | None:
    """The warehouse convention is naive UTC; accept aware timestamps and plain dates too."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value

"""Asset checks that go red when an operator must look: bad input, stale exports, messages in doubt,
CSM alerts that never arrived, an LLM that mostly fell back.

Why these five: each is a way the daily run can succeed while the onboarding quietly goes wrong. A
load that quarantines a fifth of a day's lines still loads; a landing folder that stops receiving
files makes every run a no-op; an in-doubt customer message waits for a person; a CSM alert given up
on fails only the Slack step; an LLM outage turns every decision back into the rules.

One step per stage, not one per check: each step of the in-process run costs a round of events in the
instance (about as much as a small asset), so the fifteen checks run as three `multi_asset_check`s
(ingest, AI, sync), each reporting a result per asset. They run in the daily job after the assets
they check, and every hour in the check-only job `onboarding_checks` (its schedule is off by default,
like the daily one) - the freshness check exists for the hours in which no run happens at all. None
blocks the assets downstream (a red check is information, not a stop); thresholds come from
`AlertsResource` (dagster_project/resources_alerts.py). Each check reads the warehouse read-only
through `WarehouseResource` and says in its metadata what it counted and against which threshold.
"""


import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetSelection,
    DefaultScheduleStatus,
    ScheduleDefinition,
    define_asset_job,
    multi_asset_check,
)

from ..ingest.files import SOURCES, Landing, Location, iter_landing_files
from ..resources import WarehouseResource
from ..resources_alerts import AlertsResource
from .ingest import RAW_SOURCES
from .retries import CHECK_RETRY

QUARANTINE_SHARE = "quarantine_share"
LANDING_FRESH = "landing_fresh"
# Sources that write a file only when something happens (Typeform's webhook deliveries: a day without a
# response has no file) get this many hours of silence before the freshness check turns red, when that
# is more than the configured threshold: a quiet day is not a broken export, a quiet week likely is.
QUIET_SOURCE_HOURS = {"typeform": 7 * 24.0}
LLM_FALLBACK_SHARE = "llm_fallback_share"
NO_ROWS_IN_DOUBT = "no_rows_in_doubt"
CSM_ALERTS_DELIVERED = "csm_alerts_delivered"

INGEST_KEYS = {table: AssetKey(["raw", table]) for table in RAW_SOURCES}


@dataclass(frozen=True)
class AiTable:
    """Where an AI step says that a row fell back: the status column, its fallback value, the time a
    row was written (one value per run: every row of a run gets the run's timestamp)."""

    status: str
    fallback: str
    written_at: str


AI_TABLES = {
    "track_assignments": AiTable("status", "fallback", "assigned_at"),
    "playbooks": AiTable("status", "template", "generated_at"),
    "feedback_themes": AiTable("source", "keywords", "classified_at"),
}
# A row written with no LLM configured carries this reason: the rules, by design, not a fallback.
LLM_OFF = "llm_off"
# The destinations with at-most-once streams (Intercom messages, SendGrid emails, Slack invites): only
# they can hold rows in doubt. tests/test_checks.py checks this against the adapters.
IN_DOUBT_DESTINATIONS = ("intercom", "sendgrid", "slack")
IN_DOUBT_COMMAND = "onboarding sync in-doubt"
RESOLVE_COMMAND = "onboarding sync resolve KEY --as sent|failed|retry"


def _days_of_run(context: AssetCheckExecutionContext) -> list[date] | None:
    """The landing days of a partitioned run (one day or a backfill's range); None outside one."""
    if context.has_partition_key or context.has_partition_key_range:
        return [date.fromisoformat(key) for key in context.partition_keys]
    return None


def _relation_exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    row = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name]).fetchone()
    return bool(row and row[0])


def _percent(share: float) -> float:
    return round(share * 100, 2)


def _day_range(days: Sequence[date]) -> str:
    if not days:
        return "none"
    first, last = min(days), max(days)
    return first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}"


def _noted(key: AssetKey, check: str, note: str, metadata: dict[str, object]) -> AssetCheckResult:
    """A pass with nothing to measure yet, saying why (in the description the UI shows first)."""
    return AssetCheckResult(asset_key=key, check_name=check, passed=True, description=note,
                            metadata={**metadata, "note": note})


# ----------------------------------------------------------------------------------------- ingest

def quarantine_result(con: duckdb.DuckDBPyConnection | None, table: str, days: list[date] | None,
                      max_share: float) -> AssetCheckResult:
    """Red (WARN) when a source's landing day quarantined more than `max_share` of its lines.

    Counted from `raw.load_log` (lines and quarantined lines per source and day) for the run's days,
    or each source's latest loaded day outside a partitioned run. A day whose files were quarantined
    whole (`raw.quarantine` rows with no line number: an oversized or unreadable file) and that has
    no lines counts as 100%.
    """
    key = INGEST_KEYS[table]
    sources = list(RAW_SOURCES[table])
    base = {"threshold_percent": _percent(max_share), "sources": ", ".join(sources)}
    if con is None or not _relation_exists(con, "raw", "load_log"):
        return _noted(key, QUARANTINE_SHARE, "nothing loaded yet (no raw.load_log)", base)
    if days is None:
        picked = con.execute(
            "select source, max(_partition_day) from raw.load_log where list_contains(?, source) group by source",
            [sources]).fetchall()
        pairs = [(s, d) for s, d in picked if d is not None]
    else:
        pairs = [(s, d) for s in sources for d in days]
    if not pairs:
        return _noted(key, QUARANTINE_SHARE, "no loads recorded for these sources", base)
    checked = "select unnest(?::varchar[]) as source, unnest(?::date[]) as day"
    params = [[s for s, _ in pairs], [d for _, d in pairs]]
    rows = con.execute(
        f"""
        with d as ({checked}),
        whole_files as (
            select source, _partition_day as day, count(*) as files
            from raw.quarantine where _line is null and _partition_day is not null group by all
        )
        select d.source, d.day, coalesce(l.lines, 0), coalesce(l.quarantined, 0), coalesce(w.files, 0),
               l.source is not null
        from d
        left join raw.load_log l on l.source = d.source and l._partition_day = d.day
        left join whole_files w on w.source = d.source and w.day = d.day
        order by d.day, d.source
        """, params).fetchall()
    reasons = dict(con.execute(
        f"""
        with d as ({checked})
        select split_part(q.reason, ':', 1) as code, count(*) from raw.quarantine q
        join d on d.source = q.source and d.day = q._partition_day
        group by code order by count(*) desc, code
        """, params).fetchall())
    measured = []
    for source, day, lines, quarantined, whole_files, loaded in rows:
        if not loaded and not whole_files:
            continue  # that source delivered nothing that day
        share = quarantined / lines if lines else (1.0 if whole_files else 0.0)
        measured.append({"source": source, "day": day.isoformat(), "lines": int(lines),
                         "quarantined": int(quarantined), "whole_files_quarantined": int(whole_files),
                         "share_percent": _percent(share), "_share": share})
    over = [m for m in measured if m["_share"] > max_share]
    worst = max(measured, key=lambda m: m["_share"], default=None)
    for m in measured:
        del m["_share"]
    metadata: dict[str, object] = {
        **base,
        "days": _day_range([d for _, d in pairs]),
        "source_days_checked": len(measured),
        "lines": sum(m["lines"] for m in measured),
        "quarantined": sum(m["quarantined"] for m in measured),
        "whole_files_quarantined": sum(m["whole_files_quarantined"] for m in measured),
        "source_days_over_threshold": len(over),
        "reasons": reasons,
    }
    if worst is not None:
        metadata["worst"] = (f"{worst['source']} {worst['day']}: {worst['share_percent']}% "
                             f"({worst['quarantined']} of {worst['lines']} lines)")
    if over:
        metadata["over_threshold"] = over
    description = (
        f"{len(over)} source-day(s) quarantined more than {_percent(max_share)}% of their lines"
        " (raw.quarantine has each line and its reason)" if over
        else f"every source-day at or below {_percent(max_share)}% quarantined")
    return AssetCheckResult(asset_key=key, check_name=QUARANTINE_SHARE, passed=not over,
                            severity=AssetCheckSeverity.WARN, metadata=metadata, description=description)


@dataclass(frozen=True)
class SourceArrival:
    """A source's newest landing day and when it appeared (its earliest file's modification time)."""

    source: str
    newest_day: date
    arrived_at: float | None  # None: the listing gives no modification time


def landing_arrivals(landing: Location) -> dict[str, SourceArrival]:
    """Per source that has landing files: its newest day and when that day's first file arrived."""
    arrivals: dict[str, SourceArrival] = {}
    where = Landing.of(landing)  # one listing per source
    for source in SOURCES:
        files = list(iter_landing_files(where, source))
        if not files:
            continue
        newest = max(f.day for f in files)
        # When each file was last written, as the listing says (a local mtime, an object's LastModified).
        times = [f.modified for f in files if f.day == newest and f.modified is not None]
        arrivals[source] = SourceArrival(source, newest, min(times) if times else None)
    return arrivals


def freshness_result(table: str, arrivals: dict[str, SourceArrival], max_hours: float,
                     now: float | None = None) -> AssetCheckResult:
    """Red (ERROR) when a source of this table has had no new landing day for more than `max_hours`
    (a source in QUIET_SOURCE_HOURS: for more than the larger of the two).

    A new landing day is a day later than every day before it; it appeared when its first file did.
    Sources with no file at all are not in use (RudderStack beside Segment, say) and are named in the
    metadata; a landing with no file of any source is red: nothing can be fresh.
    """
    key = INGEST_KEYS[table]
    now = time.time() if now is None else now
    sources = RAW_SOURCES[table]
    used = [arrivals[s] for s in sources if s in arrivals]
    metadata: dict[str, object] = {"threshold_hours": max_hours}
    if not arrivals:
        return AssetCheckResult(
            asset_key=key, check_name=LANDING_FRESH, passed=False, severity=AssetCheckSeverity.ERROR,
            description="no landing files of any source: check ONBOARDING_LANDING and the exports",
            metadata=metadata)
    if not used:
        return _noted(key, LANDING_FRESH, f"no landing files for {', '.join(sources)} (not in use?)", metadata)
    stale = []
    for a in used:
        metadata[f"{a.source}_newest_day"] = a.newest_day.isoformat()
        if a.arrived_at is None:
            metadata[f"{a.source}_arrived"] = "unknown (the listing has no modification times)"
            continue
        age = round((now - a.arrived_at) / 3600, 1)
        metadata[f"{a.source}_arrived"] = datetime.fromtimestamp(a.arrived_at, UTC).isoformat(timespec="seconds")
        metadata[f"{a.source}_age_hours"] = age
        limit = max(max_hours, QUIET_SOURCE_HOURS.get(a.source, 0.0))
        if limit != max_hours:
            metadata[f"{a.source}_threshold_hours"] = limit  # writes only when answered
        if age > limit:
            stale.append(f"{a.source} (newest day {a.newest_day.isoformat()}, {age:g} h ago)")
    if unused := [s for s in sources if s not in arrivals]:
        metadata["sources_without_files"] = ", ".join(unused)
    description = (f"no new landing day within {max_hours:g} h: {'; '.join(stale)}" if stale
                   else f"a new landing day within {max_hours:g} h for {', '.join(a.source for a in used)}")
    return AssetCheckResult(asset_key=key, check_name=LANDING_FRESH, passed=not stale,
                            severity=AssetCheckSeverity.ERROR, metadata=metadata, description=description)


# --------------------------------------------------------------------------------------------- AI

def llm_fallback_result(con: duckdb.DuckDBPyConnection | None, step: str, max_share: float) -> AssetCheckResult:
    """Red (WARN) when more than `max_share` of the rows the step last wrote with an LLM fell back.

    The step's latest batch is the rows with its latest write time (a run stamps all its rows with one
    time). Rows written with no LLM configured (reason `llm_off`) are the rules by design: a batch of
    only those passes with a note.
    """
    key = AssetKey(["ai", step])
    spec = AI_TABLES[step]
    base = {"threshold_percent": _percent(max_share)}
    if con is None or not _relation_exists(con, "ai", step):
        return _noted(key, LLM_FALLBACK_SHARE, f"no ai.{step} table yet", base)
    rows = con.execute(
        f"""
        select {spec.written_at}, coalesce(reason, '') = '{LLM_OFF}', {spec.status} = '{spec.fallback}',
               coalesce(reason, ''), count(*)
        from ai.{step}
        where {spec.written_at} = (select max({spec.written_at}) from ai.{step})
        group by all
        """).fetchall()
    if not rows:
        return _noted(key, LLM_FALLBACK_SHARE, "no rows yet", base)
    written = rows[0][0]
    asked = sum(n for _, off, _, _, n in rows if not off)
    fallbacks = sum(n for _, off, fb, _, n in rows if fb and not off)
    reasons = {r: n for _, off, fb, r, n in sorted(rows, key=lambda x: -x[4]) if fb and not off}
    metadata: dict[str, object] = {**base, "batch_written_at": str(written), "rows_with_llm": asked,
                                   "fallbacks": fallbacks, "fallback_reasons": reasons,
                                   "rows_without_llm": sum(n for _, off, _, _, n in rows if off)}
    if not asked:
        return AssetCheckResult(
            asset_key=key, check_name=LLM_FALLBACK_SHARE, passed=True, metadata=metadata,
            description="no LLM configured for the latest batch: rule results by design")
    share = fallbacks / asked
    metadata["fallback_percent"] = _percent(share)
    passed = share <= max_share
    return AssetCheckResult(
        asset_key=key, check_name=LLM_FALLBACK_SHARE, passed=passed, severity=AssetCheckSeverity.WARN,
        metadata=metadata,
        description=f"{_percent(share)}% of the latest batch fell back to the rules"
        f" ({fallbacks} of {asked}; threshold {_percent(max_share)}%)")


# ------------------------------------------------------------------------------------------- sync

def in_doubt_result(con: duckdb.DuckDBPyConnection | None, destination: str) -> AssetCheckResult:
    """Red (ERROR) while the destination holds messages in doubt: sent or not, nobody knows, and only
    an operator can say (docs/sync.md)."""
    key = AssetKey(["sync", destination])
    if con is None or not _relation_exists(con, "sync", "outbox"):
        return _noted(key, NO_ROWS_IN_DOUBT, "no sync has run yet", {"in_doubt": 0})
    rows = con.execute(
        "select stream, count(*) from sync.outbox where destination = ? and status = 'in_doubt'"
        " group by stream order by stream", [destination]).fetchall()
    count = sum(n for _, n in rows)
    metadata = {"in_doubt": count, "by_stream": dict(rows), "command": IN_DOUBT_COMMAND}
    description = (f"{count} {destination} message(s) in doubt: list them with `{IN_DOUBT_COMMAND}`, settle "
                   f"each with `{RESOLVE_COMMAND}`" if count else "no message in doubt")
    return AssetCheckResult(asset_key=key, check_name=NO_ROWS_IN_DOUBT, passed=not count,
                            severity=AssetCheckSeverity.ERROR, metadata=metadata, description=description)


def csm_alerts_result(con: duckdb.DuckDBPyConnection | None) -> AssetCheckResult:
    """Red (ERROR) while CSM alerts are `failed` and no operator has settled them: a CSM never heard of
    a churn risk. An alert an operator acknowledged (`resolve KEY --as failed`) is counted, not red."""
    key = AssetKey(["sync", "slack"])
    if con is None or not _relation_exists(con, "sync", "outbox"):
        return _noted(key, CSM_ALERTS_DELIVERED, "no sync has run yet", {"failed": 0})
    failed, acknowledged = con.execute(
        "select count(*) filter (where resolved_by is null), count(*) filter (where resolved_by is not null)"
        " from sync.outbox where destination = 'slack' and stream = 'alerts' and status = 'failed'").fetchone()
    metadata = {"failed": int(failed), "failed_acknowledged": int(acknowledged), "command": RESOLVE_COMMAND}
    description = (f"{failed} CSM alert(s) failed and not settled (sync.outbox: destination slack, stream"
                   f" alerts, status failed, with last_error); after telling the CSM: `{RESOLVE_COMMAND}`"
                   if failed else "every CSM alert delivered or settled")
    return AssetCheckResult(asset_key=key, check_name=CSM_ALERTS_DELIVERED, passed=not failed,
                            severity=AssetCheckSeverity.ERROR, metadata=metadata, description=description)


# ----------------------------------------------------------------------------------- the checks

def _open(warehouse: WarehouseResource) -> duckdb.DuckDBPyConnection | None:
    """The warehouse, read-only; None before the first run created it."""
    if not warehouse.settings().db_path.exists():
        return None
    return warehouse.connect(read_only=True)


def _selected(context: AssetCheckExecutionContext, name: str, keys: Iterable[AssetKey]) -> list[AssetKey]:
    chosen = context.selected_asset_check_keys
    return [k for k in keys if AssetCheckKey(k, name) in chosen]


INGEST_SPECS = [
    *(AssetCheckSpec(QUARANTINE_SHARE, asset=key,
                     description="Share of the landing day's lines quarantined, per source and day of the run "
                     "(threshold ONBOARDING_ALERT_QUARANTINE_PERCENT, default 5%).")
      for key in INGEST_KEYS.values()),
    *(AssetCheckSpec(LANDING_FRESH, asset=key,
                     description="A new landing day arrived within ONBOARDING_ALERT_FRESHNESS_HOURS (default 36) "
                     "for each source of this table that has files.")
      for key in INGEST_KEYS.values()),
]


@multi_asset_check(specs=INGEST_SPECS, name="ingest_checks", can_subset=True, retry_policy=CHECK_RETRY,
                   description="Quarantine share and landing freshness of every raw table.")
def ingest_checks(context: AssetCheckExecutionContext, warehouse: WarehouseResource,
                  alerts: AlertsResource) -> Iterator[AssetCheckResult]:
    tables = {key: table for table, key in INGEST_KEYS.items()}
    quarantine = _selected(context, QUARANTINE_SHARE, tables)
    fresh = _selected(context, LANDING_FRESH, tables)
    if quarantine:
        days = _days_of_run(context)
        con = _open(warehouse)
        try:
            results = [quarantine_result(con, tables[k], days, alerts.quarantine_share()) for k in quarantine]
        finally:
            if con is not None:
                con.close()
        yield from results
    if fresh:
        arrivals = landing_arrivals(warehouse.landing_path)
        for k in fresh:
            yield freshness_result(tables[k], arrivals, alerts.freshness_limit_hours())


AI_SPECS = [AssetCheckSpec(LLM_FALLBACK_SHARE, asset=AssetKey(["ai", step]),
                           description="Share of the step's latest rows that fell back to the rules while an LLM "
                           "was configured (threshold ONBOARDING_ALERT_LLM_FALLBACK_PERCENT, default 20%).")
            for step in AI_TABLES]


@multi_asset_check(specs=AI_SPECS, name="ai_checks", can_subset=True, retry_policy=CHECK_RETRY,
                   description="LLM fallback share of each AI step.")
def ai_checks(context: AssetCheckExecutionContext, warehouse: WarehouseResource,
              alerts: AlertsResource) -> Iterator[AssetCheckResult]:
    keys = _selected(context, LLM_FALLBACK_SHARE, [AssetKey(["ai", s]) for s in AI_TABLES])
    con = _open(warehouse)
    try:
        results = [llm_fallback_result(con, k.path[-1], alerts.llm_fallback_share()) for k in keys]
    finally:
        if con is not None:
            con.close()
    yield from results


SYNC_SPECS = [
    *(AssetCheckSpec(NO_ROWS_IN_DOUBT, asset=AssetKey(["sync", d]),
                     description=f"No message in doubt (`{IN_DOUBT_COMMAND}` lists them).")
      for d in IN_DOUBT_DESTINATIONS),
    AssetCheckSpec(CSM_ALERTS_DELIVERED, asset=AssetKey(["sync", "slack"]),
                   description="No CSM alert failed without an operator settling it."),
]


@multi_asset_check(specs=SYNC_SPECS, name="sync_checks", can_subset=True, retry_policy=CHECK_RETRY,
                   description="Messages in doubt and failed CSM alerts in the sync ledger.")
def sync_checks(context: AssetCheckExecutionContext, warehouse: WarehouseResource) -> Iterator[AssetCheckResult]:
    chosen = context.selected_asset_check_keys
    con = _open(warehouse)
    try:
        results = [in_doubt_result(con, d) for d in IN_DOUBT_DESTINATIONS
                   if AssetCheckKey(AssetKey(["sync", d]), NO_ROWS_IN_DOUBT) in chosen]
        if AssetCheckKey(AssetKey(["sync", "slack"]), CSM_ALERTS_DELIVERED) in chosen:
            results.append(csm_alerts_result(con))
    finally:
        if con is not None:
            con.close()
    yield from results


asset_checks = [ingest_checks, ai_checks, sync_checks]

# The checks on their own, every hour: what the daily job cannot see when no run happens (no new files,
# the schedule off, runs failing before the sync). Off by default, like the daily schedule.
checks_job = define_asset_job(
    name="onboarding_checks",
    selection=AssetSelection.checks(*asset_checks),
    description="Evaluate the operators' asset checks (quarantine, freshness, LLM fallbacks, sync ledger) "
    "without materializing anything.",
)
checks_schedule = ScheduleDefinition(
    name="onboarding_checks_hourly", job=checks_job, cron_schedule="17 * * * *",
    default_status=DefaultScheduleStatus.STOPPED,
)

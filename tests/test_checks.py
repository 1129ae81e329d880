"""The operators' asset checks go red on a warehouse that breaks their rule and stay green on one that
does not; which steps Dagster may retry.

Each check runs for real: the check steps of dagster_project/assets/checks.py executed by Dagster in
process (`materialize` over stand-in assets with the real keys, no pipeline) against a small DuckDB file
and landing folder made by hand here, with the thresholds of an `AlertsResource`.
"""

from __future__ import annotations

import gzip
import os
import time
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    DagsterInstance,
    DailyPartitionsDefinition,
    asset,
    materialize,
)

from dagster_project.ai.tables import ensure_ai_tables
from dagster_project.assets.checks import (
    AI_TABLES,
    CSM_ALERTS_DELIVERED,
    IN_DOUBT_DESTINATIONS,
    LANDING_FRESH,
    LLM_FALLBACK_SHARE,
    NO_ROWS_IN_DOUBT,
    QUARANTINE_SHARE,
    ai_checks,
    freshness_result,
    ingest_checks,
    landing_arrivals,
    quarantine_result,
    sync_checks,
)
from dagster_project.assets.ingest import RAW_SOURCES
from dagster_project.ingest.schema import ensure_raw_schema
from dagster_project.resources import WarehouseResource
from dagster_project.resources_alerts import AlertsResource, build_alerts_resource
from sync import ledger
from sync.settings import DESTINATIONS

DAYS = DailyPartitionsDefinition(start_date="2026-01-01")
NOW = datetime(2026, 3, 10, 12, 0)


def _stub(key: AssetKey, partitioned: bool) -> AssetsDefinition:
    """An asset with a real key that does nothing: the checks read the hand-made warehouse."""

    @asset(key=key, partitions_def=DAYS if partitioned else None)
    def _noop() -> None:
        return None

    return _noop


INGEST_STUBS = [_stub(AssetKey(["raw", t]), True) for t in RAW_SOURCES]
AI_STUBS = [_stub(AssetKey(["ai", s]), False) for s in AI_TABLES]
SYNC_STUBS = [_stub(AssetKey(["sync", d]), False) for d in DESTINATIONS]


def evaluate(stubs, checks, db: Path, landing: Path, alerts: AlertsResource | None = None,
             **kwargs) -> dict[tuple[str, str], AssetCheckEvaluation]:
    """Run the checks in process: (asset, check) -> evaluation. A partitioned run (a partition key or a
    range) materializes one stand-in asset too, as the daily job runs the checks after the assets (a
    run of checks alone has no partitions); otherwise only the checks run, as in the hourly check job."""
    selection = AssetSelection.checks(checks)
    if "partition_key" in kwargs or "tags" in kwargs:
        selection = AssetSelection.assets(stubs[0]) | selection
    result = materialize(
        [*stubs, checks], selection=selection, instance=DagsterInstance.ephemeral(),
        resources={"warehouse": WarehouseResource(db_path=str(db), landing=str(landing)),
                   "alerts": alerts or AlertsResource()},
        **kwargs)
    assert result.success
    return {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}


def values(evaluation: AssetCheckEvaluation) -> dict:
    return {k: v.value for k, v in evaluation.metadata.items()}


# ------------------------------------------------------------------------------------- quarantine

def _raw_warehouse(path: Path, load_log: list[tuple], quarantine: list[tuple] = ()) -> Path:
    with duckdb.connect(str(path)) as con:
        ensure_raw_schema(con)
        for source, day, lines, quarantined in load_log:
            con.execute("insert into raw.load_log values (?, ?, 1, ?, ?, 0, ?, now()::timestamp)",
                        [source, day, lines, lines - quarantined, quarantined])
        for source, file, line, reason, day in quarantine:
            con.execute("insert into raw.quarantine values (?, ?, ?, 'x', ?, ?, now()::timestamp)",
                        [source, file, line, reason, day])
    return path


def test_quarantine_share_red_on_the_runs_days_above_the_threshold(tmp_path: Path) -> None:
    day2, day3 = date(2026, 1, 2), date(2026, 1, 3)
    db = _raw_warehouse(tmp_path / "w.duckdb", [
        ("segment", day2, 1000, 80),   # 8% > 5%
        ("rudderstack", day2, 500, 0),
        ("segment", day3, 1000, 20),   # 2%
        ("mixpanel", day2, 400, 4),    # 1%
        ("mixpanel", day3, 400, 4),
        ("nps", day3, 10, 0),
    ], [
        *[("segment", "segment/a.gz", i, "invalid_json: bad", day2) for i in range(60)],
        *[("segment", "segment/a.gz", 100 + i, "bad_timestamp: x", day2) for i in range(20)],
        ("signups", "signups/2026-01-02.jsonl.gz", None, "oversized_file: 2 GiB", day2),  # a whole file, no lines
    ])
    landing = tmp_path / "landing"

    only_day3 = evaluate(INGEST_STUBS, ingest_checks, db, landing, partition_key="2026-01-03")
    quarantine = {k[0]: e for k, e in only_day3.items() if k[1] == QUARANTINE_SHARE}
    assert set(quarantine) == {f"raw/{t}" for t in RAW_SOURCES}
    assert all(e.passed for e in quarantine.values()), {k: e.description for k, e in quarantine.items()}
    assert values(quarantine["raw/segment_events"])["worst"] == "segment 2026-01-03: 2.0% (20 of 1000 lines)"

    both = evaluate(INGEST_STUBS, ingest_checks, db, landing,
                    tags={"dagster/asset_partition_range_start": "2026-01-02",
                          "dagster/asset_partition_range_end": "2026-01-03"})
    segment = both[("raw/segment_events", QUARANTINE_SHARE)]
    assert not segment.passed and segment.severity == AssetCheckSeverity.WARN
    meta = values(segment)
    assert meta["days"] == "2026-01-02..2026-01-03" and meta["threshold_percent"] == 5.0
    assert meta["source_days_over_threshold"] == 1 and meta["quarantined"] == 100 and meta["lines"] == 2500
    assert meta["over_threshold"] == [{"source": "segment", "day": "2026-01-02", "lines": 1000, "quarantined": 80,
                                       "whole_files_quarantined": 0, "share_percent": 8.0}]
    assert meta["reasons"] == {"invalid_json": 60, "bad_timestamp": 20}
    signups = both[("raw/signups", QUARANTINE_SHARE)]
    assert not signups.passed and values(signups)["whole_files_quarantined"] == 1  # nothing loaded: 100%
    assert both[("raw/mixpanel_events", QUARANTINE_SHARE)].passed

    # The threshold is a setting: at 10% the same day is green (the function the check step calls).
    with duckdb.connect(str(db), read_only=True) as con:
        lenient = quarantine_result(con, "segment_events", [day2], AlertsResource(quarantine_max_percent="10").quarantine_share())
    assert lenient.passed and values(lenient)["threshold_percent"] == 10.0


# -------------------------------------------------------------------------------------- freshness

def _landing_file(landing: Path, relative: str, hours_ago: float) -> None:
    path = landing / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(b"{}\n"))
    stamp = time.time() - hours_ago * 3600
    os.utime(path, (stamp, stamp))


def test_landing_freshness_red_when_no_new_day_within_the_hours(tmp_path: Path) -> None:
    db = _raw_warehouse(tmp_path / "w.duckdb", [])
    landing = tmp_path / "landing"
    empty = evaluate(INGEST_STUBS, ingest_checks, db, landing)
    assert not any(e.passed for k, e in empty.items() if k[1] == LANDING_FRESH)  # no file of any source

    _landing_file(landing, "mixpanel/2026-03-09.jsonl.gz", hours_ago=2)
    _landing_file(landing, "mixpanel/2026-03-08.jsonl.gz", hours_ago=26)
    _landing_file(landing, "signups/2026-03-06.jsonl.gz", hours_ago=50)   # newest signup day: 50 h ago
    _landing_file(landing, "signups/2026-03-05.jsonl.gz", hours_ago=1)    # a re-delivered older day: not new
    _landing_file(landing, "nps/2026-03-09.jsonl.gz", hours_ago=40)
    found = evaluate(INGEST_STUBS, ingest_checks, db, landing)
    fresh = {k[0]: e for k, e in found.items() if k[1] == LANDING_FRESH}
    assert fresh["raw/mixpanel_events"].passed
    assert values(fresh["raw/mixpanel_events"])["mixpanel_newest_day"] == "2026-03-09"
    signups = fresh["raw/signups"]
    assert not signups.passed and signups.severity == AssetCheckSeverity.ERROR
    assert "signups (newest day 2026-03-06, 50 h ago)" in signups.description
    assert not fresh["raw/nps_responses"].passed  # 40 h > 36 h
    assert fresh["raw/segment_events"].passed  # no Segment or RudderStack files: not in use
    assert "not in use" in values(fresh["raw/segment_events"])["note"]

    # The hours are a setting: at 48 h the NPS export is fresh, the signups still not.
    arrivals = landing_arrivals(landing)
    hours = AlertsResource(freshness_hours="48").freshness_limit_hours()
    assert freshness_result("nps_responses", arrivals, hours).passed
    assert not freshness_result("signups", arrivals, hours).passed


def test_typeform_writes_only_when_answered_so_a_quiet_day_is_not_stale(tmp_path: Path) -> None:
    """Webhook deliveries land only on days with a response: red after a week of silence, not 36 h."""
    landing = tmp_path / "landing"
    _landing_file(landing, "typeform/2026-03-06.jsonl.gz", hours_ago=80)
    _landing_file(landing, "signups/2026-03-06.jsonl.gz", hours_ago=80)
    arrivals = landing_arrivals(landing)
    quiet = freshness_result("typeform_responses", arrivals, 36)
    assert quiet.passed and values(quiet)["typeform_threshold_hours"] == 168
    assert not freshness_result("signups", arrivals, 36).passed  # a daily export: 80 h is stale
    assert freshness_result("typeform_responses", arrivals, 100).passed
    _landing_file(landing, "typeform/2026-03-07.jsonl.gz", hours_ago=170)
    _landing_file(landing, "typeform/2026-03-08.jsonl.gz", hours_ago=169)
    silent = freshness_result("typeform_responses", landing_arrivals(landing), 36)
    assert not silent.passed and "typeform (newest day 2026-03-08, 169 h ago)" in silent.description
    # a threshold set above a week wins for the quiet source too
    assert freshness_result("typeform_responses", landing_arrivals(landing), 200).passed


# -------------------------------------------------------------------------------------------- AI

def _ai_rows(con: duckdb.DuckDBPyConnection, step: str, at: datetime, rows: list[tuple[str, str | None]]) -> None:
    """(status, reason) rows of one batch written at `at`."""
    for i, (status, reason) in enumerate(rows):
        key = f"{step}-{at:%d%H%M}-{i}"
        if step == "track_assignments":
            con.execute("insert into ai.track_assignments values (?, 'sig', 'm', 'v1', null, null, null, ?, ?, ?)",
                        [key, status, reason, at])
        elif step == "playbooks":
            con.execute("insert into ai.playbooks values (?, current_date, 's', '<p>', ?, ?, 'm', 'v1', '[]', ?)",
                        [key, status, reason, at])
        else:
            con.execute("insert into ai.feedback_themes values (?, 'u', 'day_7', 2, 't', 's', ?, ?, 'm', 'v1', null, ?)",
                        [key, status, reason, at])


def test_llm_fallback_share_red_only_for_batches_written_with_an_llm(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    earlier, latest = datetime(2026, 3, 9, 2), datetime(2026, 3, 10, 2)
    with duckdb.connect(str(db)) as con:
        ensure_ai_tables(con)
        # tracks: the latest batch half fallbacks (timeouts): red; the earlier one was clean
        _ai_rows(con, "track_assignments", earlier, [("llm", None)] * 10)
        _ai_rows(con, "track_assignments", latest, [("llm", None)] * 5 + [("fallback", "timeout")] * 4
                 + [("fallback", "invalid_track")])
        # playbooks: the latest batch written with no LLM: rules by design, not red
        _ai_rows(con, "playbooks", earlier, [("template", "http_500")] * 10)
        _ai_rows(con, "playbooks", latest, [("template", "llm_off")] * 7)
        # themes: an outage yesterday, 1 of 10 today: green
        _ai_rows(con, "feedback_themes", earlier, [("keywords", "circuit_open")] * 10)
        _ai_rows(con, "feedback_themes", latest, [("llm", None)] * 9 + [("keywords", "timeout")])
    found = evaluate(AI_STUBS, ai_checks, db, tmp_path)
    tracks = found[("ai/track_assignments", LLM_FALLBACK_SHARE)]
    assert not tracks.passed and tracks.severity == AssetCheckSeverity.WARN
    meta = values(tracks)
    assert meta["fallback_percent"] == 50.0 and meta["rows_with_llm"] == 10 and meta["threshold_percent"] == 20.0
    assert meta["fallback_reasons"] == {"timeout": 4, "invalid_track": 1}
    playbooks = found[("ai/playbooks", LLM_FALLBACK_SHARE)]
    assert playbooks.passed and "no LLM configured" in playbooks.description
    assert values(playbooks)["rows_without_llm"] == 7
    themes = found[("ai/feedback_themes", LLM_FALLBACK_SHARE)]
    assert themes.passed and values(themes)["fallback_percent"] == 10.0

    strict = evaluate(AI_STUBS, ai_checks, db, tmp_path, alerts=AlertsResource(llm_fallback_max_percent="5"))
    assert not strict[("ai/feedback_themes", LLM_FALLBACK_SHARE)].passed


# ------------------------------------------------------------------------------------------ sync

def _outbox(con: duckdb.DuckDBPyConnection, destination: str, stream: str, key: str, status: str) -> None:
    con.execute(
        "insert into sync.outbox (destination, stream, message_key, user_id, delivery, status, payload,"
        " payload_hash, created_at, updated_at) values (?, ?, ?, 'u1', 'at_most_once', ?, '{}', 'h', now(), now())",
        [destination, stream, key, status])


def test_sync_checks_red_on_messages_in_doubt_and_unsettled_failed_csm_alerts(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        ledger.ensure_schema(con)
        _outbox(con, "intercom", "messages", "m1", "in_doubt")
        _outbox(con, "intercom", "messages", "m2", "sent")
        _outbox(con, "slack", "invites", "i1", "sent")
        _outbox(con, "slack", "alerts", "a1", "failed")
        _outbox(con, "slack", "alerts", "a2", "sent")
    red = evaluate(SYNC_STUBS, sync_checks, db, tmp_path)
    intercom = red[("sync/intercom", NO_ROWS_IN_DOUBT)]
    assert not intercom.passed and intercom.severity == AssetCheckSeverity.ERROR
    assert values(intercom)["in_doubt"] == 1 and "onboarding sync in-doubt" in intercom.description
    assert red[("sync/slack", NO_ROWS_IN_DOUBT)].passed
    alerts = red[("sync/slack", CSM_ALERTS_DELIVERED)]
    assert not alerts.passed and values(alerts)["failed"] == 1

    # The operator settles both: the message arrived, the failed alert was seen (and the CSM told).
    with duckdb.connect(str(db)) as con:
        ledger.resolve(con, "m1", "sent")
        ledger.resolve(con, "a1", "failed")
    green = evaluate(SYNC_STUBS, sync_checks, db, tmp_path)
    assert all(e.passed for e in green.values()), {k: e.description for k, e in green.items()}
    assert values(green[("sync/slack", CSM_ALERTS_DELIVERED)])["failed_acknowledged"] == 1


def test_checks_pass_with_a_note_before_the_first_run(tmp_path: Path) -> None:
    """No warehouse file yet (a fresh install's hourly check): nothing is red but the landing."""
    missing = tmp_path / "none.duckdb"
    found = {**evaluate(AI_STUBS, ai_checks, missing, tmp_path), **evaluate(SYNC_STUBS, sync_checks, missing, tmp_path)}
    assert found and all(e.passed for e in found.values())
    assert not missing.exists()  # a check never creates the warehouse


def test_in_doubt_destinations_are_those_with_at_most_once_streams() -> None:
    from sync.adapters import ADAPTERS
    from sync.outcomes import Delivery
    from sync.settings import SyncSettings

    settings = SyncSettings.from_env({})
    at_most_once = {name for name, adapter in ADAPTERS.items()
                    if any(getattr(s, "delivery", None) == Delivery.AT_MOST_ONCE for s in adapter(settings).streams())}
    assert set(IN_DOUBT_DESTINATIONS) == at_most_once


def test_thresholds_come_from_the_environment_as_references(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONBOARDING_ALERT_QUARANTINE_PERCENT", "7.5")
    monkeypatch.setenv("ONBOARDING_ALERT_SLACK_CHANNEL", "#ops")
    monkeypatch.delenv("ONBOARDING_ALERT_FRESHNESS_HOURS", raising=False)
    resource = build_alerts_resource()
    config = resource.get_resource_definition().config_schema.default_value  # what the launchpad shows
    assert config["quarantine_max_percent"] == {"env": "ONBOARDING_ALERT_QUARANTINE_PERCENT"}
    assert config["slack_channel"] == {"env": "ONBOARDING_ALERT_SLACK_CHANNEL"}
    assert config.get("freshness_hours") is None  # unset: the default, or the variable as a run finds it
    resolved = resource.process_config_and_initialize()
    assert resolved.quarantine_share() == 0.075 and resolved.freshness_limit_hours() == 36
    assert resolved.channel() == "#ops"
    monkeypatch.setenv("ONBOARDING_ALERT_FRESHNESS_HOURS", "soon")
    with pytest.raises(ValueError, match="ONBOARDING_ALERT_FRESHNESS_HOURS must be a number above 0, got 'soon'"):
        resolved.freshness_limit_hours()
    with pytest.raises(ValueError, match="ONBOARDING_ALERT_QUARANTINE_PERCENT must be a number from 0 to 100"):
        AlertsResource(quarantine_max_percent="120").quarantine_share()


# --------------------------------------------------------------------------------------- retries

def test_retry_policies_only_where_a_second_attempt_cannot_resend_a_customer_message() -> None:
    """Which steps Dagster may retry (dagster_project/assets/retries.py, docs/deploy.md section 5): a
    change to this list is a decision, made here and in the docs."""
    from dagster_project.definitions import defs

    retried: dict[str, bool] = {}
    for node in defs.resolve_job_def("daily_onboarding").graph.node_defs:
        retried[node.name] = node.retry_policy is not None  # type: ignore[attr-defined]
    assert {name for name, has in retried.items() if has} == {
        *(f"raw__{t}" for t in RAW_SOURCES),         # a day is replaced in one transaction
        "dbt_foundation", "dbt_decisions",             # windows deleted and recomputed
        *(f"ai__{s}" for s in AI_TABLES),              # cached, accounted, written once per key
        "sync__calendly", "sync__appcues",             # at-least-once links, attribute diffs
        "ingest_checks", "ai_checks", "sync_checks",   # read only
    }
    # Customer messages and community invites: one attempt per run; the reporting rebuild is cheap to redo.
    assert {name for name, has in retried.items() if not has} == {"sync__intercom", "sync__slack",
                                                                   "marts__user_explain", "sync__sendgrid",
                                                                   # issue 18: no step retry decided yet
                                                                   "sync__salesforce", "sync__mixpanel",
                                                                   "sync__segment"}

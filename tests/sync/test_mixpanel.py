"""Mixpanel: profile $set batches (diffed) and the A/B outcomes imported once per user and experiment."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any

from sync.settings import SyncSettings
from tests.standins import StandinSet
from tests.standins.marts import traits
from tests.sync.conftest import Warehouse, settings_for, sync

FAST_MIXPANEL = {"SYNC_MIXPANEL_BACKOFF_BASE": "0.01", "SYNC_MIXPANEL_BACKOFF_MAX": "0.05",
                 "SYNC_MIXPANEL_MAX_ATTEMPTS": "4", "SYNC_MIXPANEL_TIMEOUT": "5"}


def outcome(i: int, experiment: str = "welcome_checklist", **overrides: Any) -> dict[str, Any]:
    user = f"auth0|user{i:05d}"
    row = {"event_key": hashlib.md5(f"{experiment}:{user}".encode()).hexdigest(), "user_id": user,
           "experiment_id": experiment, "variant": "control" if i % 2 else "checklist",
           "metric": "onboarding_completed", "is_converted": i % 3 == 0, "days_to_metric": 4.25 if i % 3 == 0 else None,
           "decided_at": datetime(2026, 10, 30, 12), "as_of_date": date(2026, 11, 1)}
    row.update(overrides)
    return row


def settings(standins: StandinSet, **overrides: str) -> SyncSettings:
    return settings_for(standins, **{**FAST_MIXPANEL, **overrides})


def test_profiles_get_the_traits_in_batches_then_only_changes(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("destination_traits", [traits(i) for i in range(2100)])
    mp, s = standins.mixpanel, settings(standins)

    first = sync(warehouse, s, "mixpanel")["mixpanel"]

    assert (first.sent, first.requests) == (2100, 2)  # at most 2,000 profiles per request
    assert mp.profiles["auth0|user00003"] == {
        "onboarding_track": "self_service", "onboarding_stage": "activation", "onboarding_score": 21,
        "churn_risk": 0.3, "churn_risk_band": "low", "onboarding_completed_on": None,
        "experiment_welcome_checklist": "control"}

    warehouse.execute("update marts.destination_traits set churn_risk = 0.95, churn_risk_band = 'high'"
                      " where user_id = 'auth0|user00003'")
    mp.reset_log()
    second = sync(warehouse, s, "mixpanel")["mixpanel"]

    assert (second.sent, second.unchanged, second.requests) == (1, 2099, 1)
    [request] = mp.requests("POST", "/engage")
    assert request.json == [{"$token": mp.token, "$distinct_id": "auth0|user00003",
                             "$set": {"churn_risk": 0.95, "churn_risk_band": "high"}}]
    assert mp.validation_errors == []


def test_decided_outcomes_are_imported_once_and_a_resend_is_deduplicated(
        warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("mixpanel_experiment_events", [outcome(i) for i in range(5)])
    mp = standins.mixpanel
    mp.inject("status_after", status=502, match="POST /import")  # imported, but the answer is lost

    first = sync(warehouse, settings(standins), "mixpanel")["mixpanel"]
    again = sync(warehouse, settings(standins), "mixpanel")["mixpanel"]

    assert (first.sent, again.sent, again.unchanged, again.requests) == (5, 0, 5, 0)
    assert len(mp.events) == 5 and mp.resent == 5  # the retry carried the same $insert_ids
    event = mp.events[outcome(0)["event_key"]]
    assert event["event"] == "Onboarding Experiment Outcome"
    assert event["properties"] == {
        "distinct_id": "auth0|user00000", "time": int(datetime(2026, 10, 30, 12, tzinfo=UTC).timestamp()),
        "$insert_id": outcome(0)["event_key"], "experiment_id": "welcome_checklist", "variant": "checklist",
        "metric": "onboarding_completed", "converted": True, "days_to_metric": 4.25}
    import_request = mp.requests("POST", "/import")[-1]
    assert import_request.query == {"strict": "1", "project_id": mp.project_id}
    assert mp.validation_errors == []


def test_a_strict_import_refusing_one_event_fails_it_and_keeps_the_rest(
        warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("mixpanel_experiment_events", [outcome(i) for i in range(3)])
    standins.mixpanel.refuse = {outcome(1)["event_key"]}

    result = sync(warehouse, settings(standins), "mixpanel")["mixpanel"]

    assert (result.sent, result.failed) == (2, 1)
    assert len(standins.mixpanel.events) == 2
    assert "refused by the stand-in" in warehouse.value(
        "select last_error from sync.attribute_state where key = ?", [outcome(1)["event_key"]])


def test_without_a_service_account_profiles_sync_and_events_stay_planned(
        warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("destination_traits", [traits(0)])
    warehouse.insert("mixpanel_experiment_events", [outcome(0)])

    result = sync(warehouse, settings(standins, MIXPANEL_SERVICE_ACCOUNT_SECRET=""), "mixpanel")["mixpanel"]

    events = next(st for st in result.streams if st.stream == "experiment_events")
    assert not result.dry_run and result.sent == 1 and events.dry_run and events.planned == 1
    assert "MIXPANEL_SERVICE_ACCOUNT_SECRET" in (events.note or "")
    assert standins.mixpanel.events == {} and standins.mixpanel.requests("POST", "/import") == []


def test_an_event_key_mixpanel_would_refuse_is_invalid(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("mixpanel_experiment_events", [outcome(0, event_key="not a valid insert id!")])

    result = sync(warehouse, settings(standins), "mixpanel")["mixpanel"]

    assert (result.invalid, result.sent) == (1, 0)

"""Salesforce: diffed upserts by external id, completion -> MQL once, OAuth token, the 24-hour API limit."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sync.settings import SyncSettings
from tests.standins import StandinSet
from tests.standins.marts import traits
from tests.sync.conftest import Warehouse, settings_for, sync

FAST_SALESFORCE = {"SYNC_SALESFORCE_BACKOFF_BASE": "0.01", "SYNC_SALESFORCE_BACKOFF_MAX": "0.05",
                   "SYNC_SALESFORCE_MAX_ATTEMPTS": "4", "SYNC_SALESFORCE_TIMEOUT": "5",
                   "SYNC_SALESFORCE_RATE_LIMIT": "1000", "SALESFORCE_API_RESERVE": "0"}
AE = "005000000000001AAA"


def mql(i: int, **overrides: Any) -> dict[str, Any]:
    row = {"mql_key": f"mql|auth0|user{i:05d}", "user_id": f"auth0|user{i:05d}", "completed_on": date(2026, 10, 31),
           "ae_id": "ae_maya", "ae_salesforce_user_id": AE, "due_at": datetime(2026, 10, 31), "as_of_date": date(2026, 11, 1)}
    row.update(overrides)
    return row


def settings(standins: StandinSet, **overrides: str) -> SyncSettings:
    return settings_for(standins, **{**FAST_SALESFORCE, **overrides})


def test_leads_are_upserted_then_only_changes_sent_and_completion_makes_an_mql_once(
        warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("destination_traits", [traits(i) for i in range(3)])
    warehouse.insert("salesforce_mql", [mql(1)])
    sf, s = standins.salesforce, settings(standins)

    first = sync(warehouse, s, "salesforce")["salesforce"]
    lead = sf.record("auth0|user00001")
    assert lead is not None and lead["LastName"] == "User 1" and lead["Company"] == "Company 1"
    assert (lead["Onboarding_Track__c"], lead["Onboarding_Score__c"], lead["Churn_Risk_Band__c"]) == \
        ("business_value", 7, "low")
    assert (lead["Status"], lead["OwnerId"]) == ("Marketing Qualified", AE)
    assert first.sent == 4 and first.api_usage == "api-usage=4/15000 in the last 24 hours"

    warehouse.execute("update marts.destination_traits set onboarding_score = 85,"
                      " onboarding_completed_on = date '2026-11-01' where user_id = 'auth0|user00002'")
    sf.reset_log()
    second = sync(warehouse, s, "salesforce")["salesforce"]

    assert (second.sent, second.unchanged) == (1, 3)  # one changed Lead; the MQL is not sent again
    [patch] = sf.requests("PATCH")
    assert patch.path.endswith("/sobjects/Lead/Onboarding_User_Id__c/auth0%7Cuser00002") or \
        patch.path.endswith("/sobjects/Lead/Onboarding_User_Id__c/auth0|user00002")
    assert patch.json == {"Onboarding_Score__c": 85, "Onboarding_Completed_Date__c": "2026-11-01"}
    assert sync(warehouse, s, "salesforce")["salesforce"].requests == 0
    assert sf.validation_errors == []
    assert sf.tokens_issued == 2  # one token per run that sends (none for the empty third), none stored


def test_the_mql_waits_for_its_lead(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("salesforce_mql", [mql(4)])
    s = settings(standins)

    waiting = sync(warehouse, s, "salesforce")["salesforce"]
    warehouse.insert("destination_traits", [traits(4)])
    done = sync(warehouse, s, "salesforce")["salesforce"]

    assert (waiting.waiting, waiting.sent, done.sent) == (1, 0, 2)
    assert standins.salesforce.record("auth0|user00004")["Status"] == "Marketing Qualified"  # type: ignore[index]


def test_the_sync_stops_short_of_the_daily_api_limit_and_leaves_rows_pending(
        warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("destination_traits", [traits(i) for i in range(10)])
    sf = standins.salesforce
    sf.used, sf.daily_limit = 14_000, 15_000
    s = settings(standins, SALESFORCE_API_RESERVE="997", SYNC_SALESFORCE_CONCURRENCY="1")

    first = sync(warehouse, s, "salesforce")["salesforce"]

    assert first.sent == 3 and first.throttled == 7 and first.status == "completed"
    assert first.api_usage == "api-usage=14003/15000 in the last 24 hours"
    assert "24-hour API allowance" in (first.streams[0].note or "")
    assert warehouse.value("select count(*) from sync.attribute_state where status = 'synced'") == 3

    sf.used = 0  # a new day
    second = sync(warehouse, s, "salesforce")["salesforce"]
    assert (second.sent, second.unchanged, second.throttled) == (7, 3, 0)


def test_request_limit_exceeded_stops_the_destination_for_the_run(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("destination_traits", [traits(i) for i in range(4)])
    standins.salesforce.used = standins.salesforce.daily_limit  # the org is already over its allowance

    result = sync(warehouse, settings(standins), "salesforce")["salesforce"]

    assert (result.sent, result.throttled, result.failed) == (0, 4, 0)
    assert "REQUEST_LIMIT_EXCEEDED" in (result.streams[0].note or "")


def test_an_expired_token_is_renewed_and_a_bad_client_stops_with_a_clear_reason(
        warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("destination_traits", [traits(i) for i in range(2)])
    sf = standins.salesforce

    # The org ends the session mid-run: the 401 is answered before anything is saved.
    sf.inject("status", status=401, match="PATCH",
              body=[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    renewed = sync(warehouse, settings(standins, SYNC_SALESFORCE_CONCURRENCY="1"), "salesforce")["salesforce"]
    assert renewed.sent == 2 and sf.tokens_issued == 2 and len(sf.records) == 2

    warehouse.execute("update marts.destination_traits set onboarding_score = 98")
    refused = sync(warehouse, settings(standins, SALESFORCE_CLIENT_SECRET="wrong-secret"), "salesforce")["salesforce"]
    assert refused.status == "aborted" and refused.sent == 0
    assert refused.error is not None and "OAuth token request was refused" in refused.error
    assert "wrong-secret" not in refused.error


def test_a_missing_custom_field_stops_the_destination(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("destination_traits", [traits(i) for i in range(3)])
    standins.salesforce.fields["Lead"].discard("Churn_Risk_Band__c")

    result = sync(warehouse, settings(standins, SYNC_SALESFORCE_CONCURRENCY="1"), "salesforce")["salesforce"]

    assert result.status == "aborted" and "INVALID_FIELD" in (result.error or "")
    assert result.sent == 0 and len(standins.salesforce.requests("PATCH")) == 1


def test_an_upsert_answered_500_after_salesforce_saved_it_is_simply_sent_again(
        warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("destination_traits", [traits(0)])
    standins.salesforce.inject("status_after", status=500, match="PATCH")

    result = sync(warehouse, settings(standins), "salesforce")["salesforce"]

    assert result.sent == 1 and len(standins.salesforce.requests("PATCH")) == 2
    assert len(standins.salesforce.records) == 1  # the upsert by external id did not duplicate the Lead


def test_contact_object_syncs_records_and_plans_the_mql_only(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("destination_traits", [traits(0)])
    warehouse.insert("salesforce_mql", [mql(0)])

    result = sync(warehouse, settings(standins, SALESFORCE_OBJECT="Contact"), "salesforce")["salesforce"]

    contact = standins.salesforce.record("auth0|user00000", "Contact")
    assert contact is not None and "Company" not in contact and "Status" not in contact
    mql_stream = next(st for st in result.streams if st.stream == "mql")
    assert mql_stream.dry_run and "Lead" in (mql_stream.note or "")

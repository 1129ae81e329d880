"""Attribute syncs (Intercom contacts, Appcues profiles): diffing, invalid rows, conflicts, retries."""

from __future__ import annotations

from datetime import datetime

from tests.standins import StandinSet
from tests.standins.marts import contact, profile
from tests.sync.conftest import Warehouse, settings_for, sync


def writes(standins: StandinSet, path: str = "/contacts") -> list:
    return [r for r in standins.intercom.requests(path=path) if r.method in ("POST", "PUT")]


def test_first_run_creates_contacts_with_typed_attributes(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("intercom_contacts", [contact(i) for i in range(5)])
    result = sync(warehouse, settings_for(standins), "intercom")["intercom"]

    assert (result.status, result.sent, result.failed, result.invalid) == ("completed", 5, 0, 0)
    assert standins.intercom.validation_errors == []
    created = standins.intercom.contact_by_external_id("auth0|user00003")
    assert created is not None
    assert created["email"] == "user00003@example.com"
    assert created["role"] == "user"
    assert created["custom_attributes"]["onboarding_score"] == 21
    assert created["custom_attributes"]["churn_risk"] == 0.3
    types = {name: a["data_type"] for name, a in standins.intercom.data_attributes.items()}
    assert types["onboarding_score"] == "integer"
    assert types["churn_risk"] == "float"
    assert types["onboarding_track"] == "string"
    stored = warehouse.value("select remote_id from sync.attribute_state where key = 'auth0|user00003'")
    assert stored == created["id"]


def test_signed_up_at_is_sent_as_unix_seconds_utc(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("intercom_contacts", [contact(1, signed_up_at=datetime(2026, 10, 1, 12, 0))])
    sync(warehouse, settings_for(standins), "intercom")
    created = standins.intercom.contact_by_external_id("auth0|user00001")
    assert created is not None and created["signed_up_at"] == 1790856000  # 2026-10-01T12:00:00Z


def test_unchanged_rerun_sends_nothing(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("intercom_contacts", [contact(i) for i in range(5)])
    settings = settings_for(standins)
    sync(warehouse, settings, "intercom")
    before = len(standins.intercom.received)

    again = sync(warehouse, settings, "intercom")["intercom"]

    assert (again.planned, again.sent, again.unchanged, again.requests) == (0, 0, 5, 0)
    assert len(standins.intercom.received) == before  # not even the data-attribute check


def test_changing_one_score_sends_exactly_one_minimal_update(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("intercom_contacts", [contact(i) for i in range(5)])
    settings = settings_for(standins)
    sync(warehouse, settings, "intercom")
    before = len(writes(standins))
    warehouse.execute("update marts.intercom_contacts set onboarding_score = 99, as_of_date = date '2026-11-02'"
                      " where user_id = 'auth0|user00002'")

    result = sync(warehouse, settings, "intercom")["intercom"]

    new_writes = writes(standins)[before:]
    assert (result.sent, result.unchanged) == (1, 4)
    assert len(new_writes) == 1
    assert new_writes[0].method == "PUT"
    assert new_writes[0].json == {"custom_attributes": {"onboarding_score": 99}}  # as_of_date is not synced
    assert standins.intercom.contact_by_external_id("auth0|user00002")["custom_attributes"]["onboarding_score"] == 99


def test_invalid_rows_are_reported_not_sent(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("intercom_contacts", [
        contact(1),
        contact(2, user_id=None),
        contact(3, user_id="dup"), contact(4, user_id="dup"),
        contact(5, email="not-an-email"),
        contact(6, churn_risk=float("nan")),
        contact(7, industry="x" * 300),
    ])
    result = sync(warehouse, settings_for(standins), "intercom")["intercom"]

    assert (result.sent, result.invalid) == (1, 6)
    assert len(standins.intercom.contacts) == 1
    reasons = dict(warehouse.rows(
        "select coalesce(key, '<null>'), error from sync.row_results where status = 'invalid'"))
    assert "null or blank user_id" in reasons["<null>"]
    assert "duplicate user_id" in reasons["dup"]
    assert "email" in reasons["auth0|user00005"]
    assert "finite" in reasons["auth0|user00006"]
    assert "255" in reasons["auth0|user00007"]
    assert warehouse.value("select status from sync.attribute_state where key = 'auth0|user00005'") == "invalid"


def test_existing_contact_409_is_adopted_not_duplicated(warehouse: Warehouse, standins: StandinSet) -> None:
    existing = standins.intercom.add_contact("auth0|user00001", "user00001@example.com")
    warehouse.insert("intercom_contacts", [contact(1)])

    result = sync(warehouse, settings_for(standins), "intercom")["intercom"]

    assert result.sent == 1
    assert len(standins.intercom.contacts) == 1
    assert standins.intercom.contacts[existing]["custom_attributes"]["onboarding_score"] == 7
    assert warehouse.value("select remote_id from sync.attribute_state") == existing
    assert warehouse.value("select operation from sync.row_results where status = 'sent'") == "update"


def test_409_without_id_and_not_yet_searchable_is_retried_later(warehouse: Warehouse, standins: StandinSet) -> None:
    standins.intercom.conflict_reveals_id = False
    standins.intercom.search_lag = 3600.0
    existing = standins.intercom.add_contact("auth0|user00001", "user00001@example.com", created_ago=0.0)
    warehouse.insert("intercom_contacts", [contact(1)])
    settings = settings_for(standins)

    first = sync(warehouse, settings, "intercom")["intercom"]
    assert (first.sent, first.failed) == (0, 1)
    assert warehouse.value("select status from sync.attribute_state") == "pending"

    standins.intercom.search_lag = 0.0  # the search index caught up
    second = sync(warehouse, settings, "intercom")["intercom"]
    assert second.sent == 1
    assert warehouse.value("select remote_id from sync.attribute_state") == existing
    assert len(standins.intercom.contacts) == 1


def test_409_for_someone_else_with_same_email_fails_with_reason(warehouse: Warehouse, standins: StandinSet) -> None:
    standins.intercom.add_contact("legacy-id", "user00001@example.com")
    warehouse.insert("intercom_contacts", [contact(1)])

    result = sync(warehouse, settings_for(standins), "intercom")["intercom"]

    assert (result.sent, result.failed) == (0, 1)
    error = warehouse.value("select error from sync.row_results where status = 'failed'")
    assert "different external_id" in error
    assert standins.intercom.contact_by_external_id("legacy-id")["custom_attributes"] == {}


def test_wrong_attribute_type_stops_the_destination(warehouse: Warehouse, standins: StandinSet) -> None:
    standins.intercom.add_data_attribute("onboarding_score", "string")
    warehouse.insert("intercom_contacts", [contact(1)])

    result = sync(warehouse, settings_for(standins), "intercom")["intercom"]

    assert result.status == "aborted"
    assert "onboarding_score has type string" in (result.error or "")
    assert standins.intercom.contacts == {}
    assert warehouse.value("select status from sync.runs where destination = 'intercom'") == "aborted"


def test_archived_attribute_is_unarchived(warehouse: Warehouse, standins: StandinSet) -> None:
    standins.intercom.add_data_attribute("next_action", "string", archived=True)
    warehouse.insert("intercom_contacts", [contact(1)])
    sync(warehouse, settings_for(standins), "intercom")
    assert standins.intercom.data_attributes["next_action"]["archived"] is False


def test_contact_deleted_remotely_is_recreated(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("intercom_contacts", [contact(1)])
    settings = settings_for(standins)
    sync(warehouse, settings, "intercom")
    standins.intercom.delete_contact(standins.intercom.by_external_id["auth0|user00001"])
    warehouse.execute("update marts.intercom_contacts set onboarding_stage = 'value'")

    result = sync(warehouse, settings, "intercom")["intercom"]

    assert result.sent == 1
    recreated = standins.intercom.contact_by_external_id("auth0|user00001")
    assert recreated is not None and recreated["custom_attributes"]["onboarding_stage"] == "value"
    assert warehouse.value("select remote_id from sync.attribute_state") == recreated["id"]


def test_failed_row_stays_pending_and_is_retried_next_run(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("intercom_contacts", [contact(i) for i in range(3)])
    standins.intercom.inject("status", times=1, status=422, match="POST /contacts",
                             body={"type": "error.list", "errors": [{"code": "parameter_invalid",
                                                                     "message": "Rejected for the test"}]})
    settings = settings_for(standins)

    first = sync(warehouse, settings, "intercom")["intercom"]
    assert (first.status, first.sent, first.failed) == ("completed", 2, 1)
    failed_key, error, http = warehouse.rows(
        "select key, error, http_status from sync.row_results where status = 'failed'")[0]
    assert http == 422 and "Rejected for the test" in error

    second = sync(warehouse, settings, "intercom")["intercom"]
    assert (second.sent, second.unchanged) == (1, 2)
    assert standins.intercom.contact_by_external_id(failed_key) is not None


def test_appcues_profiles_are_diffed(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("appcues_profiles", [profile(i) for i in range(4)])
    settings = settings_for(standins)
    first = sync(warehouse, settings, "appcues")["appcues"]
    assert first.sent == 4
    assert standins.appcues.profiles["auth0|user00001"] == {
        "onboarding_track": "business_value", "content_difficulty": "standard",
        "appcues_flow_id": "flow-business_value", "onboarding_stage": "activation", "onboarding_score": 7}

    assert sync(warehouse, settings, "appcues")["appcues"].requests == 0
    warehouse.execute("update marts.appcues_profiles set content_difficulty = 'advanced'"
                      " where user_id = 'auth0|user00003'")
    third = sync(warehouse, settings, "appcues")["appcues"]
    assert third.sent == 1
    assert standins.appcues.patches[-1] == {"user": "auth0|user00003",
                                            "attributes": {"content_difficulty": "advanced"}}
    assert standins.appcues.validation_errors == []

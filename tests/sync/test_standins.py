"""The stand-ins really validate: a request that breaks the vendor contract is rejected and recorded.

Without this, "no validation errors" in the other tests would prove nothing.
"""

from __future__ import annotations

import httpx
import pytest

from tests.standins import StandinSet

INTERCOM = {"Authorization": "Bearer standin-intercom-token", "Intercom-Version": "2.14"}


def test_intercom_accepts_a_valid_request(standins: StandinSet) -> None:
    response = httpx.post(f"{standins.intercom.base_url}/contacts", headers=INTERCOM,
                          json={"role": "user", "external_id": "u-1", "email": "a@b.co"})
    assert response.status_code == 200
    assert standins.intercom.validation_errors == []


@pytest.mark.parametrize(("headers", "body", "expected"), [
    ({"Authorization": "Bearer standin-intercom-token"}, {"external_id": "u"}, "Intercom-Version"),
    (INTERCOM, {"external_id": "u", "custom_attributes": "not-an-object"}, "custom_attributes"),
    (INTERCOM, {"external_id": "u", "signed_up_at": "yesterday"}, "signed_up_at"),
    ({"Intercom-Version": "2.14"}, {"external_id": "u"}, "Security"),
])
def test_intercom_rejects_contract_violations(standins: StandinSet, headers: dict, body: dict, expected: str) -> None:
    response = httpx.post(f"{standins.intercom.base_url}/contacts", headers=headers, json=body)
    assert response.status_code == 400
    assert expected in " ".join(standins.intercom.validation_errors)
    assert standins.intercom.contacts == {}


def test_intercom_message_contract(standins: StandinSet) -> None:
    url = f"{standins.intercom.base_url}/messages"
    admin_as_string = {"message_type": "in_app", "body": "hi", "from": {"type": "admin", "id": "991267459"},
                       "to": {"type": "user", "id": "x"}}
    email_without_subject = {"message_type": "email", "body": "hi", "from": {"type": "admin", "id": 991267459},
                             "to": {"type": "user", "id": "x"}}
    assert httpx.post(url, headers=INTERCOM, json=admin_as_string).status_code == 400
    assert httpx.post(url, headers=INTERCOM, json=email_without_subject).status_code == 400
    assert len(standins.intercom.validation_errors) == 2


def test_slack_rejects_unknown_arguments_and_bad_json(standins: StandinSet) -> None:
    url = f"{standins.slack.base_url}/chat.postMessage"
    auth = {"Authorization": "Bearer xoxb-standin-token"}
    assert httpx.post(url, headers=auth, data={"channel": "#csm-alerts", "text": "x", "colour": "red"}).json()[
        "error"] == "invalid_arguments"
    assert httpx.post(url, headers=auth, data={"channel": "#csm-alerts", "blocks": "[not json"}).json()[
        "error"] == "invalid_arguments"
    assert httpx.post(url, headers=auth, data={"text": "no channel"}).json()["error"] == "invalid_arguments"
    assert httpx.post(url, data={"channel": "#csm-alerts", "text": "x"}).json()["error"] == "invalid_arguments"
    errors = " ".join(standins.slack.validation_errors)
    assert "colour" in errors and "blocks is not valid JSON" in errors and "channel" in errors and "token" in errors
    assert standins.slack.posts == []


def test_slack_invite_takes_one_invitee(standins: StandinSet) -> None:
    response = httpx.post(f"{standins.slack.base_url}/conversations.inviteShared",
                          headers={"Authorization": "Bearer xoxb-standin-token"},
                          data={"channel": "C0COMMUNITY", "emails": "a@b.co,c@d.co"})
    assert response.json()["ok"] is False
    assert "exactly one invitee" in standins.slack.validation_errors[0]


def test_appcues_rejects_nested_values_and_missing_basic_auth(standins: StandinSet) -> None:
    url = f"{standins.appcues.base_url}/v2/accounts/12345/users/u1/profile"
    assert httpx.patch(url, json={"plan": {"nested": True}}, auth=("standin-appcues-key", "standin-appcues-secret")
                       ).status_code == 400
    assert httpx.patch(url, json={"plan": "pro"}).status_code == 400
    assert httpx.post(f"{standins.appcues.base_url}/v1/accounts/12345/users/u1/flow", json={"flow_id": "x"}
                      ).status_code == 400  # the origin's "push flow" endpoint does not exist
    assert len(standins.appcues.validation_errors) == 3


def test_calendly_only_accepts_single_use_links(standins: StandinSet) -> None:
    url = f"{standins.calendly.base_url}/scheduling_links"
    auth = {"Authorization": "Bearer standin-calendly-token"}
    owner = f"{standins.calendly.base_url}/event_types/ABC"
    assert httpx.post(url, headers=auth, json={"max_event_count": 2, "owner": owner, "owner_type": "EventType"}
                      ).status_code == 400
    ok = httpx.post(url, headers=auth, json={"max_event_count": 1, "owner": owner, "owner_type": "EventType"})
    assert ok.status_code == 201 and ok.json()["resource"]["booking_url"].startswith(standins.calendly.base_url)


def test_control_api_injects_faults_over_http(standins: StandinSet) -> None:
    base = standins.intercom.base_url
    httpx.post(f"{base}/__standin/faults", json={"kind": "status", "status": 503, "times": 1})
    assert httpx.get(f"{base}/data_attributes", headers=INTERCOM).status_code == 503
    assert httpx.get(f"{base}/data_attributes", headers=INTERCOM).status_code == 200
    stats = httpx.get(f"{base}/__standin/stats").json()
    assert stats["requests"] == 2 and stats["by_status"] == {"503": 1, "200": 1}

"""Mart tables of exactly the shape in docs/data-contracts.md section 5, with small demo data.

The decision models that produce the real marts are written elsewhere; tests, the benchmark and the
local demo build these stand-in tables in a scratch DuckDB file instead.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

MART_DDL = """
create schema if not exists marts;
create or replace table marts.intercom_contacts (
    user_id varchar, email varchar, name varchar, signed_up_at timestamp, onboarding_track varchar,
    onboarding_stage varchar, onboarding_score integer, next_action varchar, content_difficulty varchar,
    churn_risk double, company_size varchar, industry varchar, as_of_date date
);
create or replace table marts.appcues_profiles (
    user_id varchar, onboarding_track varchar, content_difficulty varchar, appcues_flow_id varchar,
    onboarding_stage varchar, onboarding_score integer, as_of_date date
);
create or replace table marts.triggered_messages (
    message_key varchar, user_id varchar, trigger varchar, channel varchar, subject varchar, body varchar,
    booking_link_key varchar, priority varchar, due_at timestamp, reason varchar, rule_version varchar,
    as_of_date date
);
create or replace table marts.csm_alerts (
    alert_key varchar, user_id varchar, as_of_date date, alert_type varchar, user_name varchar,
    company varchar, churn_risk double, days_since_last_login integer, unresolved_tickets integer,
    csm_name varchar, csm_slack_id varchar, text varchar, reason varchar
);
create or replace table marts.destination_traits (
    user_id varchar, email varchar, last_name varchar, company varchar, onboarding_track varchar,
    onboarding_stage varchar, onboarding_score integer, churn_risk double, churn_risk_band varchar,
    onboarding_completed_on date, experiment_variants varchar, as_of_date date
);
create or replace table marts.salesforce_mql (
    mql_key varchar, user_id varchar, completed_on date, ae_id varchar, ae_salesforce_user_id varchar,
    due_at timestamp, as_of_date date
);
create or replace table marts.mixpanel_experiment_events (
    event_key varchar, user_id varchar, experiment_id varchar, variant varchar, metric varchar,
    is_converted boolean, days_to_metric double, decided_at timestamp, as_of_date date
);
"""

COLUMNS: dict[str, tuple[str, ...]] = {
    "intercom_contacts": ("user_id", "email", "name", "signed_up_at", "onboarding_track", "onboarding_stage",
                          "onboarding_score", "next_action", "content_difficulty", "churn_risk",
                          "company_size", "industry", "as_of_date"),
    "appcues_profiles": ("user_id", "onboarding_track", "content_difficulty", "appcues_flow_id",
                         "onboarding_stage", "onboarding_score", "as_of_date"),
    "triggered_messages": ("message_key", "user_id", "trigger", "channel", "subject", "body",
                           "booking_link_key", "priority", "due_at", "reason", "rule_version", "as_of_date"),
    "csm_alerts": ("alert_key", "user_id", "as_of_date", "alert_type", "user_name", "company", "churn_risk",
                   "days_since_last_login", "unresolved_tickets", "csm_name", "csm_slack_id", "text", "reason"),
    "destination_traits": ("user_id", "email", "last_name", "company", "onboarding_track", "onboarding_stage",
                           "onboarding_score", "churn_risk", "churn_risk_band", "onboarding_completed_on",
                           "experiment_variants", "as_of_date"),
    "salesforce_mql": ("mql_key", "user_id", "completed_on", "ae_id", "ae_salesforce_user_id", "due_at", "as_of_date"),
    "mixpanel_experiment_events": ("event_key", "user_id", "experiment_id", "variant", "metric", "is_converted",
                                   "days_to_metric", "decided_at", "as_of_date"),
}

AS_OF = date(2026, 11, 1)
TRACKS = ("power_user", "business_value", "guided_handholding", "self_service", "enterprise_custom")


def create_marts(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(MART_DDL)


def insert(con: duckdb.DuckDBPyConnection, table: str, rows: Iterable[dict[str, Any]]) -> int:
    """Insert dicts (missing columns are null) into ``marts.<table>``; returns the row count."""
    columns = COLUMNS[table]
    values = [[row.get(c) for c in columns] for row in rows]
    for start in range(0, len(values), 500):
        chunk = values[start:start + 500]
        placeholders = ", ".join(["(" + ", ".join(["?"] * len(columns)) + ")"] * len(chunk))
        con.execute(f"insert into marts.{table} ({', '.join(columns)}) values {placeholders}",
                    [x for row in chunk for x in row])
    return len(values)


def contact(i: int, **overrides: Any) -> dict[str, Any]:
    row = {
        "user_id": f"auth0|user{i:05d}", "email": f"user{i:05d}@example.com", "name": f"User {i}",
        "signed_up_at": datetime(2026, 10, 1) + timedelta(minutes=i), "onboarding_track": TRACKS[i % 5],
        "onboarding_stage": "activation", "onboarding_score": (i * 7) % 100, "next_action": "invite_team_member",
        "content_difficulty": "standard", "churn_risk": round((i % 10) / 10, 2), "company_size": "11-50",
        "industry": "saas", "as_of_date": AS_OF,
    }
    row.update(overrides)
    return row


def profile(i: int, **overrides: Any) -> dict[str, Any]:
    row = {"user_id": f"auth0|user{i:05d}", "onboarding_track": TRACKS[i % 5], "content_difficulty": "standard",
           "appcues_flow_id": f"flow-{TRACKS[i % 5]}", "onboarding_stage": "activation",
           "onboarding_score": (i * 7) % 100, "as_of_date": AS_OF}
    row.update(overrides)
    return row


def message(key: str, user: int, channel: str = "intercom_in_app", **overrides: Any) -> dict[str, Any]:
    row = {"message_key": key, "user_id": f"auth0|user{user:05d}", "trigger": "welcome", "channel": channel,
           "subject": f"Subject {key}" if channel == "intercom_email" else None,
           "body": f"Hello from the onboarding engine [{key}]", "booking_link_key": None, "priority": "high",
           "due_at": datetime(2026, 11, 1, 9), "reason": "test", "rule_version": "v1", "as_of_date": AS_OF}
    row.update(overrides)
    return row


def alert(key: str, user: int, **overrides: Any) -> dict[str, Any]:
    row = {"alert_key": key, "user_id": f"auth0|user{user:05d}", "as_of_date": AS_OF, "alert_type": "churn_risk",
           "user_name": f"User {user}", "company": "Acme", "churn_risk": 0.75, "days_since_last_login": 4,
           "unresolved_tickets": 1, "csm_name": "Dana CSM", "csm_slack_id": "U0CSM0001",
           "text": f"High churn risk: User {user} (Acme) [{key}]", "reason": "no login for 4 days"}
    row.update(overrides)
    return row


def traits(i: int, **overrides: Any) -> dict[str, Any]:
    """A ``marts.destination_traits`` row (Salesforce, Mixpanel, Segment)."""
    risk = round((i % 10) / 10, 2)
    row = {"user_id": f"auth0|user{i:05d}", "email": f"user{i:05d}@example.com", "last_name": f"User {i}",
           "company": f"Company {i % 7}", "onboarding_track": TRACKS[i % 5], "onboarding_stage": "activation",
           "onboarding_score": (i * 7) % 100, "churn_risk": risk,
           "churn_risk_band": "high" if risk >= 0.7 else "medium" if risk >= 0.4 else "low",
           "onboarding_completed_on": date(2026, 10, 20) if (i * 7) % 100 >= 80 else None,
           "experiment_variants": f'{{"welcome_checklist": "{"control" if i % 2 else "checklist"}"}}',
           "as_of_date": AS_OF}
    row.update(overrides)
    return row


def demo(con: duckdb.DuckDBPyConnection, users: int = 20, seed: int = 7) -> dict[str, int]:
    """A small consistent data set touching every destination and channel."""
    rng = random.Random(seed)
    create_marts(con)
    counts = {"intercom_contacts": insert(con, "intercom_contacts", (contact(i) for i in range(users))),
              "appcues_profiles": insert(con, "appcues_profiles", (profile(i) for i in range(users)))}
    messages: list[dict[str, Any]] = []
    for i in range(users):
        messages.append(message(f"welcome-{i}", i))
        if i % 3 == 0:
            messages.append(message(f"day1-{i}", i, "intercom_email", trigger="day_1_email"))
        if i % 4 == 0:
            messages.append(message(f"link-{i}", i, "calendly", trigger="struggling", body="", subject=None))
            messages.append(message(f"coach-{i}", i, "intercom_in_app", trigger="coaching",
                                    body=f"Book a coaching slot: {{{{booking_link}}}} [coach-{i}]",
                                    booking_link_key=f"link-{i}"))
        if i % 5 == 0:
            messages.append(message(f"invite-{i}", i, "slack", trigger="community", body="", subject=None))
        if i % 6 == 0:
            messages.append(message(f"flow-{i}", i, "appcues", trigger="difficulty",
                                    body='{"content_difficulty": "advanced"}'))
    counts["triggered_messages"] = insert(con, "triggered_messages", messages)
    alerts = [alert(f"alert-{i}", i, churn_risk=round(0.7 + rng.random() * 0.3, 2))
              for i in range(users) if i % 4 == 1]
    counts["csm_alerts"] = insert(con, "csm_alerts", alerts)
    return counts


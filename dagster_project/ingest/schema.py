"""DDL of the `raw` schema (docs/data-contracts.md, section 3).

The loaders own these tables; dbt only reads them as sources. Creating them up front (empty) lets
`dbt build` and the unit tests run on a fresh warehouse before the first export has landed.
"""

from __future__ import annotations

import duckdb

LINEAGE = "_file varchar, _line bigint, _partition_day date, _loaded_at timestamp"

RAW_TABLES: dict[str, str] = {
    "segment_events": (
        "message_id varchar, type varchar, event varchar, name varchar, user_id varchar, "
        "anonymous_id varchar, event_ts timestamp, original_ts timestamp, sent_at timestamp, "
        "received_at timestamp, context json, properties json, traits json, source_system varchar"
    ),
    "mixpanel_events": (
        "event varchar, distinct_id varchar, insert_id varchar, time_ms bigint, event_ts timestamp, "
        "mp_processing_time_ms bigint, properties json"
    ),
    "signups": (
        "provider varchar, user_id varchar, email varchar, name varchar, created_at timestamp, "
        "metadata json, payload json"
    ),
    "support_tickets": (
        "ticket_id varchar, user_id varchar, status varchar, occurred_at timestamp, subject varchar, "
        "channel varchar"
    ),
    "nps_responses": (
        "response_id varchar, user_id varchar, survey varchar, score integer, comment varchar, "
        "submitted_at timestamp"
    ),
    "typeform_responses": (
        "event_id varchar, event_type varchar, form_id varchar, token varchar, submitted_at timestamp, "
        "landed_at timestamp, hidden json, answers json, definition json"
    ),
}

QUARANTINE = (
    "source varchar, _file varchar, _line bigint, raw_text varchar, reason varchar, "
    "_partition_day date, _loaded_at timestamp"
)
LOAD_LOG = (
    "source varchar, _partition_day date, files integer, lines bigint, loaded bigint, "
    "duplicates bigint, quarantined bigint, _loaded_at timestamp"
)


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw schema and its tables if they do not exist (idempotent)."""
    con.execute("create schema if not exists raw")
    for table, columns in RAW_TABLES.items():
        con.execute(f"create table if not exists raw.{table} ({columns}, {LINEAGE})")
    con.execute(f"create table if not exists raw.quarantine ({QUARANTINE})")
    con.execute(f"create table if not exists raw.load_log ({LOAD_LOG})")

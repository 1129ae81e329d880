"""The `ai` schema: DDL for every table the AI steps write, in one place.

The dbt decision models read these tables as the dbt source `ai`, so they must exist even when no LLM
is configured (created empty): `ensure_ai_tables` is idempotent and every AI step calls it first. The
column lists here are the contract documented in `dbt_project/models/ai/_ai__sources.yml` and
`docs/ai.md`; change all three together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa

AI_SCHEMA = "ai"

DDL: dict[str, str] = {
    # One row per logical LLM call (retries of the same call are one row, `attempts` counts them).
    "llm_calls": """
        create table if not exists ai.llm_calls (
            call_id varchar primary key,
            purpose varchar not null,
            model varchar not null,
            prompt_version varchar not null,
            signature varchar,
            prompt_tokens integer not null,
            completion_tokens integer not null,
            cost_usd double not null,
            latency_ms integer not null,
            attempts integer not null,
            status varchar not null,
            error varchar,
            note varchar,
            called_at timestamp not null
        )
    """,
    # Answers the model gave (HTTP 200 and parseable JSON), re-validated on every read.
    "llm_cache": """
        create table if not exists ai.llm_cache (
            model varchar not null,
            prompt_version varchar not null,
            signature varchar not null,
            purpose varchar not null,
            answer_json varchar not null,
            call_id varchar,
            created_at timestamp not null,
            primary key (model, prompt_version, signature)
        )
    """,
    "track_assignments": """
        create table if not exists ai.track_assignments (
            user_id varchar primary key,
            profile_signature varchar not null,
            model varchar not null,
            prompt_version varchar not null,
            llm_track varchar,
            confidence double,
            explanation varchar,
            status varchar not null,
            reason varchar,
            assigned_at timestamp not null
        )
    """,
    "playbooks": """
        create table if not exists ai.playbooks (
            user_id varchar primary key,
            as_of_date date not null,
            subject varchar not null,
            html varchar not null,
            status varchar not null,
            reason varchar,
            model varchar,
            prompt_version varchar not null,
            features varchar,
            generated_at timestamp not null
        )
    """,
    "feedback_themes": """
        create table if not exists ai.feedback_themes (
            response_id varchar primary key,
            user_id varchar,
            survey varchar,
            score integer,
            theme varchar not null,
            summary varchar not null,
            source varchar not null,
            reason varchar,
            model varchar,
            prompt_version varchar not null,
            submitted_at timestamp,
            classified_at timestamp not null
        )
    """,
}


def ensure_ai_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the `ai` schema and its tables when missing (never drops or alters existing ones)."""
    con.execute(f"create schema if not exists {AI_SCHEMA}")
    for ddl in DDL.values():
        con.execute(ddl)


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    """True when schema.table is a table or view (the AI steps tolerate a warehouse not yet built)."""
    row = con.execute(
        """
        select count(*) from information_schema.tables
        where table_schema = ? and table_name = ?
        """,
        [schema, table],
    ).fetchone()
    return bool(row and row[0])


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: Sequence[Sequence[Any]], suffix: str = "") -> None:
    """Insert tuples in the table's column order, set-based through Arrow.

    Why not ``executemany``: DuckDB runs it as one statement per row (5 s for 5,000 playbooks);
    one Arrow batch takes milliseconds. Columns are matched by position and cast by DuckDB;
    ``suffix`` is appended to the statement (``on conflict do nothing``).
    """
    if not rows:
        return
    names = [d[0] for d in con.execute(f"select * from {table} limit 0").description]
    batch = pa.table({f"c{i}": pa.array([row[i] for row in rows]) for i in range(len(names))})
    con.register("_ai_rows_in", batch)
    try:
        columns = ", ".join(names)
        con.execute(f"insert into {table} ({columns}) select * from _ai_rows_in {suffix}")
    finally:
        con.unregister("_ai_rows_in")

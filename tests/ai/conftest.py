"""Fixtures for the AI steps: a local OpenAI-compatible stand-in over real HTTP, and a small hand-made
warehouse with the documented shapes of `intermediate.int_users__profiles`, `intermediate.int_events__unified`
and `staging.stg_nps__responses` (docs/data-contracts.md, section 4).

The decisions the AI steps read come from the real dbt models, not from a Python copy: once per session
dbt builds the seeds, `int_onboarding__parameters`, `int_onboarding__rule_tracks` and the
`int_onboarding__tracks` view (with `stg_ai__track_assignments`) over the hand-made (empty) foundation
tables of a template file, which each test copies (without the `ai` schema, as before any AI step). No experiment enrols the fixture's users (the
experiment models were built over no profiles) unless a test writes an override row. After every
`add_profiles` the rule tracks are recomputed with the model's own compiled SQL, as the dbt staging step
would before the AI step runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from filelock import FileLock

from dagster_project.ai.client import LLMSettings
from dagster_project.ai.tables import ensure_ai_tables
from dagster_project.core.settings import DBT_PROJECT_DIR, dbt_executable
from dagster_project.resources import llm_settings
from tests.conftest import shared_folder
from tests.standins.llm import StandIn

FIRST = ("Henrietta", "Bartholomew", "Philippa", "Cornelius", "Ottoline", "Leopold", "Wilhelmina", "Ignatius",
         "Rosalind", "Thaddeus", "Georgiana", "Peregrine", "Millicent", "Octavian", "Seraphina", "Barnaby")  # fmt: skip
LAST = ("Vandersloot", "Quimby", "Fairweather", "Throckmorton", "Pennyworth", "Ashdown", "Blackwood",
        "Hargreaves", "Wetherby", "Oakenshield", "Marchbanks", "Featherstone")  # fmt: skip


def person(i: int) -> tuple[str, str, str]:
    """A distinctive (name, email, company) per index, so a leak is easy to spot in request bodies."""
    name = f"{FIRST[i % len(FIRST)]} {LAST[i % len(LAST)]}"
    email = f"{FIRST[i % len(FIRST)].lower()}.{LAST[i % len(LAST)].lower()}{i}@mail-{i}.example.org"
    return name, email, f"{LAST[i % len(LAST)]} Holdings"


def make_profile(i: int, **overrides: Any) -> dict[str, Any]:
    name, email, company = person(i)
    signed_up = datetime(2026, 3, 1, 9, 0) + timedelta(hours=i)
    row = {
        "user_id": f"auth0|u{i:04d}",
        "email": email,
        "name": name,
        "signup_source": "google",
        "company": company,
        "company_size": "11-50",
        "industry": "saas",
        "role": "Software Engineer",
        "plan": "free",
        "team_size": 2,
        "features_enabled": json.dumps(["dashboards"]),
        "signed_up_at": signed_up,
        "signup_date": signed_up.date(),
        "provider": "auth0",
    }
    row.update(overrides)
    if "signed_up_at" in overrides and "signup_date" not in overrides:
        row["signup_date"] = row["signed_up_at"].date()
    return row


PROFILE_COLUMNS = """
    user_id varchar, email varchar, name varchar, signup_source varchar, company varchar,
    company_size varchar, industry varchar, role varchar, plan varchar, team_size integer,
    features_enabled varchar, signed_up_at timestamp, signup_date date, provider varchar
"""
EVENT_COLUMNS = """
    event_id varchar, user_id varchar, anonymous_id varchar, event_name varchar, event_at timestamp,
    event_date date, page_path varchar, properties json, source varchar, loaded_day date
"""
NPS_COLUMNS = """
    response_id varchar, user_id varchar, survey varchar, score integer, comment varchar,
    submitted_at timestamp, nps_category varchar, loaded_day date
"""

TYPEFORM_COLUMNS = """
    response_token varchar, form_id varchar, event_id varchar, user_id varchar, answer_position bigint,
    question_ref varchar, question_type varchar, answer_type varchar, answer_text varchar,
    answer_choice varchar, submitted_at timestamp, loaded_day date
"""


RULE_TRACKS = "intermediate.int_onboarding__rule_tracks"
# The relations the session's dbt build creates over the template's hand-made foundation tables.
DBT_NODES = (
    "onboarding_role_groups", "onboarding_track_rules", "onboarding_track_content", "experiments",
    "experiment_variants", "int_experiments__assignments", "int_experiments__user_overrides",
    "int_onboarding__parameters", "int_onboarding__rule_tracks", "stg_ai__track_assignments",
    "onboarding_forms", "onboarding_stakeholder_role_tracks", "int_stakeholders__namings",  # a layer of tracks
    "int_onboarding__tracks",
)  # fmt: skip


def create_foundation(con: duckdb.DuckDBPyConnection) -> None:
    """The hand-made foundation tables (empty) and the `ai` tables dbt reads as a source."""
    con.execute("create schema intermediate; create schema staging")
    con.execute(f"create table intermediate.int_users__profiles ({PROFILE_COLUMNS})")
    con.execute(f"create table intermediate.int_events__unified ({EVENT_COLUMNS})")
    con.execute(f"create table staging.stg_nps__responses ({NPS_COLUMNS})")
    con.execute(f"create table staging.stg_typeform__responses ({TYPEFORM_COLUMNS})")
    ensure_ai_tables(con)


def run_dbt(db_path: Path, target: Path, *args: str) -> None:
    """dbt on `db_path`, with its own target and log folders (the project's target is left alone)."""
    command = [
        dbt_executable(), *args,
        "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target-path", str(target / "target"), "--log-path", str(target / "logs"),
    ]  # fmt: skip
    proc = subprocess.run(
        command, env={**os.environ, "ONBOARDING_DB": str(db_path)}, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


@dataclass(frozen=True)
class DbtTemplate:
    """A warehouse file with the dbt models the AI steps read, and the rule tracks' compiled SQL."""

    path: Path
    rule_tracks_sql: str


@pytest.fixture(scope="session")
def dbt_template(tmp_path_factory: pytest.TempPathFactory) -> DbtTemplate:
    """Built once per session, not once per xdist worker (a dbt start, 25-40 s on two cores): the first
    worker to take the lock builds it, the others reuse it. Tests only copy the file."""
    root = shared_folder(tmp_path_factory, "ai_dbt_template")
    # The file is named like each test's copy: DuckDB names the catalog after the file, dbt's SQL uses it.
    path = root / "warehouse.duckdb"
    with FileLock(root / "build.lock"):
        if not (root / "built").exists():
            path.unlink(missing_ok=True)  # a build another worker left half done
            with duckdb.connect(str(path)) as con:
                create_foundation(con)
            run_dbt(path, root, "build", "--select", *DBT_NODES, "--exclude-resource-type", "test", "unit_test")
            # As in a warehouse no AI step has run on yet: no `ai` schema (the views over it bind when it exists).
            with duckdb.connect(str(path)) as con:
                con.execute("drop schema ai cascade")
            (root / "built").touch()
    compiled = next((root / "target" / "compiled").rglob("int_onboarding__rule_tracks.sql")).read_text()
    return DbtTemplate(path=path, rule_tracks_sql=compiled)


class Warehouse:
    """A temporary DuckDB file with the foundation tables, filled by the test."""

    def __init__(self, path: Path, template: DbtTemplate) -> None:
        self.path = path
        self.template = template
        shutil.copyfile(template.path, path)
        self._events = 0

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.path))

    def add_profiles(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        with self.connect() as con:
            con.executemany(
                "insert into intermediate.int_users__profiles values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [tuple(r.values()) for r in rows],
            )
        self.refresh_rule_tracks()
        return rows

    def refresh_rule_tracks(self) -> None:
        """Recompute int_onboarding__rule_tracks (a table) from the profiles and overrides, with dbt's SQL."""
        with self.connect() as con:
            con.execute(f"create or replace table {RULE_TRACKS} as {self.template.rule_tracks_sql}")

    def add_events(self, user_id: str, event_name: str, at: datetime, n: int = 1, **properties: Any) -> None:
        rows = []
        for _ in range(n):
            self._events += 1
            rows.append(
                (
                    f"ev{self._events:06d}",
                    user_id,
                    None,
                    event_name,
                    at,
                    at.date(),
                    None,
                    json.dumps(properties),
                    "segment",
                    at.date(),
                )
            )
        with self.connect() as con:
            con.executemany(
                "insert into intermediate.int_events__unified values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )

    def set_latest_landed_day(self, day: date) -> None:
        """An unrelated event on `day`, so max(loaded_day) is that day."""
        self.add_events("auth0|clock", "user.logged_in", datetime.combine(day, datetime.min.time()))

    def add_nps(
        self, response_id: str, user_id: str, survey: str, score: int, comment: str, at: datetime
    ) -> None:
        category = "detractor" if score <= 6 else "passive" if score <= 8 else "promoter"
        with self.connect() as con:
            con.execute(
                "insert into staging.stg_nps__responses values (?, ?, ?, ?, ?, ?, ?, ?)",
                [response_id, user_id, survey, score, comment, at, category, at.date()],
            )

    def rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        with self.connect() as con:
            cursor = con.execute(sql, params or [])
            cols = [d[0] for d in cursor.description]
            return [dict(zip(cols, r, strict=True)) for r in cursor.fetchall()]

    def rows_tuples(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with self.connect() as con:
            return con.execute(sql, params or []).fetchall()

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        with self.connect() as con:
            row = con.execute(sql, params or []).fetchone()
        return row[0] if row else None


@pytest.fixture
def warehouse(tmp_path: Path, dbt_template: DbtTemplate) -> Warehouse:
    return Warehouse(tmp_path / "warehouse.duckdb", dbt_template)


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with StandIn() as server:
        yield server


@pytest.fixture
def llm_env(monkeypatch: pytest.MonkeyPatch, standin: StandIn) -> LLMSettings:
    """LLM on, pointed at the stand-in, with short timeouts and backoff so fault tests stay fast."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", standin.base_url)
    monkeypatch.setenv("ONBOARDING_LLM_MODEL", "gpt-4o-mini")
    monkeypatch.setenv("ONBOARDING_LLM_TIMEOUT", "0.5")
    monkeypatch.setenv("ONBOARDING_LLM_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("ONBOARDING_LLM_BACKOFF", "0.01")
    monkeypatch.delenv("ONBOARDING_LLM_MIN_CONFIDENCE", raising=False)
    monkeypatch.delenv("ONBOARDING_LLM_MAX_CALLS", raising=False)
    return llm_settings()


@pytest.fixture
def llm_off(monkeypatch: pytest.MonkeyPatch) -> LLMSettings:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return llm_settings()


def request_texts(server: StandIn) -> list[str]:
    """Every request body the stand-in received, as text (what left the warehouse)."""
    return [json.dumps(body, ensure_ascii=False) for body in server.requests]

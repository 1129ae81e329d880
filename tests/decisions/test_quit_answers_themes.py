"""The day-30 loop's Typeform answers reach the themes step (docs/rules.md rule 13): the free text of the
form seed onboarding_forms names `quit_survey` is classified as survey `quit_survey`, scrubbed like every
answer (the user's name and email never reach the stored summary), once per response token; answers to
other forms are not. A real DuckDB file with the staging relations' shape; the LLM is off (keywords)."""

from __future__ import annotations

from datetime import datetime

import duckdb
import pytest

from dagster_project.ai.themes import classify_feedback
from dagster_project.resources import llm_settings


@pytest.fixture
def con(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute("create schema staging; create schema seeds; create schema intermediate")
        con.execute(
            "create table staging.stg_nps__responses (response_id varchar, user_id varchar, survey varchar, "
            "score integer, comment varchar, submitted_at timestamp, nps_category varchar, loaded_day date)"
        )
        con.execute(
            "create table intermediate.int_users__profiles (user_id varchar, name varchar, email varchar, "
            "company varchar)"
        )
        con.execute(
            "insert into intermediate.int_users__profiles values ('u1', 'Kim Lee', 'kim@acme.io', 'Acme')"
        )
        con.execute("create table seeds.onboarding_forms (form_key varchar, form_id varchar)")
        con.execute(
            "insert into seeds.onboarding_forms values ('quit_survey', 'quit30'), ('stakeholder_map', 'stk')"
        )
        con.execute(
            "create table staging.stg_typeform__responses (response_token varchar, form_id varchar, "
            "user_id varchar, answer_position integer, question_type varchar, answer_text varchar, "
            "submitted_at timestamp)"
        )
        at = datetime(2026, 11, 20, 10)
        con.executemany(
            "insert into staging.stg_typeform__responses values (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    "t1",
                    "quit30",
                    "u1",
                    0,
                    "long_text",
                    "Kim Lee here: too expensive for us, kim@acme.io",
                    at,
                ),
                ("t2", "quit30", "u2", 0, "long_text", "   ", at),  # nothing to classify
                ("t3", "stk", "u1", 0, "long_text", "Ana, Data analyst", at),  # another form
            ],
        )
        yield con


def test_quit_survey_typeform_answers_are_classified_and_scrubbed(con, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    settings = llm_settings()
    assert not settings.enabled
    classify_feedback(con, settings=settings)
    rows = con.execute(
        "select response_id, user_id, survey, theme, summary from ai.feedback_themes"
    ).fetchall()
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [("t1", "u1", "quit_survey", "pricing")]
    assert "kim" not in rows[0][4].lower() and "acme.io" not in rows[0][4]
    classify_feedback(con, settings=settings)  # classified once
    assert con.execute("select count(*) from ai.feedback_themes").fetchone()[0] == 1


def test_every_table_the_themes_step_reads_is_built_before_it_in_the_same_run():
    """On a fresh warehouse's first run too: each relation the step's queries read is a dependency of the
    asset and built by the foundation dbt step (the one before the AI assets), so quit-survey answers
    are classified on the run that loads them, not from the next run on."""
    import re

    from dagster import AssetKey

    from dagster_project.ai.themes import QUIT_ANSWERS_QUERY, RESPONSES_QUERY
    from dagster_project.dbt_project import prepare_manifest

    prepare_manifest()  # no-op when current
    from dagster_project.assets.ai import ai_feedback_themes
    from dagster_project.assets.dbt import dbt_foundation

    read = set(re.findall(r"\b(?:from|join)\s+(\w+)\.(\w+)", RESPONSES_QUERY + QUIT_ANSWERS_QUERY))
    assert ("seeds", "onboarding_forms") in read and ("staging", "stg_typeform__responses") in read
    deps = set(ai_feedback_themes.asset_deps[ai_feedback_themes.key])
    for schema, table in sorted(read):
        key = AssetKey([schema, table])
        assert key in deps, key
        assert key in dbt_foundation.keys, f"{key} is built after the AI step"

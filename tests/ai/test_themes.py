"""Feedback themes: which answers are classified, privacy, LLM and keyword paths, the weekly mart's SQL."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from dagster_project.ai.client import LLMSettings
from dagster_project.ai.privacy import EMAIL
from dagster_project.ai.themes import THEME_IDS, classify_feedback, keyword_theme
from dagster_project.core.settings import DBT_PROJECT_DIR
from dagster_project.resources import llm_settings
from tests.standins.llm import Reply, StandIn

from .conftest import Warehouse, make_profile, request_texts


@pytest.mark.parametrize(
    ("comment", "theme"),
    [
        (
            "The setup steps were confusing, I didn't know what to do after importing data.",
            "onboarding_confusion",
        ),
        ("Too many options on the first screen, I got lost.", "onboarding_confusion"),
        ("No native HubSpot connector, which is a dealbreaker for us.", "missing_integration"),
        (
            "What nearly made me quit: no Salesforce integration, we still export by hand.",
            "missing_integration",
        ),
        ("Too expensive for a team of our size.", "pricing"),
        ("The price. We almost switched to a cheaper tool at renewal.", "pricing"),
        ("Queries on our larger tables are painfully slow.", "performance"),
        ("Dashboards take forever to load.", "performance"),
        ("The CSV import failed twice with no error message.", "bugs_reliability"),
        ("The import bug that lost half our rows nearly made us quit.", "bugs_reliability"),
        ("I wish there were more templates for reports.", "missing_feature"),
        ("Support took four days to answer my ticket.", "support_experience"),
        ("Nothing really, the first import was smooth.", "positive_other"),
        ("Honestly nothing, it clicked on day one.", "positive_other"),
        ("Love it.", "positive_other"),
    ],
)
def test_keyword_classifier(comment: str, theme: str) -> None:
    assert keyword_theme(comment) == theme


def build(warehouse: Warehouse) -> list[dict]:
    rows = warehouse.add_profiles([make_profile(i) for i in range(4)])
    at = datetime(2026, 3, 9, 12)
    u = [r["user_id"] for r in rows]
    warehouse.add_nps("r1", u[0], "day_7", 3, "Queries on our larger tables are painfully slow.", at)
    warehouse.add_nps(
        "r2", u[1], "day_7", 5, "Queries on our larger tables are painfully slow.", at
    )  # same text
    warehouse.add_nps(
        "r3", u[2], "day_30", 9,
        f"Almost quit when the import failed. Call me, {rows[2]['name']}: {rows[2]['email']} or +44 20 7946 0958. "
        f"{rows[2]['company']} needs this fixed.",
        at,
    )  # fmt: skip
    warehouse.add_nps(
        "r4", u[3], "day_7", 9, "Love how fast I got my first dashboard.", at
    )  # promoter day 7: no
    warehouse.add_nps(
        "r5", u[3], "day_7", 8, "Works, but the docs could be clearer.", at
    )  # passive day 7: no
    warehouse.add_nps("r6", u[0], "day_30", 2, "   ", at)  # no text: nothing to classify
    warehouse.add_nps(
        "r7",
        u[1],
        "day_30",
        7,
        "The price. We almost switched to a cheaper tool at renewal.",
        datetime(2026, 3, 17),
    )
    return rows


def run(warehouse: Warehouse):
    with warehouse.connect() as con:
        return classify_feedback(con, settings=llm_settings())


def themes(warehouse: Warehouse) -> dict[str, dict]:
    return {r["response_id"]: r for r in warehouse.rows("select * from ai.feedback_themes")}


def test_detractors_and_day_30_answers_are_classified_by_the_llm(
    warehouse: Warehouse, llm_env: LLMSettings, standin: StandIn
) -> None:
    build(warehouse)
    stats = run(warehouse)
    got = themes(warehouse)
    assert set(got) == {"r1", "r2", "r3", "r7"}
    assert len(standin.requests) == 3 == stats.calls.calls  # r1 and r2 share one scrubbed text
    assert {got[r]["source"] for r in ("r1", "r2")} == {"llm", "cache"}
    assert got["r1"]["theme"] == "performance" and got["r7"]["theme"] == "pricing"
    assert got["r3"]["theme"] == "bugs_reliability"
    for row in got.values():
        assert row["theme"] in THEME_IDS and row["summary"] and "\n" not in row["summary"]
    assert run(warehouse).calls.calls == 0  # nothing new


def test_comments_are_scrubbed_before_they_leave(
    warehouse: Warehouse, llm_env: LLMSettings, standin: StandIn
) -> None:
    rows = build(warehouse)
    run(warehouse)
    texts = request_texts(standin)
    for text in texts:
        assert not EMAIL.search(text)
        assert "7946" not in text
        for p in rows:
            for part in (p["name"], *p["name"].split(), p["company"], p["user_id"]):
                assert part.lower() not in text.lower()
    assert any("[name]" in t and "[email]" in t and "[phone]" in t and "[company]" in t for t in texts)
    summary = themes(warehouse)["r3"]["summary"]
    assert rows[2]["email"] not in summary and rows[2]["name"] not in summary


def test_failures_fall_back_to_keywords_and_llm_off_rows_are_reclassified_later(
    warehouse: Warehouse, llm_off: LLMSettings, standin: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(warehouse)
    run(warehouse)
    got = themes(warehouse)
    assert {(r["source"], r["reason"]) for r in got.values()} == {("keywords", "llm_off")}
    assert got["r1"]["theme"] == "performance" and standin.requests == []

    monkeypatch.setenv("OPENAI_BASE_URL", standin.base_url)
    monkeypatch.setenv("ONBOARDING_LLM_MAX_ATTEMPTS", "1")
    standin.add_rule("cheaper tool", Reply.json({"theme": "world_peace", "summary": "x"}))
    standin.add_rule("import failed", Reply.http(500))
    run(warehouse)
    got = themes(warehouse)
    assert got["r1"]["source"] == "llm" and got["r2"]["source"] == "cache"
    assert (got["r7"]["source"], got["r7"]["reason"], got["r7"]["theme"]) == (
        "keywords",
        "out_of_enum",
        "pricing",
    )
    assert (got["r3"]["source"], got["r3"]["reason"]) == ("keywords", "http_500")


def render_mart_sql() -> str:
    """The mart's SQL with its few dbt calls expanded as dbt-duckdb does (the dbt run is in the e2e suite)."""
    sql = (DBT_PROJECT_DIR / "models" / "ai" / "feedback_themes_weekly.sql").read_text()
    sql = re.sub(r"\{#.*?#\}", "", sql, flags=re.DOTALL)
    replacements = {
        r"\{\{ ref\('stg_ai__feedback_themes'\) \}\}": "ai.feedback_themes",
        r"\{\{ dbt\.date_trunc\('week', 'submitted_at'\) \}\}": "date_trunc('week', submitted_at)",
        r"\{\{ dbt\.listagg\('summary', \"' \| '\", '([^']*)'\) \}\}": r"string_agg(summary, ' | ' \1)",
        r"\{\{ var\('nps_detractor_max', 6\) \}\}": "6",
        r"\{\{ dbt\.type_float\(\) \}\}": "double",
        r"\{\{ dbt\.dateadd\('day', 3, 'counts\.week_start'\) \}\}": "counts.week_start + interval 3 day",
    }
    for pattern, replacement in replacements.items():
        sql, n = re.subn(pattern, replacement, sql)
        assert n, pattern
    assert "{{" not in sql, sql
    return sql


def test_weekly_mart_sql(warehouse: Warehouse, llm_off: LLMSettings) -> None:
    build(warehouse)
    run(warehouse)
    weeks = warehouse.rows(render_mart_sql() + " order by week_start, theme")
    assert [(str(w["week_start"]), w["theme"], w["responses"]) for w in weeks] == [
        ("2026-03-09", "bugs_reliability", 1),
        ("2026-03-09", "performance", 2),
        ("2026-03-16", "pricing", 1),
    ]
    first = {w["theme"]: w for w in weeks if str(w["week_start"]) == "2026-03-09"}
    assert first["performance"]["share_of_week"] == pytest.approx(2 / 3)
    assert first["performance"]["rank_in_week"] == 1 and first["performance"]["detractor_responses"] == 2
    assert first["bugs_reliability"]["day_30_responses"] == 1
    assert (first["performance"]["iso_year"], first["performance"]["iso_week"]) == (2026, 11)
    assert first["performance"]["example_summaries"].count(" | ") == 1


def test_mart_files_exist() -> None:
    yml = Path(DBT_PROJECT_DIR / "models" / "ai" / "feedback_themes_weekly.yml").read_text()
    for theme in THEME_IDS:
        assert theme in yml

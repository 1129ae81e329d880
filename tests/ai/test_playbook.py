"""Day-14 playbooks (seed 4.1): SQL facts and percentiles, template fallback, sanitised HTML, privacy."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest

from dagster_project.ai.client import LLMSettings
from dagster_project.ai.playbook import BOOKING_LINK, generate_playbooks
from dagster_project.ai.privacy import EMAIL
from dagster_project.ai.sanitize import sanitize_html
from dagster_project.core.parameters import ParametersNotBuiltError
from dagster_project.resources import llm_settings
from tests.standins.llm import Body, Reply, StandIn, data_block, schema_name

from .conftest import Warehouse, make_profile, request_texts, run_dbt

LATEST = date(2026, 3, 20)
QUERIES = [0, 2, 4, 6, 8, 10]  # saas users 0..5 in their first 14 days


def build(warehouse: Warehouse) -> list[dict]:
    rows = [make_profile(i, industry="saas", team_size=2) for i in range(6)]
    rows.append(make_profile(6, industry="fintech"))
    rows.append(make_profile(7, signed_up_at=datetime(2026, 3, 10, 8)))  # day 14 = 03-24: not yet
    warehouse.add_profiles(rows)
    for i, n in enumerate(QUERIES):
        if n:
            warehouse.add_events(
                rows[i]["user_id"], "user.ran_query", rows[i]["signed_up_at"] + timedelta(days=1), n=n
            )
    star = rows[4]["user_id"]
    day1 = rows[4]["signed_up_at"] + timedelta(days=1)
    warehouse.add_events(star, "user.imported_data", day1, records_imported=12000)
    warehouse.add_events(star, "user.created_integration", day1, integration_name="salesforce")
    warehouse.add_events(star, "user.used_feature", day1, n=3, feature="alerts")
    warehouse.add_events(star, "user.invited_teammate", day1, n=2, invitee_role="editor")
    # after the first 14 days: not part of the usage or the benchmark
    warehouse.add_events(star, "user.ran_query", rows[4]["signed_up_at"] + timedelta(days=15), n=50)
    warehouse.add_events(
        rows[6]["user_id"], "user.ran_query", rows[6]["signed_up_at"] + timedelta(days=2), n=3
    )
    warehouse.set_latest_landed_day(LATEST)
    return rows


def run(warehouse: Warehouse):
    with warehouse.connect() as con:
        return generate_playbooks(con, settings=llm_settings())


def playbooks(warehouse: Warehouse) -> dict[str, dict]:
    return {r["user_id"]: r for r in warehouse.rows("select * from ai.playbooks")}


def assert_safe_email(html: str) -> None:
    assert "<script" not in html.lower() and "<style" not in html.lower()
    assert not re.search(r"\son\w+\s*=", html, re.IGNORECASE), html
    assert "style=" not in html.lower() and "javascript:" not in html.lower()
    assert len(re.findall(r"<a\s", html)) == 1  # one call to action
    assert f'href="{BOOKING_LINK}"' in html


def test_percentile_is_computed_in_sql_and_given_to_the_model_as_numbers(
    warehouse: Warehouse, llm_env: LLMSettings, standin: StandIn
) -> None:
    rows = build(warehouse)
    stats = run(warehouse)
    got = playbooks(warehouse)
    assert set(got) == {r["user_id"] for r in rows[:7]}  # user 7 has not reached day 14
    assert stats.by_status == {"llm": 7} and len(standin.requests) == 7

    star_request = next(data_block(b) for b in standin.requests if data_block(b)["records_imported"] == 12000)
    assert star_request["benchmark"] == {
        "metric": "queries run in the first 14 days",
        "scope": "saas users",
        "user_value": 8,
        "percentile": 80,  # percent_rank: 4 of the 5 others ran fewer
        "peer_median": 5,
        "top_10_percent_threshold": 9,
        "peers": 6,
    }
    assert star_request["integrations_active"] == ["salesforce"]
    assert star_request["features_used"] == ["alerts"]
    assert star_request["teammates_invited"] == 2
    assert "alerts" not in [c["id"] for c in star_request["candidate_features"]]  # already tried
    assert star_request["top_actions"][0] == {"action": "ran_query", "count": 8}

    star = got[rows[4]["user_id"]]
    assert star["as_of_date"] == rows[4]["signup_date"] + timedelta(days=14)
    assert "80th percentile" in star["html"] and "the median is 5" in star["html"]
    assert "top 10% ran 9 or more" in star["html"]
    assert star["subject"].startswith(rows[4]["name"])
    assert_safe_email(star["html"])
    # too few fintech peers: benchmarked against everyone
    lone = next(data_block(b) for b in standin.requests if data_block(b)["industry"] == "fintech")
    assert lone["benchmark"]["scope"] == "users across all industries" and lone["benchmark"]["peers"] == 7

    # a re-run writes and calls nothing
    again = run(warehouse)
    assert again.written == 0 and len(standin.requests) == 7


def test_no_personal_data_in_playbook_requests(
    warehouse: Warehouse, llm_env: LLMSettings, standin: StandIn
) -> None:
    rows = build(warehouse)
    run(warehouse)
    for text in request_texts(standin):
        assert not EMAIL.search(text)
        for p in rows:
            for part in (p["name"], *p["name"].split(), p["company"], p["user_id"]):
                assert part.lower() not in text.lower()


def hostile(body: Body) -> Reply:
    ids = [c["id"] for c in data_block(body)["candidate_features"]][:3]
    return Reply.json(
        {
            "features": [
                {"feature": f, "why": '<script>alert("x")</script><b onclick="steal()">Try</b> it'}
                for f in ids
            ],
            "power_move": '<style>body{display:none}</style><a href="javascript:alert(1)">Click</a> your data',
            "benchmark_comment": '<img src=x onerror="alert(1)">You are doing fine.',
            "watch_outs": [
                '<iframe src="https://evil.example"></iframe>Costs',
                "<p style='color:red'>Access</p>",
            ],
        }
    )


def test_model_html_and_scripts_never_reach_the_email(
    warehouse: Warehouse, llm_env: LLMSettings, standin: StandIn
) -> None:
    build(warehouse)
    standin.add_rule(lambda b: schema_name(b) == "weeks_3_4_playbook", hostile)
    run(warehouse)
    for row in playbooks(warehouse).values():
        assert row["status"] == "llm"
        assert_safe_email(row["html"])
        assert "<iframe" not in row["html"] and "<img" not in row["html"]
        assert "your data" in row["html"]  # the text survives, the markup does not


def by_queries(n: int):
    return lambda b: schema_name(b) == "weeks_3_4_playbook" and data_block(b)["queries_in_first_14_days"] == n


def test_invalid_answers_fall_back_to_the_template_with_the_reason(
    warehouse: Warehouse, llm_env: LLMSettings, standin: StandIn
) -> None:
    rows = build(warehouse)

    def invented(body: Body) -> Reply:
        ids = [c["id"] for c in data_block(body)["candidate_features"]][:3]
        return Reply.json(
            {
                "features": [{"feature": f, "why": "Fits."} for f in ids],
                "power_move": "Do it.",
                "benchmark_comment": "Top performers run 37 queries in their first fortnight.",
                "watch_outs": ["One.", "Two."],
            }
        )

    standin.add_rule(by_queries(0), invented)
    standin.add_rule(
        by_queries(2),
        Reply.json(
            {
                "features": [{"feature": "teleportation", "why": "x"}] * 3,
                "power_move": "x",
                "benchmark_comment": "x",
                "watch_outs": ["a", "b"],
            }
        ),
    )
    standin.add_rule(by_queries(4), Reply.http(500))
    standin.add_rule(by_queries(6), Reply.invalid_json())
    run(warehouse)
    got = playbooks(warehouse)
    expected = {0: "invented_number", 1: "out_of_enum", 2: "http_500", 3: "invalid_json"}
    for i, reason in expected.items():
        row = got[rows[i]["user_id"]]
        assert (row["status"], row["reason"]) == ("template", reason)
        assert row["model"] is None and row["prompt_version"] == "playbook-template-v1"
        assert_safe_email(row["html"])
        assert "37" not in row["html"]
    assert got[rows[4]["user_id"]]["status"] == "llm"


def test_without_a_key_every_day_14_user_gets_the_template(
    warehouse: Warehouse, llm_off: LLMSettings, standin: StandIn
) -> None:
    rows = build(warehouse)
    stats = run(warehouse)
    assert standin.requests == [] and stats.calls.calls == 0
    got = playbooks(warehouse)
    assert len(got) == 7
    assert {(r["status"], r["reason"]) for r in got.values()} == {("template", "llm_off")}
    star = got[rows[4]["user_id"]]
    for heading in (
        "Three features to try next",
        "Your power move",
        "How you compare",
        "Two things to watch",
    ):
        assert heading in star["html"]
    assert "salesforce" in star["html"] and "80th percentile" in star["html"]
    assert_safe_email(star["html"])


@pytest.mark.parametrize(
    "dirty",
    [
        "<p onclick=\"x()\" onmouseover='y'>Hi<script>alert(1)</script></p>",
        '<style>p{color:red}</style><p style="color:red">Hi</p>',
        '<a href="javascript:alert(1)" onfocus="x">link</a><svg onload="x()"></svg>',
        "<scr<script>ipt>alert(1)</scr</script>ipt><p>Hi</p>",
        '<div><form action="https://x"><input value="x"></form><iframe src="https://x"></iframe></div>',
    ],
)
def test_sanitizer_strips_scripts_styles_and_event_handlers(dirty: str) -> None:
    clean = sanitize_html(dirty)
    lowered = clean.lower()
    assert "<script" not in lowered and "<style" not in lowered and "style=" not in lowered
    assert not re.search(r"\son\w+\s*=", lowered)
    assert "javascript:" not in lowered
    for tag in ("<svg", "<form", "<input", "<iframe"):
        assert tag not in lowered


def test_a_dbt_var_changes_who_gets_a_playbook_with_no_python_edit(
    warehouse: Warehouse, llm_off: LLMSettings, tmp_path
) -> None:
    """playbook_day comes from the warehouse (int_onboarding__parameters), as dbt was told it: a scratch
    build with `--vars` (the project's files untouched) moves the day from 14 to 10."""
    rows = build(warehouse)
    late = rows[7]  # signed up 03-10: day 14 is 03-24 (not landed yet), day 10 is 03-20 (landed)
    run_dbt(warehouse.path, tmp_path, "run", "--select", "int_onboarding__parameters",
            "--vars", '{"playbook_day": 10}')  # fmt: skip
    run(warehouse)
    got = playbooks(warehouse)
    assert late["user_id"] in got
    assert got[late["user_id"]]["as_of_date"] == date(2026, 3, 20)
    assert "first 10 days" in got[late["user_id"]]["html"]
    assert got[rows[0]["user_id"]]["as_of_date"] == rows[0]["signup_date"] + timedelta(days=10)


def test_without_the_parameters_model_the_step_says_what_to_build(
    warehouse: Warehouse, llm_off: LLMSettings
) -> None:
    build(warehouse)
    with warehouse.connect() as con:
        con.execute("drop table intermediate.int_onboarding__parameters")
    with pytest.raises(ParametersNotBuiltError, match="int_onboarding__parameters has not been built"):
        run(warehouse)

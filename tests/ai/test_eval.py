"""The evaluation report and the `onboarding ai` commands."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dagster_project.ai.cli import ai_app
from dagster_project.ai.client import LLMSettings
from dagster_project.ai.evaluate import evaluate
from dagster_project.ai.journey import assign_tracks, decided_tracks
from tests.standins.__main__ import main as standins_main
from tests.standins.llm import StandIn

from .conftest import Warehouse, make_profile

SHAPES = [
    {"role": "Software Engineer", "plan": "free"},  # rules power_user, stand-in agrees
    {"role": "Data Engineer", "plan": "trial"},  # rules self_service, stand-in says power_user
    {"role": "CEO", "plan": "pro"},  # business_value both
    {"role": "unknown", "plan": "free"},  # stand-in unsure: low_confidence fallback
    {"role": "VP Sales", "plan": "enterprise"},  # never sent
]


def test_report_agreement_cache_and_cost_per_thousand(
    warehouse: Warehouse, llm_env: LLMSettings, standin: StandIn
) -> None:
    warehouse.add_profiles([make_profile(i, **SHAPES[i % 5]) for i in range(20)])
    with warehouse.connect() as con:
        assign_tracks(con, settings=llm_env)
        report = evaluate(con)
    assert report["signups"] == 20
    tracks = report["tracks"]
    assert tracks["track_source"] == {"cache": 9, "fallback": 4, "llm": 3, "rules": 4}
    assert tracks["fallback_reasons"] == {"low_confidence": 4}
    assert tracks["llm_vs_rules_compared"] == 12
    assert tracks["llm_vs_rules_agreement"] == 0.6667  # 8 of 12: the trial engineers disagree
    assert tracks["top_disagreements"] == [
        {"rule_track": "self_service", "llm_track": "power_user", "users": 4}
    ]
    cost = report["cost"]
    assert cost["by_purpose"]["journey"]["calls"] == 4
    assert cost["journey_calls_per_1000_signups"] == 200.0
    assert cost["journey_cache_hit_rate"] == 0.75  # 16 users on the LLM path, 4 calls
    assert cost["tokens_per_1000_signups"] > 0


def test_eval_command_with_the_standin_on_a_copy(
    warehouse: Warehouse, llm_off: LLMSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    warehouse.add_profiles([make_profile(i, **SHAPES[i % 5]) for i in range(10)])
    assert standins_main(["ai-eval", "--db", str(warehouse.path)]) == 0  # python -m tests.standins ai-eval
    report = json.loads(capsys.readouterr().out)
    assert report["standin"]["http_requests"] == 4 and report["standin"]["rerun_calls"] == 0
    assert report["cost"]["journey_calls_per_1000_signups"] == 400.0
    # the real warehouse was not touched
    assert warehouse.scalar("select count(*) from information_schema.schemata where schema_name = 'ai'") == 0
    text = CliRunner().invoke(ai_app, ["eval", "--db", str(warehouse.path)])
    assert text.exit_code == 0 and "LLM vs rules agreement" in text.output


def test_rule_tracks_come_from_the_dbt_decision_table(warehouse: Warehouse) -> None:
    cases = [
        ({"plan": "enterprise", "role": "Engineer"}, "enterprise_custom"),
        ({"plan": "trial", "role": "Software Engineer"}, "self_service"),
        ({"plan": "pro", "role": "Software Engineer"}, "power_user"),
        ({"plan": "pro", "role": "VP Sales"}, "business_value"),
        ({"plan": "free", "role": "Marketing Coordinator"}, "guided_handholding"),
    ]
    warehouse.add_profiles([make_profile(i, **fields) for i, (fields, _) in enumerate(cases)])
    got = dict(warehouse.rows_tuples("select user_id, rule_track from intermediate.int_onboarding__rule_tracks"))
    assert got == {make_profile(i)["user_id"]: track for i, (_, track) in enumerate(cases)}
    with warehouse.connect() as con:
        assert evaluate(con)["rule_table"].startswith("intermediate.int_onboarding__rule_tracks")


def test_the_report_agrees_with_the_marts_for_experiment_users(
    warehouse: Warehouse, llm_env: LLMSettings, standin: StandIn
) -> None:
    """A treatment user's LLM answer is overridden by the experiment, in the marts and in the report."""
    users = [make_profile(i, role="Data Engineer", plan="trial") for i in range(4)]
    warehouse.add_profiles(users)
    treated = users[0]["user_id"]
    with warehouse.connect() as con:
        con.execute(
            "insert into intermediate.int_experiments__user_overrides (user_id, track_override, track_override_reason)"
            " values (?, 'guided_handholding', 'experiment trial_guided_track, variant guided')",
            [treated],
        )
    warehouse.refresh_rule_tracks()
    with warehouse.connect() as con:
        assign_tracks(con, settings=llm_env)
        report = evaluate(con)
        decided = decided_tracks(con)
    llm_track = warehouse.scalar("select llm_track from ai.track_assignments where user_id = ?", [treated])
    assert (llm_track, decided[treated].track) == ("power_user", "guided_handholding")
    assert report["tracks"]["track_source"] == {"cache": 3, "experiment": 1}
    # the treatment user's LLM answer (power_user) is not compared: the marts do not use it
    assert report["tracks"]["llm_vs_rules_compared"] == 3
    assert report["tracks"]["top_disagreements"] == [
        {"rule_track": "self_service", "llm_track": "power_user", "users": 3}
    ]

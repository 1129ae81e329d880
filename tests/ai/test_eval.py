"""The evaluation report and the `onboarding ai` commands."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from dagster_project.ai.cli import ai_app
from dagster_project.ai.client import LLMSettings
from dagster_project.ai.evaluate import evaluate
from dagster_project.ai.journey import assign_tracks
from dagster_project.ai.rules_reference import BUILTIN, load_rule_table, rule_track
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


def test_rule_reference_reads_the_dbt_decision_table() -> None:
    table = load_rule_table()
    assert table.origin.startswith("dbt seeds") or table is BUILTIN
    assert rule_track({"plan": "enterprise", "role": "Engineer"})[0] == "enterprise_custom"
    assert rule_track({"plan": "trial", "role": "Software Engineer"})[0] == "self_service"
    assert rule_track({"plan": "pro", "role": "Software Engineer"})[0] == "power_user"
    assert rule_track({"plan": "pro", "role": "VP Sales"})[0] == "business_value"
    assert rule_track({"plan": "free", "role": "Marketing Coordinator"})[0] == "guided_handholding"
    assert rule_track({"plan": "pro", "role": "Marketing Coordinator"}, BUILTIN)[0] == "self_service"

"""The whole job with the LLM on (OPENAI_BASE_URL at the stand-in): LLM tracks reach the decision marts
with their sources, the LLM playbook reaches marts.triggered_messages, costs are recorded, and a re-run
costs nothing."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import pytest

from tests.conftest import pointed_at
from tests.standins.llm import StandIn

pytestmark = pytest.mark.slow

END = date(2026, 10, 20)
DAYS = 16
TRACKS = {"power_user", "business_value", "guided_handholding", "self_service", "enterprise_custom"}


def test_llm_tracks_and_playbooks_flow_into_the_marts(tmp_path, llm_env, standin: StandIn) -> None:
    from dagster_project.dbt_project import prepare_manifest
    from dagster_project.demo import generate
    from dagster_project.pipeline import run_pipeline

    landing, db_path = tmp_path / "landing", tmp_path / "warehouse.duckdb"
    generate(landing, users=120, days=DAYS, seed=11, end_date=END, malformed_rate=0.0)
    start = END - timedelta(days=DAYS - 1)
    with pointed_at(db_path, landing):
        prepare_manifest()
        first = run_pipeline(start, END)
        assert first.success, first.failures
        calls_after_first = len(standin.requests)
        again = run_pipeline(start, END)
        assert again.success, again.failures
    assert calls_after_first > 0
    assert len(standin.requests) == calls_after_first  # a re-run asks nothing: every answer is final or cached

    with duckdb.connect(str(db_path), read_only=True) as con:
        sources = dict(con.execute(
            "select track_source, count(*) from marts.user_onboarding group by 1").fetchall())
        tracks = {r[0] for r in con.execute("select distinct track from marts.user_onboarding").fetchall()}
        # each user's track_source matches what the AI step wrote for them
        mismatched = con.execute(
            """
            select count(*) from marts.user_onboarding as u
            join ai.track_assignments as a using (user_id)
            where u.track_source not in ('experiment', 'stakeholder_map')  -- layers above the LLM
              and ((a.status in ('llm', 'cache') and (u.track_source <> a.status or u.track <> a.llm_track))
                   or (a.status = 'fallback' and u.track_source <> 'fallback'))
            """
        ).fetchone()[0]
        cost = con.execute("select count(*), sum(cost_usd) from ai.llm_calls").fetchone()
        playbook_versions = {r[0] for r in con.execute(
            "select distinct template_version from marts.triggered_messages where trigger = 'playbook_day_14'"
        ).fetchall()}
    assert sources.get("llm", 0) + sources.get("cache", 0) > 0, sources
    assert set(sources) <= {"rules", "llm", "cache", "fallback", "stakeholder_map", "experiment"}
    assert tracks <= TRACKS
    assert mismatched == 0
    assert cost[0] == calls_after_first and cost[1] > 0
    assert any(v.startswith("ai.playbooks llm") or v.startswith("ai.playbooks cache") for v in playbook_versions)

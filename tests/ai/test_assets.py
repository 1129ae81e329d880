"""The three Dagster assets, materialised in process against the hand-made warehouse and the stand-in."""

from __future__ import annotations

from datetime import datetime

from dagster import AssetKey, materialize

from dagster_project.ai.client import LLMSettings
from dagster_project.assets.ai import ai_assets
from dagster_project.resources import LlmResource, WarehouseResource
from tests.standins.llm import StandIn

from .conftest import Warehouse, make_profile
from .test_playbook import LATEST
from .test_playbook import build as build_playbook_users


def materialize_ai(warehouse: Warehouse):
    result = materialize(
        ai_assets,
        partition_key=LATEST.isoformat(),
        resources={"warehouse": WarehouseResource(db_path=str(warehouse.path)), "llm": LlmResource()},
    )
    assert result.success
    return {
        m.asset_key: {k: v.value for k, v in m.metadata.items()}
        for m in result.get_asset_materialization_events()
        for m in [m.event_specific_data.materialization]  # type: ignore[union-attr]
    }


def test_assets_record_calls_cache_hits_and_fallbacks(
    warehouse: Warehouse, llm_env: LLMSettings, standin: StandIn
) -> None:
    rows = build_playbook_users(warehouse)
    warehouse.add_profiles(
        [make_profile(50 + i, role="Software Engineer") for i in range(3)]
    )  # same signature
    warehouse.add_nps(
        "r1", rows[0]["user_id"], "day_7", 2, "Dashboards take forever to load.", datetime(2026, 3, 9)
    )
    meta = materialize_ai(warehouse)
    assert set(meta) == {
        AssetKey(["ai", "track_assignments"]),
        AssetKey(["ai", "playbooks"]),
        AssetKey(["ai", "feedback_themes"]),
    }
    tracks = meta[AssetKey(["ai", "track_assignments"])]
    assert tracks["llm_enabled"] is True and tracks["rows_written"] == 11
    # one signature (journey-v2 leaves the industry out): the saas engineers and the fintech one
    assert tracks["calls"] == 1
    assert tracks["cache_hits"] == 10 and tracks["by_status"] == {"cache": 10, "llm": 1}
    assert tracks["prompt_tokens"] > 0 and tracks["cost_usd"] > 0
    # users 50-52 reached day 14 with no activity, like user 0: one identical payload, one call
    playbooks = meta[AssetKey(["ai", "playbooks"])]
    assert playbooks["by_status"] == {"llm": 7, "cache": 3} and playbooks["calls"] == 7
    assert meta[AssetKey(["ai", "feedback_themes"])]["by_status"] == {"llm": 1}

    # a second run of the partition: nothing new, no calls
    again = materialize_ai(warehouse)
    assert all(m["calls"] == 0 and m["rows_written"] == 0 for m in again.values())
    assert len(standin.requests) == 1 + 7 + 1


def test_assets_without_a_key_keep_the_rules(
    warehouse: Warehouse, llm_off: LLMSettings, standin: StandIn
) -> None:
    build_playbook_users(warehouse)
    meta = materialize_ai(warehouse)
    assert meta[AssetKey(["ai", "track_assignments"])]["rows_written"] == 0
    assert meta[AssetKey(["ai", "playbooks"])]["fallback_reasons"] == {"llm_off": 7}
    assert all(m["llm_enabled"] is False and m["calls"] == 0 for m in meta.values())
    assert standin.requests == []

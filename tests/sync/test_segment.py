"""Segment: identify calls in batches under the size limits, diffed, with a messageId stable per change."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sync.adapters.traits import ENGINE_TRAITS, is_engine_trait
from sync.settings import SyncSettings
from tests.standins import StandinSet
from tests.standins.marts import traits
from tests.sync.conftest import Warehouse, settings_for, sync

FAST_SEGMENT = {"SYNC_SEGMENT_BACKOFF_BASE": "0.01", "SYNC_SEGMENT_BACKOFF_MAX": "0.05",
                "SYNC_SEGMENT_MAX_ATTEMPTS": "4", "SYNC_SEGMENT_TIMEOUT": "5"}
ROOT = Path(__file__).resolve().parents[2]


def settings(standins: StandinSet, **overrides: str) -> SyncSettings:
    return settings_for(standins, **{**FAST_SEGMENT, **overrides})


@pytest.mark.slow  # 10-12 s on two loaded cores: 300 calls of 4 KB sized and packed
def test_identifies_are_batched_under_500_kb_then_only_changes_go(warehouse: Warehouse, standins: StandinSet) -> None:
    # Fifty long variant names make each call ~4 KB, so 300 users need three 500 KB batches.
    warehouse.insert("destination_traits", [traits(i, onboarding_stage="s" * 200, experiment_variants=json.dumps(
        {f"exp_{n}": "variant_" + "v" * 60 for n in range(50)})) for i in range(300)])
    sg, s = standins.segment, settings(standins)

    first = sync(warehouse, s, "segment")["segment"]

    assert first.sent == 300 and first.requests >= 3
    assert all(len(r.json["batch"]) <= 2500 for r in sg.requests("POST", "/v1/batch"))
    assert sg.validation_errors == []  # every batch under 500 KB, every call under 32 KB
    assert sg.traits["auth0|user00001"]["experiment_exp_7"].startswith("variant_")

    warehouse.execute("update marts.destination_traits set onboarding_score = 91 where user_id = 'auth0|user00001'")
    sg.reset_log()
    second = sync(warehouse, s, "segment")["segment"]

    assert (second.sent, second.unchanged, second.requests) == (1, 299, 1)
    [call] = sg.requests("POST", "/v1/batch")[0].json["batch"]
    assert call["type"] == "identify" and call["userId"] == "auth0|user00001"
    assert call["traits"] == {"onboarding_score": 91}
    assert sync(warehouse, s, "segment")["segment"].requests == 0


def test_a_batch_resent_after_a_lost_answer_is_deduplicated_by_message_id(
        warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("destination_traits", [traits(i) for i in range(4)])
    standins.segment.inject("drop_after", match="POST /v1/batch")  # Segment took it; the answer is lost

    result = sync(warehouse, settings(standins), "segment")["segment"]

    batches = standins.segment.requests("POST", "/v1/batch")
    assert result.sent == 4 and len(batches) == 2
    assert [c["messageId"] for c in batches[0].json["batch"]] == [c["messageId"] for c in batches[1].json["batch"]]
    assert standins.segment.duplicates == 4 and len(standins.segment.calls) == 4
    assert all(re.fullmatch(r"onb-[0-9a-f]{40}", c["messageId"]) for c in batches[0].json["batch"])


def test_a_new_change_gets_a_new_message_id(warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("destination_traits", [traits(0)])
    s = settings(standins)
    sync(warehouse, s, "segment")
    warehouse.execute("update marts.destination_traits set onboarding_stage = 'deep_onboarding'")
    sync(warehouse, s, "segment")

    ids = [r.json["batch"][0]["messageId"] for r in standins.segment.requests("POST", "/v1/batch")]
    assert len(ids) == 2 and ids[0] != ids[1] and standins.segment.duplicates == 0


def test_a_refused_batch_fails_its_calls_and_a_bad_write_key_stops_the_destination(
        warehouse: Warehouse, standins: StandinSet) -> None:
    warehouse.insert("destination_traits", [traits(i) for i in range(3)])
    standins.segment.inject("status", status=400, match="POST /v1/batch", body={"success": False})

    refused = sync(warehouse, settings(standins), "segment")["segment"]
    wrong_key = sync(warehouse, settings(standins, SEGMENT_WRITE_KEY="not-the-key"), "segment")["segment"]

    assert (refused.sent, refused.failed) == (0, 3)
    assert wrong_key.status == "aborted" and "credentials rejected" in (wrong_key.error or "")
    assert "not-the-key" not in (wrong_key.error or "")


def test_the_traits_sent_back_are_the_engines_and_no_profile_model_reads_them(
        warehouse: Warehouse, standins: StandinSet) -> None:
    """The engine's identify returns with the next Segment export; it must not read as a profile change.

    The traits a real sync sends are all listed in sync/adapters/traits.py, none of them is a trait
    stg_segment__identifies reads, and int_users__profiles drops an identify that sets none of those
    (its dbt unit test ``engine_traits_identify_changes_no_profile`` feeds such an identify through and
    asserts the profile, and so every decision and message built on it, is unchanged).
    """
    warehouse.insert("destination_traits", [traits(i) for i in range(3)])
    sync(warehouse, settings(standins), "segment")
    sent = {name for call in standins.segment.calls.values() for name in call["traits"]}

    staging = (ROOT / "dbt_project/models/staging/stg_segment__identifies.sql").read_text()
    read = set(re.findall(r"json_(?:str|get)\('traits', '([^']+)'\)", staging))
    assert set(ENGINE_TRAITS) <= sent and all(is_engine_trait(name) for name in sent)
    assert read and not {name for name in read if is_engine_trait(name)}
    profiles = (ROOT / "dbt_project/models/staging/intermediate/int_users__profiles.sql").read_text()
    # every trait the profile takes from the latest identify must count as "sets a profile trait"
    used = {name for name in read if f"latest_identify.{name}" in profiles}
    assert {"email", "company", "plan", "role"} <= used
    unfiltered = sorted(name for name in used if f"{name} is not null" not in profiles)
    assert not unfiltered, (f"stg_segment__identifies reads {unfiltered}: add them to int_users__profiles' filter of"
                            " identifies that set no profile trait, or the engine's own identify blanks them")
    unit_tests = (ROOT / "dbt_project/models/sync/destination_traits.yml").read_text()
    assert "name: engine_traits_identify_changes_no_profile" in unit_tests

"""The journey signature (journey-v2): what a track choice depends on, and what that costs and loses.

Two measurements, both through the LLM stand-in over real HTTP (tests/standins/llm.py):
- cost: on 2,000 profiles drawn like the demo's (`dagster_project.demo.profiles.make_users`, seed 42),
  the share of users that need a call of their own is at most 10% (journey-v1's raw fields: ~90%);
- agreement: on a sample, the track each user ends with (the answer after validation, else the rule
  track) from the coarse prompt agrees with the one from the full journey-v1 prompt, and with the rule
  twin (int_onboarding__rule_tracks), at least as often as the full prompt agreed with the rules.

`python -m tests.ai.test_journey_signature DB` prints the same measurement for a built warehouse
(docs/ai.md's numbers for the 2,000-user demo come from it).
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np

from dagster_project.ai.client import LLMClient, LLMSettings
from dagster_project.ai.common import signature_of
from dagster_project.ai.journey import (
    ENTERPRISE_ONLY_TRACK,
    FULL_PROMPT_VERSION,
    PROFILE_QUERY,
    assign_tracks,
    build_request,
    full_profile,
    prompt_profile,
    validate_answer,
)
from dagster_project.demo.profiles import make_users
from tests.standins.llm import StandIn

from .conftest import Warehouse, make_profile

DEMO_USERS, DEMO_SEED = 2000, 42
# The journey step's input (PROFILE_QUERY) for every user, with or without an assignment already.
EVERY_PROFILE = PROFILE_QUERY.split("where not exists")[0] + "order by p.user_id"
MAX_CALL_SHARE = 0.10


def demo_profiles(n: int = DEMO_USERS, seed: int = DEMO_SEED) -> list[dict[str, Any]]:
    """`n` profiles as int_users__profiles holds them, drawn as the demo generator draws its users.

    The staging fallbacks are applied as int_users__profiles applies them (a missing field is
    'unknown', missing features '[]', a missing signup source 'direct').
    """
    users = make_users(n, np.random.default_rng(seed))
    rows = []
    for i in range(n):
        sent = users.profile[i]

        def value(key: str, default: str = "unknown", sent: dict[str, Any] = sent) -> Any:
            got = sent.get(key)
            return default if got in (None, "") else got

        features = sent.get("features_enabled")
        rows.append(make_profile(
            i,
            user_id=users.user_id[i],
            signup_source=value("utm_source", "direct"),
            company_size=value("company_size"),
            industry=value("industry"),
            role=value("role"),
            plan=value("plan"),
            features_enabled=json.dumps(features if isinstance(features, list) else []),
        ))  # fmt: skip
    return rows


@dataclass(frozen=True)
class Agreement:
    """How often the coarse prompt's final track equals the full prompt's and the rules'."""

    users: int
    coarse_signatures: int
    full_signatures: int
    coarse_vs_full: float
    coarse_vs_rules: float
    full_vs_rules: float
    disagreements: list[tuple[str, str, str, int]]  # (full track, coarse track, rule track, users)

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "disagreements": [list(d) for d in self.disagreements]}


def final_tracks(
    client: LLMClient, fields: Sequence[dict[str, Any]], rule_tracks: Sequence[str], version: str
) -> list[str]:
    """Per user, the track the journey step would write: the validated answer, else the rule track."""
    requests = {}
    for f in fields:
        req = build_request(f, version)
        requests.setdefault(req.signature, req)
    answers = {r.request.signature: r.content for r in client.run_many(list(requests.values()))}
    out = []
    for f, rule in zip(fields, rule_tracks, strict=True):
        verdict = validate_answer(answers.get(signature_of(f)), rule, client.settings.min_confidence)
        out.append(verdict.track or rule)
    return out


def measure(con: duckdb.DuckDBPyConnection, settings: LLMSettings, sample: int | None = None) -> Agreement:
    """Ask the stand-in (or any server `settings` names) both prompts for the users not on the
    enterprise track (every `sample`-th user when given), and compare the tracks they end with."""
    cursor = con.execute(EVERY_PROFILE)
    names = [d[0] for d in cursor.description]
    profiles = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    profiles = [p for p in profiles if p["rule_track"] != ENTERPRISE_ONLY_TRACK][:: sample or 1]
    rules = [p["rule_track"] for p in profiles]
    client = LLMClient(settings)
    coarse_fields = [prompt_profile(p) for p in profiles]
    full_fields = [full_profile(p) for p in profiles]
    coarse = final_tracks(client, coarse_fields, rules, "journey-v2-measure")
    full = final_tracks(client, full_fields, rules, FULL_PROMPT_VERSION)
    n = len(profiles)

    def share(a: Sequence[str], b: Sequence[str]) -> float:
        return round(sum(x == y for x, y in zip(a, b, strict=True)) / n, 4)

    differ = Counter((f, c, r) for f, c, r in zip(full, coarse, rules, strict=True) if f != c)
    return Agreement(
        users=n,
        coarse_signatures=len({signature_of(f) for f in coarse_fields}),
        full_signatures=len({signature_of(f) for f in full_fields}),
        coarse_vs_full=share(coarse, full),
        coarse_vs_rules=share(coarse, rules),
        full_vs_rules=share(full, rules),
        disagreements=[(*k, v) for k, v in differ.most_common(5)],
    )


def test_on_the_demo_at_most_one_user_in_ten_needs_a_call(
    warehouse: Warehouse, llm_env: LLMSettings, standin: StandIn
) -> None:
    rows = warehouse.add_profiles(demo_profiles())
    started = time.perf_counter()
    with warehouse.connect() as con:
        stats = assign_tracks(con, settings=llm_env)
        enterprise = con.execute(
            "select count(*) from intermediate.int_onboarding__rule_tracks where rule_track = ?",
            [ENTERPRISE_ONLY_TRACK],
        ).fetchall()[0][0]
    share = stats.calls.calls / len(rows)
    print(f"\n{stats.calls.calls} calls for {len(rows)} users ({share:.1%}), "
          f"{stats.cache_hits} cache hits, {time.perf_counter() - started:.1f}s")  # fmt: skip
    assert stats.written == len(rows) - enterprise and stats.calls.calls == len(standin.requests)
    assert 0 < share <= MAX_CALL_SHARE
    # ... where journey-v1's raw fields were nearly one signature per user
    full = {signature_of(full_profile(p)) for p in rows}
    assert len(full) > 5 * stats.calls.calls


def test_coarse_answers_agree_with_full_answers_and_the_rules(
    warehouse: Warehouse, llm_env: LLMSettings, standin: StandIn
) -> None:
    warehouse.add_profiles(demo_profiles(400, seed=7))
    with warehouse.connect() as con:
        result = measure(con, llm_env)
    print(f"\n{json.dumps(result.as_json())}")
    assert result.users > 300 and result.coarse_signatures < result.full_signatures / 3
    assert result.coarse_vs_full >= 0.9
    assert result.coarse_vs_rules >= result.full_vs_rules


if __name__ == "__main__":  # pragma: no cover - the docs' measurement on a built warehouse
    import os
    from contextlib import nullcontext

    from dagster_project.resources import llm_settings

    # The stand-in unless a server is configured: with OPENAI_API_KEY or OPENAI_BASE_URL set, the same
    # measurement asks the real model (about 1,900 calls on the demo).
    configured = os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL")
    with nullcontext() if configured else StandIn() as server:
        if server is not None:
            os.environ["OPENAI_BASE_URL"] = server.base_url
        with duckdb.connect(sys.argv[1], read_only=True) as connection:
            print(json.dumps(measure(connection, llm_settings()).as_json(), indent=1))

"""The LLM layer against the stand-in over real HTTP: request shape, retries, failures, concurrency, costs."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from dagster_project.ai.client import LLMClient, LLMRequest, LLMSettings, price_call
from dagster_project.resources import llm_settings
from tests.standins.llm import Reply, StandIn, validate_request


def request(tag: str, purpose: str = "test") -> LLMRequest:
    return LLMRequest(
        purpose=purpose,
        prompt_version="test-v1",
        signature=f"sig-{tag}",
        messages=[{"role": "system", "content": "Answer."}, {"role": "user", "content": f"item {tag}"}],
        schema_name="thing",
        schema={
            "type": "object",
            "properties": {"value": {"type": "string", "enum": ["a", "b"]}},
            "required": ["value"],
            "additionalProperties": False,
        },
    )


def test_request_is_a_structured_output_chat_completion(llm_env: LLMSettings, standin: StandIn) -> None:
    [result] = LLMClient(llm_env).run_many([request("1")])
    assert result.ok and result.content == '{"value": "a"}'
    [body] = standin.requests
    assert standin.rejected == []
    assert body["model"] == "gpt-4o-mini"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "thing"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["value"]
    assert body["temperature"] == 0
    # accounting: tokens from the response's usage, priced from the table
    assert result.call.prompt_tokens > 0 and result.call.completion_tokens > 0
    assert result.call.cost_usd > 0 and result.call.note is None
    assert result.call.attempts == 1 and result.call.status == "ok"


def test_standin_rejects_requests_without_a_json_schema(standin: StandIn) -> None:
    response = httpx.post(
        f"{standin.base_url}/chat/completions",
        json={
            "model": "m",
            "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_object"},
        },
    )
    assert response.status_code == 400
    assert "json_schema" in response.json()["error"]["message"]
    assert validate_request({"model": "m", "messages": []}) == "messages must be a non-empty array"


def test_429_is_retried_honouring_retry_after(llm_env: LLMSettings, standin: StandIn) -> None:
    standin.add_rule("item flaky", Reply.http(429, retry_after=0), times=1)
    [result] = LLMClient(llm_env).run_many([request("flaky")])
    assert result.ok
    assert result.call.attempts == 2
    assert len(standin.requests) == 2


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (Reply.http(429, retry_after=0), "http_429"),
        (Reply.http(500), "http_500"),
        (Reply.http(503), "http_503"),
        (Reply.slow(5), "timeout"),
    ],
)
def test_persistent_failures_become_status_codes_after_retries(
    llm_env: LLMSettings, standin: StandIn, reply: Reply, status: str
) -> None:
    standin.add_rule("item bad", reply)
    [result] = LLMClient(llm_env).run_many([request("bad")])
    assert not result.ok and result.content is None
    assert result.status == status == result.call.status
    assert result.call.attempts == llm_env.max_attempts == 2
    assert result.call.prompt_tokens == 0 and result.call.cost_usd == 0


def test_400_is_not_retried(llm_env: LLMSettings, standin: StandIn) -> None:
    standin.add_rule("item bad", Reply.http(400))
    [result] = LLMClient(llm_env).run_many([request("bad")])
    assert result.status == "http_400" and result.call.attempts == 1


def test_at_least_16_requests_in_flight(llm_env: LLMSettings) -> None:
    # The server holds every request until 16 are open at once; a client with less concurrency would
    # leave them waiting until the hold times out and max_in_flight would stay below 16.
    with StandIn(hold_until_in_flight=16, hold_timeout_s=20) as server:
        settings = replace(llm_env, base_url=server.base_url, timeout_s=30.0)
        results = LLMClient(settings).run_many([request(str(i)) for i in range(24)])
        assert all(r.ok for r in results)
        assert server.max_in_flight >= 16
    assert llm_env.concurrency >= 16


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ONBOARDING_LLM_MODEL"):
        monkeypatch.delenv(name, raising=False)
    off = llm_settings()
    assert not off.enabled and "LLM off" in off.describe()
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    local = llm_settings()
    assert local.enabled and local.api_key == "not-needed" and local.concurrency >= 16
    assert local.min_confidence == 0.6 and local.model == "gpt-4o-mini"
    monkeypatch.setenv("ONBOARDING_LLM_MODEL", "llama3.1:8b")
    assert llm_settings().model == "llama3.1:8b"


def test_price_table() -> None:
    prices = llm_settings().prices
    assert price_call("gpt-4o", 1_000_000, 0, prices) == (2.5, None)
    # a dated snapshot prices like its family; gpt-4o-mini is not priced as gpt-4o
    assert price_call("gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000, prices) == (0.75, None)
    cost, note = price_call("llama3.1:8b", 1000, 1000, prices)
    assert cost == 0 and note and "no price" in note


def test_circuit_breaker_stops_hammering_a_dead_server(llm_env: LLMSettings, standin: StandIn) -> None:
    standin.add_rule("item", Reply.http(500))
    settings = replace(llm_env, breaker_threshold=5)
    results = LLMClient(settings).run_many([request(str(i)) for i in range(100)])
    statuses = {r.status for r in results}
    assert statuses == {"http_500", "circuit_open"}
    # at most `threshold` failures plus what was already in flight were sent, each with its retries
    sent = [r for r in results if r.call.attempts > 0]
    assert len(sent) <= settings.breaker_threshold + settings.concurrency
    # every request the stand-in saw was counted; on a loaded machine an attempt can time out before
    # it reaches the server, so the count may exceed what arrived, never the reverse
    assert 0 < len(standin.requests) <= sum(r.call.attempts for r in sent)
    assert all(r.call.attempts == 0 for r in results if r.status == "circuit_open")

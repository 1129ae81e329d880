"""Transport: the rate limiter, Retry-After handling, and what is (not) retried."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from werkzeug.wrappers import Request, Response

from sync.outcomes import OutcomeKind, classify_response
from sync.settings import TransportSettings
from sync.transport import (
    DeliveryUncertain,
    RequestFailed,
    SlidingWindowLimiter,
    Throttled,
    Transport,
    retry_after_seconds,
)
from tests.standins.base import StandinServer, json_response


class EchoStandin(StandinServer):
    """Answers 200 and counts what it processed (faults are injected on top)."""

    name = "echo"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.processed = 0

    def handle(self, request: Request) -> Response:
        with self.lock:
            self.processed += 1
        return json_response({"ok": True})


@pytest.fixture
def echo() -> Iterator[EchoStandin]:
    server = EchoStandin().start()
    yield server
    server.stop()


def settings(base_url: str, **overrides: Any) -> TransportSettings:
    values: dict[str, Any] = {"base_url": base_url, "rate_limit": 1000, "rate_window": 1.0, "concurrency": 4,
                              "timeout": 5.0, "max_attempts": 5, "retry_budget": 30.0, "backoff_base": 0.01,
                              "backoff_max": 0.02}
    values.update(overrides)
    return TransportSettings(**values)


def call(server_url: str, *, idempotent: bool, **overrides: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        async with Transport(settings(server_url, **overrides)) as transport:
            return await transport.request("POST", "/thing", json={"a": 1}, idempotent=idempotent)
    return asyncio.run(go())


def wait_until(predicate: Any, limit: float = 10.0) -> None:
    """Poll for a condition set by a server thread (a bound, not an assertion about speed)."""
    deadline = time.monotonic() + limit
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.02)


class FakeClock:
    """Virtual time: sleeping advances the clock instantly, so limits are checked without waiting."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


def test_limiter_never_exceeds_limit_in_any_window() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(3, 10.0, clock=clock, sleep=clock.sleep)
    stamps: list[float] = []

    async def go() -> None:
        for _ in range(10):
            await limiter.acquire()
            stamps.append(clock.now)

    asyncio.run(go())
    assert stamps[:3] == [0.0, 0.0, 0.0]  # a full window is usable at once
    for i, start in enumerate(stamps):
        in_window = [s for s in stamps[i:] if s < start + 10.0]
        assert len(in_window) <= 3
    assert stamps[-1] == pytest.approx(30.0)  # 10 calls at 3 per 10 s


def test_limiter_pause_holds_every_caller() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(100, 1.0, clock=clock, sleep=clock.sleep)
    limiter.pause_for(7.5)
    asyncio.run(limiter.acquire())
    assert clock.now == pytest.approx(7.5)


def test_retry_after_parsing() -> None:
    def response(headers: dict[str, str]) -> httpx.Response:
        return httpx.Response(429, headers=headers)

    assert retry_after_seconds(response({"Retry-After": "3"})) == 3.0
    assert retry_after_seconds(response({"X-RateLimit-Reset": "1000000010"}), now=1000000000.0) == 10.0
    assert retry_after_seconds(response({"X-RateLimit-Reset": "1000000010"}), now=1000000020.0) == 0.0
    assert retry_after_seconds(response({})) is None


def test_retry_after_http_date_is_relative_to_now() -> None:
    when = "Sun, 06 Nov 1994 08:49:37 GMT"  # the RFC's example date, 784111777 epoch seconds
    response = httpx.Response(429, headers={"Retry-After": when})
    assert retry_after_seconds(response, now=784111770.0) == pytest.approx(7.0)


def test_429_is_honoured_then_succeeds(echo: EchoStandin) -> None:
    echo.inject("status", times=2, status=429, headers={"Retry-After": "0"})
    response = call(echo.base_url, idempotent=False)
    assert response.status_code == 200
    assert len(echo.received) == 3
    assert echo.processed == 1


def test_5xx_burst_is_retried_for_idempotent_calls(echo: EchoStandin) -> None:
    echo.inject("status", times=3, status=503)
    response = call(echo.base_url, idempotent=True)
    assert response.status_code == 200
    assert echo.processed == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_after_processing_is_never_retried_for_non_idempotent_calls(echo: EchoStandin, status: int) -> None:
    """The vendor created the message and then answered 5xx: one request, one message, in doubt."""
    echo.inject("status_after", times=5, status=status)
    response = call(echo.base_url, idempotent=False)
    assert response.status_code == status
    assert echo.processed == 1 and len(echo.received) == 1
    assert classify_response(response, idempotent=False).kind == OutcomeKind.IN_DOUBT


def test_slow_answer_after_processing_is_in_doubt_and_not_resent(echo: EchoStandin) -> None:
    echo.inject("slow_after", times=1, delay=0.6)
    with pytest.raises(DeliveryUncertain):
        call(echo.base_url, idempotent=False, timeout=0.2)
    assert echo.processed == 1 and len(echo.received) == 1


def test_gateway_timeout_is_not_retried_for_non_idempotent_calls(echo: EchoStandin) -> None:
    echo.inject("status", times=1, status=504)
    response = call(echo.base_url, idempotent=False)
    assert response.status_code == 504
    assert classify_response(response, idempotent=False).kind == OutcomeKind.IN_DOUBT
    assert len(echo.received) == 1


def test_gateway_timeout_is_retried_for_idempotent_calls(echo: EchoStandin) -> None:
    echo.inject("status", times=2, status=502)
    assert call(echo.base_url, idempotent=True).status_code == 200


def test_other_4xx_is_not_retried(echo: EchoStandin) -> None:
    echo.inject("status", times=1, status=400)
    response = call(echo.base_url, idempotent=True)
    assert response.status_code == 400
    assert len(echo.received) == 1
    assert classify_response(response, idempotent=True).kind == OutcomeKind.FAILED


def test_attempts_are_bounded(echo: EchoStandin) -> None:
    echo.inject("status", times=50, status=500)
    response = call(echo.base_url, idempotent=True, max_attempts=4)
    assert response.status_code == 500
    assert len(echo.received) == 4
    assert classify_response(response, idempotent=True).kind == OutcomeKind.RETRY


def test_dropped_connection_after_processing_is_in_doubt_for_non_idempotent(echo: EchoStandin) -> None:
    echo.inject("drop_after", times=1)
    with pytest.raises(DeliveryUncertain):
        call(echo.base_url, idempotent=False)
    assert echo.processed == 1  # it did happen, and it was not sent again


def test_dropped_connection_is_retried_for_idempotent(echo: EchoStandin) -> None:
    echo.inject("drop", times=2)
    assert call(echo.base_url, idempotent=True).status_code == 200
    assert echo.processed == 1


def test_slow_answer_past_the_timeout_is_in_doubt(echo: EchoStandin) -> None:
    echo.inject("slow", times=1, delay=0.6)
    with pytest.raises(DeliveryUncertain):
        call(echo.base_url, idempotent=False, timeout=0.2)
    wait_until(lambda: echo.processed > 0)  # the server finishes after the client gave up
    assert echo.processed == 1
    assert len(echo.received) == 1  # and the client did not try again


def test_connection_refused_is_safe_to_retry_later() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RequestFailed):
        call(f"http://127.0.0.1:{port}", idempotent=False, max_attempts=2)


def test_custom_retry_predicate_retries_2xx_errors(echo: EchoStandin) -> None:
    echo.inject("slack_error", times=2, error="ratelimited")

    async def go() -> httpx.Response:
        async with Transport(settings(echo.base_url)) as transport:
            return await transport.request(
                "POST", "/x", data={"a": "b"}, idempotent=True,
                retry_on=lambda r: r.json().get("error") == "ratelimited")

    assert asyncio.run(go()).json() == {"ok": True}
    assert len(echo.received) == 3


def test_retry_after_inf_and_nan() -> None:
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "inf"})) == float("inf")
    assert retry_after_seconds(httpx.Response(429, headers={"Retry-After": "nan"})) is None
    with pytest.raises(ValueError):
        SlidingWindowLimiter(1, 1.0).pause_for(float("inf"))


def fake_transport(base_url: str, clock: FakeClock, **overrides: Any) -> Transport:
    return Transport(settings(base_url, **overrides), clock=clock, sleep=clock.sleep)


def test_real_retry_after_is_waited_on_the_transport_clock(echo: EchoStandin) -> None:
    """Retry-After: 30 twice, then success: 60 virtual seconds pass, no real ones."""
    clock = FakeClock()
    echo.inject("status", times=2, status=429, headers={"Retry-After": "30"})

    async def go() -> httpx.Response:
        async with fake_transport(echo.base_url, clock, max_retry_after=60.0, retry_budget=300.0) as t:
            return await t.request("POST", "/thing", json={}, idempotent=False)

    started = time.monotonic()
    assert asyncio.run(go()).status_code == 200
    assert 60.0 <= clock.now < 61.0  # the shared pause and the retry wait, not added on top of each other
    assert time.monotonic() - started < 5
    assert echo.processed == 1 and len(echo.received) == 3


def test_a_429_pauses_every_request_of_the_destination(echo: EchoStandin) -> None:
    """One request's 429 (Retry-After 45) holds the next, unrelated request of the destination."""
    clock = FakeClock()
    echo.inject("status", times=1, status=429, headers={"Retry-After": "45"}, match="/first")

    async def go() -> tuple[int, float, int]:
        async with fake_transport(echo.base_url, clock, max_attempts=1) as t:
            first = await t.request("POST", "/first", json={}, idempotent=False)  # gives up at once
            assert clock.now == 0.0
            second = await t.request("POST", "/second", json={}, idempotent=False)
            return first.status_code, clock.now, second.status_code

    first, at, second = asyncio.run(go())
    assert (first, second) == (429, 200)
    assert at == pytest.approx(45.0)


@pytest.mark.parametrize("header", [{"Retry-After": "3600"}, {"Retry-After": "inf"},
                                    {"X-RateLimit-Reset": str(int(time.time()) + 7200)}])
def test_a_pause_beyond_the_cap_throttles_the_destination_for_the_run(echo: EchoStandin,
                                                                      header: dict[str, str]) -> None:
    clock = FakeClock()
    echo.inject("status", times=1, status=429, headers=header)

    async def go() -> Transport:
        async with fake_transport(echo.base_url, clock, max_retry_after=120.0) as t:
            with pytest.raises(Throttled, match="more than the 120s cap"):
                await t.request("POST", "/thing", json={}, idempotent=False)
            with pytest.raises(Throttled):  # the next request is not even sent
                await t.request("PUT", "/other", json={}, idempotent=True)
            return t

    t = asyncio.run(go())
    assert clock.now == 0.0  # no hour-long (or endless) wait
    assert len(echo.received) == 1 and echo.processed == 0
    assert t.throttled is not None and t.rate_limited == 1


def test_pause_at_the_cap_is_honoured(echo: EchoStandin) -> None:
    clock = FakeClock()
    echo.inject("status", times=1, status=429, headers={"Retry-After": "120"})

    async def go() -> int:
        async with fake_transport(echo.base_url, clock, max_retry_after=120.0, retry_budget=300.0) as t:
            return (await t.request("POST", "/thing", json={}, idempotent=False)).status_code

    assert asyncio.run(go()) == 200
    assert 120.0 <= clock.now < 121.0

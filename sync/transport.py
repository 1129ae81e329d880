"""HTTP transport shared by every destination: async httpx, a rate limiter, tenacity retries.

Why one transport: the delivery guarantees of the engine depend on knowing, for every failed call,
whether the vendor *may* have acted on it. That knowledge lives here, once:

* **Not sent** (``ConnectError``, ``ConnectTimeout``, ``PoolTimeout``): the request never left, so
  retrying is always safe.
* **Answered with 429 / 500 / 503**: the vendor refused or failed before acting; retried with the
  ``Retry-After`` / ``X-RateLimit-Reset`` it asked for, or exponential backoff with jitter.
* **Sent but unanswered** (read timeout, dropped connection, 502/504 from a gateway): the vendor may
  have acted. Idempotent calls (attribute updates, Slack alerts, profile PATCHes) are retried; a
  non-idempotent call (a customer message, a community invite) is *not* - the caller gets
  :class:`DeliveryUncertain` and the outbox marks the row ``in_doubt``.
* **Any other 4xx** is returned at once: retrying a rejected request cannot make it valid.

Retries are bounded by attempts and by a time budget per request (tenacity does the bookkeeping;
no hand-written retry loop). Rate limiting is a sliding window: at most ``rate_limit`` requests in
any ``rate_window`` seconds, which also satisfies every fixed window of that length - Intercom counts
its 10,000 calls per minute in 10-second windows. A 429 pauses *all* requests of the destination
until the vendor's reset, not just the one that hit it.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from sync.masking import get_logger, scrub
from sync.settings import TransportSettings

log = get_logger(__name__)

# The connection was never established: nothing reached the vendor.
NOT_SENT_ERRORS: tuple[type[BaseException], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
CONNECTIONS_PER_CLIENT = 8
# Statuses a vendor returns *instead of* acting; safe to retry even for non-idempotent calls.
REFUSED_STATUSES = frozenset({429, 500, 503})


class TransportError(Exception):
    """Base class: the request could not be completed."""


class RequestFailed(TransportError):
    """Retries ran out and the vendor did not act (or the call is idempotent): retry on a later run."""


class DeliveryUncertain(TransportError):
    """A non-idempotent request may have been processed: the caller must not resend it blindly."""


class SlidingWindowLimiter:
    """At most ``limit`` acquisitions in any ``window`` seconds, plus a shared pause after a 429.

    A sliding log rather than a token bucket because a bucket lets a full burst through at the end
    of one window and another at the start of the next - up to twice the limit inside a vendor's
    fixed window. Waiters queue on a lock so they are served in order.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a rate limit needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._stamps: deque[float] = deque()
        self._paused_until = 0.0
        self._lock: asyncio.Lock | None = None

    def pause_for(self, seconds: float) -> None:
        """Hold every caller for ``seconds`` (the vendor told us to back off)."""
        self._paused_until = max(self._paused_until, self._clock() + max(seconds, 0.0))

    async def acquire(self) -> None:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            while True:
                now = self._clock()
                if now < self._paused_until:
                    await self._sleep(self._paused_until - now)
                    continue
                while self._stamps and self._stamps[0] <= now - self.window:
                    self._stamps.popleft()
                if len(self._stamps) < self.limit:
                    self._stamps.append(now)
                    return
                await self._sleep(self._stamps[0] + self.window - now)


def retry_after_seconds(response: httpx.Response, *, now: float | None = None) -> float | None:
    """Seconds the vendor asked us to wait, from ``Retry-After`` or ``X-RateLimit-Reset``.

    ``Retry-After`` may be delta-seconds or an HTTP date; ``X-RateLimit-Reset`` is the Unix time at
    which Intercom's window resets. Returns ``None`` when neither header is usable.
    """
    now = time.time() if now is None else now
    value = response.headers.get("Retry-After")
    if value:
        value = value.strip()
        try:
            return max(float(value), 0.0)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                return max(when.timestamp() - now, 0.0)
    reset = response.headers.get("X-RateLimit-Reset")
    if reset:
        try:
            reset_at = float(reset.strip())
        except ValueError:
            return None
        # Epoch seconds; a tiny value would be a delta, which some vendors send instead.
        return max(reset_at - now, 0.0) if reset_at > 1e9 else max(reset_at, 0.0)
    return None


class Transport:
    """Async HTTP for one destination: bounded connections, rate limit and retries.

    Connections are spread over several small httpx clients ("shards" of at most
    :data:`CONNECTIONS_PER_CLIENT`) instead of one big pool: httpcore's pool bookkeeping runs on every
    request and is quadratic in the number of connections it holds, which at 32+ connections cost
    more CPU than the requests themselves. A request borrows a slot, and with it a shard that has a
    free connection, so no request ever queues inside httpcore.
    """

    def __init__(
        self,
        settings: TransportSettings,
        *,
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | None = None,
        limiter: SlidingWindowLimiter | None = None,
        name: str = "destination",
    ) -> None:
        self.settings = settings
        self.name = name
        self.limiter = limiter or SlidingWindowLimiter(settings.rate_limit, settings.rate_window)
        self.requests_sent = 0
        self.rate_limited = 0
        concurrency = max(settings.concurrency, 1)
        sizes = [min(CONNECTIONS_PER_CLIENT, concurrency - start)
                 for start in range(0, concurrency, CONNECTIONS_PER_CLIENT)]
        self._clients = [
            httpx.AsyncClient(
                base_url=settings.base_url,
                headers=headers or {},
                auth=auth,
                timeout=httpx.Timeout(settings.timeout, connect=min(settings.timeout, 10.0)),
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
                follow_redirects=False,
            )
            for size in sizes
        ]
        self._slot_plan = [index for index, size in enumerate(sizes) for _ in range(size)]
        self._slots: asyncio.Queue[int] | None = None

    async def __aenter__(self) -> Transport:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self._slots is None:
            self._slots = asyncio.Queue()
            for index in self._slot_plan:
                self._slots.put_nowait(index)
        index = await self._slots.get()
        try:
            return await self._clients[index].request(method, path, **kwargs)
        finally:
            self._slots.put_nowait(index)

    async def request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json: Any = None,
        data: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        retry_on: Callable[[httpx.Response], bool] | None = None,
        limiter: SlidingWindowLimiter | None = None,
    ) -> httpx.Response:
        """Send one logical request, retrying what is safe to retry.

        Returns the final response (which may still be a 429/5xx when retries ran out: the caller
        treats that as "try again on a later run"). Raises :class:`RequestFailed` when no response
        came back and a later retry is safe, :class:`DeliveryUncertain` when it is not.

        ``retry_on`` lets an adapter retry a 2xx that carries an error (Slack's ``ok: false`` with
        ``ratelimited``). ``limiter`` adds a second limiter (e.g. one Slack channel's pacing).
        """
        s = self.settings

        def should_retry(state: RetryCallState) -> bool:
            outcome = state.outcome
            if outcome is None:
                return False
            if outcome.failed:
                exc = outcome.exception()
                if isinstance(exc, NOT_SENT_ERRORS):
                    return True
                return isinstance(exc, httpx.TransportError) and idempotent
            response: httpx.Response = outcome.result()
            status = response.status_code
            if status in REFUSED_STATUSES or (status >= 500 and idempotent):
                return True
            return bool(retry_on and 200 <= status < 300 and retry_on(response))

        backoff = wait_random_exponential(multiplier=s.backoff_base, max=s.backoff_max)

        def wait(state: RetryCallState) -> float:
            outcome = state.outcome
            if outcome is not None and not outcome.failed:
                delay = retry_after_seconds(outcome.result())
                if delay is not None:
                    # A little jitter so that paused workers do not return in lockstep.
                    return min(delay, s.max_retry_after) + random.uniform(0.0, 0.1)
            return float(backoff(state))

        def stop_on_long_retry_after(state: RetryCallState) -> bool:
            outcome = state.outcome
            if outcome is None or outcome.failed:
                return False
            delay = retry_after_seconds(outcome.result())
            return delay is not None and delay > s.max_retry_after

        stop = (stop_after_attempt(s.max_attempts) | stop_before_delay(s.retry_budget)
                | stop_on_long_retry_after)

        def give_up(state: RetryCallState) -> httpx.Response:
            outcome = state.outcome
            assert outcome is not None
            if outcome.failed:
                raise outcome.exception()  # type: ignore[misc]
            return outcome.result()

        async def attempt() -> httpx.Response:
            await self.limiter.acquire()
            if limiter is not None:
                await limiter.acquire()
            self.requests_sent += 1
            response = await self._send(method, path, json=json, data=data, params=params)
            if response.status_code == 429:
                self.rate_limited += 1
                delay = retry_after_seconds(response)
                self.limiter.pause_for(delay if delay is not None else s.backoff_base)
            log.debug("%s %s %s -> %s", self.name, method, path, response.status_code)
            return response

        retrying = AsyncRetrying(stop=stop, wait=wait, retry=should_retry, retry_error_callback=give_up)
        try:
            return await retrying(attempt)
        except NOT_SENT_ERRORS as exc:
            raise RequestFailed(f"{type(exc).__name__}: connection failed") from exc
        except httpx.TransportError as exc:
            detail = f"{type(exc).__name__}: {scrub(exc, limit=200) or 'no response'}"
            if idempotent:
                raise RequestFailed(detail) from exc
            raise DeliveryUncertain(detail) from exc

"""HTTP transport shared by every destination: async httpx, a rate limiter, tenacity retries.

Why one transport: the delivery guarantees of the engine depend on knowing, for every failed call,
whether the vendor *may* have acted on it. That knowledge lives here, once:

* **Not sent** (``ConnectError``, ``ConnectTimeout``, ``PoolTimeout``): the request never left, so
  retrying is always safe.
* **Answered 429**: the documented "not processed"; retried after the ``Retry-After`` /
  ``X-RateLimit-Reset`` it asked for, capped (below).
* **Sent, and answered with anything but a success or a documented refusal** (any 5xx - a vendor's
  500 may come *after* it created the message -, a read timeout, a dropped connection): the vendor
  may have acted. Idempotent calls (attribute updates, Slack alerts, profile PATCHes) are retried
  with exponential backoff and jitter; a non-idempotent call (a customer message, a community invite)
  is *not*: a 5xx answer is returned to the caller (the outcome is ``in_doubt``), a missing answer
  raises :class:`DeliveryUncertain`.
* **Any other 4xx** is returned at once: retrying a rejected request cannot make it valid.

**Every pause is capped.** A ``Retry-After`` (or reset time) up to ``max_retry_after`` pauses every
request of the destination; a longer one (``3600``, ``inf``) pauses nothing: the transport becomes
*throttled* for the rest of the run and every further request raises :class:`Throttled` before it is
sent, so the engine ends the destination's streams with their rows left pending (counted, reported)
instead of holding the warehouse lock for an hour, or forever.

Retries are bounded by attempts and by a time budget per request (tenacity does the bookkeeping;
no hand-written retry loop). Rate limiting is a sliding window: at most ``rate_limit`` requests in
any ``rate_window`` seconds, which also satisfies every fixed window of that length - Intercom counts
its 10,000 calls per minute in 10-second windows. A 429 pauses *all* requests of the destination
until the vendor's reset, not just the one that hit it.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
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
# Statuses a vendor documents as "not processed": safe to retry even for non-idempotent calls. A 500
# or 503 is not among them - a vendor may answer 500 after it created the message.
REFUSED_STATUSES = frozenset({429})


class TransportError(Exception):
    """Base class: the request could not be completed."""


class RequestFailed(TransportError):
    """Retries ran out and the vendor did not act (or the call is idempotent): retry on a later run."""


class DeliveryUncertain(TransportError):
    """A non-idempotent request may have been processed: the caller must not resend it blindly."""


class Throttled(RequestFailed):
    """The vendor asked for a pause longer than the cap: nothing more is sent to it in this run.

    Raised *instead of* sending (or for the 429 that asked for the pause, which the vendor did not
    process), so the row is safe to leave pending for the next run whatever its delivery guarantee.
    """


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
        """Hold every caller for ``seconds`` (the vendor told us to back off; the caller caps it)."""
        if not math.isfinite(seconds):
            raise ValueError("a pause must be finite; cap it before pausing")
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
    which Intercom's window resets. Returns ``None`` when neither header is usable; ``inf`` is kept
    (the caller's cap turns it into "throttled for this run"), ``nan`` is unusable.
    """
    now = time.time() if now is None else now
    value = response.headers.get("Retry-After")
    if value:
        value = value.strip()
        try:
            seconds = float(value)
        except ValueError:
            seconds = None
        if seconds is not None:
            return None if math.isnan(seconds) else max(seconds, 0.0)
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
        if math.isnan(reset_at):
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
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self.name = name
        self._clock = clock
        self._sleep = sleep
        self.limiter = limiter or SlidingWindowLimiter(settings.rate_limit, settings.rate_window,
                                                       clock=clock, sleep=sleep)
        self.requests_sent = 0
        self.rate_limited = 0
        self.throttled: str | None = None
        """Why the destination is throttled for the rest of the run (``None`` while it is not)."""
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

    def throttle(self, delay: float) -> None:
        """Stop sending for the rest of the run: the vendor asked for more than the cap."""
        cap = self.settings.max_retry_after
        self.throttled = (f"{self.name} rate limit: the vendor asked to wait {delay:g}s, more than the"
                          f" {cap:g}s cap (SYNC_{self.name.upper()}_MAX_RETRY_AFTER); the rest is left"
                          " pending for the next run")
        log.warning("%s", self.throttled)

    def _check_throttled(self) -> None:
        if self.throttled is not None:
            raise Throttled(self.throttled)

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

        Returns the final response (which may still be a 429 when retries ran out - try again on a
        later run - or a 5xx, which for a non-idempotent call means "may have acted"). Raises
        :class:`RequestFailed` when no response came back and a later retry is safe,
        :class:`DeliveryUncertain` when it is not, :class:`Throttled` when the destination asked for
        a pause beyond the cap (now or earlier in the run; nothing was processed).

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
                if isinstance(exc, Throttled):
                    return False
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
                    # A little jitter so that paused workers do not return in lockstep. Capped: a
                    # longer wait has already made the transport throttled (see attempt()).
                    return min(delay, s.max_retry_after) + random.uniform(0.0, 0.1)
            return float(backoff(state))

        stop = stop_after_attempt(s.max_attempts) | stop_before_delay(s.retry_budget)

        def give_up(state: RetryCallState) -> httpx.Response:
            outcome = state.outcome
            assert outcome is not None
            if outcome.failed:
                raise outcome.exception()  # type: ignore[misc]
            return outcome.result()

        async def attempt() -> httpx.Response:
            self._check_throttled()
            await self.limiter.acquire()
            if limiter is not None:
                await limiter.acquire()
            self._check_throttled()  # another request may have been told to go away meanwhile
            self.requests_sent += 1
            response = await self._send(method, path, json=json, data=data, params=params)
            if response.status_code == 429:
                self.rate_limited += 1
                delay = retry_after_seconds(response)
                if delay is not None and delay > s.max_retry_after:
                    self.throttle(delay)
                    raise Throttled(self.throttled or "throttled")
                self.limiter.pause_for(min(delay, s.max_retry_after) if delay is not None else s.backoff_base)
            log.debug("%s %s %s -> %s", self.name, method, path, response.status_code)
            return response

        retrying = AsyncRetrying(stop=stop, wait=wait, retry=should_retry, retry_error_callback=give_up,
                                 sleep=self._sleep)
        try:
            return await retrying(attempt)
        except NOT_SENT_ERRORS as exc:
            raise RequestFailed(f"{type(exc).__name__}: connection failed") from exc
        except httpx.TransportError as exc:
            detail = f"{type(exc).__name__}: {scrub(exc, limit=200) or 'no response'}"
            if idempotent:
                raise RequestFailed(detail) from exc
            raise DeliveryUncertain(detail) from exc

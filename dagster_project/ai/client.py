"""The LLM layer: one small client over the `openai` package, shared by every AI step.

Why it looks like this:
- Chat Completions with `response_format={"type": "json_schema", ...}` is the one structured-output
  endpoint that OpenAI, vLLM, Ollama and most OpenAI-compatible servers all speak, so `OPENAI_BASE_URL`
  is the only switch needed to run on a self-hosted model.
- The `openai` client's own retries are off (`max_retries=0`); tenacity retries here instead, so every
  attempt is visible, `Retry-After` is honoured and a call's accounting row counts its attempts.
- Calls run concurrently under an `asyncio.Semaphore` (default 16 in flight): a backfill of thousands
  of signatures should take seconds, not minutes, without flooding a small local server.
- The client never raises for a failed call: it returns an `LLMResult` with a status (`timeout`,
  `http_429`, ...). Callers fall back to rules; an LLM outage is never a pipeline failure.
- A circuit breaker stops a batch from grinding through retries against a dead server: after
  `breaker_threshold` consecutive failed calls the remaining requests of the batch are not sent
  (status `circuit_open`, no accounting row, since nothing was called).
- Nothing here logs prompts. The prompts carry no personal data by construction (see journey.py,
  playbook.py, themes.py), but logs are the classic leak, so only ids, statuses and counts are logged.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from ..core.settings import SettingsError
from .privacy import safe_base_url, scrub_error

if TYPE_CHECKING:  # openai (~500 modules) is imported when a call is made, not when LLM is off
    import openai

DEFAULT_MODEL = "gpt-4o-mini"

# USD per 1M tokens (input, output), public list prices. Looked up by the longest matching prefix so
# dated snapshots ("gpt-4o-2024-08-06") price like their family. Self-hosted models cost 0 (with a note).
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
}


# A safety net against a bug that makes every input distinct: at most this many calls per step run.
# Signatures over the budget fall back (reason `budget_exceeded`, not cached) and are asked next run.
DEFAULT_MAX_CALLS_PER_RUN = 10_000

# The variables of the LLM settings (the `llm` resource's fields: dagster_project/resources/llm.py).
API_KEY_ENV, BASE_URL_ENV = "OPENAI_API_KEY", "OPENAI_BASE_URL"
MODEL_ENV, PRICES_ENV, MAX_CALLS_ENV = "ONBOARDING_LLM_MODEL", "ONBOARDING_LLM_PRICES", "ONBOARDING_LLM_MAX_CALLS"
# field -> (variable, type, default, smallest value allowed)
_NUMBERS: dict[str, tuple[str, type, float, float]] = {
    "timeout_s": ("ONBOARDING_LLM_TIMEOUT", float, 30.0, 0.001),
    "concurrency": ("ONBOARDING_LLM_CONCURRENCY", int, 16, 1),
    "max_attempts": ("ONBOARDING_LLM_MAX_ATTEMPTS", int, 4, 1),
    "backoff_s": ("ONBOARDING_LLM_BACKOFF", float, 1.0, 0),
    "max_backoff_s": ("ONBOARDING_LLM_MAX_BACKOFF", float, 30.0, 0),
    "breaker_threshold": ("ONBOARDING_LLM_BREAKER", int, 20, 1),
    "min_confidence": ("ONBOARDING_LLM_MIN_CONFIDENCE", float, 0.6, 0),
    "max_calls": (MAX_CALLS_ENV, int, DEFAULT_MAX_CALLS_PER_RUN, 0),
}
NUMBER_ENVS = {name: var for name, (var, _, _, _) in _NUMBERS.items()}


def _number(values: Mapping[str, str], field_name: str) -> float | int:
    var, kind, default, smallest = _NUMBERS[field_name]
    text = (values.get(var) or "").strip()
    if not text:
        return kind(default)
    try:
        number = kind(text)
    except ValueError:
        number = None
    if number is None or number < smallest or number != number or number == float("inf"):
        what = "a whole number" if kind is int else "a number"
        raise SettingsError(f"{var} must be {what} of at least {smallest:g}, got {text!r}")
    return number


def _prices(text: str | None) -> dict[str, tuple[float, float]]:
    """The public price list, plus `{"my-model": [input_usd_per_mtok, output_usd_per_mtok]}` from
    ONBOARDING_LLM_PRICES for private price lists."""
    prices = dict(PRICES_PER_MTOK)
    text = (text or "").strip()
    if text:
        try:
            extra = {str(k): (float(v[0]), float(v[1])) for k, v in json.loads(text).items()}
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            raise SettingsError(
                f'{PRICES_ENV} must be a JSON object {{"model": [input_usd, output_usd]}} per 1M tokens'
            ) from None
        prices.update(extra)
    return prices


@dataclass(frozen=True)
class LLMSettings:
    """Everything the AI steps read, resolved once per run by the `llm` resource.

    The LLM is on only when `OPENAI_API_KEY` or `OPENAI_BASE_URL` is set: with neither, the steps make
    no calls and the decisions stay on the rules. A local server may need no key; a dummy is sent then.
    Built by `from_variables` from the resource's values (this module reads no environment).
    """

    enabled: bool
    base_url: str | None
    api_key: str
    model: str = DEFAULT_MODEL
    timeout_s: float = 30.0
    concurrency: int = 16
    max_attempts: int = 4
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    breaker_threshold: int = 20
    min_confidence: float = 0.6
    max_calls: int = DEFAULT_MAX_CALLS_PER_RUN
    prices: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(PRICES_PER_MTOK))

    @classmethod
    def from_variables(cls, values: Mapping[str, str]) -> LLMSettings:
        """The settings from variable name -> text (what `LlmResource` gives), checked: a malformed
        value raises `SettingsError` naming its variable."""
        key = (values.get(API_KEY_ENV) or "").strip()
        base_url = (values.get(BASE_URL_ENV) or "").strip() or None
        return cls(
            enabled=bool(key or base_url),
            base_url=base_url,
            api_key=key or "not-needed",
            model=(values.get(MODEL_ENV) or "").strip() or DEFAULT_MODEL,
            prices=_prices(values.get(PRICES_ENV)),
            **{name: _number(values, name) for name in _NUMBERS},  # type: ignore[arg-type]
        )

    def as_request(self) -> dict[str, Any]:
        """The settings as JSON, for the AI step's child (sent on its stdin, never logged)."""
        return {**asdict(self), "prices": {k: list(v) for k, v in self.prices.items()}}

    @classmethod
    def from_request(cls, values: dict[str, Any]) -> LLMSettings:
        return cls(**{**values, "prices": {k: (float(v[0]), float(v[1])) for k, v in values["prices"].items()}})

    def describe(self) -> str:
        """One line for logs: where calls go, never the key."""
        if not self.enabled:
            return "LLM off (no OPENAI_API_KEY / OPENAI_BASE_URL): rule decisions only"
        return (
            f"LLM on: model {self.model} at {safe_base_url(self.base_url) or 'api.openai.com'}, {self.concurrency} in flight"
        )


def price_call(
    model: str, prompt_tokens: int, completion_tokens: int, prices: dict[str, tuple[float, float]]
) -> tuple[float, str | None]:
    """Cost in USD from the price table (longest prefix match); unknown models cost 0 with a note."""
    matches = [name for name in prices if model == name or model.startswith(name + "-")]
    if not matches:
        return 0.0, f"no price for model {model!r}: cost recorded as 0"
    inp, out = prices[max(matches, key=len)]
    return round((prompt_tokens * inp + completion_tokens * out) / 1_000_000, 8), None


@dataclass(frozen=True)
class LLMRequest:
    """One structured-output question. `signature` identifies the (PII-free) input for the cache."""

    purpose: str
    prompt_version: str
    signature: str
    messages: list[dict[str, str]]
    schema_name: str
    schema: dict[str, Any]
    max_tokens: int = 400


@dataclass
class CallRecord:
    """One row of `ai.llm_calls`."""

    call_id: str
    purpose: str
    model: str
    prompt_version: str
    signature: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_ms: int
    attempts: int
    status: str
    error: str | None
    note: str | None
    called_at: datetime

    def as_row(self) -> tuple[Any, ...]:
        return (
            self.call_id,
            self.purpose,
            self.model,
            self.prompt_version,
            self.signature,
            self.prompt_tokens,
            self.completion_tokens,
            self.cost_usd,
            self.latency_ms,
            self.attempts,
            self.status,
            self.error,
            self.note,
            self.called_at,
        )


@dataclass
class LLMResult:
    """The outcome of one call: `status` is `ok` (then `content` is the model's text) or a failure code."""

    request: LLMRequest
    status: str
    content: str | None
    call: CallRecord

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def failure_code(exc: BaseException) -> str:
    """A short, stable reason for a failed call (recorded, and used as the fallback reason)."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIStatusError):
        return f"http_{exc.status_code}"
    if isinstance(exc, openai.APIConnectionError):
        return "connection_error"
    return "error"


def _retryable(exc: BaseException) -> bool:
    import openai

    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError):
        return True
    return isinstance(exc, openai.APIStatusError) and (exc.status_code == 429 or exc.status_code >= 500)


def _retry_after_seconds(exc: BaseException | None) -> float | None:
    import openai

    if not isinstance(exc, openai.APIStatusError):
        return None
    headers = exc.response.headers
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return max(0.0, float(value) * scale)
            except ValueError:
                return None
    return None


class LLMClient:
    """Structured-output calls with bounded concurrency, retries, timeouts and per-call accounting.

    `run_many` is the synchronous entry point for Dagster steps; `complete_many` the async one.
    """

    def __init__(
        self,
        settings: LLMSettings,
        client_factory: Callable[[LLMSettings], openai.AsyncOpenAI] | None = None,
    ) -> None:
        self.settings = settings
        self._client_factory = client_factory or self._default_client

    @staticmethod
    def _default_client(settings: LLMSettings) -> openai.AsyncOpenAI:
        import openai

        return openai.AsyncOpenAI(
            api_key=settings.api_key,
            base_url=settings.base_url,
            timeout=settings.timeout_s,
            max_retries=0,
        )

    def run_many(self, requests: Sequence[LLMRequest]) -> list[LLMResult]:
        """Run the requests concurrently and return results in the same order (never raises per call)."""
        if not requests:
            return []
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.complete_many(requests))
        # Called from inside an event loop (a notebook, an async host): run on a private loop.
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, self.complete_many(requests)).result()

    async def complete_many(self, requests: Sequence[LLMRequest]) -> list[LLMResult]:
        client = self._client_factory(self.settings)
        semaphore = asyncio.Semaphore(self.settings.concurrency)
        consecutive_failures = 0
        try:

            async def bounded(request: LLMRequest) -> LLMResult:
                nonlocal consecutive_failures
                async with semaphore:
                    if consecutive_failures >= self.settings.breaker_threshold:
                        return self._not_sent(request, "circuit_open")
                    result = await self._complete(client, request)
                consecutive_failures = 0 if result.ok else consecutive_failures + 1
                return result

            return list(await asyncio.gather(*(bounded(r) for r in requests)))
        finally:
            await client.close()

    def _wait(self, state: RetryCallState) -> float:
        """Honour Retry-After when the server sends it, else exponential backoff with a little jitter
        (so 16 requests rate-limited together do not come back together); both capped."""
        exc = state.outcome.exception() if state.outcome else None
        hinted = _retry_after_seconds(exc)
        if hinted is not None:
            return min(hinted, self.settings.max_backoff_s)
        base = self.settings.backoff_s * (2 ** (state.attempt_number - 1))
        return min(base * random.uniform(1.0, 1.25), self.settings.max_backoff_s)

    def _not_sent(self, request: LLMRequest, status: str) -> LLMResult:
        """A result for a request that was never sent (attempts 0: no ledger row, no cost)."""
        record = CallRecord(
            call_id=str(uuid.uuid4()),
            purpose=request.purpose,
            model=self.settings.model,
            prompt_version=request.prompt_version,
            signature=request.signature,
            prompt_tokens=0,
            completion_tokens=0,
            cost_usd=0.0,
            latency_ms=0,
            attempts=0,
            status=status,
            error=None,
            note="not sent: too many consecutive failures in this batch",
            called_at=datetime.now(UTC).replace(tzinfo=None),
        )
        return LLMResult(request=request, status=status, content=None, call=record)

    async def _complete(self, client: openai.AsyncOpenAI, request: LLMRequest) -> LLMResult:
        s = self.settings
        started = time.perf_counter()
        called_at = datetime.now(UTC).replace(tzinfo=None)
        attempts = 0
        content: str | None = None
        status = "ok"
        error: str | None = None
        prompt_tokens = completion_tokens = 0

        async def attempt() -> Any:
            nonlocal attempts
            attempts += 1
            return await client.chat.completions.create(
                model=s.model,
                messages=request.messages,  # type: ignore[arg-type]
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": request.schema_name, "strict": True, "schema": request.schema},
                },
                temperature=0,
                seed=0,
                max_tokens=request.max_tokens,
            )

        try:
            retrying = AsyncRetrying(
                retry=retry_if_exception(_retryable),
                stop=stop_after_attempt(s.max_attempts),
                wait=self._wait,
                reraise=True,
            )
            response = await retrying(attempt)
            if response.usage is not None:
                prompt_tokens = int(response.usage.prompt_tokens or 0)
                completion_tokens = int(response.usage.completion_tokens or 0)
            choice = response.choices[0] if response.choices else None
            message = choice.message if choice else None
            if message is None:
                status, error = "empty_response", "no choices in the response"
            elif getattr(message, "refusal", None):
                status, error = "refused", scrub_error(message.refusal, [s.api_key])
            else:
                content = message.content or ""
        except Exception as exc:  # every failure becomes a status; the caller falls back to rules
            status = failure_code(exc)
            error = scrub_error(f"{type(exc).__name__}: {exc}", [s.api_key])
        cost, note = price_call(s.model, prompt_tokens, completion_tokens, s.prices)
        record = CallRecord(
            call_id=str(uuid.uuid4()),
            purpose=request.purpose,
            model=s.model,
            prompt_version=request.prompt_version,
            signature=request.signature,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=cost,
            latency_ms=int((time.perf_counter() - started) * 1000),
            attempts=attempts,
            status=status,
            error=error,
            note=note,
            called_at=called_at,
        )
        return LLMResult(request=request, status=status, content=content, call=record)


def write_calls(con: duckdb.DuckDBPyConnection, records: Sequence[CallRecord]) -> None:
    """Append accounting rows to `ai.llm_calls` for calls actually sent (the caller owns the transaction)."""
    sent = [r.as_row() for r in records if r.attempts > 0]
    if sent:
        from .tables import insert_rows  # pyarrow: the AI step's child's, not the code location's

        insert_rows(con, "ai.llm_calls", sent)


@dataclass
class CallTotals:
    """Counts for Dagster metadata and the eval report."""

    calls: int = 0
    failed_calls: int = 0
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, records: Sequence[CallRecord]) -> CallTotals:
        for r in records:
            if r.attempts == 0:  # never sent (circuit open)
                continue
            self.calls += 1
            self.failed_calls += r.status != "ok"
            self.attempts += r.attempts
            self.prompt_tokens += r.prompt_tokens
            self.completion_tokens += r.completion_tokens
            self.cost_usd += r.cost_usd
        return self

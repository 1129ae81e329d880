"""One runner for every AI step: guard, load, build requests, resolve answers, check and fall back per
row, save, log.

Why one: the journey, playbook and themes steps differ only in what they read, ask, accept, fall back
to and write. Those five things are an `AIStep` (one small class per step); the order of the work, the
cache and budget accounting (`common.resolve_answers`), the `llm`/`cache` status of a usable answer,
the fallback reasons and the single transaction that saves calls, cache entries and rows are here,
once. A new step is a subclass and an entry in `worker.STEPS`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

import duckdb

from .client import LLMClient, LLMRequest, LLMSettings
from .common import Log, StepStats, prompt_json, resolve_answers, save_step, signature_of
from .tables import ensure_ai_tables, table_exists

Item = TypeVar("Item")  # one unit of work: a user, a comment
Value = TypeVar("Value")  # what a row is written from: an answer that passed the checks, or the fallback


def chat_request(
    *,
    purpose: str,
    prompt_version: str,
    system: str,
    intro: str,
    payload: Any,
    schema_name: str,
    schema: dict[str, Any],
    max_tokens: int,
) -> LLMRequest:
    """A structured-output chat request whose user message is `intro` and the payload in a JSON block.

    The payload travels as data inside a fenced block (the system prompts say it is never an
    instruction), and its signature, the cache key with the model and prompt version, is its hash.
    """
    return LLMRequest(
        purpose=purpose,
        prompt_version=prompt_version,
        signature=signature_of(payload),
        messages=[
            {"role": "system", "content": system},
            {"role": "user", "content": f"{intro}\n```json\n{prompt_json(payload)}\n```"},
        ],
        schema_name=schema_name,
        schema=schema,
        max_tokens=max_tokens,
    )


class AIStep(ABC, Generic[Item, Value]):
    """What one AI step reads, asks, accepts, falls back to and writes; `run` does the rest."""

    label: ClassVar[str]  # how the log line names the step ("playbooks")
    unit: ClassVar[str] = "users"  # what the log line counts
    table: ClassVar[str]  # the ai.* table it writes
    replace_key: ClassVar[str | None] = None  # set for steps that rewrite earlier rows (by that column)
    fallback_status: ClassVar[str]  # the status of a row written from the fallback
    off_note: ClassVar[str]  # the note when no LLM is configured
    writes_when_off: ClassVar[bool] = True  # False: with the LLM off the step writes nothing at all

    @abstractmethod
    def missing_inputs(self, con: duckdb.DuckDBPyConnection) -> str | None:
        """Why the step cannot run yet (its input models are not built), or None."""

    @abstractmethod
    def load(self, con: duckdb.DuckDBPyConnection, settings: LLMSettings) -> list[Item]:
        """The items with no final row yet."""

    @abstractmethod
    def request(self, item: Item) -> LLMRequest | None:
        """The request for an item, or None when the item must not be sent (it then gets no row)."""

    @abstractmethod
    def check(self, item: Item, text: str | None, settings: LLMSettings) -> tuple[Value | None, str | None]:
        """(value, None) when the answer is usable, else (what was parsed or None, the reason)."""

    @abstractmethod
    def fallback(self, item: Item, checked: Value | None, reason: str) -> Value:
        """The value written instead of an unusable (or missing) answer."""

    @abstractmethod
    def row(
        self, item: Item, value: Value, status: str, reason: str | None, settings: LLMSettings, now: datetime
    ) -> tuple[Any, ...]:
        """The row for `table`; `status` is llm, cache or `fallback_status`, `reason` None unless a fallback."""

    def unsent_note(self, count: int) -> str:
        """The note for items `request` declined to send."""
        return f"{count} {self.unit} not sent"

    def log_line(self, stats: StepStats) -> str:
        return f"{self.label}: {stats.written} {self.unit}, {dict(stats.by_status)}, {stats.calls.calls} calls"


def run(
    con: duckdb.DuckDBPyConnection,
    step: AIStep[Any, Any],
    settings: LLMSettings,
    client: LLMClient | None = None,
    log: Log | None = None,
) -> StepStats:
    """Run one AI step over everything it has not processed yet; returns what it did.

    `settings` are the run's (the `llm` resource's, resolved by the asset and sent to the step's
    child): the step reads no environment, so a run's config override reaches it.
    """
    stats = StepStats(llm_enabled=settings.enabled, model=settings.model)
    ensure_ai_tables(con)
    if not settings.enabled and not step.writes_when_off:
        stats.notes.append(step.off_note)
        return stats
    if missing := step.missing_inputs(con):
        stats.notes.append(missing)
        return stats
    items = step.load(con, settings)
    stats.considered = len(items)
    if not settings.enabled:
        stats.notes.append(step.off_note)
        work: Sequence[tuple[Any, LLMRequest | None]] = [(item, None) for item in items]
    else:
        # Requests (prompt JSON, signature, schema) are only built when they can be sent.
        pairs = [(item, step.request(item)) for item in items]
        work = [(item, req) for item, req in pairs if req is not None]
        if unsent := len(pairs) - len(work):
            stats.notes.append(step.unsent_note(unsent))
    answers, results = {}, []
    if work and settings.enabled:
        unique: dict[str, LLMRequest] = {}
        for _item, req in work:
            assert req is not None
            unique.setdefault(req.signature, req)
        answers, results = resolve_answers(con, client or LLMClient(settings), unique, stats)

    now = datetime.now(UTC).replace(tzinfo=None)
    paid_for: set[str] = set()
    rows = []
    for item, req in work:
        checked, first_of_call = None, False
        if req is None:
            reason: str | None = "llm_off"
        else:
            answer = answers[req.signature]
            first_of_call = answer.fresh and req.signature not in paid_for
            paid_for.add(req.signature)
            if not first_of_call and answer.failure is None:
                stats.cache_hits += 1
            if answer.failure is not None:
                reason = answer.failure
            else:
                checked, reason = step.check(item, answer.text, settings)
        if reason is None:
            status, value = ("llm" if first_of_call else "cache"), checked
        else:
            status, value = step.fallback_status, step.fallback(item, checked, reason)
            stats.fallback_reasons[reason] += 1
        stats.by_status[status] += 1
        rows.append(step.row(item, value, status, reason, settings, now))
    save_step(con, settings.model, results, step.table, rows, replace_key=step.replace_key)
    stats.written = len(rows)
    if log:
        log(step.log_line(stats))
    return stats


StepFunction = Callable[..., StepStats]


def step_function(step_class: type[AIStep[Any, Any]]) -> StepFunction:
    """`f(con, settings, client=None, log=None) -> StepStats` running a fresh `step_class()`: the
    form the worker, the eval and the tests call a step in."""

    def run_step(
        con: duckdb.DuckDBPyConnection,
        settings: LLMSettings,
        client: LLMClient | None = None,
        log: Log | None = None,
    ) -> StepStats:
        return run(con, step_class(), settings, client, log)

    run_step.__doc__ = f"The {step_class.label} step ({step_class.__name__}) through the AI step runner."
    return run_step


def inputs_exist(con: duckdb.DuckDBPyConnection, *relations: str) -> bool:
    """True when every `schema.name` relation exists (the steps tolerate a warehouse not yet built)."""
    return all(table_exists(con, *relation.split(".", 1)) for relation in relations)

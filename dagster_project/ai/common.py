"""Small pieces shared by the three AI steps: signatures, the per-run call budget, run statistics."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb

from .cache import cache_lookup, cache_store
from .client import CallTotals, LLMClient, LLMRequest, LLMResult, write_calls
from .tables import insert_rows

Log = Callable[[str], None]


def signature_of(payload: Any) -> str:
    """A stable hash of the exact JSON a prompt is built from: equal inputs, equal signature."""
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def prompt_json(payload: Any) -> str:
    """The data block of a user message: one JSON object, keys sorted, so equal inputs are equal bytes.

    Backtick fences inside values are defused, so a value cannot appear to close the json block.
    """
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, indent=1).replace("```", "'''")


def parse_json_object(content: str | None) -> dict[str, Any] | None:
    """The answer as a dict, or None when it is not a JSON object."""
    if content is None:
        return None
    try:
        value = json.loads(content)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@dataclass
class StepStats:
    """What one AI step did; becomes the asset's Dagster metadata."""

    llm_enabled: bool
    model: str
    considered: int = 0
    written: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    fallback_reasons: Counter[str] = field(default_factory=Counter)
    cache_hits: int = 0
    calls: CallTotals = field(default_factory=CallTotals)
    notes: list[str] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        """Plain values (the asset wraps them in MetadataValue)."""
        return {
            "llm_enabled": self.llm_enabled,
            "model": self.model if self.llm_enabled else "none",
            "considered": self.considered,
            "rows_written": self.written,
            "calls": self.calls.calls,
            "failed_calls": self.calls.failed_calls,
            "attempts": self.calls.attempts,
            "cache_hits": self.cache_hits,
            "prompt_tokens": self.calls.prompt_tokens,
            "completion_tokens": self.calls.completion_tokens,
            "cost_usd": round(self.calls.cost_usd, 6),
            "by_status": dict(sorted(self.by_status.items())),
            "fallback_reasons": dict(sorted(self.fallback_reasons.items())),
            "notes": "; ".join(self.notes),
        }


@dataclass(frozen=True)
class Answer:
    """The answer for one signature: `text` from the cache or a call, or `failure` (a reason code)."""

    text: str | None
    failure: str | None
    fresh: bool  # asked in this run (False: served from the cache)


def resolve_answers(
    con: duckdb.DuckDBPyConnection,
    client: LLMClient,
    requests: dict[str, LLMRequest],
    stats: StepStats,
) -> tuple[dict[str, Answer], list[LLMResult]]:
    """Answers per signature: cache first, then one concurrent call per missing signature, at most
    the settings' `max_calls` per run (ONBOARDING_LLM_MAX_CALLS).

    Returns the answers and the call results; the caller writes the results (accounting, cache) in the
    same transaction as its own rows.
    """
    model = client.settings.model
    answers: dict[str, Answer] = {}
    by_version: dict[str, list[str]] = {}
    for sig, req in requests.items():
        by_version.setdefault(req.prompt_version, []).append(sig)
    for version, sigs in by_version.items():
        for sig, text in cache_lookup(con, model, version, sigs).items():
            answers[sig] = Answer(text=text, failure=None, fresh=False)
    missing = [req for sig, req in requests.items() if sig not in answers]
    budget = client.settings.max_calls
    if len(missing) > budget:
        stats.notes.append(f"{len(missing) - budget} signatures over the per-run call budget ({budget})")
        for req in missing[budget:]:
            answers[req.signature] = Answer(text=None, failure="budget_exceeded", fresh=False)
        missing = missing[:budget]
    results = client.run_many(missing)
    for result in results:
        sig = result.request.signature
        if result.ok:
            answers[sig] = Answer(text=result.content, failure=None, fresh=True)
        else:
            answers[sig] = Answer(text=None, failure=result.status, fresh=True)
    stats.calls.add([r.call for r in results])
    if not_sent := sum(r.status == "circuit_open" for r in results):
        stats.notes.append(f"circuit breaker opened: {not_sent} requests not sent after repeated failures")
    return answers, results


def write_results(con: duckdb.DuckDBPyConnection, model: str, results: list[LLMResult]) -> None:
    """Accounting rows and cache entries for a batch of calls (inside the caller's transaction)."""
    write_calls(con, [r.call for r in results])
    cache_store(con, model, results)


def save_step(
    con: duckdb.DuckDBPyConnection,
    model: str,
    results: list[LLMResult],
    table: str,
    rows: list[tuple[Any, ...]],
    replace_key: str | None = None,
) -> None:
    """A step's output in one transaction: the calls' accounting and cache entries, then its rows.

    Why one transaction: a crash between them would leave answers paid for but not cached (paid
    again next run) or rows without their accounting. ``replace_key`` first deletes the rows being
    rewritten (by that column), for steps that revise earlier answers.
    """
    con.execute("begin")
    try:
        write_results(con, model, results)
        if rows:
            if replace_key:
                con.execute(
                    f"delete from {table} where {replace_key} in (select unnest(?::varchar[]))",
                    [[row[0] for row in rows]],
                )
            insert_rows(con, table, rows)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


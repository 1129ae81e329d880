"""`ai.llm_cache`: the model's answers keyed by (model, prompt version, input signature).

Why: the same non-personal input gets the same answer, so each distinct signature costs one call, ever,
and a re-run or a backfill costs nothing. The key includes the model and the prompt version, so
changing either starts a fresh cache instead of serving answers to a different question.

What is stored: the answer text of every call that completed (HTTP 200) with parseable JSON, including
answers that validation later rejects (out of enum, low confidence): re-asking the same question at
temperature 0 would get the same answer, so it would only cost money. Answers are re-validated on every
read, so a changed threshold (`ONBOARDING_LLM_MIN_CONFIDENCE`) applies to cached answers too.
Not stored: transport failures (timeouts, 429, 5xx) and unparseable text, so those are asked again
for the next user with that signature.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import duckdb

from .client import LLMResult
from .tables import insert_rows


def cache_lookup(
    con: duckdb.DuckDBPyConnection, model: str, prompt_version: str, signatures: Iterable[str]
) -> dict[str, str]:
    """signature -> cached answer text, for the signatures present."""
    wanted = sorted(set(signatures))
    if not wanted:
        return {}
    rows = con.execute(
        """
        select signature, answer_json from ai.llm_cache
        where model = ? and prompt_version = ? and signature in (select unnest(?::varchar[]))
        """,
        [model, prompt_version, wanted],
    ).fetchall()
    return {sig: answer for sig, answer in rows}


def is_cacheable(result: LLMResult) -> bool:
    """A completed call whose text is a JSON object (see the module docstring for why)."""
    if not result.ok or result.content is None:
        return False
    try:
        return isinstance(json.loads(result.content), dict)
    except ValueError:
        return False


def cache_store(con: duckdb.DuckDBPyConnection, model: str, results: Sequence[LLMResult]) -> int:
    """Insert the cacheable answers (first one wins on a key clash); returns how many were stored."""
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = [
        (
            model,
            r.request.prompt_version,
            r.request.signature,
            r.request.purpose,
            r.content,
            r.call.call_id,
            now,
        )
        for r in results
        if is_cacheable(r)
    ]
    if rows:
        insert_rows(con, "ai.llm_cache", rows, "on conflict do nothing")
    return len(rows)

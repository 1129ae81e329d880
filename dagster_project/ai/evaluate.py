"""The evaluation report: how the LLM steps behave on a warehouse (generated or real data).

- agreement between LLM tracks and the rule tracks, with the most frequent disagreements;
- where every user's assigned track came from (rules / llm / cache / fallback + reasons / experiment);
  both read from dbt (`intermediate.int_onboarding__tracks`, a view over the AI step's rows), so the
  report agrees with the marts, experiment layer included;
- cache hit rate: the share of LLM-path users answered without a call of their own;
- calls, tokens and cost per 1,000 signups, per purpose;
- playbook statuses; theme sources and keyword-vs-LLM theme agreement.

`python -m tests.standins ai-eval` (dev tooling, tests/standins/ai_eval.py) runs the three steps on a
copy of the warehouse against the local stand-in first, so the report needs no key.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import duckdb

from .journey import RULE_TRACKS_MODEL, decided_tracks
from .themes import keyword_theme, scrubbed_comment


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    """Rows as dicts; a table that does not exist yet (no AI run so far) reads as empty."""
    try:
        cursor = con.execute(sql)
    except duckdb.CatalogException:
        return []
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _per_thousand(value: float, signups: int) -> float:
    return round(value * 1000 / signups, 2) if signups else 0.0


def evaluate(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The report as a plain dict (the CLI prints it; tests assert on it). Read-only."""
    report: dict[str, Any] = {
        "rule_table": f"{RULE_TRACKS_MODEL} (dbt seeds onboarding_track_rules, onboarding_role_groups)"
    }
    signups = len(_rows(con, "select user_id from intermediate.int_users__profiles"))
    report["signups"] = signups
    assignments = {r["user_id"]: r for r in _rows(con, "select * from ai.track_assignments")}
    try:
        decided = decided_tracks(con)
    except duckdb.CatalogException:  # not built yet, or no AI step has created the ai tables it reads
        decided = {}

    sources: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    disagreements: Counter[tuple[str, str]] = Counter()
    compared = agreed = 0
    for d in decided.values():
        sources[d.track_source] += 1
        if d.track_source == "fallback":
            reasons[d.llm_fallback_reason or "unknown"] += 1
        if d.track_source in ("llm", "cache"):
            compared += 1
            if d.rule_track == d.track:
                agreed += 1
            else:
                disagreements[(d.rule_track, d.track)] += 1
    report["tracks"] = {
        "track_source": dict(sorted(sources.items())),
        "fallback_reasons": dict(sorted(reasons.items())),
        "llm_vs_rules_compared": compared,
        "llm_vs_rules_agreement": round(agreed / compared, 4) if compared else None,
        "top_disagreements": [
            {"rule_track": a, "llm_track": b, "users": n} for (a, b), n in disagreements.most_common(5)
        ],
    }

    calls = _rows(
        con,
        """
        select purpose, count(*) as calls, sum(attempts) as attempts,
               count(*) filter (where status <> 'ok') as failed,
               sum(prompt_tokens) as prompt_tokens, sum(completion_tokens) as completion_tokens,
               sum(cost_usd) as cost_usd
        from ai.llm_calls group by purpose order by purpose
        """,
    )
    by_purpose = {}
    for c in calls:
        tokens = int(c["prompt_tokens"] or 0) + int(c["completion_tokens"] or 0)
        by_purpose[c["purpose"]] = {
            "calls": int(c["calls"]),
            "attempts": int(c["attempts"] or 0),
            "failed": int(c["failed"]),
            "tokens": tokens,
            "cost_usd": round(float(c["cost_usd"] or 0), 6),
            "calls_per_1000_signups": _per_thousand(int(c["calls"]), signups),
            "tokens_per_1000_signups": _per_thousand(tokens, signups),
            "cost_usd_per_1000_signups": round(float(c["cost_usd"] or 0) * 1000 / signups, 6)
            if signups
            else 0.0,
        }
    total_calls = sum(v["calls"] for v in by_purpose.values())
    total_tokens = sum(v["tokens"] for v in by_purpose.values())
    total_cost = sum(v["cost_usd"] for v in by_purpose.values())
    journey_calls = by_purpose.get("journey", {}).get("calls", 0)
    lookups = len(assignments)
    report["cost"] = {
        "by_purpose": by_purpose,
        "calls": total_calls,
        "tokens": total_tokens,
        "cost_usd": round(total_cost, 6),
        "calls_per_1000_signups": _per_thousand(total_calls, signups),
        "tokens_per_1000_signups": _per_thousand(total_tokens, signups),
        "cost_usd_per_1000_signups": round(total_cost * 1000 / signups, 6) if signups else 0.0,
        "journey_calls_per_1000_signups": _per_thousand(journey_calls, signups),
        "journey_cache_hit_rate": round(max(0.0, 1 - journey_calls / lookups), 4) if lookups else None,
        "distinct_profile_signatures": len({r["profile_signature"] for r in assignments.values()}),
    }

    report["playbooks"] = {
        f"{r['status']}{'/' + r['reason'] if r['reason'] else ''}": int(r["n"])
        for r in _rows(
            con, "select status, reason, count(*) as n from ai.playbooks group by all order by all"
        )
    }
    theme_rows = _rows(
        con,
        """
        select f.theme, f.source, r.comment, p.name, p.email, p.company
        from ai.feedback_themes as f
        left join staging.stg_nps__responses as r using (response_id)
        left join intermediate.int_users__profiles as p on f.user_id = p.user_id
        """,
    ) or _rows(con, "select theme, source, null as comment from ai.feedback_themes")
    llm_rows = [r for r in theme_rows if r["source"] in ("llm", "cache") and r.get("comment")]
    kw_agree = sum(keyword_theme(scrubbed_comment(r)) == r["theme"] for r in llm_rows)
    report["themes"] = {
        "by_source": dict(sorted(Counter(r["source"] for r in theme_rows).items())),
        "by_theme": dict(sorted(Counter(r["theme"] for r in theme_rows).items())),
        "keywords_vs_llm_agreement": round(kw_agree / len(llm_rows), 4) if llm_rows else None,
    }
    return report

"""Demo inputs for issue 19's review fixes: support tickets that are reopened after their resolution.

Why: a reopened ticket is a second `opened` line for the same ticket id after its `resolved` line (one
line per status change, docs/data-contracts.md). The raw layer keeps it (dedupe on ticket, status and
time) and the decision models count the ticket as open again (docs/rules.md, definitions); without such
lines in the demo, `make run` and the end-to-end rules test would never exercise that path.

A share of the tickets resolved inside the window reopens a few hours to three days later (if that is
still inside the window); half of those are resolved again a little later. Randomness comes from its own
generator seeded with (seed, 1901), so adding these lines moves no other source's draws and the same seed
gives the same lines.
"""

from __future__ import annotations

import json

import numpy as np

from .lines import iso_ms, jdump

REOPEN_SHARE = 0.08
RESOLVE_AGAIN_SHARE = 0.5
HOUR_MS = 3_600_000
DAY_MS = 86_400_000


def reopened_ticket_lines(
    lines: list[tuple[int, bytes]], end_ms: int, seed: int
) -> tuple[list[tuple[int, bytes]], dict[str, int]]:
    """`lines` (ticket status changes as (ms, JSON line)) plus reopenings, and their counts.

    `end_ms` is the end of the window (exclusive): no line is dated after it.
    """
    rng = np.random.default_rng([seed, 1901])
    resolved = [(ms, json.loads(line)) for ms, line in lines if json.loads(line).get("status") == "resolved"]
    resolved.sort(key=lambda item: (item[1]["ticket_id"], item[0]))
    picks = rng.random(len(resolved)) < REOPEN_SHARE
    delays = rng.integers(2 * HOUR_MS, 3 * DAY_MS, len(resolved))
    again = rng.random(len(resolved)) < RESOLVE_AGAIN_SHARE
    again_delays = rng.integers(HOUR_MS, 2 * DAY_MS, len(resolved))
    out = list(lines)
    stats = {"reopened": 0, "resolved_again": 0}
    for k, (ms, row) in enumerate(resolved):
        reopened_ms = ms + int(delays[k])
        if not picks[k] or reopened_ms >= end_ms:
            continue
        out.append(
            (
                reopened_ms,
                jdump({**row, "status": "opened", "occurred_at": iso_ms(reopened_ms)[:19] + "Z"}).encode(),
            )
        )
        stats["reopened"] += 1
        closed_ms = reopened_ms + int(again_delays[k])
        if again[k] and closed_ms < end_ms:
            out.append(
                (
                    closed_ms,
                    jdump(
                        {**row, "status": "resolved", "occurred_at": iso_ms(closed_ms)[:19] + "Z"}
                    ).encode(),
                )
            )
            stats["resolved_again"] += 1
    return out, stats

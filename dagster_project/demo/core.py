"""``generate()``: simulate users, write the landing files of every source and the ground-truth manifest.

Layout and line formats follow docs/data-contracts.md section 1; planted duplicates and malformed
lines follow section 2, and every one of them is counted in ``manifest.json`` so the loaders' counts
can be checked exactly. Pipeline:

1. ``profiles.make_users`` and ``behaviour.simulate`` (numpy) produce users and all calls;
2. per landing day, DuckDB renders the day's lines (``lines.py``) into one buffer;
3. duplicates and malformed lines go into a second gzip member of the day file (plain ``.jsonl``
   sources get them interleaved), truncated streams into an extra file;
4. compression runs in a thread pool (zlib releases the GIL) while DuckDB renders the next day.

Determinism: all randomness comes from ``numpy.random.SeedSequence(seed)`` children, one per stage,
and gzip members carry no timestamp, so the same arguments give byte-identical files (including the
manifest, whose ``generated_at`` is the nominal export time, not the wall clock).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from . import catalog as C
from .behaviour import (
    DAY_MS,
    DEST_MIXPANEL,
    DEST_RUDDERSTACK,
    DEST_SEGMENT,
    KIND_IDENTIFY,
    KIND_PAGE,
    KIND_TRACK,
    simulate,
)
from .experiments import EXPERIMENTS, WELCOME_CHECKLIST_V2
from .gz import gz_member, truncate
from .journeys import reopened_ticket_lines
from .lines import (
    EMPTY,
    MIXPANEL_SQL,
    RUDDER_SQL,
    SEGMENT_SQL,
    Rendered,
    jdump,
    mix64,
    register_lookups,
    render,
)
from .malformed import REASONS, Factory, allocate, plan_lines
from .products import assign_products
from .profiles import make_users, traits
from .typeform import write_typeform
from .webhooks import nps_lines, signup_lines, ticket_lines

SOURCES = ("segment", "rudderstack", "mixpanel", "signups", "tickets", "nps", "typeform")
GENERATED_ENTRIES = frozenset({*SOURCES, "manifest.json"})
SEGMENT_SOURCE_ID = "Wq3kZp8TnL"
RUDDER_SOURCE_ID = "2NfKq8mZ9XyVbL3pR4tT6sW1uYd"
MAX_LINE_BYTES = 65_536
MIXPANEL_FORWARD_SHARE = 0.4
MIXPANEL_MS_SHARE = 0.1
# Duplicate rates (share of a day's lines): same-file copies, next-day redelivery, cross-pipeline.
DUP_SAME_FILE = 0.003
DUP_NEXT_DAY = 0.0015
DUP_CROSS_PIPELINE = 0.0003
DUP_MIXPANEL = 0.004
DUP_PLAIN = 0.01

Progress = Callable[[str, int, int], None]


# --------------------------------------------------------------------------------------------------
# Bookkeeping
# --------------------------------------------------------------------------------------------------
class Ledger:
    """Exact per-source, per-day counts of what was written (the manifest's ground truth)."""

    def __init__(self, days: list[date]) -> None:
        self.days = days
        self.sources: dict[str, dict[str, Any]] = {
            s: {"files": 0, "lines": 0, "unique": 0, "duplicates": 0, "malformed": 0,
                "malformed_by_reason": {r: 0 for r in REASONS}}
            for s in SOURCES
        }  # fmt: skip
        self.by_day: dict[str, dict[str, dict[str, int]]] = {
            d.isoformat(): {
                s: {"files": 0, "lines": 0, "unique": 0, "duplicates": 0, "malformed": 0} for s in SOURCES
            }
            for d in days
        }

    def add(
        self,
        source: str,
        day: int,
        *,
        files: int = 0,
        unique: int = 0,
        dups: int = 0,
        malformed: list[str] | None = None,
    ) -> None:
        bad = malformed or []
        lines = unique + dups + len(bad)
        tot, day_row = self.sources[source], self.by_day[self.days[day].isoformat()][source]
        for row in (tot, day_row):
            row["files"] += files
            row["lines"] += lines
            row["unique"] += unique
            row["duplicates"] += dups
            row["malformed"] += len(bad)
        for reason in bad:
            tot["malformed_by_reason"][reason] += 1


class Writer:
    """Compresses and writes files on worker threads; bounded so memory stays flat at any size."""

    def __init__(self, root: Path, level: int) -> None:
        self.root = root
        self.level = level
        self.pool = ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2)))
        self.pending: list[Future[None]] = []

    def _write(self, rel: str, members: list[list[bytes] | list[memoryview]], raw: bytes | None) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = raw if raw is not None else b"".join(gz_member(m, self.level) for m in members if any(m))
        path.write_bytes(data)

    def submit(
        self, rel: str, members: list[list[bytes] | list[memoryview]] | None = None, raw: bytes | None = None
    ) -> None:
        """Write ``rel``: gzip members (each a list of text pieces, compressed as one member) or
        ``raw`` bytes as they are."""
        while len(self.pending) >= 6:  # back-pressure: at most a few days of text held in memory
            self.pending.pop(0).result()
        self.pending.append(self.pool.submit(self._write, rel, members or [], raw))

    def close(self) -> None:
        for f in self.pending:
            f.result()
        self.pool.shutdown()


@dataclass
class Window:
    start: date
    end: date
    days: list[date]
    start_ms: int

    def day_ms(self, i: int) -> int:
        return self.start_ms + i * DAY_MS


def _prepare_out(out: Path) -> None:
    """Refuse to touch a directory holding anything the generator did not write, else clear our parts."""
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(out)
    out.mkdir(parents=True, exist_ok=True)
    entries = [e for e in out.iterdir() if not e.name.startswith(".")]
    foreign = sorted(e.name for e in entries if e.name not in GENERATED_ENTRIES)
    if foreign:
        raise FileExistsError(
            f"{out} holds files the generator did not make ({', '.join(foreign[:5])}); refusing"
        )
    for e in entries:
        if e.is_dir():
            shutil.rmtree(e)
        else:
            e.unlink()


def _hash8(rng: np.random.Generator) -> str:
    return f"{int(rng.integers(0, 2**32)):08x}"


def _forced_day(rng: np.random.Generator, sizes: np.ndarray, exclude_last: bool) -> int:
    """A day that gets at least one planted duplicate of a kind, so small runs still contain each kind."""
    ok = np.flatnonzero(sizes[:-1] > 0) if exclude_last else np.flatnonzero(sizes > 0)
    return int(rng.choice(ok)) if len(ok) else -1


def _pick(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    return np.sort(rng.choice(n, size=min(k, n), replace=False)) if n and k else np.zeros(0, dtype=np.int64)


def _n_dups(rng: np.random.Generator, n: int, rate: float, forced: bool) -> int:
    k = int(rng.binomial(n, rate)) if n else 0
    return max(k, 1) if forced and n else k


def _trunc_days(rng: np.random.Generator, sizes: np.ndarray, n: int) -> set[int]:
    """Days that get a truncated extra file: among days with >= 20 lines, else the fullest day
    (a cut needs a few lines to land inside one, so tiny runs still get their truncated_gzip)."""
    if n <= 0:
        return set()
    eligible = np.flatnonzero(sizes >= 20)
    if len(eligible) == 0:
        return {int(np.argmax(sizes))} if sizes.max(initial=0) >= 3 else set()
    return {int(eligible[i]) for i in _pick(rng, len(eligible), n)}


# Factory salt per source, so two sources never plant the same "fresh" id.
_MALFORMED_SALT = {"segment": 11, "rudderstack": 12, "mixpanel": 13, "signups": 21, "tickets": 22, "nps": 23}


@dataclass
class _Run:
    """What every source writer shares in one ``generate()`` call, passed as one argument."""

    con: duckdb.DuckDBPyConnection
    cols: dict[str, np.ndarray]
    win: Window
    ledger: Ledger
    writer: Writer
    r_mal: np.random.Generator
    users: Any
    rate: float
    report: Progress


def _plan_malformed(
    run: _Run, source: str, sizes: np.ndarray
) -> tuple[dict[int, list[tuple[str, bytes]]], set[int]]:
    """One source's malformed lines by day and the days that get a truncated extra file.

    Every writer draws these from ``r_mal`` in this order (lines, then truncated days), so the
    planted set depends only on the seed and the day sizes."""
    counts = allocate(source, int(sizes.sum()), run.rate, run.r_mal)
    factory = Factory(source, run.r_mal, run.users, salt=_MALFORMED_SALT[source])
    mal = plan_lines(factory, counts, sizes, run.win.start_ms)
    return mal, _trunc_days(run.r_mal, sizes, counts.get("truncated_gzip", 0))


def _rows_by_received_day(
    cols: dict[str, np.ndarray], dest: int, win: Window
) -> tuple[np.ndarray, np.ndarray]:
    """The calls one pipeline delivered, in received order, and their per-day row boundaries
    (Segment and RudderStack file by received time, not event time)."""
    rows = np.flatnonzero(cols["dest"] == dest)
    rows = rows[np.lexsort((rows, cols["recv"][rows]))]
    return rows, _day_slices((cols["recv"][rows] - win.start_ms) // DAY_MS, len(win.days))


def _extras_member(
    rng: np.random.Generator, extras: list[bytes], bad: list[tuple[str, bytes]]
) -> list[bytes]:
    """A day file's second gzip member: its copies and malformed lines, shuffled together so a loader
    cannot tell them apart by position."""
    lines = extras + [line + b"\n" for _, line in bad]
    return [lines[i] for i in rng.permutation(len(lines))]


def _late_ms(rng: np.random.Generator, day_ms: int) -> int:
    """A file-name time late in the day (the truncated extra file lands after the regular ones)."""
    return day_ms + DAY_MS - 1000 - int(rng.integers(0, 50_000))


def _close_day(
    ledger: Ledger, source: str, d: int, unique: int, dups: int, bad: list[tuple[str, bytes]]
) -> None:
    """Count a day's unique lines, planted copies and malformed lines (by reason) in the ledger."""
    ledger.add(source, d, unique=unique, dups=dups, malformed=[r for r, _ in bad])


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------
def generate(
    out: Path,
    users: int = 1000,
    days: int = 90,
    seed: int = 42,
    end_date: date | None = None,
    malformed_rate: float = 0.002,
    progress: Progress | None = None,
    compress_level: int = 1,
) -> dict[str, Any]:
    """Write a realistic multi-source export into ``out`` and return the manifest (also ``out/manifest.json``).

    Dates end yesterday (UTC) unless ``end_date`` is given; the window is ``days`` days ending there,
    so the newest partition is complete. ``malformed_rate`` is the approximate share of malformed
    lines per source (0 plants none; any positive rate plants at least a couple of every applicable
    kind, so small demo runs still exercise every quarantine path). ``progress(stage, done, total)``
    is called with stages users, simulate, segment, rudderstack, mixpanel, signups, tickets, nps,
    manifest (per day for the per-day stages). ``compress_level`` is zlib's: 1 keeps 10M events
    within a few minutes on two cores (gzip CPU dominates); 6 makes files ~20% smaller, 2x slower.

    Refuses (FileExistsError) when ``out`` holds anything but earlier generator output; that output
    is replaced, so a rerun never mixes two datasets.
    """
    if users < 1 or days < 1:
        raise ValueError("users and days must be >= 1")
    if not 0 <= malformed_rate < 0.5:
        raise ValueError("malformed_rate must be in [0, 0.5)")
    out = Path(out)
    report = progress or (lambda stage, done, total: None)
    end = end_date or (datetime.now(UTC).date() - timedelta(days=1))
    start = end - timedelta(days=days - 1)
    win = Window(start, end, [start + timedelta(days=i) for i in range(days)],
                 int(datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp() * 1000))  # fmt: skip
    _prepare_out(out)

    seq = np.random.SeedSequence(seed)
    r_users, r_sim, r_time, r_seg, r_rs, r_mp, r_plain, r_mal, r_ids, r_misc = (
        np.random.default_rng(s) for s in seq.spawn(10)
    )
    report("users", 0, 1)
    people = make_users(users, r_users)
    products = assign_products(people, seed)
    report("users", 1, 1)
    report("simulate", 0, 1)
    sim = simulate(people, win.start_ms, days, r_sim)
    report("simulate", 1, 1)

    ev = sim.events
    n_ev = len(ev)
    salt = int(r_ids.integers(0, 2**62))
    h1 = mix64(np.arange(n_ev, dtype=np.uint64) + np.uint64(salt))
    h2 = mix64(h1 ^ np.uint64(0x5DEECE66D2545F49))
    ts, orig, sent, recv, proc = _timing(ev, people.skew_ms, people.n, r_time)
    is_real_user = ev.u < people.n
    first_identify = (ev.kind == KIND_IDENTIFY) & (
        ev.t <= sim.signup_ms[np.minimum(ev.u, people.n - 1)] + 5_000
    )
    camp = (ev.anon & is_real_user) | first_identify
    camp |= (ev.kind == KIND_TRACK) & (ev.code == C.EV["user.signed_up"])
    cpage = _context_page(ev, first_identify)

    con = duckdb.connect()
    register_lookups(con)
    _register_users(con, people, sim.n_visitors, r_misc)
    cols = {"u": ev.u, "kind": ev.kind, "code": ev.code, "pint": ev.pint, "pstr": ev.pstr, "anon": ev.anon,
            "camp": camp, "cpage": cpage, "h1": h1, "h2": h2, "ts": ts, "orig": orig, "sent": sent,
            "recv": recv, "proc": proc, "dest": ev.dest}  # fmt: skip
    ledger = Ledger(win.days)
    writer = Writer(out, compress_level)
    try:
        run = _Run(con, cols, win, ledger, writer, r_mal, people, malformed_rate, report)
        _write_rudderstack(run, r_rs, cross=_write_segment(run, r_seg))
        mp_stats = _write_mixpanel(run, r_mp)
        _write_plain(run, "signups", signup_lines(people, sim.signup_ms, r_plain), r_plain)
        tick, ticket_stats = ticket_lines(people, sim.tickets)
        tick, reopen_stats = reopened_ticket_lines(tick, win.start_ms + days * DAY_MS, seed)
        ticket_stats.update(reopen_stats)
        _write_plain(run, "tickets", tick, r_plain)
        nps, nps_stats = nps_lines(people, sim.nps, int(r_ids.integers(0, 2**62)))
        _write_plain(run, "nps", nps, r_plain)
        typeform = write_typeform(run, people, sim.signup_ms, seed)
    finally:
        writer.close()
        con.close()

    # --- manifest -----------------------------------------------------------------------------------
    def by_type(dest: int) -> dict[str, int]:
        m = ev.dest == dest
        return {"track": int((m & (ev.kind == KIND_TRACK)).sum()), "identify": int((m & (ev.kind == KIND_IDENTIFY)).sum()),
                "page": int((m & (ev.kind == KIND_PAGE)).sum())}  # fmt: skip

    seg_t, rs_t = by_type(DEST_SEGMENT), by_type(DEST_RUDDERSTACK)
    ledger.sources["segment"]["by_type"] = seg_t
    ledger.sources["rudderstack"]["by_type"] = rs_t
    ledger.sources["mixpanel"].update(mp_stats)
    combined = {k: seg_t[k] + rs_t[k] for k in seg_t}
    cross = mp_stats["forwarded_from_segment"] + mp_stats["forwarded_from_rudderstack"]
    unified = combined["track"] + combined["page"] + ledger.sources["mixpanel"]["unique"] - cross
    expected = int((ev.kind != KIND_IDENTIFY).sum())
    if unified != expected:  # the accounting must close exactly; anything else is a generator bug
        raise AssertionError(f"unified_events {unified} != simulated events {expected}")
    for s in SOURCES:
        row = ledger.sources[s]
        assert row["lines"] == row["unique"] + row["duplicates"] + row["malformed"]
    treat = people.treatment
    manifest: dict[str, Any] = {
        "seed": seed,
        "users": users,
        "days": days,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "generated_at": (datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ),
        "max_line_bytes": MAX_LINE_BYTES,
        "malformed_rate": malformed_rate,
        "source_ids": {"segment": SEGMENT_SOURCE_ID, "rudderstack": RUDDER_SOURCE_ID},
        "sources": ledger.sources,
        "by_day": ledger.by_day,
        "cross_source_duplicates": cross,
        "unified_events": unified,
        "segment_by_type": combined,
        "users_signed_up": users,
        "anonymous_visitors": sim.n_visitors,
        "personas": {name: int((sim.persona == i).sum()) for i, name in enumerate(C.PERSONAS)},
        "experiments": {
            WELCOME_CHECKLIST_V2.experiment_id: {
                "control": int((~treat).sum()),
                "treatment": int(treat.sum()),
            }
        },
        "experiment_outcomes": {
            WELCOME_CHECKLIST_V2.experiment_id: {
                "metric": "users reaching each milestone (once per user)",
                "tutorial_uplift_pp_planted": EXPERIMENTS[
                    WELCOME_CHECKLIST_V2.experiment_id
                ].tutorial_uplift_pp,
                "milestone_users": sim.stats["milestone_users"],
            }
        },
        "support": ticket_stats,
        "nps": nps_stats,
        "typeform": typeform,
        "products": products,
        "event_counts": {
            name: int(((ev.kind == KIND_TRACK) & (ev.code == i)).sum())
            for i, name in enumerate(C.EVENT_NAMES)
        },
    }
    (out / "manifest.json").write_text(jdump_pretty(manifest))
    report("manifest", 1, 1)
    return manifest


def jdump_pretty(obj: Any) -> str:
    """The manifest: indented for humans, UTF-8, trailing newline."""
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------------------------------
# Timing and lookups
# --------------------------------------------------------------------------------------------------
def _timing(ev: Any, skew: np.ndarray, n_users: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Segment's four clocks from the simulated time T: latency L, batching B, client skew S (<= 0).
    originalTimestamp = T+S, sentAt = T+S+B, receivedAt = T+B+L and timestamp = receivedAt - (sentAt -
    originalTimestamp) = T+L, exactly Segment's skew correction; so receivedAt > sentAt always."""
    n = len(ev.t)
    server = ev.dest == DEST_RUDDERSTACK
    lat = np.where(server, rng.integers(5, 80, n), np.clip(rng.lognormal(5.3, 0.6, n), 30, 1500)).astype(
        np.int64
    )
    batch = np.where(rng.random(n) < 0.9, rng.integers(0, 400, n), rng.integers(400, 10_000, n))
    batch = np.where(server, rng.integers(0, 200, n), batch).astype(np.int64)
    s = np.where(server | (ev.u >= n_users), 0, skew[np.minimum(ev.u, n_users - 1)])
    t = ev.t
    ts = t + lat
    orig = t + s
    sent = orig + batch
    recv = t + batch + lat
    proc = np.where(
        ev.dest == DEST_MIXPANEL, t + rng.integers(300, 5_000, n), recv + rng.integers(200, 4_000, n)
    )
    return ts, orig, sent, recv, proc


def _context_page(ev: Any, first_identify: np.ndarray) -> np.ndarray:
    """The page a call fires on (context.page): itself for pages, a fixed page per track event."""
    ev_page = np.array([C.PG[C.EVENT_PAGE[name]] for name in C.EVENT_NAMES], dtype=np.int16)
    cp = np.where(ev.kind == KIND_PAGE, ev.code, ev_page[np.where(ev.kind == KIND_TRACK, ev.code, 0)])
    cp = np.where(ev.kind == KIND_IDENTIFY, np.where(first_identify, C.PG["/signup"], C.PG["/app"]), cp)
    return cp.astype(np.int16)


def _register_users(con: duckdb.DuckDBPyConnection, users: Any, n_vis: int, rng: np.random.Generator) -> None:
    """Users (and never-identified visitors) with their pre-rendered JSON fragments, as a DuckDB table."""
    n = users.n
    vis_raw = rng.integers(0, 256, size=(n_vis, 16), dtype=np.uint8)
    vis_anon = [str(uuid.UUID(bytes=vis_raw[i].tobytes(), version=4)) for i in range(n_vis)]
    vis_ua = rng.integers(0, len(C.USER_AGENTS), n_vis)
    vis_ip = rng.integers(1, 255, size=(n_vis, 2))
    ua = np.concatenate([users.ua, vis_ua]).astype(int)
    tz = np.concatenate([users.tz, rng.integers(0, len(C.TIMEZONES), n_vis)]).astype(int)
    referrer_of = {"google": "https://www.google.com/", "linkedin": "https://www.linkedin.com/",
                   "twitter": "https://t.co/", "producthunt": "https://www.producthunt.com/"}  # fmt: skip
    campaign, plan_frag, referrer = [], [], []
    for i in range(n):
        c = users.extra["campaign"][i]
        campaign.append(',"campaign":' + jdump(c) if c else "")
        plan = users.profile[i].get("plan")
        plan_frag.append(',"plan":' + jdump(plan) if isinstance(plan, str) and plan else "")
        referrer.append(referrer_of.get(c["source"], "") if c else "")
    table = pa.table(
        {
            "uidx": np.arange(n + n_vis, dtype=np.int32),
            "user_id": pa.array(users.user_id + [None] * n_vis, type=pa.string()),
            "anon_id": users.anon_id + vis_anon,
            "ip": users.ip + [f"203.0.{vis_ip[i, 0]}.{vis_ip[i, 1]}" for i in range(n_vis)],
            "ua": [C.USER_AGENTS[i] for i in ua],
            "os": [C.UA_OS_BROWSER[i][0] for i in ua],
            "browser": [C.UA_OS_BROWSER[i][1] for i in ua],
            "locale": [C.LOCALES[i] for i in tz],
            "tz": [C.TIMEZONES[i] for i in tz],
            "campaign": campaign + [""] * n_vis,
            "plan_frag": plan_frag + [""] * n_vis,
            "referrer": referrer + ["https://www.google.com/"] * n_vis,
            "traits": [jdump(traits(users, i)) for i in range(n)] + ["{}"] * n_vis,
        }
    )
    con.register("users_arrow", table)
    con.execute("CREATE OR REPLACE TABLE users AS SELECT * FROM users_arrow")
    con.unregister("users_arrow")


def _day_slices(day_of_row: np.ndarray, days: int) -> np.ndarray:
    """Row boundaries per day for rows sorted by day: rows of day i are [b[i], b[i+1])."""
    return np.searchsorted(day_of_row, np.arange(days + 1))


def _table(cols: dict[str, np.ndarray], rows: np.ndarray, names: tuple[str, ...]) -> pa.Table:
    data = {name: cols[name][rows] for name in names}
    data["pos"] = np.arange(len(rows), dtype=np.int64)
    return pa.table(data)


_SEG_COLS = (
    "u",
    "kind",
    "code",
    "pint",
    "pstr",
    "anon",
    "camp",
    "cpage",
    "h1",
    "h2",
    "ts",
    "orig",
    "sent",
    "recv",
)


# --------------------------------------------------------------------------------------------------
# Segment + RudderStack
# --------------------------------------------------------------------------------------------------
def _write_segment(run: _Run, rng: np.random.Generator) -> dict[int, list[bytes]]:
    """Segment S3 destination layout: one folder per received day (epoch ms), AM and PM batch files.

    The day's last file gets a second gzip member with same-day duplicate copies, copies redelivered
    from the previous day, and the day's malformed lines. Returns the cross-pipeline copies that
    RudderStack must redeliver the next day."""
    con, cols, win, ledger, writer = run.con, run.cols, run.win, run.ledger, run.writer
    n_days = len(win.days)
    rows, bounds = _rows_by_received_day(cols, DEST_SEGMENT, win)
    sizes = np.diff(bounds)
    mal, trunc_days = _plan_malformed(run, "segment", sizes)
    f_same, f_next, f_cross = (_forced_day(rng, sizes, ex) for ex in (False, True, True))
    redeliver: dict[int, list[bytes]] = {}
    cross: dict[int, list[bytes]] = {}
    for d in range(n_days):
        lo, hi = int(bounds[d]), int(bounds[d + 1])
        k = hi - lo
        body = render(con, SEGMENT_SQL, _table(cols, rows[lo:hi], _SEG_COLS)) if k else EMPTY
        extras: list[bytes] = []
        dups = 0
        same = _pick(rng, k, _n_dups(rng, k, DUP_SAME_FILE, d == f_same))
        extras += body.lines(same)
        dups += len(same)
        carried = redeliver.pop(d, [])
        extras += carried
        dups += len(carried)
        if d + 1 < n_days:
            nxt = _pick(rng, k, _n_dups(rng, k, DUP_NEXT_DAY, d == f_next))
            if len(nxt):
                redeliver[d + 1] = body.lines(nxt)
            tracks = np.flatnonzero(cols["kind"][rows[lo:hi]] == KIND_TRACK)
            xs = tracks[_pick(rng, len(tracks), _n_dups(rng, len(tracks), DUP_CROSS_PIPELINE, d == f_cross))]
            if len(xs):
                cross[d + 1] = body.lines(xs)
        bad = mal.get(d, [])
        extras = _extras_member(rng, extras, bad)
        day_ms = win.day_ms(d)
        folder = f"segment/segment-logs/{SEGMENT_SOURCE_ID}/{day_ms}"
        recv = cols["recv"][rows[lo:hi]]
        split = int(np.searchsorted(recv, day_ms + DAY_MS // 2)) if k else 0
        parts = [(0, split), (split, k)]
        parts = [p for p in parts if p[1] > p[0]] or [(0, 0)]
        for j, (a, b) in enumerate(parts):
            last = j == len(parts) - 1
            if b == a and not (last and extras):
                continue
            name_ms = int(recv[a]) if b > a else day_ms + 1000
            members = [body.span(a, b)]
            if last and extras:
                members.append(extras)
            writer.submit(f"{folder}/{name_ms}.{_hash8(rng)}.gz", members)
            ledger.add("segment", d, files=1)
        _close_day(ledger, "segment", d, k, dups, bad)
        if d in trunc_days:
            late = _late_ms(rng, day_ms)
            _truncated_copy(body, rng, writer, ledger, "segment", d, f"{folder}/{late}.{_hash8(rng)}.gz")
        run.report("segment", d + 1, n_days)
    return cross


def _truncated_copy(
    body: Rendered, rng: np.random.Generator, writer: Writer, ledger: Ledger, source: str,
    d: int, rel: str,
) -> None:  # fmt: skip
    """An extra file holding exact copies of some of the day's lines, cut mid-stream."""
    idx = _pick(rng, len(body), int(rng.integers(20, 120)))
    t = truncate(body.lines(idx), rng)
    writer.submit(rel, raw=t.data)
    ledger.add(source, d, files=1, dups=t.complete_lines, malformed=["truncated_gzip"])


def _write_rudderstack(run: _Run, rng: np.random.Generator, cross: dict[int, list[bytes]]) -> None:
    """RudderStack S3 layout (server-side source): one file per received day, same duplicate scheme,
    plus exact copies of Segment calls redelivered through this pipeline one day later."""
    con, cols, win, ledger, writer = run.con, run.cols, run.win, run.ledger, run.writer
    n_days = len(win.days)
    rows, bounds = _rows_by_received_day(cols, DEST_RUDDERSTACK, win)
    sizes = np.diff(bounds)
    mal, trunc_days = _plan_malformed(run, "rudderstack", sizes)
    f_same, f_next = (_forced_day(rng, sizes, ex) for ex in (False, True))
    redeliver: dict[int, list[bytes]] = {}
    for d in range(n_days):
        lo, hi = int(bounds[d]), int(bounds[d + 1])
        k = hi - lo
        body = render(con, RUDDER_SQL, _table(cols, rows[lo:hi], _SEG_COLS)) if k else EMPTY
        same = _pick(rng, k, _n_dups(rng, k, DUP_SAME_FILE, d == f_same))
        extras = body.lines(same) + redeliver.pop(d, []) + cross.pop(d, [])
        dups = len(extras)
        if d + 1 < n_days:
            nxt = _pick(rng, k, _n_dups(rng, k, DUP_NEXT_DAY, d == f_next))
            if len(nxt):
                redeliver[d + 1] = body.lines(nxt)
        bad = mal.get(d, [])
        extras = _extras_member(rng, extras, bad)
        day_ms = win.day_ms(d)
        mmddyyyy = win.days[d].strftime("%m-%d-%Y")
        folder = f"rudderstack/rudder-logs/{RUDDER_SOURCE_ID}/{mmddyyyy}"
        if k or extras:
            name_ms = int(cols["recv"][rows[lo]]) if k else day_ms + 1000
            writer.submit(f"{folder}/{name_ms}.{RUDDER_SOURCE_ID}.json.gz", [body.span(0, k), extras])
            ledger.add("rudderstack", d, files=1)
        _close_day(ledger, "rudderstack", d, k, dups, bad)
        if d in trunc_days:
            rel = f"{folder}/{_late_ms(rng, day_ms)}.{RUDDER_SOURCE_ID}.json.gz"
            _truncated_copy(body, rng, writer, ledger, "rudderstack", d, rel)
        run.report("rudderstack", d + 1, n_days)


# --------------------------------------------------------------------------------------------------
# Mixpanel
# --------------------------------------------------------------------------------------------------
def _write_mixpanel(run: _Run, rng: np.random.Generator) -> dict[str, int]:
    """Mixpanel raw export, one file per event day: ~40% of identified track calls forwarded by
    Segment / RudderStack ($insert_id = messageId), plus Mixpanel-only events; ``time`` in seconds,
    or in milliseconds on ~10% of lines; exact duplicate lines in a second member."""
    con, cols, win, ledger, writer = run.con, run.cols, run.win, run.ledger, run.writer
    n_days = len(win.days)
    track = (cols["kind"] == KIND_TRACK) & ~cols["anon"]
    fwd = track & (cols["dest"] != DEST_MIXPANEL) & (rng.random(len(track)) < MIXPANEL_FORWARD_SHARE)
    rows = np.flatnonzero(fwd | (cols["dest"] == DEST_MIXPANEL))
    rows = rows[np.lexsort((rows, cols["ts"][rows]))]
    mp_ms = rng.random(len(rows)) < MIXPANEL_MS_SHARE
    mcols = {
        k: cols[k][rows] for k in ("u", "code", "pint", "pstr", "cpage", "h1", "h2", "ts", "proc", "dest")
    }
    mcols["mp_ms"] = mp_ms
    all_rows = np.arange(len(rows))
    day_of = (mcols["ts"] - win.start_ms) // DAY_MS
    bounds = _day_slices(day_of, n_days)
    sizes = np.diff(bounds)
    mal, trunc_days = _plan_malformed(run, "mixpanel", sizes)
    f_same = _forced_day(rng, sizes, False)
    names = ("u", "code", "pint", "pstr", "cpage", "h1", "h2", "ts", "proc", "dest", "mp_ms")
    for d in range(n_days):
        lo, hi = int(bounds[d]), int(bounds[d + 1])
        k = hi - lo
        body = render(con, MIXPANEL_SQL, _table(mcols, all_rows[lo:hi], names)) if k else EMPTY
        same = _pick(rng, k, _n_dups(rng, k, DUP_MIXPANEL, d == f_same))
        extras = body.lines(same)
        dups = len(extras)
        bad = mal.get(d, [])
        extras = _extras_member(rng, extras, bad)
        iso = win.days[d].isoformat()
        if k or extras:
            writer.submit(f"mixpanel/{iso}.jsonl.gz", [body.span(0, k), extras])
            ledger.add("mixpanel", d, files=1)
        _close_day(ledger, "mixpanel", d, k, dups, bad)
        if d in trunc_days:
            _truncated_copy(body, rng, writer, ledger, "mixpanel", d, f"mixpanel/{iso}-9.jsonl.gz")
        run.report("mixpanel", d + 1, n_days)
    dest = mcols["dest"]
    return {
        "forwarded_from_segment": int((dest == DEST_SEGMENT).sum()),
        "forwarded_from_rudderstack": int((dest == DEST_RUDDERSTACK).sum()),
        "mixpanel_only": int((dest == DEST_MIXPANEL).sum()),
        "time_in_ms_lines": int(mp_ms.sum()),
    }


# --------------------------------------------------------------------------------------------------
# Plain JSON-lines sources
# --------------------------------------------------------------------------------------------------
def _write_plain(run: _Run, source: str, items: list[tuple[int, bytes]], rng: np.random.Generator) -> None:
    """``<source>/<day>.jsonl``: lines by event day; retries (exact copies) a few lines after the
    original or in the next day's file; malformed lines and the odd blank line interleaved."""
    win, ledger, writer = run.win, run.ledger, run.writer
    n_days = len(win.days)
    order = sorted(range(len(items)), key=lambda i: (items[i][0], i))
    per_day: list[list[bytes]] = [[] for _ in range(n_days)]
    for i in order:
        ms, line = items[i]
        per_day[int((ms - win.start_ms) // DAY_MS)].append(line + b"\n")
    sizes = np.array([len(x) for x in per_day])
    mal, _ = _plan_malformed(run, source, sizes)  # plain files are never truncated
    f_same = _forced_day(rng, sizes, False)
    f_next = _forced_day(rng, sizes, True) if source == "signups" else -1
    carry: list[bytes] = []
    for d in range(n_days):
        lines = per_day[d]
        k = len(lines)
        keyed: list[tuple[float, bytes]] = [(float(i), ln) for i, ln in enumerate(lines)]
        same = _pick(rng, k, _n_dups(rng, k, DUP_PLAIN, d == f_same))
        keyed += [(float(i) + float(rng.uniform(0.01, 6.0)), lines[i]) for i in same]
        keyed += [(float(rng.uniform(-0.5, k)), ln) for ln in carry]
        dups = len(same) + len(carry)
        carry = []
        if source == "signups" and d + 1 < n_days:  # webhook retried after midnight
            nxt = _pick(rng, k, _n_dups(rng, k, DUP_PLAIN / 4, d == f_next))
            carry = [lines[i] for i in nxt]
        bad = mal.get(d, [])
        keyed += [(float(rng.uniform(-0.5, k)), line + b"\n") for _, line in bad]
        if keyed and rng.random() < 0.15:
            keyed.append((float(rng.uniform(0, k + 0.5)), b"\n"))  # a blank line: ignored, not counted
        if keyed:
            keyed.sort(key=lambda x: x[0])
            writer.submit(f"{source}/{win.days[d].isoformat()}.jsonl", raw=b"".join(ln for _, ln in keyed))
            ledger.add(source, d, files=1)
        _close_day(ledger, source, d, k, dups, bad)
        run.report(source, d + 1, n_days)


__all__ = ["REASONS", "SOURCES", "generate"]

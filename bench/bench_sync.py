"""Benchmark (not a test): how close the Intercom sync gets to Intercom's rate limit.

20,000 contacts are synced to the Intercom stand-in running in its own process with 100 ms added to
every answer and Intercom's limit enforced by the stand-in (10,000 calls per minute, counted in
10-second windows: 1,666 per window, 429 beyond). The sync is configured with the same limit. The
benchmark reports the achieved request rate as a share of the limit (goal >= 90%), the 429s the
stand-in had to send, and the requests sent by an unchanged re-run (goal: 0).

    python bench/bench_sync.py            # 20,000 contacts, about two minutes
    python bench/bench_sync.py --quick    # 2,000 contacts; the same 10,000/min in 2-second windows

Then one line per destination of issue 18 (SendGrid, Salesforce, Mixpanel, Segment): rows synced to its
stand-in (in this process, the same 100 ms latency), requests per second against the rate the sync is
configured with from the vendor's documented limit, records per request, and the requests of an
unchanged re-run (goal: 0).

Results are also written to bench/results/sync.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx

from sync.engine import run_sync
from sync.settings import SyncSettings
from tests.standins import MixpanelStandin, SalesforceStandin, SegmentStandin, SendGridStandin, StandinServer
from tests.standins.marts import contact, create_marts, insert, message, traits

REPO = Path(__file__).resolve().parents[1]
PER_MINUTE = 10_000


def start_standin(latency: float, limit: int, window: float) -> tuple[subprocess.Popen[str], dict[str, str]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.standins",
            "--only",
            "intercom",
            "--latency",
            str(latency),
            "--rate-limit",
            f"{limit}/{window}",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    env: dict[str, str] = {}
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith("READY"):
            break
        name, _, value = line.removeprefix("export ").strip().partition("=")
        env[name] = value.strip("'")
    return process, env


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of this process or of another one (Linux /proc)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def stats(base_url: str) -> dict[str, Any]:
    return httpx.get(f"{base_url}/__standin/stats", timeout=30).json()


# destination -> (the vendor's documented limit, in words; rows synced: full, quick)
NEW_DESTINATIONS: dict[str, tuple[str, tuple[int, int]]] = {
    "sendgrid": ("plan-dependent; answers 429 with X-RateLimit-Reset", (600, 100)),
    "salesforce": ("a 24-hour call allowance per org (Sforce-Limit-Info), 25 long-running calls at once", (1_000, 200)),
    "mixpanel": ("2 GB of JSON per minute per project, 2,000 records per request", (20_000, 4_000)),
    "segment": ("1,000 requests per second recommended, 500 KB per batch", (20_000, 4_000)),
}


def bench_new_destinations(quick: bool, latency: float) -> list[dict[str, Any]]:
    """One measured sync per destination of issue 18 against its in-process stand-in, then a re-run."""
    results = []
    for destination, (documented, (full, small)) in NEW_DESTINATIONS.items():
        rows = small if quick else full
        server: StandinServer
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.duckdb"
            with duckdb.connect(str(db)) as con:
                create_marts(con)
                if destination == "sendgrid":
                    insert(con, "intercom_contacts", (contact(i) for i in range(rows)))
                    insert(con, "triggered_messages", (message(
                        f"pb-{i}", i, "intercom_email", trigger="playbook_day_14", body=f"<p>Playbook [pb-{i}]</p>")
                        for i in range(rows)))
                else:
                    insert(con, "destination_traits", (traits(i) for i in range(rows)))
            server = {"sendgrid": SendGridStandin, "salesforce": SalesforceStandin, "mixpanel": MixpanelStandin,
                      "segment": SegmentStandin}[destination](latency=latency).start()
            try:
                env = {"SENDGRID_API_KEY": "SG.standin-sendgrid-key", "SENDGRID_FROM_EMAIL": "cs@yourcompany.example",
                       "SALESFORCE_CLIENT_ID": "standin-sf-client", "SALESFORCE_CLIENT_SECRET": "standin-sf-secret",
                       "MIXPANEL_PROJECT_TOKEN": "standin-mixpanel-token", "SEGMENT_WRITE_KEY": "standin-segment-write-key",
                       f"{'SALESFORCE_INSTANCE_URL' if destination == 'salesforce' else destination.upper() + '_API_BASE'}":
                           server.base_url}
                settings = SyncSettings.from_env(env)
                started = time.monotonic()
                first = run_sync(db, [destination], settings=settings)[0]
                wall = time.monotonic() - started
                measured = server.stats()
                server.reset_log()
                second = run_sync(db, [destination], settings=settings)[0]
                rerun = server.stats()["requests"]
            finally:
                server.stop()
        transport = settings.for_destination(destination).transport
        configured = transport.rate_limit / transport.rate_window
        requests = first.requests
        span = ((measured["last_at"] or 0) - (measured["first_at"] or 0)) or wall
        result = {
            "destination": destination, "rows": rows, "sent": first.sent, "status": first.status,
            "requests": requests, "records_per_request": round(first.sent / max(requests, 1), 1),
            "wall_s": round(wall, 2), "rows_per_s": round(first.sent / wall, 1),
            "achieved_requests_per_s": round(requests / span, 1),
            "configured_requests_per_s": round(configured, 1),
            "share_of_configured": round(requests / span / configured, 3),
            "documented_limit": documented, "validation_errors": len(measured["validation_errors"]),
            "rerun_requests": rerun, "rerun_unchanged": second.unchanged,
        }
        results.append(result)
        print(f"{destination}: {rows:,} rows -> {requests:,} requests in {span:.1f} s = {requests / span:.1f}/s"
              f" ({result['share_of_configured']:.0%} of the configured {configured:g}/s; documented: {documented});"
              f" {result['records_per_request']} rows per request, {result['rows_per_s']:,} rows/s over"
              f" {wall:.1f} s wall; unchanged re-run: {rerun} requests")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="2,000 contacts, 2-second windows")
    parser.add_argument("--contacts", type=int, default=None)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    contacts = args.contacts or (2_000 if args.quick else 20_000)
    window = 2.0 if args.quick else 10.0
    limit = int(PER_MINUTE * window / 60)  # 1,666 per 10 s (333 per 2 s)
    limit_rate = limit / window

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        with duckdb.connect(str(db)) as con:
            create_marts(con)
            insert(con, "intercom_contacts", (contact(i) for i in range(contacts)))
        process, env = start_standin(args.latency, limit, window)
        try:
            settings = SyncSettings.from_env(
                {
                    **env,
                    "SYNC_INTERCOM_RATE_LIMIT": str(limit),
                    "SYNC_INTERCOM_RATE_WINDOW": str(window),
                    "SYNC_INTERCOM_CONCURRENCY": str(args.concurrency),
                }
            )
            load_before = os.getloadavg()[0]
            client_cpu, server_cpu = cpu_seconds(), cpu_seconds(process.pid)
            started = time.monotonic()
            first = run_sync(db, ["intercom"], settings=settings)[0]
            wall = time.monotonic() - started
            client_cpu, server_cpu = cpu_seconds() - client_cpu, cpu_seconds(process.pid) - server_cpu
            load_after = os.getloadavg()[0]
            after_first = stats(env["INTERCOM_API_BASE"])
            httpx.post(f"{env['INTERCOM_API_BASE']}/__standin/reset_log", timeout=30)
            second = run_sync(db, ["intercom"], settings=settings)[0]
            after_second = stats(env["INTERCOM_API_BASE"])
        finally:
            process.terminate()
            process.wait(timeout=10)

    requests = after_first["requests"]
    span = (after_first["last_at"] - after_first["first_at"]) or 1e-9
    achieved = requests / span
    result = {
        "contacts": contacts,
        "latency_s": args.latency,
        "concurrency": args.concurrency,
        "limit": f"{limit} per {window:g} s ({PER_MINUTE:,}/min)",
        "requests": requests,
        "sent": first.sent,
        "failed": first.failed,
        "status": first.status,
        "wall_s": round(wall, 1),
        "request_span_s": round(span, 1),
        "achieved_per_s": round(achieved, 1),
        "limit_per_s": round(limit_rate, 1),
        "share_of_limit": round(achieved / limit_rate, 3),
        "wall_share_of_limit": round(requests / wall / limit_rate, 3),
        "rate_limited_429": after_first["rate_limited"],
        "validation_errors": len(after_first["validation_errors"]),
        "rerun_requests": after_second["requests"],
        "rerun_unchanged": second.unchanged,
        "client_cpu_ms_per_request": round(client_cpu / requests * 1000, 2),
        "standin_cpu_ms_per_request": round(server_cpu / requests * 1000, 2),
        "load_average": [round(load_before, 1), round(load_after, 1)],
        "cores": os.cpu_count(),
    }
    print(
        f"Intercom contact sync: {contacts:,} contacts, {args.latency * 1000:.0f} ms latency, "
        f"limit {result['limit']}, concurrency {args.concurrency}"
    )
    print(
        f"  requests {requests:,} in {span:.1f} s (wall {wall:.1f} s) -> {achieved:.1f}/s = "
        f"{achieved / limit_rate:.1%} of the limit ({requests / wall / limit_rate:.1%} over wall time)"
    )
    print(
        f"  sent {first.sent:,}, failed {first.failed}, 429s from the stand-in {after_first['rate_limited']}, "
        f"spec violations {len(after_first['validation_errors'])}"
    )
    print(f"  unchanged re-run: {after_second['requests']} requests, {second.unchanged:,} unchanged")
    print(
        f"  CPU per request: sync {result['client_cpu_ms_per_request']} ms, stand-in "
        f"{result['standin_cpu_ms_per_request']} ms; load average {load_before:.1f} -> {load_after:.1f}"
        f" on {os.cpu_count()} cores (other work on the machine slows both sides)"
    )
    others = bench_new_destinations(args.quick, args.latency)
    result["destinations"] = others
    out = REPO / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "sync.json").write_text(json.dumps(result, indent=2))
    return 0 if first.status == "completed" and all(o["status"] == "completed" for o in others) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())

"""Run the stand-ins in their own process: ``python -m tests.standins [--latency 0.1] [--rate-limit 1666/10]``.

Prints ``export NAME=value`` lines for the sync (and a ``READY`` line), then serves until killed.
``--only intercom`` starts a single stand-in (the benchmark uses that); its control API is at
``/__standin/stats``, ``/__standin/faults`` and ``/__standin/requests``.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
import threading

from tests.standins import IntercomStandin, start_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.standins", description=__doc__)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--rate-limit", default=None,
                        help="Intercom limit enforced by the stand-in, as COUNT/SECONDS (e.g. 1666/10)")
    parser.add_argument("--only", choices=["intercom"], default=None)
    parser.add_argument("--no-validate", action="store_true", help="skip spec validation (not recommended)")
    args = parser.parse_args(argv)
    rate = None
    if args.rate_limit:
        count, _, seconds = args.rate_limit.partition("/")
        rate = (int(count), float(seconds or 60))
    if args.only == "intercom":
        server = IntercomStandin(latency=args.latency, validate=not args.no_validate, rate_limit=rate).start()
        env = {"INTERCOM_API_BASE": server.base_url, "INTERCOM_ACCESS_TOKEN": server.token,
               "INTERCOM_ADMIN_ID": str(min(server.admin_ids))}
    else:
        standins = start_all(latency=args.latency, validate=not args.no_validate, rate_limit=rate)
        env = standins.env()
    for name, value in env.items():
        print(f"export {name}={shlex.quote(value)}")
    print("READY", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Run stand-ins in their own process (dev tooling: a source checkout with the `dev` extra).

``python -m tests.standins [--latency 0.1] [--rate-limit 1666/10] [--only intercom]``
    the four vendor stand-ins of the sync: prints ``export NAME=value`` lines (and a ``READY`` line),
    then serves until killed. ``--only intercom`` starts a single stand-in (the benchmark uses that); its
    control API is at ``/__standin/stats``, ``/__standin/faults`` and ``/__standin/requests``.
``python -m tests.standins llm [--port 8011]``
    the OpenAI-compatible LLM stand-in (deterministic answers), for a demo without a key.
``python -m tests.standins ai-eval [--db PATH]``
    the AI steps on a copy of the warehouse against the LLM stand-in, then the `onboarding ai eval`
    report as JSON, with what an immediate re-run costs (docs/ai.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import signal
import sys
import threading
from pathlib import Path


def vendors(argv: list[str]) -> int:
    from tests.standins import IntercomStandin, start_all

    parser = argparse.ArgumentParser(prog="python -m tests.standins", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
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


def llm(argv: list[str]) -> int:
    from tests.standins.llm import serve

    parser = argparse.ArgumentParser(prog="python -m tests.standins llm",
                                     description="Serve the OpenAI-compatible stand-in until Ctrl-C.")
    parser.add_argument("--port", type=int, default=8011, help="port on the interface (default 8011)")
    parser.add_argument("--host", default="127.0.0.1", help="interface (keep loopback unless you mean it)")
    args = parser.parse_args(argv)
    serve(host=args.host, port=args.port)
    return 0


def ai_eval(argv: list[str]) -> int:
    from dagster_project.core.settings import Settings
    from tests.standins.ai_eval import evaluate_with_standin

    parser = argparse.ArgumentParser(prog="python -m tests.standins ai-eval",
                                     description="The AI steps on a copy of the warehouse against the stand-in.")
    parser.add_argument("--db", type=Path, default=None, help="warehouse file (default: ONBOARDING_DB)")
    args = parser.parse_args(argv)
    path = args.db or Settings.from_env().db_path
    if not path.exists():
        print(f"No warehouse at {path}: run `onboarding run` first.", file=sys.stderr)
        return 2
    print(json.dumps(evaluate_with_standin(path), indent=2, default=str))
    return 0


COMMANDS = {"llm": llm, "ai-eval": ai_eval}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in COMMANDS:
        return COMMANDS[args[0]](args[1:])
    return vendors(args)


if __name__ == "__main__":
    sys.exit(main())

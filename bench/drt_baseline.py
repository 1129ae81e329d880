"""drt-core against the same Intercom stand-in, in its own venv (bench/results/venv-drt, git-ignored).

drt-core (PyPI `drt-core`) is installed there by `pip` on first use, never into the project's venv.
Its Intercom destination sends one `POST /contacts` per record, one after another; the driver
(bench/drt_driver.py) runs it in that venv. The same 10,000/min limit is enforced by the stand-in and
given to drt's own rate limiter. The achieved rate is measured exactly as for our sync: requests seen
by the stand-in over the span from the first to the last.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from sync.adapters.intercom import CUSTOM_ATTRIBUTES
from tests.standins.marts import contact

from .bench_sync import PER_MINUTE, start_standin, stats
from .common import REPO, RESULTS, measured, say

VENV = RESULTS / "venv-drt"
PYTHON = VENV / "bin" / "python"


def ensure_venv() -> str:
    if not PYTHON.exists():
        say(f"  creating {VENV.relative_to(REPO)} and installing drt-core there (not a project dependency)")
        subprocess.run(["python3", "-m", "venv", str(VENV)], check=True)
    probe = subprocess.run([str(PYTHON), "-c", "import drt.destinations.intercom"], capture_output=True)
    if probe.returncode != 0:
        subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", "drt-core"], check=True)
    return subprocess.run(
        [str(PYTHON), "-c", "import importlib.metadata as m; print(m.version('drt-core'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _row(i: int) -> dict[str, Any]:
    row = contact(i)
    signed = row["signed_up_at"]
    row["signed_up_at"] = int(signed.timestamp()) if isinstance(signed, datetime) else signed
    row.pop("as_of_date", None)
    return row


def run_drt(contacts: int, quick: bool, latency: float = 0.1) -> dict[str, Any]:
    version = ensure_venv()
    window = 2.0 if quick else 10.0
    limit = int(PER_MINUTE * window / 60)
    process, env = start_standin(latency, limit, window)
    try:
        base, token = env["INTERCOM_API_BASE"], env["INTERCOM_ACCESS_TOKEN"]
        headers = {"Authorization": f"Bearer {token}", "Intercom-Version": "2.14"}
        for name, data_type in CUSTOM_ATTRIBUTES.items():  # setup, not measured (ours creates them itself)
            httpx.post(
                f"{base}/data_attributes",
                headers=headers,
                timeout=30,
                json={"name": name, "model": "contact", "data_type": data_type},
            )
        httpx.post(f"{base}/__standin/reset_log", timeout=30)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump([_row(i) for i in range(contacts)], f)
        run = measured(
            [
                str(PYTHON),
                str(REPO / "bench" / "drt_driver.py"),
                f.name,
                base,
                token,
                str(round(limit / window, 2)),
            ],
            "drt",
        )
        Path(f.name).unlink(missing_ok=True)
        seen = stats(base)
    finally:
        process.terminate()
        process.wait(timeout=10)
    inner = json.loads((REPO / run["log"]).read_text().splitlines()[-1].split(maxsplit=1)[1])
    span = (seen["last_at"] - seen["first_at"]) or 1e-9
    return {
        "tool": f"drt-core {version} (Intercom destination)",
        "contacts": contacts,
        "requests": seen["requests"],
        "request_span_s": round(span, 1),
        "achieved_per_s": round(seen["requests"] / span, 2),
        "rate_limited_429": seen["rate_limited"],
        "validation_errors": len(seen["validation_errors"]),
        "driver": inner,
        "wall_s": run["wall_s"],
        "latency_s": latency,
        "limit_per_s": round(limit / window, 1),
    }

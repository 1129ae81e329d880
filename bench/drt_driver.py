"""Runs inside the drt-core venv (bench/results/venv-drt), not the project's: drt-core's own Intercom
destination loads the contacts of a JSON file into the Intercom stand-in.

    venv-drt/bin/python bench/drt_driver.py RECORDS.json BASE_URL TOKEN REQUESTS_PER_SECOND

Two adjustments, both needed only because the target is the stand-in, not api.intercom.io:
- `IntercomDestination.BASE_URL` / `SEARCH_URL` are hard-coded to api.intercom.io; they are pointed at
  the stand-in;
- the stand-in rejects requests without `Intercom-Version: 2.14` (it validates against the 2.14
  OpenAPI document; the real API falls back to the workspace's version), so the header is added to
  drt's httpx client.
Everything else - one `POST /contacts` per record, sequential, drt's rate limiter and retry - is
drt-core's code. Prints one JSON line.
"""

import json
import sys
import time
from pathlib import Path

import httpx
from drt.config.models import BearerAuth, IntercomDestinationConfig, SyncOptions
from drt.destinations import intercom as drt_intercom

TEMPLATE = """{
  "role": "user", "external_id": "{{ row.user_id }}", "email": "{{ row.email }}", "name": "{{ row.name }}",
  "signed_up_at": {{ row.signed_up_at }},
  "custom_attributes": {
    "onboarding_track": "{{ row.onboarding_track }}", "onboarding_stage": "{{ row.onboarding_stage }}",
    "onboarding_score": {{ row.onboarding_score }}, "next_action": "{{ row.next_action }}",
    "content_difficulty": "{{ row.content_difficulty }}", "churn_risk": {{ row.churn_risk }},
    "company_size": "{{ row.company_size }}", "industry": "{{ row.industry }}"
  }
}"""


def main() -> int:
    records_path, base_url, token, rps = sys.argv[1], sys.argv[2].rstrip("/"), sys.argv[3], float(sys.argv[4])
    records = json.loads(Path(records_path).read_text())
    drt_intercom.IntercomDestination.BASE_URL = f"{base_url}/contacts"
    drt_intercom.IntercomDestination.SEARCH_URL = f"{base_url}/contacts/search"

    class VersionedClient(httpx.Client):
        def __init__(self, *args, **kwargs):
            kwargs["headers"] = {**(kwargs.get("headers") or {}), "Intercom-Version": "2.14"}
            super().__init__(*args, **kwargs)

    drt_intercom.httpx.Client = VersionedClient  # the module's own reference
    config = IntercomDestinationConfig(
        type="intercom",
        auth=BearerAuth(type="bearer", token=token),
        properties_template=TEMPLATE,
        rate_limit={"requests_per_second": rps},
    )
    options = SyncOptions(on_error="skip", rate_limit={"requests_per_second": rps})
    started = time.monotonic()
    result = drt_intercom.IntercomDestination().load(records, config, options)
    seconds = time.monotonic() - started
    print(
        json.dumps(
            {
                "success": result.success,
                "failed": result.failed,
                "skipped": result.skipped,
                "seconds": round(seconds, 2),
                "errors": [str(e)[:300] for e in (getattr(result, "row_errors", None) or [])[:3]],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

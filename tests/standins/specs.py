"""Where the vendor specifications live and how they are loaded (once per process).

The specs are the shared copies next to the repository: ``../shared/specs`` relative to the repo root
(override with ``ONBOARDING_SPECS_DIR``).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
INTERCOM_SPEC = "intercom-api-2.14.yaml"
SLACK_SPEC = "slack-web-openapi-v2.json"


def specs_dir() -> Path:
    override = os.environ.get("ONBOARDING_SPECS_DIR")
    return Path(override) if override else REPO_ROOT.parent / "shared" / "specs"


def spec_path(name: str) -> Path:
    path = specs_dir() / name
    if not path.exists():
        raise FileNotFoundError(f"vendor spec {path} not found (set ONBOARDING_SPECS_DIR)")
    return path


@lru_cache(maxsize=1)
def intercom_openapi() -> Any:
    """The Intercom 2.14 OpenAPI document as an openapi-core object.

    The published file fails openapi-spec-validator on one unrelated path parameter
    (``/export/reporting_data/{job_identifier}``), so validation *of the spec* is skipped;
    validation of requests against it is unaffected.
    """
    from openapi_core import Config, OpenAPI

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with spec_path(INTERCOM_SPEC).open() as fh:
        document = yaml.load(fh, Loader=loader)
    return OpenAPI.from_dict(document, config=Config(spec_validator_cls=None))


@lru_cache(maxsize=1)
def slack_swagger() -> dict[str, Any]:
    with spec_path(SLACK_SPEC).open() as fh:
        return json.load(fh)

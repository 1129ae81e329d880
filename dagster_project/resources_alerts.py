"""The operators' alert settings: the asset checks' thresholds, the alert channel, the UI's address.

Why a resource of its own: the thresholds are what an operator tunes when a check is too noisy or too
quiet, so they belong in the launchpad next to the other settings, overridable per run, and filled from
the environment of the deployment (docs/deploy.md, section 5). Each field is an `EnvVar` reference when
its variable is set when the code location loads (the launchpad then shows the reference, not a value),
else its documented default; an unset `EnvVar` would fail every run, so none is ever referenced.

Thresholds are whole numbers (percent, hours): Dagster's config system has an integer environment
source (`EnvVar.int`) but no float one.

The Slack token is not here: it is the Slack destination's (`SLACK_BOT_TOKEN`, sync/settings.py), read
by the alert sensor where it posts, so one bot and one token serve the CSM alerts and the operators'.
"""

from __future__ import annotations

import os
import re

from dagster import ConfigurableResource, EnvVar

# field -> (environment variable, integer?)
ALERT_ENV: dict[str, tuple[str, bool]] = {
    "quarantine_max_percent": ("ONBOARDING_ALERT_QUARANTINE_PERCENT", True),
    "llm_fallback_max_percent": ("ONBOARDING_ALERT_LLM_FALLBACK_PERCENT", True),
    "freshness_hours": ("ONBOARDING_ALERT_FRESHNESS_HOURS", True),
    "slack_channel": ("ONBOARDING_ALERT_SLACK_CHANNEL", False),
    "webserver_url": ("DAGSTER_WEBSERVER_URL", False),
}
# What may be linked to in a Slack message: an http(s) base URL with no character that could end the
# link (`|`, `>`) or start another.
_BASE_URL = re.compile(r"https?://[A-Za-z0-9.\-]+(:\d+)?(/[A-Za-z0-9._~\-/%]*)?")


class AlertsConfigError(ValueError):
    """An alert setting is out of range; the message names the variable."""


class AlertsResource(ConfigurableResource):
    """Thresholds of the asset checks (dagster_project/assets/checks.py) and where the alert sensors
    (dagster_project/assets/alerts.py) post."""

    quarantine_max_percent: int = 5
    """A source's landing day is red when more than this share of its lines is quarantined
    (ONBOARDING_ALERT_QUARANTINE_PERCENT)."""
    llm_fallback_max_percent: int = 20
    """An AI step is red (warning) when more than this share of the rows it last wrote with an LLM
    configured fell back to the rules (ONBOARDING_ALERT_LLM_FALLBACK_PERCENT)."""
    freshness_hours: int = 36
    """A source is stale when its newest landing day appeared more than this many hours ago
    (ONBOARDING_ALERT_FRESHNESS_HOURS)."""
    slack_channel: str | None = None
    """Where run failures and newly failed checks are posted (ONBOARDING_ALERT_SLACK_CHANNEL); unset:
    the sensors only log what they would post."""
    webserver_url: str | None = None
    """The Dagster UI's base URL, for a link to the run (DAGSTER_WEBSERVER_URL)."""

    def quarantine_share(self) -> float:
        return _percent(self.quarantine_max_percent, "quarantine_max_percent") / 100

    def llm_fallback_share(self) -> float:
        return _percent(self.llm_fallback_max_percent, "llm_fallback_max_percent") / 100

    def freshness_limit_hours(self) -> int:
        if self.freshness_hours <= 0:
            raise AlertsConfigError(
                f"{ALERT_ENV['freshness_hours'][0]} must be a positive number of hours, got {self.freshness_hours}")
        return self.freshness_hours

    def channel(self) -> str | None:
        return (self.slack_channel or "").strip() or None

    def run_url(self, run_id: str) -> str | None:
        """The run's page in the UI, or None when no (usable) base URL is set."""
        base = (self.webserver_url or "").strip().rstrip("/")
        if not base or not _BASE_URL.fullmatch(base):
            return None
        return f"{base}/runs/{run_id}"


def _percent(value: int, field: str) -> int:
    if not 0 <= value <= 100:
        raise AlertsConfigError(f"{ALERT_ENV[field][0]} must be a percentage from 0 to 100, got {value}")
    return value


def build_alerts_resource() -> AlertsResource:
    """The resource with an `EnvVar` for every variable set now, the default for the rest."""
    values: dict[str, object] = {}
    for field, (name, integer) in ALERT_ENV.items():
        if (os.environ.get(name) or "").strip():
            values[field] = EnvVar.int(name) if integer else EnvVar(name)
    return AlertsResource(**values)

"""The operators' alert settings: the asset checks' thresholds, the alert channel, the UI's address.

Why a resource of its own: the thresholds are what an operator tunes when a check is too noisy or too
quiet, so they belong in the launchpad next to the other settings, overridable per run, and filled from
the environment of the deployment (docs/deploy.md, section 5). The fields follow the project's rule
(`resources/fields.py`): an `EnvVar` reference when the variable is set when the code location loads,
else empty, meaning the variable as the run finds it, else the documented default; text, parsed here
with one error naming the variable.

The Slack token is not here: it is the Slack destination's (`SLACK_BOT_TOKEN`, the `sync` resource), so
one bot and one token serve the CSM alerts and the operators'.
"""

from __future__ import annotations

import re

from dagster import ConfigurableResource

from .resources.fields import EnvFields, setting

QUARANTINE_ENV = "ONBOARDING_ALERT_QUARANTINE_PERCENT"
LLM_FALLBACK_ENV = "ONBOARDING_ALERT_LLM_FALLBACK_PERCENT"
FRESHNESS_ENV = "ONBOARDING_ALERT_FRESHNESS_HOURS"
CHANNEL_ENV = "ONBOARDING_ALERT_SLACK_CHANNEL"
WEBSERVER_ENV = "DAGSTER_WEBSERVER_URL"
# What may be linked to in a Slack message: an http(s) base URL with no character that could end the
# link (`|`, `>`) or start another.
_BASE_URL = re.compile(r"https?://[A-Za-z0-9.\-]+(:\d+)?(/[A-Za-z0-9._~\-/%]*)?")


class AlertsConfigError(ValueError):
    """An alert setting is not a number in range; the message names the variable."""


class AlertsResource(EnvFields, ConfigurableResource):
    """Thresholds of the asset checks (dagster_project/assets/checks.py) and where the alert sensors
    (dagster_project/assets/alerts.py) post."""

    quarantine_max_percent: str | None = setting(
        QUARANTINE_ENV, "A source's landing day is red (warning) above this percentage of quarantined lines (5).")
    llm_fallback_max_percent: str | None = setting(
        LLM_FALLBACK_ENV, "An AI step is red (warning) when more of its latest rows written with an LLM fell back "
        "to the rules, in percent (20).")
    freshness_hours: str | None = setting(
        FRESHNESS_ENV, "A source is stale when its newest landing day appeared longer ago, in hours (36).")
    slack_channel: str | None = setting(
        CHANNEL_ENV, "Channel for run failures and newly failed checks (unset: the sensors only log).")
    webserver_url: str | None = setting(WEBSERVER_ENV, "The Dagster UI's base URL, for a link to the run.")

    def _text(self, variable: str) -> str | None:
        value = self.variables().get(variable)
        return value.strip() if value and value.strip() else None

    def _number(self, variable: str, default: float, low: float, high: float | None) -> float:
        text = self._text(variable)
        if text is None:
            return default
        try:
            value = float(text.removesuffix("%"))
        except ValueError:
            value = float("nan")
        if not (value >= low and (high is None or value <= high)):
            span = f"from {low:g} to {high:g}" if high is not None else f"above {low:g}"
            raise AlertsConfigError(f"{variable} must be a number {span}, got {text!r}")
        return value

    def quarantine_share(self) -> float:
        return self._number(QUARANTINE_ENV, 5, 0, 100) / 100

    def llm_fallback_share(self) -> float:
        return self._number(LLM_FALLBACK_ENV, 20, 0, 100) / 100

    def freshness_limit_hours(self) -> float:
        hours = self._number(FRESHNESS_ENV, 36, 0, None)
        if hours <= 0:
            raise AlertsConfigError(f"{FRESHNESS_ENV} must be a number above 0, got {hours:g}")
        return hours

    def channel(self) -> str | None:
        return self._text(CHANNEL_ENV)

    def run_url(self, run_id: str) -> str | None:
        """The run's page in the UI, or None when no usable base URL is set."""
        base = (self._text(WEBSERVER_ENV) or "").rstrip("/")
        if not base or not _BASE_URL.fullmatch(base):
            return None
        return f"{base}/runs/{run_id}"


def build_alerts_resource() -> AlertsResource:
    """The resource with an `EnvVar` for every variable set now, the others empty (read at run time)."""
    return AlertsResource.from_environment()

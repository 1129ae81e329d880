"""Per-destination configuration, read from the environment's variables.

``SyncSettings.from_env(mapping)`` is the one parser and checker of these variables: the Dagster
``sync`` resource (dagster_project/resources/destinations.py) hands it its fields by variable name,
so a run, its launchpad overrides and the command line read them alike; ``from_env()`` alone reads
``os.environ`` (the engine used as a library, the tests).

Why from the environment only: credentials must never live in the repository, the warehouse or a
log. A destination whose credentials are missing is *dry*: the engine still computes and records the
plan but sends nothing and claims nothing sent (see ``docs/sync.md``).

Environment variables
---------------------

=====================  ==========================================================================
Intercom               ``INTERCOM_ACCESS_TOKEN``, ``INTERCOM_ADMIN_ID`` (sender of messages; without
                       it contacts sync live and messages stay planned), ``INTERCOM_API_BASE``
                       (default ``https://api.intercom.io``; the EU/AU regions have their own base)
Slack                  ``SLACK_BOT_TOKEN``, ``SLACK_CSM_CHANNEL`` (default ``#csm-alerts``),
                       ``SLACK_COMMUNITY_CHANNEL`` (channel id for community invites; without it
                       invites stay planned), ``SLACK_API_BASE`` (default ``https://slack.com/api``)
Appcues                ``APPCUES_ACCOUNT_ID``, ``APPCUES_API_KEY``, ``APPCUES_API_SECRET``,
                       ``APPCUES_API_BASE`` (default ``https://api.appcues.com``)
Calendly               ``CALENDLY_TOKEN``, ``CALENDLY_EVENT_TYPE`` (event type URI that owns the
                       single-use links), ``CALENDLY_API_BASE`` (default ``https://api.calendly.com``)
Transport tuning       ``SYNC_<DEST>_RATE_LIMIT`` / ``SYNC_<DEST>_RATE_WINDOW`` (requests per window
                       seconds), ``SYNC_<DEST>_CONCURRENCY``, ``SYNC_<DEST>_TIMEOUT``,
                       ``SYNC_<DEST>_MAX_ATTEMPTS``, ``SYNC_<DEST>_RETRY_BUDGET`` (seconds one request
                       may spend retrying), ``SYNC_<DEST>_BACKOFF_BASE`` / ``SYNC_<DEST>_BACKOFF_MAX``
                       ``SYNC_<DEST>_MAX_RETRY_AFTER`` (longest 429 pause honoured, 60 s; a longer
                       one ends the destination's streams for the run, rows left pending)
Slack pacing           ``SYNC_SLACK_CHANNEL_INTERVAL`` (seconds between posts to one channel, 1.0)
Slack alerts           ``SYNC_SLACK_ALERT_MAX_ATTEMPTS`` (runs that may try one CSM alert before it
                       fails loudly, 5)
=====================  ==========================================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, SecretStr

from sync.masking import register_secret

DestinationName = Literal["calendly", "intercom", "appcues", "slack"]

# Run order matters: Calendly links must exist before the Intercom messages that embed them, and
# Intercom contacts before the messages addressed to them (both inside the Intercom destination).
DESTINATIONS: tuple[DestinationName, ...] = ("calendly", "intercom", "appcues", "slack")


class SyncConfigError(ValueError):
    """The environment asks for something the sync cannot do (a malformed id, a bad base URL)."""


class TransportSettings(BaseModel):
    """How one destination is called: where, how fast, how patiently."""

    model_config = ConfigDict(frozen=True)

    base_url: str
    rate_limit: int
    """Requests allowed in any ``rate_window`` seconds (a sliding window, so fixed windows hold too)."""
    rate_window: float
    concurrency: int
    timeout: float
    max_attempts: int = 8
    retry_budget: float = 120.0
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 60.0
    """Longest pause a 429 may impose (``Retry-After`` / ``X-RateLimit-Reset``); a longer one (or
    ``inf``) makes the destination *throttled*: its streams end for this run, rows left pending."""


_TRANSPORT_DEFAULTS: dict[str, dict[str, float | int | str]] = {
    # Intercom: 10,000 calls/min per app, enforced in 10-second windows => 1,666 per 10 s.
    "intercom": {"base_url": "https://api.intercom.io", "rate_limit": 1666, "rate_window": 10.0,
                 "concurrency": 32, "timeout": 30.0},
    # Slack: chat.postMessage is paced per channel by the adapter; this is a global ceiling.
    "slack": {"base_url": "https://slack.com/api", "rate_limit": 50, "rate_window": 60.0,
              "concurrency": 4, "timeout": 30.0},
    # Appcues and Calendly publish no hard per-minute figure for these endpoints; stay modest.
    "appcues": {"base_url": "https://api.appcues.com", "rate_limit": 100, "rate_window": 10.0,
                "concurrency": 8, "timeout": 30.0},
    "calendly": {"base_url": "https://api.calendly.com", "rate_limit": 60, "rate_window": 60.0,
                 "concurrency": 4, "timeout": 30.0},
}

_BASE_URL_ENV = {
    "intercom": "INTERCOM_API_BASE",
    "slack": "SLACK_API_BASE",
    "appcues": "APPCUES_API_BASE",
    "calendly": "CALENDLY_API_BASE",
}


class DestinationSettings(BaseModel):
    """Common shape: a name, a transport and the list of missing credentials (empty = live)."""

    model_config = ConfigDict(frozen=True)

    name: DestinationName
    transport: TransportSettings

    def missing_credentials(self) -> list[str]:
        """Names of the environment variables that must be set before this destination can send."""
        raise NotImplementedError

    @property
    def has_credentials(self) -> bool:
        return not self.missing_credentials()


class IntercomSettings(DestinationSettings):
    name: Literal["intercom"] = "intercom"
    access_token: SecretStr | None = None
    admin_id: int | None = None

    def missing_credentials(self) -> list[str]:
        return [] if self.access_token else ["INTERCOM_ACCESS_TOKEN"]


class SlackSettings(DestinationSettings):
    name: Literal["slack"] = "slack"
    bot_token: SecretStr | None = None
    csm_channel: str = "#csm-alerts"
    community_channel: str | None = None
    channel_interval: float = 1.0
    """Seconds between two posts to the same channel (Slack allows about one per second)."""
    invites_per_minute: int = 20
    """conversations.inviteShared is a Tier 2 method (20+ per minute)."""
    alert_max_attempts: int = 5
    """Runs that may try one CSM alert (an unknown ``ok: false`` error, a 5xx...) before it is
    ``failed`` - and every sync fails loudly until an operator settles it."""

    def missing_credentials(self) -> list[str]:
        return [] if self.bot_token else ["SLACK_BOT_TOKEN"]


class AppcuesSettings(DestinationSettings):
    name: Literal["appcues"] = "appcues"
    account_id: str | None = None
    api_key: SecretStr | None = None
    api_secret: SecretStr | None = None

    def missing_credentials(self) -> list[str]:
        missing = []
        if not self.account_id:
            missing.append("APPCUES_ACCOUNT_ID")
        if not self.api_key:
            missing.append("APPCUES_API_KEY")
        if not self.api_secret:
            missing.append("APPCUES_API_SECRET")
        return missing


class CalendlySettings(DestinationSettings):
    name: Literal["calendly"] = "calendly"
    token: SecretStr | None = None
    event_type: str | None = None

    def missing_credentials(self) -> list[str]:
        missing = []
        if not self.token:
            missing.append("CALENDLY_TOKEN")
        if not self.event_type:
            missing.append("CALENDLY_EVENT_TYPE")
        return missing


class SyncSettings(BaseModel):
    """Everything the engine needs, one block per destination."""

    model_config = ConfigDict(frozen=True)

    intercom: IntercomSettings
    slack: SlackSettings
    appcues: AppcuesSettings
    calendly: CalendlySettings
    message_not_found_attempts: int = 5
    """How many 404s (contact not yet messageable) a customer message survives before it fails."""
    message_max_age_days: int | None = 3
    """Messages due more than this many days before the end of the marts' latest decision day are
    history (a backfill computed them) and are never sent; ``None`` sends every due message."""

    def for_destination(self, name: str) -> DestinationSettings:
        if name not in DESTINATIONS:
            raise SyncConfigError(f"unknown destination {name!r}; expected one of {', '.join(DESTINATIONS)}")
        return getattr(self, name)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SyncSettings:
        """Read the settings; ``env`` defaults to ``os.environ`` (tests pass a dict)."""
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value and value.strip() else None

        def secret(name: str) -> SecretStr | None:
            value = get(name)
            register_secret(value)
            return SecretStr(value) if value else None

        def transport(dest: str) -> TransportSettings:
            values: dict[str, float | int | str] = dict(_TRANSPORT_DEFAULTS[dest])
            base = get(_BASE_URL_ENV[dest])
            if base:
                values["base_url"] = base
            values["base_url"] = _check_base_url(str(values["base_url"]), _BASE_URL_ENV[dest])
            prefix = f"SYNC_{dest.upper()}_"
            for field, kind in (("rate_limit", int), ("rate_window", float), ("concurrency", int),
                                ("timeout", float), ("max_attempts", int), ("retry_budget", float),
                                ("backoff_base", float), ("backoff_max", float),
                                ("max_retry_after", float)):
                raw = get(prefix + field.upper())
                if raw is not None:
                    try:
                        values[field] = kind(raw)
                    except ValueError as exc:
                        raise SyncConfigError(f"{prefix + field.upper()} must be a number") from exc
                    if values[field] <= 0:
                        raise SyncConfigError(f"{prefix + field.upper()} must be positive")
            return TransportSettings.model_validate(values)

        admin_raw = get("INTERCOM_ADMIN_ID")
        if admin_raw is not None and not admin_raw.isdigit():
            raise SyncConfigError("INTERCOM_ADMIN_ID must be the numeric id of an Intercom admin")

        interval_raw = get("SYNC_SLACK_CHANNEL_INTERVAL")
        try:
            interval = float(interval_raw) if interval_raw is not None else 1.0
        except ValueError as exc:
            raise SyncConfigError("SYNC_SLACK_CHANNEL_INTERVAL must be a number of seconds") from exc

        alert_attempts_raw = get("SYNC_SLACK_ALERT_MAX_ATTEMPTS")
        if alert_attempts_raw is not None and not (alert_attempts_raw.isdigit() and int(alert_attempts_raw) > 0):
            raise SyncConfigError("SYNC_SLACK_ALERT_MAX_ATTEMPTS must be a positive number of runs")
        not_found_raw = get("SYNC_MESSAGE_NOT_FOUND_ATTEMPTS")
        if not_found_raw is not None and not (not_found_raw.isdigit() and int(not_found_raw) > 0):
            raise SyncConfigError("SYNC_MESSAGE_NOT_FOUND_ATTEMPTS must be a positive number of 404s")
        max_age_raw = get("SYNC_MESSAGE_MAX_AGE_DAYS")
        max_age: int | None = 3
        if max_age_raw is not None:
            if max_age_raw.lower() in ("none", "off"):
                max_age = None
            elif max_age_raw.isdigit() and int(max_age_raw) > 0:
                max_age = int(max_age_raw)
            else:
                raise SyncConfigError("SYNC_MESSAGE_MAX_AGE_DAYS must be a positive number of days, or 'none'")
        return cls(
            intercom=IntercomSettings(
                transport=transport("intercom"),
                access_token=secret("INTERCOM_ACCESS_TOKEN"),
                admin_id=int(admin_raw) if admin_raw else None,
            ),
            slack=SlackSettings(
                transport=transport("slack"),
                bot_token=secret("SLACK_BOT_TOKEN"),
                csm_channel=get("SLACK_CSM_CHANNEL") or "#csm-alerts",
                community_channel=get("SLACK_COMMUNITY_CHANNEL"),
                channel_interval=max(interval, 0.0),
                alert_max_attempts=int(alert_attempts_raw) if alert_attempts_raw else 5,
            ),
            appcues=AppcuesSettings(
                transport=transport("appcues"),
                account_id=get("APPCUES_ACCOUNT_ID"),
                api_key=secret("APPCUES_API_KEY"),
                api_secret=secret("APPCUES_API_SECRET"),
            ),
            calendly=CalendlySettings(
                transport=transport("calendly"),
                token=secret("CALENDLY_TOKEN"),
                event_type=get("CALENDLY_EVENT_TYPE"),
            ),
            message_not_found_attempts=int(not_found_raw) if not_found_raw else 5,
            message_max_age_days=max_age,
        )


def _check_base_url(url: str, env_name: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SyncConfigError(f"{env_name} must be an http(s) URL, got {url!r}")
    return url.rstrip("/")

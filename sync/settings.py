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
SendGrid               ``SENDGRID_API_KEY``, ``SENDGRID_FROM_EMAIL`` (without it emails stay planned),
                       ``SENDGRID_FROM_NAME``, ``SENDGRID_UNSUBSCRIBE_GROUP_ID`` (asm group),
                       ``SENDGRID_CATEGORIES`` (added to each message type's), ``SENDGRID_API_BASE``
                       (default ``https://api.sendgrid.com``; the EU subuser base is its own)
Email channel          ``SYNC_EMAIL_CHANNELS``: ``trigger=intercom|sendgrid|auto`` pairs, comma
                       separated (default ``playbook_day_14=auto``: SendGrid when its key and
                       sender are set, else Intercom); unnamed email types go through Intercom
Salesforce             ``SALESFORCE_INSTANCE_URL`` (the My Domain URL, also the API base),
                       ``SALESFORCE_CLIENT_ID``, ``SALESFORCE_CLIENT_SECRET`` (client-credentials
                       flow), ``SALESFORCE_API_VERSION`` (62.0), ``SALESFORCE_OBJECT`` (Lead or
                       Contact), ``SALESFORCE_EXTERNAL_ID_FIELD`` (Onboarding_User_Id__c),
                       ``SALESFORCE_MQL_STATUS`` (Marketing Qualified), ``SALESFORCE_API_RESERVE``
                       (calls of the 24-hour allowance left unused, 1000)
Mixpanel               ``MIXPANEL_PROJECT_TOKEN`` (profiles), ``MIXPANEL_SERVICE_ACCOUNT_USERNAME``,
                       ``MIXPANEL_SERVICE_ACCOUNT_SECRET``, ``MIXPANEL_PROJECT_ID`` (events; without
                       them events stay planned), ``MIXPANEL_API_BASE`` (default
                       ``https://api.mixpanel.com``; ``api-eu``/``api-in`` for EU/IN residency)
Segment                ``SEGMENT_WRITE_KEY``, ``SEGMENT_API_BASE`` (default
                       ``https://api.segment.io``; the EU workspace's base for EU)
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
import re
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, SecretStr

from sync.masking import register_secret

DestinationName = Literal["calendly", "intercom", "sendgrid", "appcues", "slack", "salesforce", "mixpanel",
                          "segment"]

# Run order matters: Calendly links must exist before the Intercom messages that embed them, and
# Intercom contacts before the messages addressed to them (both inside the Intercom destination).
# SendGrid runs after Intercom: an email type moved from one to the other is withdrawn from Intercom's
# outbox first (docs/sync.md, "SendGrid").
DESTINATIONS: tuple[DestinationName, ...] = ("calendly", "intercom", "sendgrid", "appcues", "slack", "salesforce",
                                             "mixpanel", "segment")
EMAIL_CHANNELS = ("intercom", "sendgrid", "auto")
DEFAULT_EMAIL_CHANNELS = "playbook_day_14=auto"


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
    # SendGrid: mail/send is limited per account plan and answers 429 with X-RateLimit-Reset; 600 per
    # minute stays under the documented default and leaves room for other senders.
    "sendgrid": {"base_url": "https://api.sendgrid.com", "rate_limit": 600, "rate_window": 60.0,
                 "concurrency": 8, "timeout": 30.0},
    # Salesforce counts calls per 24 hours (Sforce-Limit-Info, honoured by the adapter) and allows 25
    # long-running ones at once; short PATCHes at 20 per second are far from either.
    "salesforce": {"base_url": "https://login.salesforce.com", "rate_limit": 20, "rate_window": 1.0,
                   "concurrency": 8, "timeout": 30.0},
    # Mixpanel's ingestion documentation: 2 GB of JSON per minute (about 30,000 events per second) per
    # project; a request carries up to 2,000 records, so 40 requests per second is far below it.
    "mixpanel": {"base_url": "https://api.mixpanel.com", "rate_limit": 40, "rate_window": 1.0,
                 "concurrency": 4, "timeout": 60.0},
    # Segment recommends at most 1,000 requests per second per workspace (a batch is one request).
    "segment": {"base_url": "https://api.segment.io", "rate_limit": 100, "rate_window": 1.0,
                "concurrency": 4, "timeout": 30.0},
}

_BASE_URL_ENV = {
    "intercom": "INTERCOM_API_BASE",
    "slack": "SLACK_API_BASE",
    "appcues": "APPCUES_API_BASE",
    "calendly": "CALENDLY_API_BASE",
    "sendgrid": "SENDGRID_API_BASE",
    "salesforce": "SALESFORCE_INSTANCE_URL",
    "mixpanel": "MIXPANEL_API_BASE",
    "segment": "SEGMENT_API_BASE",
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


class SendGridSettings(DestinationSettings):
    name: Literal["sendgrid"] = "sendgrid"
    api_key: SecretStr | None = None
    from_email: str | None = None
    from_name: str | None = None
    unsubscribe_group_id: int | None = None
    categories: tuple[str, ...] = ()
    """Added to every email's categories (after ``onboarding`` and the message type)."""

    def missing_credentials(self) -> list[str]:
        return [] if self.api_key else ["SENDGRID_API_KEY"]


class SalesforceSettings(DestinationSettings):
    name: Literal["salesforce"] = "salesforce"
    instance_url: str | None = None
    client_id: SecretStr | None = None
    client_secret: SecretStr | None = None
    api_version: str = "62.0"
    sobject: Literal["Lead", "Contact"] = "Lead"
    external_id_field: str = "Onboarding_User_Id__c"
    mql_status: str = "Marketing Qualified"
    api_reserve: int = 1000
    """Calls of the org's 24-hour allowance the sync leaves to everything else: it stops when
    ``Sforce-Limit-Info`` says fewer remain (rows stay pending for the next run)."""

    def missing_credentials(self) -> list[str]:
        missing = []
        if not self.instance_url:
            missing.append("SALESFORCE_INSTANCE_URL")
        if not self.client_id:
            missing.append("SALESFORCE_CLIENT_ID")
        if not self.client_secret:
            missing.append("SALESFORCE_CLIENT_SECRET")
        return missing


class MixpanelSettings(DestinationSettings):
    name: Literal["mixpanel"] = "mixpanel"
    project_token: SecretStr | None = None
    service_account_username: str | None = None
    service_account_secret: SecretStr | None = None
    project_id: str | None = None

    def missing_credentials(self) -> list[str]:
        return [] if self.project_token else ["MIXPANEL_PROJECT_TOKEN"]

    def missing_import_credentials(self) -> list[str]:
        """What the ``/import`` of experiment events needs beyond the token (a service account)."""
        return [name for name, value in (("MIXPANEL_SERVICE_ACCOUNT_USERNAME", self.service_account_username),
                                         ("MIXPANEL_SERVICE_ACCOUNT_SECRET", self.service_account_secret),
                                         ("MIXPANEL_PROJECT_ID", self.project_id)) if not value]


class SegmentSettings(DestinationSettings):
    name: Literal["segment"] = "segment"
    write_key: SecretStr | None = None

    def missing_credentials(self) -> list[str]:
        return [] if self.write_key else ["SEGMENT_WRITE_KEY"]


class SyncSettings(BaseModel):
    """Everything the engine needs, one block per destination."""

    model_config = ConfigDict(frozen=True)

    intercom: IntercomSettings
    slack: SlackSettings
    appcues: AppcuesSettings
    calendly: CalendlySettings
    sendgrid: SendGridSettings
    salesforce: SalesforceSettings
    mixpanel: MixpanelSettings
    segment: SegmentSettings
    email_channels: dict[str, str] = {"playbook_day_14": "auto"}
    """Message type (trigger) -> ``intercom``, ``sendgrid`` or ``auto`` for ``intercom_email`` rows;
    types not named go through Intercom (``SYNC_EMAIL_CHANNELS``)."""
    message_not_found_attempts: int = 5
    """How many 404s (contact not yet messageable) a customer message survives before it fails."""
    message_max_age_days: int | None = 3
    """Messages due more than this many days before the end of the marts' latest decision day are
    history (a backfill computed them) and are never sent; ``None`` sends every due message."""

    def sendgrid_triggers(self) -> list[str]:
        """The email types SendGrid sends in this configuration (``auto``: when its key and sender are
        set); every other ``intercom_email`` row goes through Intercom, as before SendGrid existed."""
        ready = self.sendgrid.has_credentials and self.sendgrid.from_email is not None
        return sorted(t for t, channel in self.email_channels.items()
                      if channel == "sendgrid" or (channel == "auto" and ready))

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
        group_raw = get("SENDGRID_UNSUBSCRIBE_GROUP_ID")
        if group_raw is not None and not group_raw.isdigit():
            raise SyncConfigError("SENDGRID_UNSUBSCRIBE_GROUP_ID must be the numeric id of an unsubscribe group")
        from_email = get("SENDGRID_FROM_EMAIL")
        if from_email is not None and "@" not in from_email:
            raise SyncConfigError("SENDGRID_FROM_EMAIL must be an email address")
        version = get("SALESFORCE_API_VERSION") or "62.0"
        if not re.fullmatch(r"[0-9]+\.[0-9]", version.removeprefix("v")):
            raise SyncConfigError("SALESFORCE_API_VERSION must look like 62.0")
        sobject = get("SALESFORCE_OBJECT") or "Lead"
        if sobject not in ("Lead", "Contact"):
            raise SyncConfigError("SALESFORCE_OBJECT must be Lead or Contact")
        id_field = get("SALESFORCE_EXTERNAL_ID_FIELD") or "Onboarding_User_Id__c"
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", id_field):
            raise SyncConfigError("SALESFORCE_EXTERNAL_ID_FIELD must be a field's API name")
        reserve_raw = get("SALESFORCE_API_RESERVE")
        if reserve_raw is not None and not reserve_raw.isdigit():
            raise SyncConfigError("SALESFORCE_API_RESERVE must be a number of API calls")
        instance = get("SALESFORCE_INSTANCE_URL")
        return cls(
            sendgrid=SendGridSettings(
                transport=transport("sendgrid"),
                api_key=secret("SENDGRID_API_KEY"),
                from_email=from_email,
                from_name=get("SENDGRID_FROM_NAME"),
                unsubscribe_group_id=int(group_raw) if group_raw else None,
                categories=tuple(c.strip() for c in (get("SENDGRID_CATEGORIES") or "").split(",") if c.strip()),
            ),
            salesforce=SalesforceSettings(
                transport=transport("salesforce"),
                instance_url=_check_base_url(instance, "SALESFORCE_INSTANCE_URL") if instance else None,
                client_id=secret("SALESFORCE_CLIENT_ID"),
                client_secret=secret("SALESFORCE_CLIENT_SECRET"),
                api_version=version.removeprefix("v"),
                sobject=sobject,  # type: ignore[arg-type]  # checked above
                external_id_field=id_field,
                mql_status=get("SALESFORCE_MQL_STATUS") or "Marketing Qualified",
                api_reserve=int(reserve_raw) if reserve_raw else 1000,
            ),
            mixpanel=MixpanelSettings(
                transport=transport("mixpanel"),
                project_token=secret("MIXPANEL_PROJECT_TOKEN"),
                service_account_username=get("MIXPANEL_SERVICE_ACCOUNT_USERNAME"),
                service_account_secret=secret("MIXPANEL_SERVICE_ACCOUNT_SECRET"),
                project_id=get("MIXPANEL_PROJECT_ID"),
            ),
            segment=SegmentSettings(transport=transport("segment"), write_key=secret("SEGMENT_WRITE_KEY")),
            email_channels=_email_channels(get("SYNC_EMAIL_CHANNELS") or DEFAULT_EMAIL_CHANNELS),
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


def _email_channels(text: str) -> dict[str, str]:
    """``trigger=channel`` pairs (``SYNC_EMAIL_CHANNELS``); ``none`` routes every email through Intercom."""
    if text.lower() == "none":
        return {}
    channels: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        trigger, _, channel = (x.strip() for x in part.partition("="))
        if not re.fullmatch(r"[a-z0-9_]+", trigger) or channel not in EMAIL_CHANNELS:
            raise SyncConfigError(f"SYNC_EMAIL_CHANNELS: {part.strip()!r} is not trigger=intercom|sendgrid|auto")
        channels[trigger] = channel
    return channels


def _check_base_url(url: str, env_name: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SyncConfigError(f"{env_name} must be an http(s) URL, got {url!r}")
    return url.rstrip("/")

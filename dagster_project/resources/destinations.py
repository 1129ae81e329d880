"""The `sync` resource: each destination's credentials, address and pacing, and the message policy.

One resource shaped like `sync.settings.SyncSettings` (a block per destination), so the launchpad
shows a destination's settings together (`sync.config.intercom.rate_limit`) and the engine receives
the `SyncSettings` it always did: `sync_settings()` hands the fields, by variable name, to
`SyncSettings.from_env`, the one parser and checker of these settings, which also registers the
credentials with `sync.masking` so no log line or ledger row can carry them.

Credentials are secret fields (masked in the launchpad) and only ever `EnvVar`s: never give one a
value in a run's config, which Dagster stores with the run.
"""

from __future__ import annotations

from typing import ClassVar

from dagster import Config, ConfigurableResource, InitResourceContext

from sync.settings import SyncSettings

from .fields import EnvFields, setting


class _Transport(EnvFields, Config):
    """How a destination is called; `{DEST}` is the destination's name in capitals."""

    api_base: str | None = setting("{DEST}_API_BASE", "The API's base URL (the vendor's; a region's or a stand-in's).")
    rate_limit: str | None = setting("SYNC_{DEST}_RATE_LIMIT", "Requests allowed per rate_window.")
    rate_window: str | None = setting("SYNC_{DEST}_RATE_WINDOW", "Seconds of the rate limit's sliding window.")
    concurrency: str | None = setting("SYNC_{DEST}_CONCURRENCY", "Requests in flight at once.")
    timeout: str | None = setting("SYNC_{DEST}_TIMEOUT", "Seconds one request may take.")
    max_attempts: str | None = setting("SYNC_{DEST}_MAX_ATTEMPTS", "Attempts per request (8).")
    retry_budget: str | None = setting("SYNC_{DEST}_RETRY_BUDGET", "Seconds one request may spend retrying (120).")
    backoff_base: str | None = setting("SYNC_{DEST}_BACKOFF_BASE", "First retry pause, seconds (0.5).")
    backoff_max: str | None = setting("SYNC_{DEST}_BACKOFF_MAX", "Longest retry pause, seconds (30).")
    max_retry_after: str | None = setting(
        "SYNC_{DEST}_MAX_RETRY_AFTER", "Longest 429 pause honoured, seconds (60); longer ends the run's streams."
    )


class IntercomConfig(_Transport):
    DEST: ClassVar[str] = "INTERCOM"
    access_token: str | None = setting("INTERCOM_ACCESS_TOKEN", "Intercom access token (unset: dry).", secret=True)
    admin_id: str | None = setting("INTERCOM_ADMIN_ID", "Numeric id of the admin who sends the messages.")


class SlackConfig(_Transport):
    DEST: ClassVar[str] = "SLACK"
    bot_token: str | None = setting("SLACK_BOT_TOKEN", "Slack bot token (unset: dry).", secret=True)
    csm_channel: str | None = setting("SLACK_CSM_CHANNEL", "Channel of the CSM alerts (#csm-alerts).")
    community_channel: str | None = setting("SLACK_COMMUNITY_CHANNEL", "Channel id for community invites.")
    channel_interval: str | None = setting("SYNC_SLACK_CHANNEL_INTERVAL", "Seconds between posts to one channel (1.0).")
    alert_max_attempts: str | None = setting(
        "SYNC_SLACK_ALERT_MAX_ATTEMPTS", "Runs that may try one CSM alert before it fails loudly (5)."
    )


class AppcuesConfig(_Transport):
    DEST: ClassVar[str] = "APPCUES"
    account_id: str | None = setting("APPCUES_ACCOUNT_ID", "Appcues account id.")
    api_key: str | None = setting("APPCUES_API_KEY", "Appcues API key (unset: dry).", secret=True)
    api_secret: str | None = setting("APPCUES_API_SECRET", "Appcues API secret (unset: dry).", secret=True)


class CalendlyConfig(_Transport):
    DEST: ClassVar[str] = "CALENDLY"
    token: str | None = setting("CALENDLY_TOKEN", "Calendly personal access token (unset: dry).", secret=True)
    event_type: str | None = setting("CALENDLY_EVENT_TYPE", "URI of the event type that owns the single-use links.")


class SendGridConfig(_Transport):
    DEST: ClassVar[str] = "SENDGRID"
    api_key: str | None = setting("SENDGRID_API_KEY", "SendGrid API key (unset: dry).", secret=True)
    from_email: str | None = setting("SENDGRID_FROM_EMAIL", "Sender address of SendGrid emails (unset: planned only).")
    from_name: str | None = setting("SENDGRID_FROM_NAME", "Sender name of SendGrid emails.")
    unsubscribe_group_id: str | None = setting("SENDGRID_UNSUBSCRIBE_GROUP_ID", "SendGrid unsubscribe group (asm).")
    categories: str | None = setting("SENDGRID_CATEGORIES", "Comma-separated categories added to every email.")


class SalesforceConfig(_Transport):
    DEST: ClassVar[str] = "SALESFORCE"
    api_base: str | None = setting("SALESFORCE_INSTANCE_URL", "The org's My Domain URL (API and token endpoint).")
    client_id: str | None = setting("SALESFORCE_CLIENT_ID", "Connected app consumer key (unset: dry).", secret=True)
    client_secret: str | None = setting(
        "SALESFORCE_CLIENT_SECRET", "Connected app consumer secret (unset: dry).", secret=True
    )
    api_version: str | None = setting("SALESFORCE_API_VERSION", "REST API version (62.0).")
    sobject: str | None = setting("SALESFORCE_OBJECT", "Lead or Contact (Lead).")
    external_id_field: str | None = setting(
        "SALESFORCE_EXTERNAL_ID_FIELD", "External id field holding the user id (Onboarding_User_Id__c)."
    )
    mql_status: str | None = setting("SALESFORCE_MQL_STATUS", "Lead status on completion (Marketing Qualified).")
    api_reserve: str | None = setting(
        "SALESFORCE_API_RESERVE", "Calls of the 24-hour allowance left unused; the sync stops short of it (1000)."
    )


class MixpanelConfig(_Transport):
    DEST: ClassVar[str] = "MIXPANEL"
    project_token: str | None = setting("MIXPANEL_PROJECT_TOKEN", "Mixpanel project token (unset: dry).", secret=True)
    service_account_username: str | None = setting(
        "MIXPANEL_SERVICE_ACCOUNT_USERNAME", "Service account for /import (unset: events planned only)."
    )
    service_account_secret: str | None = setting(
        "MIXPANEL_SERVICE_ACCOUNT_SECRET", "Service account secret.", secret=True
    )
    project_id: str | None = setting("MIXPANEL_PROJECT_ID", "Mixpanel project id (for /import).")


class SegmentConfig(_Transport):
    DEST: ClassVar[str] = "SEGMENT"
    write_key: str | None = setting("SEGMENT_WRITE_KEY", "Segment source write key (unset: dry).", secret=True)


class SyncResource(EnvFields, ConfigurableResource):
    """Everything the reverse-ETL engine reads, by destination (see the module docstring)."""

    message_max_age_days: str | None = setting(
        "SYNC_MESSAGE_MAX_AGE_DAYS", "Messages due longer ago than this are history, never sent (3; none: all)."
    )
    message_not_found_attempts: str | None = setting(
        "SYNC_MESSAGE_NOT_FOUND_ATTEMPTS", "404s a customer message survives before it fails (5)."
    )
    email_channels: str | None = setting(
        "SYNC_EMAIL_CHANNELS", "Email channel per message type: trigger=intercom|sendgrid|auto, comma separated."
    )
    calendly: CalendlyConfig = CalendlyConfig()
    intercom: IntercomConfig = IntercomConfig()
    sendgrid: SendGridConfig = SendGridConfig()
    appcues: AppcuesConfig = AppcuesConfig()
    slack: SlackConfig = SlackConfig()
    salesforce: SalesforceConfig = SalesforceConfig()
    mixpanel: MixpanelConfig = MixpanelConfig()
    segment: SegmentConfig = SegmentConfig()

    def sync_settings(self) -> SyncSettings:
        """The engine's settings, checked (`SyncConfigError` names the variable)."""
        return SyncSettings.from_env(self.variables())

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self.sync_settings()  # a malformed value fails the run when it starts, naming its variable

"""Loopback stand-ins for every destination (tests, benchmark, local demo).

``start_all()`` starts them in threads and returns a :class:`StandinSet` whose ``env()`` holds the
environment variables that point the sync at them. ``python -m tests.standins`` does the same in a
process of its own and prints the variables to export (see ``docs/sync.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.standins.appcues import AppcuesStandin
from tests.standins.base import Fault, Received, StandinServer
from tests.standins.calendly import CalendlyStandin
from tests.standins.intercom import IntercomStandin
from tests.standins.mixpanel import MixpanelStandin
from tests.standins.salesforce import SalesforceStandin
from tests.standins.segment import SegmentStandin
from tests.standins.sendgrid import SendGridStandin
from tests.standins.slack import SlackStandin

__all__ = [
    "AppcuesStandin", "CalendlyStandin", "Fault", "IntercomStandin", "MixpanelStandin", "Received",
    "SalesforceStandin", "SegmentStandin", "SendGridStandin", "SlackStandin", "StandinServer", "StandinSet",
    "start_all",
]


@dataclass
class StandinSet:
    intercom: IntercomStandin
    slack: SlackStandin
    appcues: AppcuesStandin
    calendly: CalendlyStandin
    sendgrid: SendGridStandin
    salesforce: SalesforceStandin
    mixpanel: MixpanelStandin
    segment: SegmentStandin

    def all(self) -> list[StandinServer]:
        return [self.intercom, self.slack, self.appcues, self.calendly, self.sendgrid, self.salesforce,
                self.mixpanel, self.segment]

    def env(self) -> dict[str, str]:
        """Credentials and base URLs that make the sync talk to these stand-ins."""
        return {
            "INTERCOM_ACCESS_TOKEN": self.intercom.token,
            "INTERCOM_API_BASE": self.intercom.base_url,
            "INTERCOM_ADMIN_ID": str(min(self.intercom.admin_ids)),
            "SLACK_BOT_TOKEN": self.slack.token,
            "SLACK_API_BASE": self.slack.base_url,
            "SLACK_CSM_CHANNEL": "#csm-alerts",
            "SLACK_COMMUNITY_CHANNEL": "C0COMMUNITY",
            "APPCUES_ACCOUNT_ID": self.appcues.account_id,
            "APPCUES_API_KEY": "standin-appcues-key",
            "APPCUES_API_SECRET": "standin-appcues-secret",
            "APPCUES_API_BASE": self.appcues.base_url,
            "CALENDLY_TOKEN": self.calendly.token,
            "CALENDLY_API_BASE": self.calendly.base_url,
            "CALENDLY_EVENT_TYPE": f"{self.calendly.base_url}/event_types/ONBOARDING-CALL",
            "SENDGRID_API_KEY": self.sendgrid.token,
            "SENDGRID_API_BASE": self.sendgrid.base_url,
            "SENDGRID_FROM_EMAIL": "cs@yourcompany.example",
            "SENDGRID_FROM_NAME": "Customer Success",
            "SALESFORCE_INSTANCE_URL": self.salesforce.base_url,
            "SALESFORCE_CLIENT_ID": self.salesforce.client_id,
            "SALESFORCE_CLIENT_SECRET": self.salesforce.client_secret,
            "MIXPANEL_PROJECT_TOKEN": self.mixpanel.token,
            "MIXPANEL_SERVICE_ACCOUNT_USERNAME": self.mixpanel.username,
            "MIXPANEL_SERVICE_ACCOUNT_SECRET": self.mixpanel.secret,
            "MIXPANEL_PROJECT_ID": self.mixpanel.project_id,
            "MIXPANEL_API_BASE": self.mixpanel.base_url,
            "SEGMENT_WRITE_KEY": self.segment.write_key,
            "SEGMENT_API_BASE": self.segment.base_url,
        }

    def stop(self) -> None:
        for server in self.all():
            server.stop()


def start_all(latency: float = 0.0, validate: bool = True, **intercom_options: Any) -> StandinSet:
    """Start every stand-in on a free loopback port."""
    return StandinSet(
        intercom=IntercomStandin(latency=latency, validate=validate, **intercom_options).start(),
        slack=SlackStandin(latency=latency, validate=validate).start(),
        appcues=AppcuesStandin(latency=latency, validate=validate).start(),
        calendly=CalendlyStandin(latency=latency, validate=validate).start(),
        sendgrid=SendGridStandin(latency=latency, validate=validate).start(),
        salesforce=SalesforceStandin(latency=latency, validate=validate).start(),
        mixpanel=MixpanelStandin(latency=latency, validate=validate).start(),
        segment=SegmentStandin(latency=latency, validate=validate).start(),
    )

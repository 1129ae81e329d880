"""Loopback stand-ins for Intercom, Slack, Appcues and Calendly (tests, benchmark, local demo).

``start_all()`` starts the four in threads and returns a :class:`StandinSet` whose ``env()`` holds the
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
from tests.standins.slack import SlackStandin

__all__ = [
    "AppcuesStandin", "CalendlyStandin", "Fault", "IntercomStandin", "Received", "SlackStandin",
    "StandinServer", "StandinSet", "start_all",
]


@dataclass
class StandinSet:
    intercom: IntercomStandin
    slack: SlackStandin
    appcues: AppcuesStandin
    calendly: CalendlyStandin

    def all(self) -> list[StandinServer]:
        return [self.intercom, self.slack, self.appcues, self.calendly]

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
        }

    def stop(self) -> None:
        for server in self.all():
            server.stop()


def start_all(latency: float = 0.0, validate: bool = True, **intercom_options: Any) -> StandinSet:
    """Start all four stand-ins on free loopback ports."""
    return StandinSet(
        intercom=IntercomStandin(latency=latency, validate=validate, **intercom_options).start(),
        slack=SlackStandin(latency=latency, validate=validate).start(),
        appcues=AppcuesStandin(latency=latency, validate=validate).start(),
        calendly=CalendlyStandin(latency=latency, validate=validate).start(),
    )

"""Destination adapters: thin mappings from the marts to each vendor's API (see ``base``)."""

from __future__ import annotations

from sync.adapters.appcues import AppcuesAdapter
from sync.adapters.base import Adapter
from sync.adapters.calendly import CalendlyAdapter
from sync.adapters.intercom import IntercomAdapter
from sync.adapters.mixpanel import MixpanelAdapter
from sync.adapters.salesforce import SalesforceAdapter
from sync.adapters.segment import SegmentAdapter
from sync.adapters.sendgrid import SendGridAdapter
from sync.adapters.slack import SlackAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    "calendly": CalendlyAdapter,
    "intercom": IntercomAdapter,
    "sendgrid": SendGridAdapter,
    "appcues": AppcuesAdapter,
    "slack": SlackAdapter,
    "salesforce": SalesforceAdapter,
    "mixpanel": MixpanelAdapter,
    "segment": SegmentAdapter,
}

__all__ = ["ADAPTERS", "Adapter"]

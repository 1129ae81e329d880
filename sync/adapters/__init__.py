"""Destination adapters: thin mappings from the marts to each vendor's API (see ``base``)."""

from __future__ import annotations

from sync.adapters.appcues import AppcuesAdapter
from sync.adapters.base import Adapter
from sync.adapters.calendly import CalendlyAdapter
from sync.adapters.intercom import IntercomAdapter
from sync.adapters.slack import SlackAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    "calendly": CalendlyAdapter,
    "intercom": IntercomAdapter,
    "appcues": AppcuesAdapter,
    "slack": SlackAdapter,
}

__all__ = ["ADAPTERS", "Adapter"]

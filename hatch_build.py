"""Hatch build hook: the dbt project goes into the wheel as package data, the standard wheel only.

Why a hook instead of `[tool.hatch.build.targets.wheel.force-include]`: hatch also copies force-included
files into an editable install's site-packages, where they would be a second, stale copy of the dbt
project beside the checkout's (which an editable install uses in place: core/settings.py). The mapping
itself stays in pyproject.toml, under this hook's `force-include` option.
"""

from __future__ import annotations

from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class PackagedDbtProject(BuildHookInterface):
    """Force-includes the `force-include` mapping of this hook's config into standard wheels."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "standard":
            build_data["force_include"].update(self.config["force-include"])

"""The code location's resources: the warehouse, the sync destinations, the LLM, and dbt.

Every setting of the project is a field of one of them (fields.py says how a field is filled from its
variable), so the launchpad shows it and a run's config can override it. The command line resolves
the same resources the same way (`resolve`), so a variable means the same thing in both.
"""

from __future__ import annotations

from typing import Any

from sync.settings import SyncSettings

from ..ai.client import LLMSettings
from ..core.settings import DBT_PROJECT_DIR, Settings, dbt_executable
from .dbt import DbtCli
from .destinations import SyncResource
from .llm import LlmResource
from .warehouse import WarehouseResource

__all__ = [
    "DbtCli",
    "LlmResource",
    "SyncResource",
    "WarehouseResource",
    "build_resources",
    "llm_settings",
    "resolve",
    "sync_settings",
    "warehouse_settings",
]


def build_resources() -> dict[str, Any]:
    """The definitions' resources, their fields `EnvVar`s for the variables set now."""
    return {
        "warehouse": WarehouseResource.from_environment(),
        "sync": SyncResource.from_environment(),
        "llm": LlmResource.from_environment(),
        "dbt": DbtCli(
            project_dir=str(DBT_PROJECT_DIR),
            profiles_dir=str(DBT_PROJECT_DIR),
            dbt_executable=dbt_executable(),
        ),
    }


def resolve(key: str) -> Any:
    """The resource `key` of `build_resources()` initialised as a run would (Dagster's own config
    processing: `EnvVar`s read, `setup_for_execution` run, the settings checked): what the command
    line uses, so it resolves every setting exactly as a run of the code location does."""
    resource = build_resources()[key]
    return resource.process_config_and_initialize()


def warehouse_settings() -> Settings:
    """`Settings` as a run with no config override resolves them (`SettingsError` if malformed)."""
    return resolve("warehouse").settings()


def sync_settings() -> SyncSettings:
    """`SyncSettings` as a run with no config override resolves them (`SyncConfigError` if malformed)."""
    return resolve("sync").sync_settings()


def llm_settings() -> LLMSettings:
    """`LLMSettings` as a run with no config override resolves them (`SettingsError` if malformed)."""
    return resolve("llm").llm_settings()

"""The code location's resources: the warehouse, the sync destinations, the LLM, and dbt.

Every setting of the project is a field of one of them (fields.py says how a field is filled from its
variable), so the launchpad shows it and a run's config can override it. The command line resolves
the same resources the same way (`resolve`), so a variable means the same thing in both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sync.settings import SyncSettings

from ..ai.client import LLMSettings
from ..core.settings import DBT_PROJECT_DIR, Settings, dbt_executable
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


if TYPE_CHECKING:
    from .dbt import DbtCli


def __getattr__(name: str) -> Any:
    # dagster-dbt imports dbt (seconds): only the definitions and the dbt steps need it, not a command
    # that resolves its settings here.
    if name == "DbtCli":
        from .dbt import DbtCli

        return DbtCli
    raise AttributeError(name)


def _dbt() -> DbtCli:
    from .dbt import DbtCli

    return DbtCli(project_dir=str(DBT_PROJECT_DIR), profiles_dir=str(DBT_PROJECT_DIR), dbt_executable=dbt_executable())


_BUILDERS = {
    "warehouse": WarehouseResource.from_environment,
    "sync": SyncResource.from_environment,
    "llm": LlmResource.from_environment,
    "dbt": _dbt,
}


def build_resources() -> dict[str, Any]:
    """The definitions' resources, their fields `EnvVar`s for the variables set now."""
    return {key: build() for key, build in _BUILDERS.items()}


def resolve(key: str) -> Any:
    """The resource `key` as `build_resources()` builds it, initialised as a run does (Dagster's own
    config processing: `EnvVar`s read, `setup_for_execution` run, the settings checked): what the
    command line uses, so it resolves every setting exactly as a run of the code location does."""
    return _BUILDERS[key]().process_config_and_initialize()


def warehouse_settings() -> Settings:
    """`Settings` as a run with no config override resolves them (`SettingsError` if malformed)."""
    return resolve("warehouse").settings()


def sync_settings() -> SyncSettings:
    """`SyncSettings` as a run with no config override resolves them (`SyncConfigError` if malformed)."""
    return resolve("sync").sync_settings()


def llm_settings() -> LLMSettings:
    """`LLMSettings` as a run with no config override resolves them (`SettingsError` if malformed)."""
    return resolve("llm").llm_settings()

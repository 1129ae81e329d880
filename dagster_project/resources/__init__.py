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
    "run_config_resources",
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


# The resources that hold settings (each field from its variable), by resource key.
SETTINGS_RESOURCES: dict[str, type[WarehouseResource | SyncResource | LlmResource]] = {
    "warehouse": WarehouseResource,
    "sync": SyncResource,
    "llm": LlmResource,
}
_BUILDERS: dict[str, Any] = {**{key: kind.from_environment for key, kind in SETTINGS_RESOURCES.items()}, "dbt": _dbt}


def build_resources() -> dict[str, Any]:
    """The definitions' resources, their fields `EnvVar`s for the variables set now."""
    return {key: build() for key, build in _BUILDERS.items()}


def resolve(key: str) -> Any:
    """The resource `key` as `build_resources()` builds it, initialised as a run does (Dagster's own
    config processing: `EnvVar`s read, `setup_for_execution` run, the settings checked): what the
    command line uses, so it resolves every setting exactly as a run of the code location does."""
    return _BUILDERS[key]().process_config_and_initialize()


def run_config_resources(settings: Settings | None = None) -> dict[str, Any]:
    """The resources' part of a run's config for a run launched from this process (`onboarding run`):
    each resource's config as the code location would build it now (`{"env": NAME}` for the variables
    set, no value of theirs; `{}` when none is), and the warehouse settings of `settings` that differ
    from the environment's. Why not nothing: the definitions were built when this process imported
    them, and a variable set then but unset now would fail the run (an unset `EnvVar`); a resource's
    config in the run's replaces the definitions' whole default."""
    config = {key: {"config": kind.env_config()} for key, kind in SETTINGS_RESOURCES.items()}
    if settings is not None:
        config["warehouse"]["config"].update(WarehouseResource.overrides(settings))
    return config


def warehouse_settings() -> Settings:
    """`Settings` as a run with no config override resolves them (`SettingsError` if malformed)."""
    return resolve("warehouse").settings()


def sync_settings() -> SyncSettings:
    """`SyncSettings` as a run with no config override resolves them (`SyncConfigError` if malformed)."""
    return resolve("sync").sync_settings()


def llm_settings() -> LLMSettings:
    """`LLMSettings` as a run with no config override resolves them (`SettingsError` if malformed)."""
    return resolve("llm").llm_settings()

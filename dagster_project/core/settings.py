"""Every warehouse setting of the runtime, parsed and checked in one place: `Settings.from_env(mapping)`.

Why one place: the warehouse path used to be read in five places with three defaults, two of them
relative to the current directory, so `onboarding sync` started elsewhere opened another file than
`onboarding run` wrote. Now each `ONBOARDING_*` variable is read and checked here only, and every
default is anchored at one working home (`onboarding_home`: ONBOARDING_HOME, else the checkout when
running from one, else the current directory of an installed package), resolved once per process:

- each variable is a field of the Dagster `warehouse` resource (dagster_project/resources/warehouse.py),
  which hands its fields, by variable name, to `Settings.from_env`: a run, a run's config override and
  the command line (which resolves the same resource) read a variable alike;
- inside Dagster, steps get the settings from `WarehouseResource` only, and pass them on (the ingest's
  and AI steps' children in their request, dbt as the environment of its subprocess);
- nothing here writes `os.environ`: a process this one starts gets its settings in the environment
  passed to it (`dbt_env`), or, for a library that only reads `os.environ`, through `temporary_env`.

Left out: each destination's vendor settings (`sync/settings.py`) and the LLM client's
(`ai/client.py`), which belong to their component; they are the `sync` and `llm` resources' fields.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from .warehouse import DEFAULT_LOCK_TIMEOUT_SECONDS, MEMORY_LIMIT_ENV, lock_timeout, memory_limit

HOME_ENV = "ONBOARDING_HOME"
# The package folder (dagster_project/), in a checkout or in site-packages.
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def checkout_root(package_dir: Path = PACKAGE_DIR) -> Path | None:
    """The checkout the package runs from (editable install, tests), or None when it is installed.

    A checkout is recognised by what only a checkout has beside the package folder: pyproject.toml and
    the dbt project (dbt_project/dbt_project.yml). An installed package has neither beside it in
    site-packages; its dbt project is package data inside it (`packaged_dbt_project`).
    """
    root = package_dir.parent
    if (root / "pyproject.toml").is_file() and (root / "dbt_project" / "dbt_project.yml").is_file():
        return root
    return None


def onboarding_home(env: Mapping[str, str] | None = None, package_dir: Path = PACKAGE_DIR) -> Path:
    """The working folder, whose data/ holds the default warehouse, landing folder and dbt's output.

    ONBOARDING_HOME when set; else the checkout when the package runs from one (so `make run` and a
    command started in any subfolder share the checkout's data/); else the current directory, as for
    any command-line tool a user installed with pip. Absolute.
    """
    env = os.environ if env is None else env
    value = (env.get(HOME_ENV) or "").strip()
    if value:
        return Path(value).expanduser().resolve()
    return checkout_root(package_dir) or Path.cwd().resolve()


def packaged_dbt_project(package_dir: Path = PACKAGE_DIR) -> Path:
    """Where the wheel puts the dbt project (pyproject.toml's force-include): inside the package."""
    return package_dir / "dbt_project"


def dbt_output_dirs(home: Path, package_dir: Path = PACKAGE_DIR) -> tuple[Path, Path]:
    """dbt's target and log folders: beside the project in a checkout (git-ignored, where `make docs`
    and the tests look), under the working home when the project is package data, so that dbt never
    writes into site-packages (read-only for many users, shared by every working folder)."""
    checkout = checkout_root(package_dir)
    if checkout is not None:
        return checkout / "dbt_project" / "target", checkout / "dbt_project" / "logs"
    return home / "data" / "dbt" / "target", home / "data" / "dbt" / "logs"


# Resolved once, when this process imports the module: the dbt project's manifest path and target
# folder are fixed when the code location loads, so the working home is too (set ONBOARDING_HOME
# before starting a process, as for DAGSTER_HOME).
CHECKOUT_ROOT = checkout_root()
HOME = onboarding_home()
# The checkout when running from one, else the working home (kept: tests and tools name files by it).
PROJECT_ROOT = CHECKOUT_ROOT or HOME
DBT_PROJECT_DIR = CHECKOUT_ROOT / "dbt_project" if CHECKOUT_ROOT else packaged_dbt_project()
DBT_TARGET_DIR, DBT_LOG_DIR = dbt_output_dirs(HOME)

DB_ENV = "ONBOARDING_DB"
LANDING_ENV = "ONBOARDING_LANDING"
START_DATE_ENV = "ONBOARDING_START_DATE"
MAX_LINE_BYTES_ENV = "ONBOARDING_MAX_LINE_BYTES"
MAX_FILE_BYTES_ENV = "ONBOARDING_MAX_FILE_BYTES"
ALLOW_EMPTY_RELOAD_ENV = "ONBOARDING_ALLOW_EMPTY_RELOAD"

# The one default of each path: under the working home's data/. From a checkout, dbt_project/
# profiles.yml names the same file relative to dbt_project/ (dbt's working directory);
# tests/test_settings.py holds the two together.
DEFAULT_DB = HOME / "data" / "warehouse.duckdb"
DEFAULT_LANDING = HOME / "data" / "landing"


def default_paths(env: Mapping[str, str]) -> tuple[Path, Path]:
    """The default warehouse and landing folder for `env`: under its ONBOARDING_HOME when it sets one,
    else this process's defaults (DEFAULT_DB, DEFAULT_LANDING)."""
    if (env.get(HOME_ENV) or "").strip():
        home = onboarding_home(env)
        return home / "data" / "warehouse.duckdb", home / "data" / "landing"
    return DEFAULT_DB, DEFAULT_LANDING
DEFAULT_MAX_LINE_BYTES = 65_536
DEFAULT_MAX_FILE_BYTES = 2**30  # 1 GiB: ~8x the biggest demo file at 10 M events; a gzip bomb stops here
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


class SettingsError(ValueError):
    """A setting is malformed; the message names the variable and what it accepts."""


@dataclass(frozen=True)
class Settings:
    """The resolved settings. Paths are absolute; `memory_limit` None means DuckDB's default."""

    db_path: Path = DEFAULT_DB
    landing: Path | str = DEFAULT_LANDING  # a folder, or an object-store URI kept as given (s3://bucket/prefix)
    memory_limit: str | None = None
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT_SECONDS
    start_date: date | None = None  # None: the first landing day (partitions.py)
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES  # a landing file decompressing to more is quarantined
    allow_empty_reload: bool = False  # re-loading a day whose files are all gone empties it

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and check every `ONBOARDING_*` setting of `env` (default: os.environ).

        A relative path is taken relative to the current directory once, here, and kept absolute
        from then on; an unset one is under the working home's `data/` (`onboarding_home`): the
        checkout's wherever the command starts, else ONBOARDING_HOME or the current directory.
        """
        env = os.environ if env is None else env
        try:
            default_db, default_landing = default_paths(env)
            return cls(
                db_path=_path(env.get(DB_ENV), default_db),
                landing=_landing(env.get(LANDING_ENV), default_landing),
                memory_limit=memory_limit(env),
                lock_timeout=lock_timeout(env),
                start_date=_date(env.get(START_DATE_ENV)),
                max_line_bytes=_positive_int(env.get(MAX_LINE_BYTES_ENV), MAX_LINE_BYTES_ENV, DEFAULT_MAX_LINE_BYTES),
                max_file_bytes=_positive_int(env.get(MAX_FILE_BYTES_ENV), MAX_FILE_BYTES_ENV, DEFAULT_MAX_FILE_BYTES),
                allow_empty_reload=_switch(env.get(ALLOW_EMPTY_RELOAD_ENV), ALLOW_EMPTY_RELOAD_ENV),
            )
        except SettingsError:
            raise
        except ValueError as exc:  # the warehouse's own checks name their variable
            raise SettingsError(str(exc)) from exc

    def with_paths(self, db_path: Path | str | None = None, landing: Path | str | None = None) -> Settings:
        """These settings with the paths a caller chose (a resource's config, a `--db` option)."""
        return replace(
            self,
            db_path=_path(str(db_path), self.db_path) if db_path else self.db_path,
            landing=_landing(str(landing), self.landing) if landing else self.landing,
        )

    def dbt_env(self, base: Mapping[str, str] | None = None) -> dict[str, str | None]:
        """What dbt must see in its environment while it starts (None: unset), for `temporary_env`.

        profiles.yml reads the warehouse and the memory limit from ONBOARDING_DB and
        ONBOARDING_DUCKDB_MEMORY_LIMIT, so they are set to these settings' values for the dbt
        process only, with the malloc setting every DuckDB process of a run starts with.
        """
        from .warehouse import child_env

        return {
            DB_ENV: str(self.db_path),
            MEMORY_LIMIT_ENV: self.memory_limit,
            "GLIBC_TUNABLES": child_env(base)["GLIBC_TUNABLES"],
        }


def _path(value: str | None, default: Path) -> Path:
    value = (value or "").strip()
    return Path(value).expanduser().resolve() if value else default


def _landing(value: str | None, default: Path | str) -> Path | str:
    """A landing folder as `_path` resolves it, or an object-store URI (`s3://…`, `gs://…`) as given,
    without its trailing slash: `dagster_project/ingest/landing.py` lists and reads it."""
    value = (value or "").strip()
    if "://" in value and not value.startswith("file://"):
        scheme, rest = value.split("://", 1)
        return f"{scheme}://{rest.rstrip('/')}"
    return _path(value.removeprefix("file://"), default) if value else default


def _date(value: str | None) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise SettingsError(f"{START_DATE_ENV} must be a date YYYY-MM-DD, got {value!r}") from exc


def _switch(value: str | None, name: str) -> bool:
    """An on/off setting. Anything else is an error rather than "off": the one switch here
    (ONBOARDING_ALLOW_EMPTY_RELOAD) deletes rows when on, so a typo must not guess."""
    text = (value or "").strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise SettingsError(f"{name} must be 1/true/yes/on or 0/false/no/off, got {value!r}")


def _positive_int(value: str | None, name: str, default: int) -> int:
    value = (value or "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise SettingsError(f"{name} must be a whole number above 0, got {value!r}")
    return number


def dbt_executable() -> str:
    """The `dbt` of this environment, so `.venv/bin/onboarding` works without an activated venv.

    `sys.prefix` is the venv even when a subprocess (Dagster's code server) starts the interpreter by
    another path; the interpreter's folder and PATH are fallbacks.
    """
    for candidate in (Path(sys.prefix) / "bin" / "dbt", Path(sys.executable).with_name("dbt")):
        if candidate.exists():
            return str(candidate)
    return shutil.which("dbt") or "dbt"


def environment_with(values: Mapping[str, str | None], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default os.environ) with `values` set (None: unset): the environment for a process
    this one starts, given to it instead of written into os.environ."""
    env = dict(os.environ if base is None else base)
    for key, value in values.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


@contextmanager
def temporary_env(values: Mapping[str, str | None]) -> Iterator[None]:
    """os.environ with `values` set (None: unset) for the block, as it was afterwards.

    For settings that reach a library or a process it starts only through the environment (dbt,
    which dagster-dbt starts with a copy of os.environ; Dagster's planned-events switch; the LLM
    stand-in), so that nothing else this process starts later inherits them.
    """
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

"""How a setting becomes a field of a Dagster resource: declared once, with the variable it comes from.

Why this shape (docs/deploy.md, "2. Configure"):

- A field is `EnvVar("NAME")` when NAME is set while the code location loads, so the launchpad and the
  run's config show the reference (`{env: NAME}`), never the value, and Dagster reads the value when
  the run starts: a value changed between the load and the run is the one used. A variable that is
  not set is never referenced (Dagster fails a run whose `EnvVar` is unset); its field stays empty.
- An empty field means "the variable as the run finds it, else the documented default": it is read
  when the settings are resolved (`variables`). Dagster replaces a resource's whole default config
  when a run's config sets any of its fields, so this is also what keeps the other fields on their
  variables when a run overrides one.
- Every field is text, as the variable is: one parser per setting (`Settings`, `SyncSettings`,
  `LLMSettings`) reads the text the same way whether it came from the environment or from a run's
  config. Dagster's environment sources are only str, int and bool (no float, and its bool reads
  "no" as true), so typed fields would have parsed a variable differently from the command line.
- Credentials are marked secret: the launchpad masks them, and they are only ever `EnvVar`s.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

from dagster import EnvVar
from pydantic import Field

ENV_KEY = "onboarding_env"  # where a field keeps its variable's name (pydantic json_schema_extra)


def setting(variable: str, description: str, *, secret: bool = False) -> Any:
    """A text field filled from `variable` (see the module docstring). `{DEST}` in the name is the
    destination of the class that declares it (`EnvFields.DEST`)."""
    extra: dict[str, Any] = {ENV_KEY: variable}
    if secret:
        extra["dagster__is_secret"] = True  # masked in the launchpad's config
    shown = variable.replace("{DEST}", "<DEST>")
    return Field(default=None, description=f"{description} Empty: ${shown}, else the default.", json_schema_extra=extra)


def env_field(name: str, environ: Mapping[str, str] | None = None) -> EnvVar | None:
    """`EnvVar(name)` when the variable is set now (the code location's load), else None."""
    return EnvVar(name) if name in (os.environ if environ is None else environ) else None


class EnvFields:
    """Mixed into a `Config` or `ConfigurableResource` whose fields are `setting`s (or nested
    `EnvFields` configs): builds it from the environment and gives back its values by variable."""

    DEST: ClassVar[str] = ""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """A destination's class names its own variables in the fields' descriptions (the launchpad's)."""
        super().__pydantic_init_subclass__(**kwargs)  # type: ignore[misc]
        if cls.DEST:
            for info in cls.model_fields.values():  # type: ignore[attr-defined]
                if info.description and "<DEST>" in info.description:
                    info.description = info.description.replace("<DEST>", cls.DEST)

    @classmethod
    def variables_by_field(cls) -> dict[str, str]:
        """field name -> variable name, for this class's own `setting` fields."""
        found = {}
        for name, info in cls.model_fields.items():  # type: ignore[attr-defined]
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            if ENV_KEY in extra:
                found[name] = str(extra[ENV_KEY]).replace("{DEST}", cls.DEST)
        return found

    @classmethod
    def nested_fields(cls) -> dict[str, type[EnvFields]]:
        """field name -> the `EnvFields` config class nested there."""
        return {
            name: info.annotation
            for name, info in cls.model_fields.items()  # type: ignore[attr-defined]
            if isinstance(info.annotation, type) and issubclass(info.annotation, EnvFields)
        }

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Any:
        """An instance whose fields are `EnvVar`s for the variables set in `environ` (default
        os.environ), the others empty: what the code location's definitions hold."""
        values: dict[str, Any] = {
            name: ref for name, var in cls.variables_by_field().items() if (ref := env_field(var, environ)) is not None
        }
        values.update({name: kind.from_environment(environ) for name, kind in cls.nested_fields().items()})
        return cls(**values)

    @classmethod
    def env_config(cls, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
        """The config `from_environment` amounts to, as a run's config holds it: `{"env": NAME}` for
        each variable set in `environ`, never a value (what the launchpad shows as the default)."""
        config: dict[str, Any] = {
            name: {"env": var}
            for name, var in cls.variables_by_field().items()
            if var in (os.environ if environ is None else environ)
        }
        for name, kind in cls.nested_fields().items():
            if nested := kind.env_config(environ):
                config[name] = nested
        return config

    def variables(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        """variable -> text: each field's value (an `EnvVar` read now), an empty field's variable
        from `environ` (default os.environ) when set there. The parsers take this mapping."""
        environ = os.environ if environ is None else environ
        out: dict[str, str] = {}
        for name, var in self.variables_by_field().items():
            value = getattr(self, name)
            if isinstance(value, EnvVar):  # not resolved by Dagster yet (used outside a run)
                value = value.get_value()
            if value is None:
                value = environ.get(var)
            if value is not None:
                out[var] = str(value)
        for name in self.nested_fields():
            out.update(getattr(self, name).variables(environ))
        return out

"""dagster_project/core/settings.py: temporary_env, the one way a step sets the environment for a while."""

import os

from dagster_project.core import warehouse
from dagster_project.core.settings import temporary_env


def test_temporary_env_sets_only_for_the_block_and_restores(monkeypatch):
    """As the dbt step uses it: the malloc tunable is in os.environ only while dbt starts."""
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    with temporary_env({"GLIBC_TUNABLES": warehouse.child_env()["GLIBC_TUNABLES"]}):
        assert os.environ["GLIBC_TUNABLES"] == warehouse.MALLOC_TUNABLE
    assert "GLIBC_TUNABLES" not in os.environ
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")
    with temporary_env({"GLIBC_TUNABLES": warehouse.child_env()["GLIBC_TUNABLES"]}):
        assert os.environ["GLIBC_TUNABLES"].endswith(warehouse.MALLOC_TUNABLE)
    assert os.environ["GLIBC_TUNABLES"] == "glibc.malloc.arena_max=2"


def test_temporary_env_none_unsets_and_an_error_still_restores(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-kept")
    try:
        with temporary_env({"OPENAI_API_KEY": None}):
            assert "OPENAI_API_KEY" not in os.environ
            raise RuntimeError("step failed")
    except RuntimeError:
        pass
    assert os.environ["OPENAI_API_KEY"] == "sk-kept"

"""dagster_project/core/warehouse.py: the DuckDB settings every connection of the project shares."""


import pytest

from dagster_project.core import warehouse


@pytest.mark.parametrize("value", ["200MB", "4 GB", "1.5GiB", "25%"])
def test_memory_limit_accepts_duckdb_sizes(value):
    assert warehouse.memory_limit({warehouse.MEMORY_LIMIT_ENV: f" {value} "}) == value


def test_memory_limit_unset_or_blank_keeps_duckdb_default():
    assert warehouse.memory_limit({}) is None
    assert warehouse.memory_limit({warehouse.MEMORY_LIMIT_ENV: "  "}) is None


@pytest.mark.parametrize("value", ["lots", "200", "1GB'; drop table x; --", "-5MB"])
def test_memory_limit_rejects_anything_else(value):
    with pytest.raises(ValueError, match=warehouse.MEMORY_LIMIT_ENV):
        warehouse.memory_limit({warehouse.MEMORY_LIMIT_ENV: value})


def test_connect_applies_the_limit_to_a_real_warehouse(tmp_path, monkeypatch):
    path = tmp_path / "w.duckdb"
    monkeypatch.delenv(warehouse.MEMORY_LIMIT_ENV, raising=False)
    with warehouse.connect(path) as con:
        default = con.execute("select current_setting('memory_limit')").fetchone()[0]
    monkeypatch.setenv(warehouse.MEMORY_LIMIT_ENV, "200MB")
    with warehouse.connect(path) as con:
        limited = con.execute("select current_setting('memory_limit')").fetchone()[0]
        con.execute("create table t as select range as i from range(10)")
    with warehouse.connect(path, read_only=True) as con:
        assert con.execute("select count(*) from t").fetchone()[0] == 10
    assert limited != default
    assert limited.startswith(("190", "200"))  # DuckDB prints it in MiB


def test_child_env_fixes_the_mmap_threshold():
    env = warehouse.child_env({"PATH": "/bin"})
    assert env == {"PATH": "/bin", "GLIBC_TUNABLES": warehouse.MALLOC_TUNABLE}


def test_child_env_keeps_the_operators_tunables():
    other = warehouse.child_env({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"})
    assert other["GLIBC_TUNABLES"] == f"glibc.malloc.arena_max=2:{warehouse.MALLOC_TUNABLE}"
    chosen = {"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=1048576"}
    assert warehouse.child_env(chosen) == chosen

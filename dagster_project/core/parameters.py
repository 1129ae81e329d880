"""The dbt vars a Python step needs, read from the warehouse (`intermediate.int_onboarding__parameters`).

Why from the warehouse and not from `dbt_project.yml`: the var a dbt build used is what the decision
models decided with, including a value passed with `--vars`; reading the file (or keeping a copy in
Python) would let the two drift. dbt writes each var as JSON text; this module only decodes it.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

PARAMETERS_TABLE = "intermediate.int_onboarding__parameters"


class ParametersNotBuiltError(RuntimeError):
    """The parameters model is missing: the dbt staging step has not run on this warehouse."""


def read_parameters(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """var name -> value (decoded JSON) as the last dbt build wrote them."""
    try:
        rows = con.execute(f"select parameter, value from {PARAMETERS_TABLE}").fetchall()
    except duckdb.CatalogException as exc:
        raise ParametersNotBuiltError(
            f"{PARAMETERS_TABLE} has not been built in this warehouse: build the dbt staging models first "
            "(`onboarding run`, or `dbt build -s +path:models/staging` in dbt_project/)"
        ) from exc
    return {name: json.loads(value) for name, value in rows}


def require(parameters: dict[str, Any], *names: str) -> None:
    """Fail with the missing names when a step needs a var the parameters model does not list."""
    if missing := [n for n in names if n not in parameters]:
        raise ParametersNotBuiltError(
            f"{PARAMETERS_TABLE} lacks {', '.join(missing)}: add them to the model's python_vars and rebuild it"
        )

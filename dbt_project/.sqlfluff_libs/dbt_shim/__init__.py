"""Jinja context for linting the dbt models with sqlfluff's jinja templater (no dbt templater installed).

sqlfluff adds everything defined here to the template context, ahead of its own dbt builtins: `var`
reads the real vars of dbt_project.yml, `dbt` renders the cross-database macros the way dbt-duckdb does,
`adapter.dispatch` resolves the project's dispatching macros, and `api.Column.translate_type` is the
identity. Used only by `sqlfluff lint`; dbt never imports it.
"""

from __future__ import annotations

import pathlib

import yaml

_PROJECT = pathlib.Path(__file__).resolve().parents[2] / "dbt_project.yml"
_VARS = (yaml.safe_load(_PROJECT.read_text()) or {}).get("vars", {}) or {}


def var(name, default=None):
    """dbt's var(): the project's value, else the default."""
    value = _VARS.get(name)
    return default if value is None else value


class _Dbt:
    """The dbt.* cross-database macros, rendered as dbt-duckdb renders them."""

    @staticmethod
    def dateadd(datepart, interval, from_date_or_timestamp):
        return f"({from_date_or_timestamp} + cast({interval} as bigint) * interval 1 {datepart})"

    @staticmethod
    def datediff(first_date, second_date, datepart):
        return f"(date_diff('{datepart}', cast({first_date} as timestamp), cast({second_date} as timestamp)))"

    @staticmethod
    def date_trunc(datepart, date):
        return f"date_trunc('{datepart}', {date})"

    @staticmethod
    def hash(field):
        return f"md5(cast({field} as varchar))"

    @staticmethod
    def concat(fields):
        return f"concat({', '.join(fields)})"

    @staticmethod
    def safe_cast(field, type_):
        return f"try_cast({field} as {type_})"

    @staticmethod
    def split_part(string_text, delimiter_text, part_number):
        return f"split_part({string_text}, {delimiter_text}, {part_number})"

    @staticmethod
    def listagg(measure, delimiter_text="','", order_by_clause=None, limit_num=None):
        return f"string_agg({measure}, {delimiter_text})"

    @staticmethod
    def generate_series(upper_bound):
        return f"select generated_number from range(1, {int(upper_bound)} + 1) as series (generated_number)"

    type_string = staticmethod(lambda: "varchar")
    type_int = staticmethod(lambda: "integer")
    type_bigint = staticmethod(lambda: "bigint")
    type_float = staticmethod(lambda: "float")
    type_numeric = staticmethod(lambda: "numeric")
    type_timestamp = staticmethod(lambda: "timestamp")
    type_boolean = staticmethod(lambda: "boolean")


dbt = _Dbt()

_DISPATCHED = {
    "json_str": lambda column, path: f"json_extract_string({column}, '$.{path}')",
    "json_get": lambda column, path: f"cast(json_extract({column}, '$.{path}') as varchar)",
    "type_double": lambda: "double",
    "median": lambda column: f"percentile_cont(0.5) within group (order by {column})",
    "hex8_to_int": lambda hex_text: f"cast(concat('0x', {hex_text}) as ubigint)",
    "regexp_replace_all": lambda expr, pattern, replacement: f"regexp_replace({expr}, {pattern}, {replacement}, 'g')",
    "json_array_rows": lambda column, alias, element, position: (
        f"cross join unnest(cast({column} as json[])) with ordinality as {alias} ({element}, {position})"
    ),
}


class _Adapter:
    @staticmethod
    def dispatch(macro_name, macro_namespace=None):
        return _DISPATCHED[macro_name]


adapter = _Adapter()


class _Column:
    @staticmethod
    def translate_type(type_):
        return type_


class _Api:
    Column = _Column


api = _Api()

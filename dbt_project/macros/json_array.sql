{#- One row per element of a JSON array column (a join clause after the `from`): `element` is the
    element as JSON text, `position` its place in the array (DuckDB 1-based, Spark 0-based: use it to
    order and to key, never as a number). No dbt cross-database macro explodes arrays. -#}

{% macro json_array_rows(column, alias, element, position) -%}
    {{ return(adapter.dispatch('json_array_rows', 'onboarding')(column, alias, element, position)) }}
{%- endmacro %}

{% macro default__json_array_rows(column, alias, element, position) -%}
    cross join unnest(cast({{ column }} as json[])) with ordinality as {{ alias }} ({{ element }}, {{ position }})
{%- endmacro %}

{% macro spark__json_array_rows(column, alias, element, position) -%}
    lateral view posexplode(from_json({{ column }}, 'array<string>')) {{ alias }} as {{ position }}, {{ element }}
{%- endmacro %}

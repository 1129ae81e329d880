{#- JSON access has no dbt cross-database macro; these dispatch so the models can run on Spark. -#}

{% macro json_str(column, path) -%}
    {{ return(adapter.dispatch('json_str', 'onboarding')(column, path)) }}
{%- endmacro %}

{% macro default__json_str(column, path) -%}
    json_extract_string({{ column }}, '$.{{ path }}')
{%- endmacro %}

{% macro spark__json_str(column, path) -%}
    get_json_object({{ column }}, '$.{{ path }}')
{%- endmacro %}


{% macro json_get(column, path) -%}
    {{ return(adapter.dispatch('json_get', 'onboarding')(column, path)) }}
{%- endmacro %}

{% macro default__json_get(column, path) -%}
    cast(json_extract({{ column }}, '$.{{ path }}') as varchar)
{%- endmacro %}

{% macro spark__json_get(column, path) -%}
    get_json_object({{ column }}, '$.{{ path }}')
{%- endmacro %}

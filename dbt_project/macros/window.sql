{#- The partition window Dagster passes as --vars {"start_date": ..., "end_date": ...}.
    Without vars every landed day is in the window (a full refresh or a plain `dbt build`). -#}

{% macro in_window(column) -%}
    {%- set start = var('start_date', none) -%}
    {%- set end = var('end_date', none) -%}
    {%- if start and end -%}
        {{ column }} between cast('{{ start }}' as date) and cast('{{ end }}' as date)
    {%- elif start -%}
        {{ column }} >= cast('{{ start }}' as date)
    {%- elif end -%}
        {{ column }} <= cast('{{ end }}' as date)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

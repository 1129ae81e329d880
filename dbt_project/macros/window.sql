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


{#- The first day of the window on an incremental run with a start_date (rows before it are kept and
    their state is carried forward), else none: the model computes every row. -#}
{% macro incremental_window_start() -%}
    {%- if is_incremental() and var('start_date', none) -%}
        {{ return(var('start_date')) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}


{#- Pre-hook of the window-incremental models: remove the window's rows, which the run then appends
    again (without window vars, every row). A day of the window the run finds nothing for is left
    empty, not stale. -#}
{% macro delete_window(relation) -%}
    {%- if is_incremental() -%}
        delete from {{ relation }} where {{ in_window('as_of_date') }}
    {%- endif -%}
{%- endmacro %}

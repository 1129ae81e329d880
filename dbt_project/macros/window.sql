{#- The partition window: Dagster's run sets ONBOARDING_WINDOW_START_DATE / ONBOARDING_WINDOW_END_DATE in
    dbt's environment, read here only while executing (`execute`), never while parsing. Why not --vars:
    dbt hashes the command line's vars into its partial-parse check, so every new window re-parsed
    all ~450 nodes (issue 20); an env_var() call made at parse time would also be recorded and re-parse
    the files using it. --vars start_date / end_date still win (unit tests, a `dbt build` by hand).
    Without either every landed day is in the window (a full refresh or a plain `dbt build`). -#}

{% macro window_bound(name) -%}
    {%- set value = var(name, none) -%}
    {%- if value is none and execute -%}
        {%- set value = env_var('ONBOARDING_WINDOW_' ~ (name | upper), '') or none -%}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}

{% macro in_window(column) -%}
    {%- set start = window_bound('start_date') -%}
    {%- set end = window_bound('end_date') -%}
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
    {%- if is_incremental() and window_bound('start_date') -%}
        {{ return(window_bound('start_date')) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}


{#- Pre-hook of the window-incremental models: remove the window's rows, which the run then appends
    again (without window vars, every row). A day of the window the run finds nothing for is left
    empty, not stale. -#}
{% macro delete_window(relation) -%}
    {#- Spark: nothing to delete, the run overwrites its days' partitions (macros/incremental.sql). -#}
    {%- if is_incremental() and not (target is defined and target.type == 'spark') -%}
        delete from {{ relation }} where {{ in_window('as_of_date') }}
    {%- endif -%}
{%- endmacro %}

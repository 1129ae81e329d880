{#- Data tests of a partitioned run check the run's window, not the whole history (issue 20).

    dbt wraps the relation a generic test reads in get_where_subquery(); this override adds the
    partition window (macros/window.sql, read while executing) on the tested relation's window column:
    the first of var('test_window_columns') that the model documents, or a source's
    `meta.window_column` (dbt_project.yml). Why: the window's rows are the only rows a daily run wrote,
    yet every test scanned the whole table every run (`unique` on 8 M Segment message ids alone 2.8 s
    at 10 M). Without a window (a plain `dbt build`, a full refresh by hand) or without such a column,
    a test reads the whole relation as before; a test's own `where` config is kept and combined. -#}

{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set column = test_window_column(relation) if execute else none -%}
    {%- if column and (window_bound('start_date') or window_bound('end_date')) -%}
        {%- set window = in_window(column) -%}
        {%- set where = '(' ~ where ~ ') and ' ~ window if where else window -%}
    {%- endif -%}
    {%- if where -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}


{#- The window column of the node or source the test reads (matched on the relation's name), else none. -#}
{% macro test_window_column(relation) -%}
    {%- set candidates = var('test_window_columns', []) -%}
    {%- for unique_id in model.depends_on.nodes -%}
        {%- set node = graph.nodes.get(unique_id) or graph.sources.get(unique_id) -%}
        {%- if node and (node.alias or node.identifier or node.name) | lower == relation.identifier | lower -%}
            {%- set meta = node.meta or (node.config.meta if node.config else {}) or {} -%}
            {%- if meta.get('window_column') -%}
                {{ return(meta.get('window_column')) }}
            {%- endif -%}
            {%- for column in candidates -%}
                {%- if column in node.columns -%}
                    {{ return(column) }}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(none) }}
{%- endmacro %}

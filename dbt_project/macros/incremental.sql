{#- Incremental configuration per engine (docs/scale-out.md). DuckDB deletes the window's rows and
    inserts them again (delete+insert by key, or append after the delete_window pre-hook). Spark's
    Parquet tables cannot delete rows: a daily model overwrites the partitions (days) the run computes
    (insert_overwrite, partitioned by its day column), and a model keyed by something other than a day
    is rebuilt whole (a table) until the warehouse has a format with MERGE (Delta, Iceberg). -#}

{% macro engine_incremental_strategy(duckdb_strategy) -%}
    {{ return('insert_overwrite' if (target is defined and target.type == 'spark') else duckdb_strategy) }}
{%- endmacro %}


{#- The day column a Spark daily model is partitioned (and overwritten) by; none elsewhere. -#}
{% macro engine_partition_by(day_column) -%}
    {{ return(day_column if (target is defined and target.type == 'spark') else none) }}
{%- endmacro %}


{#- 'incremental' on DuckDB; on Spark, 'table' for a model whose increments are keyed by a non-day key. -#}
{% macro engine_keyed_materialization() -%}
    {{ return('table' if (target is defined and target.type == 'spark') else 'incremental') }}
{%- endmacro %}

{#- Deterministic experiment assignment, shared with the generator and the Python side
    (dagster_project/generate/experiments.py): bucket = int(first 8 hex digits of md5(experiment_id ':'
    user_id), 16) / 16^8, uniform on [0, 1). -#}

{% macro experiment_bucket(experiment_id, user_id) -%}
    (
        cast({{ hex8_to_int('substr(' ~ dbt.hash(dbt.concat([experiment_id, "':'", user_id])) ~ ', 1, 8)') }} as {{ type_double() }})
        / 4294967296.0
    )
{%- endmacro %}


{#- Eight hex digits (lower case) as an integer; no cross-database macro exists, so this dispatches. -#}
{% macro hex8_to_int(hex_text) -%}
    {{ return(adapter.dispatch('hex8_to_int', 'onboarding')(hex_text)) }}
{%- endmacro %}

{% macro default__hex8_to_int(hex_text) -%}
    cast({{ dbt.concat(["'0x'", hex_text]) }} as ubigint)
{%- endmacro %}

{% macro spark__hex8_to_int(hex_text) -%}
    cast(conv({{ hex_text }}, 16, 10) as bigint)
{%- endmacro %}

{% macro postgres__hex8_to_int(hex_text) -%}
    cast(cast({{ dbt.concat(["'x'", hex_text]) }} as bit(32)) as bigint)
{%- endmacro %}

{% macro snowflake__hex8_to_int(hex_text) -%}
    to_number({{ hex_text }}, 'XXXXXXXX')
{%- endmacro %}

{% macro bigquery__hex8_to_int(hex_text) -%}
    cast({{ dbt.concat(["'0x'", hex_text]) }} as int64)
{%- endmacro %}

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


{#- A variant's counts and CUPED sums over the exposures joined as `rel` (the input of ab_variant_statistics):
    `analysed` is the SQL condition for an exposure whose metric window is over (is_analysed, or the window
    ended by a snapshot day), `assigned` the condition for an exposure that counts as assigned (default:
    any joined exposure). One definition for the cohort report, its slices and its daily snapshots. -#}
{% macro ab_variant_sums(rel, analysed, assigned=none) -%}
    {%- set assigned = assigned or rel ~ '.user_id is not null' -%}
    cast(sum(case when {{ assigned }} then 1 else 0 end) as {{ dbt.type_bigint() }}) as assigned_users,
    cast(sum(case when {{ analysed }} then 1 else 0 end) as {{ dbt.type_bigint() }}) as users,  -- noqa: RF04
    cast(
        sum(case when {{ analysed }} and {{ rel }}.is_converted then 1 else 0 end) as {{ dbt.type_bigint() }}
    ) as conversions,
    sum(case when {{ analysed }} then {{ rel }}.pre_exposure_events else 0 end) as sum_x,
    sum(
        case when {{ analysed }} then {{ rel }}.pre_exposure_events * {{ rel }}.pre_exposure_events else 0 end
    ) as sum_xx,
    sum(case when {{ analysed }} and {{ rel }}.is_converted then {{ rel }}.pre_exposure_events else 0 end) as sum_xy
{%- endmacro %}


{#- The experiment's settings ab_variant_statistics reads besides alpha (which a slice divides), as columns
    of a select and of its group by. -#}
{% macro ab_experiment_settings() -%}
    experiments.srm_alpha,
    experiments.min_users_per_variant,
    experiments.is_sequential,
    experiments.horizon_users_per_variant
{%- endmacro %}

{{
    config(
        materialized='incremental',
        incremental_strategy=engine_incremental_strategy('append'),
        partition_by=engine_partition_by('as_of_date'),
        pre_hook="{{ delete_window(this) }}",
        on_schema_change='append_new_columns',
    )
}}

{#- Step 3.3 adaptive content difficulty as of each day, with its inputs. time_to_first_query is the
    seconds from signup to the first query event; queries_per_day = query events / max(1, days since
    signup). Simplified wins over advanced; the query-rate clause of simplified applies from day
    var difficulty_rate_min_days (docs/rules.md, rule 3).
    Incremental on the partition window (a row depends only on its own day): a run replaces the
    window's rows (pre-hook delete_window). -#}

with

activity as (

    select user_id, as_of_date, day_number, signed_up_at, first_query_at, query_count
    from {{ ref('int_onboarding__activity_daily') }}
    {%- if is_incremental() %}
        where {{ in_window('as_of_date') }}
    {%- endif %}

),

measured as (

    select
        user_id,
        as_of_date,
        day_number,
        query_count,
        case
            when first_query_at is null then null
            when first_query_at < signed_up_at then 0.0
            else {{ seconds_between('signed_up_at', 'first_query_at') }}
        end as time_to_first_query_seconds,
        {{ seconds_between('signed_up_at', as_of_end('as_of_date')) }} as seconds_since_signup,
        cast(query_count as {{ type_double() }})
        / (case when day_number > 1 then day_number else 1 end) as queries_per_day

    from activity

),

final as (

    select
        user_id,
        as_of_date,
        time_to_first_query_seconds,
        queries_per_day,
        query_count,
        case
            when time_to_first_query_seconds > {{ var('difficulty_simplified_min_ttfq_seconds') }}
                then 'simplified'
            when
                time_to_first_query_seconds is null
                and seconds_since_signup > {{ var('difficulty_simplified_min_ttfq_seconds') }}
                then 'simplified'
            when
                day_number >= {{ var('difficulty_rate_min_days') }}
                and queries_per_day < {{ var('difficulty_simplified_max_queries_per_day') }}
                then 'simplified'
            when
                time_to_first_query_seconds < {{ var('difficulty_advanced_max_ttfq_seconds') }}
                and queries_per_day > {{ var('difficulty_advanced_min_queries_per_day') }}
                then 'advanced'
            else 'standard'
        end as difficulty_level,
        case
            when time_to_first_query_seconds > {{ var('difficulty_simplified_min_ttfq_seconds') }}
                then 'slow_first_query'
            when
                time_to_first_query_seconds is null
                and seconds_since_signup > {{ var('difficulty_simplified_min_ttfq_seconds') }}
                then 'no_first_query'
            when
                day_number >= {{ var('difficulty_rate_min_days') }}
                and queries_per_day < {{ var('difficulty_simplified_max_queries_per_day') }}
                then 'low_query_rate'
            when
                time_to_first_query_seconds < {{ var('difficulty_advanced_max_ttfq_seconds') }}
                and queries_per_day > {{ var('difficulty_advanced_min_queries_per_day') }}
                then 'fast_start_high_query_rate'
            else 'default'
        end as difficulty_reason

    from measured

)

select * from final

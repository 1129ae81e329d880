{{
    config(
        materialized='incremental',
        incremental_strategy=engine_incremental_strategy('append'),
        partition_by=engine_partition_by('as_of_date'),
        pre_hook="{{ delete_window(this) }}",
        on_schema_change='append_new_columns',
    )
}}

{#- Step 3.1 as of each day: the milestones reached before the end of the day, the onboarding score
    (min(100, sum of their weights)) and the next best action with its priority (var next_action_bands).
    Incremental on the partition window (a row depends only on its own day): a run replaces the
    window's rows (pre-hook delete_window). -#}

{%- set milestones = var('onboarding_milestones') %}
{%- set members = [] %}
{%- for m in milestones %}
    {%- do members.append(('has_' ~ m['milestone'], m['milestone'], m['weight'] | string)) %}
{%- endfor %}

with

user_days as (

    select user_id, as_of_date from {{ ref('int_onboarding__user_days') }}
    {%- if is_incremental() %}
        where {{ in_window('as_of_date') }}
    {%- endif %}

),

milestones as (

    select * from {{ ref('int_onboarding__milestones') }}

),

reached as (

    select
        user_days.user_id,
        user_days.as_of_date,
        {%- for m in milestones %}
            coalesce(milestones.{{ m['milestone'] }}_at < {{ as_of_end('user_days.as_of_date') }}, false)
                as has_{{ m['milestone'] }}
            {%- if not loop.last %},{% endif %}
        {%- endfor %}

    from user_days
    left join milestones on user_days.user_id = milestones.user_id

),

scored as (

    select
        *,
        (
            {%- for m in milestones %}
                case when has_{{ m['milestone'] }} then {{ m['weight'] }} else 0 end
                {%- if not loop.last %} +{% endif %}
            {%- endfor %}
        ) as milestone_points

    from reached

),

capped as (

    select
        *,
        case when milestone_points > 100 then 100 else milestone_points end as onboarding_score

    from scored

),

final as (

    select
        user_id,
        as_of_date,
        onboarding_score,
        {{ json_object_when(members) }} as milestones,
        (
            {%- for m in milestones %}
                case when has_{{ m['milestone'] }} then 1 else 0 end
                {%- if not loop.last %} +{% endif %}
            {%- endfor %}
        ) as milestone_count,
        case
            {%- for band in var('next_action_bands') %}
                {%- if band['below'] is not none %}
                    when onboarding_score < {{ band['below'] }} then '{{ band["next_action"] }}'
                {%- else %}
                    else '{{ band["next_action"] }}'
                {%- endif %}
            {%- endfor %}
        end as next_action,
        case
            {%- for band in var('next_action_bands') %}
                {%- if band['below'] is not none %}
                    when onboarding_score < {{ band['below'] }} then '{{ band["priority"] }}'
                {%- else %}
                    else '{{ band["priority"] }}'
                {%- endif %}
            {%- endfor %}
        end as action_priority

    from capped

)

select * from final

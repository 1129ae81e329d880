{{ config(schema='intermediate', materialized='view') }}

{#- The timeline items of the days a decision changed (user_explain_timeline): the track (and off-track /
    restored), the score with the next action, the stage, the content difficulty with its inputs, the
    churn risk with its weighted factors (and an escalation), the CSM. One row per change; a view that
    only user_explain_timeline reads. -#}

with

daily as (

    select
        *,
        lag(track) over by_day as previous_track,
        lag(onboarding_score) over by_day as previous_score,
        lag(onboarding_stage) over by_day as previous_stage,
        lag(difficulty_level || '|' || difficulty_reason) over by_day as previous_difficulty,
        lag(coalesce(risk_action, '') || '|' || coalesce(risk_factors, '')) over by_day as previous_risk,
        lag(csm) over by_day as previous_csm

    from {{ ref('user_onboarding_daily') }}
    window by_day as (partition by user_id order by as_of_date)

),

track_items as (

    select
        user_id,
        as_of_date as on_date,
        cast(null as {{ dbt.type_timestamp() }}) as happened_at,
        'track' as section,
        case
            when previous_track is null or previous_track <> track then 'track ' || track
            when is_off_track_start then 'off track: ' || effective_track
            else 'track restored: ' || track
        end as item,
        case
            when previous_track is null or previous_track <> track
                then 'source ' || track_source || coalesce(', rule ' || track_rule, '') || ': ' || track_reason
            when is_off_track_start
                then 'idle ' || {{ as_text('days_since_last_login') }} || ' days: ' || track || ' -> '
                    || effective_track || ' until the user is back'
            else 'active again: back to ' || track
        end as detail,
        cast(null as {{ dbt.type_string() }}) as delivery_key
    from daily
    where previous_track is null or previous_track <> track or is_off_track_start or is_track_restored

),

score_items as (

    select
        user_id,
        as_of_date as on_date,
        null as happened_at,
        'score' as section,
        'score ' || {{ as_text('onboarding_score') }} as item,
        'next action ' || next_action || ' (' || action_priority || ')'
        || case when milestones <> '{}' then ', milestones ' || milestones else '' end as detail,
        null as delivery_key
    from daily
    where previous_score is null or previous_score <> onboarding_score

),

stage_items as (

    select
        user_id,
        as_of_date as on_date,
        null as happened_at,
        'stage' as section,
        'stage ' || onboarding_stage as item,
        'day ' || {{ as_text('day_number') }} as detail,
        null as delivery_key
    from daily
    where previous_stage is null or previous_stage <> onboarding_stage

),

difficulty_items as (

    select
        user_id,
        as_of_date as on_date,
        null as happened_at,
        'difficulty' as section,
        'difficulty ' || difficulty_level as item,
        difficulty_reason || ': time to first query ' || {{ explain_duration('time_to_first_query_seconds') }}
        || ', ' || {{ as_text('round(queries_per_day, 2)') }} || ' queries/day ('
        || {{ as_text('query_count') }} || ' queries)' as detail,
        null as delivery_key
    from daily
    where previous_difficulty is null or previous_difficulty <> difficulty_level || '|' || difficulty_reason

),

risk_factor_text as (

    select
        *,
        coalesce(
            nullif(replace(replace(replace(replace(risk_factors, '{', ''), '}', ''), '"', ''), ':', ''), ''),
            'none'
        ) as factor_text
    from daily

),

risk_items as (

    select
        user_id,
        as_of_date as on_date,
        null as happened_at,
        'risk' as section,
        case
            when not is_risk_monitored then 'risk no longer monitored'
            else 'risk ' || {{ as_text('round(churn_risk, 2)') }} || ': ' || risk_action
        end
        || case when is_escalated then ', escalated to the CSM' else '' end as item,
        case
            when is_risk_monitored
                then
                    'factors (weight): ' || factor_text
                    || case when is_new_risk_episode then ', new episode' else '' end
            else 'past the monitoring window'
        end as detail,
        null as delivery_key
    from risk_factor_text
    where
        previous_risk is null
        or is_escalated
        or previous_risk <> coalesce(risk_action, '') || '|' || coalesce(risk_factors, '')

),

csm_items as (

    select
        user_id,
        as_of_date as on_date,
        null as happened_at,
        'csm' as section,
        'CSM ' || csm as item,
        'assigned (' || coalesce(csm_id, '') || ')' as detail,
        null as delivery_key
    from daily
    where csm is not null and (previous_csm is null or previous_csm <> csm)

),

final as (

    select * from track_items
    union all
    select * from score_items
    union all
    select * from stage_items
    union all
    select * from difficulty_items
    union all
    select * from risk_items
    union all
    select * from csm_items

)

select * from final

{{
    config(
        materialized='incremental',
        incremental_strategy=engine_incremental_strategy('append'),
        partition_by=engine_partition_by('as_of_date'),
        pre_hook="{{ delete_window(this) }}",
        on_schema_change='append_new_columns',
    )
}}

{#- Phase 5.1 daily churn risk for users in their first var onboarding_days days: which factors fired,
    with which weights (risk_factors, a JSON object), the capped risk and the routing action (5.2/5.3).
    Weights and windows: var churn_risk_factors; bands: var risk_action_bands.
    Incremental on the partition window (a row depends only on its own day): a run replaces the
    window's rows (pre-hook delete_window). -#}

{%- set f = var('churn_risk_factors') %}
{%- set low_score_share = '(' ~ f['low_onboarding_score']['weight'] ~ ' * (100 - onboarding_score) / 100.0)' %}

with

activity as (

    select
        user_id,
        as_of_date,
        day_number,
        days_since_last_login,
        days_since_last_feature_use,
        days_since_downgrade_visit,
        unresolved_tickets,
        invite_count

    from {{ ref('int_onboarding__activity_daily') }}
    {%- if is_incremental() %}
        where {{ in_window('as_of_date') }}
    {%- endif %}

),

milestones as (

    select user_id, as_of_date, onboarding_score
    from {{ ref('int_onboarding__milestones_daily') }}
    {%- if is_incremental() %}
        where {{ in_window('as_of_date') }}
    {%- endif %}

),

factors as (

    select
        activity.user_id,
        activity.as_of_date,
        activity.day_number < {{ var('onboarding_days') }} as is_risk_monitored,
        milestones.onboarding_score,
        activity.days_since_last_login >= {{ f['no_login_3_days']['days'] }} as no_login_3_days,
        activity.days_since_last_feature_use >= {{ f['no_feature_use_7_days']['days'] }} as no_feature_use_7_days,
        activity.unresolved_tickets > 0 as support_ticket_unresolved,
        coalesce(
            activity.days_since_downgrade_visit < {{ f['downgrade_page_visit']['days'] }}, false
        ) as downgrade_page_visit,
        (
            activity.day_number >= {{ f['no_team_invite_day_14']['days'] }}
            and activity.invite_count = 0
        ) as no_team_invite_day_14

    from activity
    inner join milestones
        on
            activity.user_id = milestones.user_id
            and activity.as_of_date = milestones.as_of_date

),

summed as (

    select
        *,
        round(
            case when no_login_3_days then {{ f['no_login_3_days']['weight'] }} else 0 end
            + case when no_feature_use_7_days then {{ f['no_feature_use_7_days']['weight'] }} else 0 end
            + case when support_ticket_unresolved then {{ f['support_ticket_unresolved']['weight'] }} else 0 end
            + case when downgrade_page_visit then {{ f['downgrade_page_visit']['weight'] }} else 0 end
            + case when no_team_invite_day_14 then {{ f['no_team_invite_day_14']['weight'] }} else 0 end
            + {{ low_score_share }},
            4
        ) as risk_sum,
        round({{ low_score_share }}, 4) as low_onboarding_score

    from factors

),

final as (

    select
        user_id,
        as_of_date,
        is_risk_monitored,
        no_login_3_days,
        no_feature_use_7_days,
        support_ticket_unresolved,
        downgrade_page_visit,
        no_team_invite_day_14,
        case when is_risk_monitored then low_onboarding_score end as low_onboarding_score,
        cast(
            case
                when not is_risk_monitored then null
                when risk_sum > 1 then 1
                else risk_sum
            end as {{ type_double() }}
        ) as churn_risk,
        case
            when not is_risk_monitored then null
            else {{ json_object_when([
                ('no_login_3_days', 'no_login_3_days', f['no_login_3_days']['weight'] | string),
                ('no_feature_use_7_days', 'no_feature_use_7_days', f['no_feature_use_7_days']['weight'] | string),
                ('support_ticket_unresolved', 'support_ticket_unresolved', f['support_ticket_unresolved']['weight'] | string),
                ('downgrade_page_visit', 'downgrade_page_visit', f['downgrade_page_visit']['weight'] | string),
                ('no_team_invite_day_14', 'no_team_invite_day_14', f['no_team_invite_day_14']['weight'] | string),
                ('low_onboarding_score > 0', 'low_onboarding_score', 'low_onboarding_score'),
            ]) }}
        end as risk_factors,
        case
            when not is_risk_monitored then 'not_monitored'
            {%- for band in var('risk_action_bands') %}
                when risk_sum >= {{ band['min'] }} then '{{ band["risk_action"] }}'
            {%- endfor %}
        end as risk_action

    from summed

)

select * from final

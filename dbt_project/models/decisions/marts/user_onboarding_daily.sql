{{
    config(
        materialized='incremental',
        unique_key='as_of_date',
        incremental_strategy=engine_incremental_strategy('delete+insert'),
        partition_by=engine_partition_by('as_of_date'),
        on_schema_change='append_new_columns',
    )
}}

{#- Every onboarding decision for every user as of each day of the partition window (vars start_date,
    end_date; without them every decidable day), with the inputs behind it. A run replaces the window's
    days (delete+insert on as_of_date); days outside it keep what was decided then. -#}

with

user_days as (

    select * from {{ ref('int_onboarding__user_days') }}
    where {{ in_window('as_of_date') }}

),

profiles as (

    select user_id, plan, role, company_size, industry, signup_source
    from {{ ref('int_users__profiles') }}

),

tracks as (

    select * from {{ ref('int_onboarding__effective_tracks_daily') }}
    where {{ in_window('as_of_date') }}

),

role_groups as (

    select user_id, role_group from {{ ref('int_onboarding__tracks') }}

),

milestones as (

    select * from {{ ref('int_onboarding__milestones_daily') }}
    where {{ in_window('as_of_date') }}

),

activity as (

    select * from {{ ref('int_onboarding__activity_daily') }}
    where {{ in_window('as_of_date') }}

),

difficulty as (

    select * from {{ ref('int_onboarding__difficulty_daily') }}
    where {{ in_window('as_of_date') }}

),

risk as (

    select * from {{ ref('int_onboarding__risk_daily') }}
    where {{ in_window('as_of_date') }}

),

episodes as (

    select * from {{ ref('int_onboarding__risk_episodes') }}
    where {{ in_window('as_of_date') }}

),

assignments as (

    select * from {{ ref('int_onboarding__csm_assignments') }}

),

roster as (

    select csm_id, csm_name from {{ ref('csm_roster') }}

),

final as (

    select
        user_days.as_of_date,
        user_days.user_id,
        user_days.day_number,
        user_days.signed_up_at,
        user_days.signup_date,
        profiles.plan,
        profiles.role,
        role_groups.role_group,
        profiles.company_size,
        profiles.industry,
        profiles.signup_source,
        tracks.track,
        tracks.track_source,
        tracks.track_reason,
        tracks.track_rule,
        tracks.effective_track,
        tracks.is_off_track,
        tracks.off_track_since,
        tracks.is_off_track_start,
        tracks.is_track_restored,
        user_days.onboarding_stage,
        milestones.onboarding_score,
        milestones.milestones,
        milestones.milestone_count,
        milestones.next_action,
        milestones.action_priority,
        difficulty.difficulty_level,
        difficulty.difficulty_reason,
        difficulty.time_to_first_query_seconds,
        difficulty.queries_per_day,
        difficulty.query_count,
        risk.churn_risk,
        risk.risk_factors,
        risk.risk_action,
        risk.is_risk_monitored,
        episodes.risk_episode_started_on,
        episodes.is_new_risk_episode,
        episodes.risk_at_episode_start,
        episodes.is_escalated,
        activity.last_login_at,
        activity.days_since_last_login,
        activity.days_since_last_feature_use,
        activity.last_downgrade_visit_date,
        activity.unresolved_tickets,
        activity.invite_count,
        activity.integration_count,
        activity.records_imported,
        activity.team_size,
        assignments.csm_id,
        roster.csm_name as csm,
        '{{ var("rules_version") }}' as rule_version

    from user_days
    inner join profiles on user_days.user_id = profiles.user_id
    inner join role_groups on user_days.user_id = role_groups.user_id
    inner join tracks
        on
            user_days.user_id = tracks.user_id
            and user_days.as_of_date = tracks.as_of_date
    inner join milestones
        on
            user_days.user_id = milestones.user_id
            and user_days.as_of_date = milestones.as_of_date
    inner join activity
        on
            user_days.user_id = activity.user_id
            and user_days.as_of_date = activity.as_of_date
    inner join difficulty
        on
            user_days.user_id = difficulty.user_id
            and user_days.as_of_date = difficulty.as_of_date
    inner join risk
        on
            user_days.user_id = risk.user_id
            and user_days.as_of_date = risk.as_of_date
    inner join episodes
        on
            user_days.user_id = episodes.user_id
            and user_days.as_of_date = episodes.as_of_date
    left join assignments
        on
            user_days.user_id = assignments.user_id
            and user_days.as_of_date >= assignments.assigned_on
    left join roster on assignments.csm_id = roster.csm_id

)

select * from final

{#- The seed's promised outcomes, measured per user (docs/analytics.md, "Outcomes"). As of the last decided
    day (int_onboarding__date_bounds.last_day): only what happened before the end of that day counts.
    An outcome is decided only for users whose horizon is over (day 30 for completion, day 59 for churn,
    var outcome_ttv_window_days after signup for the time-to-value flags); before that it is null, never
    false or an early true, so rates over the observable users are unbiased (counting early completers of a
    young cohort but not its future ones would inflate them). The timestamps are there from the start. Day numbers count calendar days from the
    signup day (day 0), as in marts.user_onboarding_daily. -#}

{%- set milestones = var('onboarding_milestones') %}

with

profiles as (

    select user_id, signed_up_at, signup_date, plan, role, company_size, industry, signup_source
    from {{ ref('int_users__profiles') }}

),

bounds as (

    select last_day from {{ ref('int_onboarding__date_bounds') }}

),

tracks as (

    select user_id, track, track_source from {{ ref('int_onboarding__tracks') }}

),

milestones as (

    select * from {{ ref('int_onboarding__milestones') }}

),

csm_alerts as (

    select user_id, as_of_date from {{ ref('csm_alerts') }}

),

milestone_times as (

    {%- for m in milestones %}
        select user_id, {{ m['weight'] }} as weight, {{ m['milestone'] }}_at as reached_at
        from milestones
        where {{ m['milestone'] }}_at is not null
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}

),

running_scores as (

    select
        milestone_times.user_id,
        milestone_times.reached_at,
        sum(milestone_times.weight) over (
            partition by milestone_times.user_id
            order by milestone_times.reached_at
            rows between unbounded preceding and current row
        ) as points

    from milestone_times
    cross join bounds
    where milestone_times.reached_at < {{ as_of_end('bounds.last_day') }}

),

score_times as (

    select
        user_id,
        min(case when points >= {{ var('outcome_activation_score') }} then reached_at end) as activated_at,
        min(case when points >= {{ var('outcome_completion_score') }} then reached_at end) as completed_at,
        case when max(points) > 100 then 100 else max(points) end as onboarding_score

    from running_scores
    group by user_id

),

user_activity as (

    select * from {{ ref('int_outcomes__user_activity') }}

),

csm_touches as (

    select csm_alerts.user_id, count(*) as csm_touches
    from csm_alerts
    cross join bounds
    where csm_alerts.as_of_date <= bounds.last_day
    group by csm_alerts.user_id

),

joined as (

    select
        profiles.*,
        {{ dbt.date_trunc('week', 'profiles.signup_date') }} as signup_week,
        tracks.track,
        tracks.track_source,
        bounds.last_day as as_of_date,
        {{ as_of_end('bounds.last_day') }} as as_of_end_at,
        {{ dbt.dateadd('day', var('outcome_ttv_window_days'), 'profiles.signed_up_at') }} as ttv_window_end_at,
        {{ days_between('profiles.signup_date', 'bounds.last_day') }} as days_observed,
        coalesce(score_times.onboarding_score, 0) as onboarding_score,
        user_activity.first_query_at,
        score_times.activated_at,
        score_times.completed_at,
        case
            when cast(score_times.completed_at as date) < profiles.signup_date then 0
            else {{ days_between('profiles.signup_date', 'cast(score_times.completed_at as date)') }}
        end as completion_day_number,
        user_activity.last_activity_at,
        user_activity.cancelled_at,
        user_activity.cancelled_day_number,
        coalesce(user_activity.active_before_churn_day, 0) = 1 as is_active_before_churn_day,
        user_activity.nps_day_7,
        user_activity.nps_day_30,
        user_activity.nps_score,
        user_activity.nps_category,
        coalesce(csm_touches.csm_touches, 0) as csm_touches

    from profiles
    cross join bounds
    left join tracks on profiles.user_id = tracks.user_id
    left join score_times on profiles.user_id = score_times.user_id
    left join user_activity on profiles.user_id = user_activity.user_id
    left join csm_touches on profiles.user_id = csm_touches.user_id
    where profiles.signup_date <= bounds.last_day

),

final as (

    select
        user_id,
        signed_up_at,
        signup_date,
        cast(signup_week as date) as signup_week,
        plan,
        role,
        company_size,
        industry,
        signup_source,
        track,
        track_source,
        as_of_date,
        days_observed,
        onboarding_score,
        first_query_at,
        case
            when first_query_at < signed_up_at then 0.0
            else {{ seconds_between('signed_up_at', 'first_query_at') }} / 86400.0
        end as days_to_first_query,
        activated_at,
        case
            when activated_at < signed_up_at then 0.0
            else {{ seconds_between('signed_up_at', 'activated_at') }} / 86400.0
        end as days_to_activation,
        completed_at,
        case
            when completed_at < signed_up_at then 0.0
            else {{ seconds_between('signed_up_at', 'completed_at') }} / 86400.0
        end as days_to_completion,
        completion_day_number,
        as_of_end_at >= ttv_window_end_at as is_ttv_window_observable,
        case
            when as_of_end_at >= ttv_window_end_at then coalesce(first_query_at < ttv_window_end_at, false)
        end as first_query_in_window,
        case
            when as_of_end_at >= ttv_window_end_at then coalesce(activated_at < ttv_window_end_at, false)
        end as activated_in_window,
        days_observed >= {{ var('outcome_completion_day') }} as is_completion_observable,
        case
            when days_observed >= {{ var('outcome_completion_day') }}
                then coalesce(completion_day_number <= {{ var('outcome_completion_day') }}, false)
        end as onboarding_completed,
        last_activity_at,
        cancelled_at,
        days_observed >= {{ var('outcome_churn_day') - 1 }} as is_churn_observable,
        case
            when days_observed >= {{ var('outcome_churn_day') - 1 }}
                then
                    coalesce(cancelled_day_number < {{ var('outcome_churn_day') }}, false)
                    or not is_active_before_churn_day
        end as churned,
        case
            when days_observed < {{ var('outcome_churn_day') - 1 }} then null
            when cancelled_day_number < {{ var('outcome_churn_day') }} then 'cancelled'
            when not is_active_before_churn_day then 'inactive'
        end as churn_reason,
        nps_day_7,
        nps_day_30,
        nps_score,
        nps_category,
        csm_touches

    from joined

)

select * from final

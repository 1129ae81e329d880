{#- One row per experiment and exposed user: when the user was exposed, the experiment's metric and when
    the user reached it, and whether the user is analysed (the metric window is over by the end of the
    as-of day) and converted (the metric reached before exposed_at + metric_window_days). The A/B report
    counts these rows; the notebook draws the cumulative conversion curves from them. Metrics:
    onboarding_completed (score >= var outcome_completion_score), activated (score >= var
    outcome_activation_score), first_query, or a milestone of var onboarding_milestones.
    CUPED covariate: pre_exposure_events, the user's events before the signup (anonymous visits stitched to
    the user), 0 without any: known for every user before the variant can act, so adjusting by it cannot
    bias the effect. Slice columns: plan and signup_week from the profile, rule_track (the decision table's
    track from the profile, not the track the user got, which the trial experiment changes). -#}

with

experiments as (

    select experiment_id, metric, metric_window_days from {{ ref('experiments') }}

),

assignments as (

    select * from {{ ref('int_experiments__assignments') }}

),

outcomes as (

    select user_id, first_query_at, activated_at, completed_at, plan, signup_week
    from {{ ref('onboarding_outcomes') }}

),

tracks as (

    select user_id, rule_track from {{ ref('int_onboarding__tracks') }}

),

events as (

    select user_id, event_at from {{ ref('int_events__unified') }}

),

pre_exposure as (

    select
        assignments.experiment_id,
        assignments.user_id,
        count(events.event_at) as pre_exposure_events

    from assignments
    left join events
        on
            assignments.user_id = events.user_id
            and assignments.exposed_at > events.event_at
    group by assignments.experiment_id, assignments.user_id

),

milestones as (

    select * from {{ ref('int_onboarding__milestones') }}

),

bounds as (

    select last_day from {{ ref('int_onboarding__date_bounds') }}

),

exposures as (

    select
        assignments.experiment_id,
        assignments.variant,
        assignments.is_control,
        assignments.user_id,
        assignments.exposed_at,
        assignments.exposure_date,
        experiments.metric,
        experiments.metric_window_days,
        {{ dbt.dateadd('day', 'experiments.metric_window_days', 'assignments.exposed_at') }} as window_end_at,
        case experiments.metric
            when 'onboarding_completed' then outcomes.completed_at
            when 'activated' then outcomes.activated_at
            when 'first_query' then outcomes.first_query_at
            {%- for m in var('onboarding_milestones') %}
                when '{{ m["milestone"] }}' then milestones.{{ m['milestone'] }}_at
            {%- endfor %}
        end as reached_at,
        bounds.last_day as as_of_date,
        {{ as_of_end('bounds.last_day') }} as as_of_end_at,
        coalesce(pre_exposure.pre_exposure_events, 0) as pre_exposure_events,
        coalesce(outcomes.plan, '(unknown)') as plan,
        coalesce(tracks.rule_track, '(unknown)') as rule_track,
        outcomes.signup_week

    from assignments
    inner join experiments on assignments.experiment_id = experiments.experiment_id
    cross join bounds
    left join outcomes on assignments.user_id = outcomes.user_id
    left join milestones on assignments.user_id = milestones.user_id
    left join tracks on assignments.user_id = tracks.user_id
    left join pre_exposure
        on
            assignments.experiment_id = pre_exposure.experiment_id
            and assignments.user_id = pre_exposure.user_id
    where assignments.exposure_date <= bounds.last_day

),

final as (

    select
        experiment_id,
        variant,
        is_control,
        user_id,
        exposed_at,
        exposure_date,
        metric,
        metric_window_days,
        window_end_at,
        case when reached_at < as_of_end_at then reached_at end as metric_at,
        case
            when reached_at >= as_of_end_at then null
            when reached_at < exposed_at then 0.0
            else {{ seconds_between('exposed_at', 'reached_at') }} / 86400.0
        end as days_to_metric,
        as_of_date,
        {{ seconds_between('exposed_at', 'as_of_end_at') }} / 86400.0 as days_since_exposure,
        window_end_at <= as_of_end_at as is_analysed,
        coalesce(reached_at < window_end_at and reached_at < as_of_end_at, false) as is_converted,
        pre_exposure_events,
        plan,
        rule_track,
        signup_week

    from exposures

)

select * from final

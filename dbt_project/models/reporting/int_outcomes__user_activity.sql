{{ config(schema='intermediate', materialized='view') }}

{#- Per user, what onboarding_outcomes measures from the events and NPS answers up to the end of the last
    decided day: the first query, the last activity, a cancellation (and its day number), whether the
    user was active in the var outcome_churn_inactive_days before var outcome_churn_day, and the latest
    NPS answers. A view that only onboarding_outcomes reads. -#}

with

profiles as (

    select user_id, signed_up_at, signup_date, plan, role, company_size, industry, signup_source
    from {{ ref('int_users__profiles') }}

),

bounds as (

    select last_day from {{ ref('int_onboarding__date_bounds') }}

),

events as (

    select user_id, event_name, event_at, event_date
    from {{ ref('int_events__unified') }}
    where user_id is not null

),

nps as (

    select response_id, user_id, survey, score, submitted_at, nps_category
    from {{ ref('stg_nps__responses') }}

),

user_events as (

    select
        events.user_id,
        events.event_name,
        events.event_at,
        case
            when events.event_date < profiles.signup_date then 0
            else {{ days_between('profiles.signup_date', 'events.event_date') }}
        end as day_number

    from events
    inner join profiles on events.user_id = profiles.user_id
    cross join bounds
    where events.event_at < {{ as_of_end('bounds.last_day') }}

),

activity as (

    select
        user_id,
        min(
            case
                when
                    event_name in (
                        {%- for event in var('query_events') %}
                            '{{ event }}'{% if not loop.last %},{% endif %}
                        {%- endfor %}
                    )
                    then event_at
            end
        ) as first_query_at,
        max(event_at) as last_activity_at,
        min(case when event_name = 'subscription.cancelled' then event_at end) as cancelled_at,
        min(case when event_name = 'subscription.cancelled' then day_number end) as cancelled_day_number,
        max(
            case
                when day_number >= {{ var('outcome_churn_day') - var('outcome_churn_inactive_days') }}
                    and day_number < {{ var('outcome_churn_day') }}
                    then 1
                else 0
            end
        ) as active_before_churn_day

    from user_events
    group by user_id

),

nps_ranked as (

    select
        nps.*,
        row_number() over (
            partition by nps.user_id, nps.survey order by nps.submitted_at desc, nps.response_id desc
        ) as survey_recency,
        row_number() over (
            partition by nps.user_id order by nps.submitted_at desc, nps.response_id desc
        ) as recency

    from nps
    cross join bounds
    where nps.submitted_at < {{ as_of_end('bounds.last_day') }}

),

nps_scores as (

    select
        user_id,
        max(case when survey = 'day_7' and survey_recency = 1 then score end) as nps_day_7,
        max(case when survey = 'day_30' and survey_recency = 1 then score end) as nps_day_30,
        max(case when recency = 1 then score end) as nps_score,
        max(case when recency = 1 then nps_category end) as nps_category

    from nps_ranked
    group by user_id

),

final as (

    select
        profiles.user_id,
        activity.first_query_at,
        activity.last_activity_at,
        activity.cancelled_at,
        activity.cancelled_day_number,
        activity.active_before_churn_day,
        nps_scores.nps_day_7,
        nps_scores.nps_day_30,
        nps_scores.nps_score,
        nps_scores.nps_category

    from profiles
    left join activity on profiles.user_id = activity.user_id
    left join nps_scores on profiles.user_id = nps_scores.user_id

)

select * from final

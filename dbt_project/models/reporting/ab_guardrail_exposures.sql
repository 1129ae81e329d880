{#- One row per experiment guardrail (seeds/experiment_guardrails.csv) and exposed user: the user's value of
    the guardrail metric and whether it is observable yet. Metrics (higher is worse):
      churned_60d      1 when the user churned by day 60 (onboarding_outcomes.churned), analysed once
                       churn is observable (day 59 reached);
      csm_alerts       CSM alerts (marts.csm_alerts) raised on the exposure day and the window_days - 1
                       days after it;
      support_tickets  support tickets opened before exposed_at + window_days;
      event_count      events named event_name (e.g. an unsubscribe or complaint, where the exports carry
                       one) before exposed_at + window_days.
    Window metrics are analysed once exposed_at + window_days is before the end of the as-of day, as the
    primary metric is. -#}

with

guardrails as (

    select * from {{ ref('experiment_guardrails') }}

),

exposures as (

    select experiment_id, variant, is_control, user_id, exposed_at, exposure_date, as_of_date
    from {{ ref('ab_exposures') }}

),

outcomes as (

    select user_id, churned, is_churn_observable from {{ ref('onboarding_outcomes') }}

),

alerts as (

    select user_id, as_of_date as alert_date from {{ ref('csm_alerts') }}

),

tickets as (

    select user_id, ticket_id, min(occurred_at) as opened_at
    from {{ ref('stg_support__tickets') }}
    group by user_id, ticket_id

),

guarded_events as (

    select distinct event_name
    from guardrails
    where metric = 'event_count'

),

events as (

    select
        unified.user_id,
        unified.event_name,
        unified.event_at

    from {{ ref('int_events__unified') }} as unified
    inner join guarded_events on unified.event_name = guarded_events.event_name

),

guarded as (

    select
        guardrails.experiment_id,
        guardrails.guardrail,
        guardrails.metric,
        guardrails.event_name,
        guardrails.window_days,
        exposures.variant,
        exposures.is_control,
        exposures.user_id,
        exposures.exposed_at,
        exposures.exposure_date,
        exposures.as_of_date,
        {{ dbt.dateadd('day', 'guardrails.window_days', 'exposures.exposed_at') }} as window_end_at,
        {{ as_of_end('exposures.as_of_date') }} as as_of_end_at

    from guardrails
    inner join exposures on guardrails.experiment_id = exposures.experiment_id

),

alert_counts as (

    select
        guarded.experiment_id,
        guarded.guardrail,
        guarded.user_id,
        count(alerts.alert_date) as alert_count

    from guarded
    inner join alerts
        on
            guarded.user_id = alerts.user_id
            and guarded.exposure_date <= alerts.alert_date
            and {{ dbt.dateadd('day', 'guarded.window_days', 'guarded.exposure_date') }} > alerts.alert_date
    where guarded.metric = 'csm_alerts'
    group by guarded.experiment_id, guarded.guardrail, guarded.user_id

),

ticket_counts as (

    select
        guarded.experiment_id,
        guarded.guardrail,
        guarded.user_id,
        count(tickets.ticket_id) as ticket_count

    from guarded
    inner join tickets
        on
            guarded.user_id = tickets.user_id
            and guarded.window_end_at > tickets.opened_at
    where guarded.metric = 'support_tickets'
    group by guarded.experiment_id, guarded.guardrail, guarded.user_id

),

event_counts as (

    select
        guarded.experiment_id,
        guarded.guardrail,
        guarded.user_id,
        count(events.event_at) as event_count

    from guarded
    inner join events
        on
            guarded.user_id = events.user_id
            and guarded.event_name = events.event_name
            and guarded.exposed_at <= events.event_at
            and guarded.window_end_at > events.event_at
    where guarded.metric = 'event_count'
    group by guarded.experiment_id, guarded.guardrail, guarded.user_id

),

final as (

    select
        guarded.experiment_id,
        guarded.guardrail,
        guarded.metric,
        guarded.variant,
        guarded.is_control,
        guarded.user_id,
        guarded.exposure_date,
        guarded.as_of_date,
        case
            when guarded.metric = 'churned_60d' then coalesce(outcomes.is_churn_observable, false)
            else guarded.window_end_at <= guarded.as_of_end_at
        end as is_analysed,
        cast(
            case guarded.metric
                when 'churned_60d' then case when outcomes.churned then 1 else 0 end
                when 'csm_alerts' then coalesce(alert_counts.alert_count, 0)
                when 'support_tickets' then coalesce(ticket_counts.ticket_count, 0)
                when 'event_count' then coalesce(event_counts.event_count, 0)
            end as {{ type_double() }}
        ) as metric_value

    from guarded
    left join outcomes on guarded.user_id = outcomes.user_id
    left join alert_counts
        on
            guarded.experiment_id = alert_counts.experiment_id
            and guarded.guardrail = alert_counts.guardrail
            and guarded.user_id = alert_counts.user_id
    left join ticket_counts
        on
            guarded.experiment_id = ticket_counts.experiment_id
            and guarded.guardrail = ticket_counts.guardrail
            and guarded.user_id = ticket_counts.user_id
    left join event_counts
        on
            guarded.experiment_id = event_counts.experiment_id
            and guarded.guardrail = event_counts.guardrail
            and guarded.user_id = event_counts.user_id

)

select * from final

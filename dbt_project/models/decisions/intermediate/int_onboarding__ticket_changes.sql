{{ config(materialized='view') }}

{#- Per user and day, the change in the number of open support tickets (+1 per ticket opened that day,
    -1 per ticket resolved): int_onboarding__activity_daily sums it into unresolved_tickets. A ticket
    counts from its first `opened` event (a ticket resolved without one is ignored); a ticket opened
    before the signup day counts on the signup day, a resolution before its opening at the opening. A view
    read only by int_onboarding__activity_daily (split from it to keep it readable). -#}

with

tickets as (

    select ticket_id, user_id, status, occurred_at from {{ ref('stg_support__tickets') }}

),

profiles as (

    select user_id, signup_date from {{ ref('int_users__profiles') }}

),

ticket_spans as (

    select
        user_id,
        ticket_id,
        min(case when status = 'opened' then occurred_at end) as opened_at,
        min(case when status = 'resolved' then occurred_at end) as resolved_at

    from tickets
    group by user_id, ticket_id

),

ticket_spans_dated as (

    select
        ticket_spans.user_id,
        case
            when cast(ticket_spans.opened_at as date) < profiles.signup_date then profiles.signup_date
            else cast(ticket_spans.opened_at as date)
        end as opened_date,
        case
            when ticket_spans.resolved_at is null then null
            when ticket_spans.resolved_at < ticket_spans.opened_at then ticket_spans.opened_at
            else ticket_spans.resolved_at
        end as resolved_at,
        profiles.signup_date

    from ticket_spans
    inner join profiles on ticket_spans.user_id = profiles.user_id
    where ticket_spans.opened_at is not null

),

ticket_changes as (

    select user_id, opened_date as change_date, 1 as open_change
    from ticket_spans_dated

    union all

    select
        user_id,
        case
            when cast(resolved_at as date) < signup_date then signup_date
            else cast(resolved_at as date)
        end as change_date,
        -1 as open_change
    from ticket_spans_dated
    where resolved_at is not null

),

tickets_daily as (

    select user_id, change_date, sum(open_change) as open_change
    from ticket_changes
    group by user_id, change_date

),

final as (

    select * from tickets_daily

)

select * from final

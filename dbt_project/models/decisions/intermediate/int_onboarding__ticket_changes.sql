{{ config(materialized='view') }}

{#- Per user and day, the change in the number of open support tickets (+1 when a ticket opens or reopens
    that day, -1 when it is resolved): int_onboarding__activity_daily sums it into unresolved_tickets.
    A ticket is a sequence of status changes (opened, resolved, opened again ...), read in time order: an
    `opened` after a resolution reopens it, a repeated `opened` or `resolved` changes nothing, a
    resolution before the ticket's first opening is ignored until it opens and then closes it at the
    opening (clock skew), and a ticket never opened is ignored. Changes before the signup day count on the
    signup day. A view read only by int_onboarding__activity_daily (split from it to keep it readable). -#}

with

tickets as (

    select ticket_id, user_id, status, occurred_at from {{ ref('stg_support__tickets') }}

),

profiles as (

    select user_id, signup_date from {{ ref('int_users__profiles') }}

),

first_openings as (

    select user_id, ticket_id, min(occurred_at) as opened_at
    from tickets
    where status = 'opened'
    group by user_id, ticket_id

),

-- A resolution before the first opening happens at the opening; opened sorts before resolved at a tie.
status_changes as (

    select
        tickets.user_id,
        tickets.ticket_id,
        tickets.status,
        tickets.occurred_at,
        case
            when tickets.occurred_at < first_openings.opened_at then first_openings.opened_at
            else tickets.occurred_at
        end as changed_at,
        case when tickets.status = 'opened' then 0 else 1 end as status_order

    from tickets
    inner join first_openings
        on
            tickets.user_id = first_openings.user_id
            and tickets.ticket_id = first_openings.ticket_id

),

sequenced as (

    select
        *,
        lag(status) over (
            partition by user_id, ticket_id order by changed_at, status_order, occurred_at
        ) as previous_status

    from status_changes

),

ticket_changes as (

    select
        sequenced.user_id,
        case
            when cast(sequenced.changed_at as date) < profiles.signup_date then profiles.signup_date
            else cast(sequenced.changed_at as date)
        end as change_date,
        case
            when sequenced.status = 'opened' and coalesce(sequenced.previous_status, 'resolved') = 'resolved' then 1
            when sequenced.status = 'resolved' and sequenced.previous_status = 'opened' then -1
            else 0
        end as open_change

    from sequenced
    inner join profiles on sequenced.user_id = profiles.user_id

),

tickets_daily as (

    select user_id, change_date, sum(open_change) as open_change
    from ticket_changes
    group by user_id, change_date

),

final as (

    select * from tickets_daily
    where open_change <> 0

)

select * from final

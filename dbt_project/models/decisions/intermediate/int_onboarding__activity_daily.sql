{{
    config(
        materialized='incremental',
        incremental_strategy=engine_incremental_strategy('append'),
        partition_by=engine_partition_by('as_of_date'),
        pre_hook="{{ delete_window(this) }}",
        on_schema_change='append_new_columns',
    )
}}

{#- Per user and as-of day, the behaviour the rules read: cumulative counts and "last time" markers over the
    user x day spine. Set-based: daily aggregates per (user, day) joined to the spine, then running windows.
    An event counts on its own day; events before the signup day (stitched anonymous activity, clock skew)
    count on the signup day. Only events with event_at < as_of_date + 1 day reach a day's row.

    Incremental on the partition window, because the running windows over every user-day were the
    costliest intermediate step of a daily run: a run replaces the window's rows (pre-hook
    delete_window) and starts each user's running values from the totals of every event and ticket
    before the window (`carried_events`, `carried_tickets`), so a window row equals the full build's
    row for the same events. -#}

{%- set start = incremental_window_start() %}
{%- set running = "over (partition by user_days.user_id order by user_days.as_of_date"
    ~ " rows between unbounded preceding and current row)" %}

with

user_days as (

    select user_id, as_of_date, day_number, signed_up_at, signup_date
    from {{ ref('int_onboarding__user_days') }}
    {%- if is_incremental() %}
        where {{ in_window('as_of_date') }}
    {%- endif %}

),

profiles as (

    select user_id, signup_date, team_size from {{ ref('int_users__profiles') }}

),

events as (

    select event_id, user_id, event_name, event_at, event_date, page_path, properties
    from {{ ref('int_events__unified') }}
    where user_id is not null

),

{# What is counted once: the first import (var first_import_event; a repeated "first" import adds no
    records), each integration (named like integration_live: trimmed, lower case) and each invitee (var
    invitee_property; an invite that names nobody counts as its own invitee). Ranked over every event, so
    a window run counts the same first occurrences as a full build. Ties (same time) by event_id. -#}
events_keyed as (

    select
        *,
        case
            when event_name = '{{ var("integration_event") }}'
                then lower(trim(coalesce({{ json_str('properties', 'integration_name') }}, 'unknown')))
            when event_name = '{{ var("invite_event") }}'
                then lower(trim(nullif({{ json_str('properties', var('invitee_property')) }}, '')))
            when event_name = '{{ var("first_import_event") }}' then 'first_import'
        end as counted_key
    from events

),

events_ranked as (

    select
        *,
        row_number() over (
            partition by user_id, event_name, coalesce(counted_key, '')
            order by event_at, event_id
        ) as occurrence
    from events_keyed

),

tickets_daily as (

    select user_id, change_date, open_change from {{ ref('int_onboarding__ticket_changes') }}

),

events_dated as (

    select
        events.user_id,
        events.event_name,
        events.event_at,
        case
            when events.event_date < profiles.signup_date then profiles.signup_date
            else events.event_date
        end as activity_date,
        events.event_name in (
            {%- for name in var('query_events') %}
                '{{ name }}'{% if not loop.last %},{% endif %}
            {%- endfor %}
        ) as is_query,
        events.event_name in (
            {%- for name in var('feature_use_events') %}
                '{{ name }}'{% if not loop.last %},{% endif %}
            {%- endfor %}
        ) as is_feature_use,
        events.event_name in (
            {%- for name in var('import_events') %}
                '{{ name }}'{% if not loop.last %},{% endif %}
            {%- endfor %}
        ) as is_import,
        events.counted_key is null or events.occurrence = 1 as is_first_occurrence,
        {{ dbt.safe_cast(json_str('events.properties', 'records_imported'), dbt.type_bigint()) }} as records_in_event,
        events.event_name = 'page_viewed'
        and events.page_path = '{{ var("downgrade_page_path") }}' as is_downgrade_visit

    from events_ranked as events
    inner join profiles on events.user_id = profiles.user_id

),

events_daily as (

    select
        user_id,
        activity_date,
        count(*) as event_count,
        max(event_at) as last_event_at,
        sum(case when is_query then 1 else 0 end) as queries,
        min(case when is_query then event_at end) as first_query_at,
        max(case when is_feature_use then activity_date end) as feature_use_date,
        sum(case when event_name = '{{ var("invite_event") }}' then 1 else 0 end) as invites,
        sum(
            case when event_name = '{{ var("invite_event") }}' and is_first_occurrence then 1 else 0 end
        ) as invitees,
        sum(
            case when event_name = '{{ var("integration_event") }}' and is_first_occurrence then 1 else 0 end
        ) as integrations_created,
        sum(
            case
                when event_name = '{{ var("first_import_event") }}' and not is_first_occurrence then 0
                when is_import then coalesce(records_in_event, 0)
                else 0
            end
        ) as records_imported,
        max(case when is_downgrade_visit then activity_date end) as downgrade_visit_date

    from events_dated
    group by user_id, activity_date

),

-- Each user's totals before the window (no rows when every day is computed).
carried_events as (

    select
        user_id,
        max(last_event_at) as last_event_at,
        sum(queries) as queries,
        min(first_query_at) as first_query_at,
        max(feature_use_date) as feature_use_date,
        sum(invites) as invites,
        sum(invitees) as invitees,
        sum(integrations_created) as integrations_created,
        sum(records_imported) as records_imported,
        max(downgrade_visit_date) as downgrade_visit_date

    from events_daily
    where {% if start %}activity_date < cast('{{ start }}' as date){% else %}1 = 0{% endif %}
    group by user_id

),

carried_tickets as (

    select user_id, sum(open_change) as open_change
    from tickets_daily
    where {% if start %}change_date < cast('{{ start }}' as date){% else %}1 = 0{% endif %}
    group by user_id

),

running as (

    select
        user_days.user_id,
        user_days.as_of_date,
        user_days.day_number,
        user_days.signed_up_at,
        user_days.signup_date,
        coalesce(events_daily.event_count, 0) as events_on_day,
        {{ greatest_of('carried_events.last_event_at', 'max(events_daily.last_event_at) ' ~ running) }}
            as last_login_at,
        cast(
            coalesce(carried_events.queries, 0) + sum(coalesce(events_daily.queries, 0)) {{ running }}
            as {{ dbt.type_bigint() }}
        ) as query_count,
        {{ least_of('carried_events.first_query_at', 'min(events_daily.first_query_at) ' ~ running) }}
            as first_query_at,
        {{ greatest_of('carried_events.feature_use_date', 'max(events_daily.feature_use_date) ' ~ running) }}
            as last_feature_use_date,
        cast(
            coalesce(carried_events.invites, 0) + sum(coalesce(events_daily.invites, 0)) {{ running }}
            as {{ dbt.type_bigint() }}
        ) as invite_count,
        cast(
            coalesce(carried_events.invitees, 0) + sum(coalesce(events_daily.invitees, 0)) {{ running }}
            as {{ dbt.type_bigint() }}
        ) as invitee_count,
        cast(
            coalesce(carried_events.integrations_created, 0)
            + sum(coalesce(events_daily.integrations_created, 0)) {{ running }}
            as {{ dbt.type_bigint() }}
        ) as integration_count,
        cast(
            coalesce(carried_events.records_imported, 0)
            + sum(coalesce(events_daily.records_imported, 0)) {{ running }}
            as {{ dbt.type_bigint() }}
        ) as records_imported,
        {{ greatest_of(
            'carried_events.downgrade_visit_date', 'max(events_daily.downgrade_visit_date) ' ~ running
        ) }} as last_downgrade_visit_date,
        cast(
            coalesce(carried_tickets.open_change, 0)
            + sum(coalesce(tickets_daily.open_change, 0)) {{ running }}
            as {{ dbt.type_bigint() }}
        ) as unresolved_tickets

    from user_days
    left join events_daily
        on
            user_days.user_id = events_daily.user_id
            and user_days.as_of_date = events_daily.activity_date
    left join tickets_daily
        on
            user_days.user_id = tickets_daily.user_id
            and user_days.as_of_date = tickets_daily.change_date
    left join carried_events on user_days.user_id = carried_events.user_id
    left join carried_tickets on user_days.user_id = carried_tickets.user_id

),

final as (

    select
        running.user_id,
        running.as_of_date,
        running.day_number,
        running.signed_up_at,
        running.signup_date,
        running.events_on_day,
        running.last_login_at,
        {{ days_between(
            "case when cast(running.last_login_at as date) > running.signup_date"
            ~ " then cast(running.last_login_at as date) else running.signup_date end",
            'running.as_of_date'
        ) }} as days_since_last_login,
        running.query_count,
        running.first_query_at,
        running.last_feature_use_date,
        {{ days_between(
            "case when running.last_feature_use_date > running.signup_date"
            ~ " then running.last_feature_use_date else running.signup_date end",
            'running.as_of_date'
        ) }} as days_since_last_feature_use,
        running.invite_count,
        running.invitee_count,
        running.integration_count,
        running.records_imported,
        case
            when coalesce(profiles.team_size, 1) > 1 + running.invitee_count then coalesce(profiles.team_size, 1)
            else 1 + running.invitee_count
        end as team_size,
        running.last_downgrade_visit_date,
        {{ days_between('running.last_downgrade_visit_date', 'running.as_of_date') }} as days_since_downgrade_visit,
        running.unresolved_tickets

    from running
    inner join profiles on running.user_id = profiles.user_id

)

select * from final

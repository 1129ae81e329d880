{{ config(materialized='view') }}

{#- Event nudge situations (3.2): analysis_tip (the first user.ran_analysis), integration_live (the first
    user.created_integration per integration) and silence_reengagement (once per silence). Each is decided
    on the day of its event (the signup day for an event before the signup), so nothing is triggered
    beyond the last decided day. A view: only int_messages__situations reads it. -#}

with

history as (

    select * from {{ ref('user_onboarding_daily') }}

),

events as (

    select user_id, event_name, event_at, properties
    from {{ ref('int_events__unified') }}
    where user_id is not null

),

overrides as (

    select user_id, nudge_silence_hours from {{ ref('int_experiments__user_overrides') }}

),

-- Nudge pacing per assigned track (seed onboarding_track_policies.silence_hours).
track_silences as (

    select tracks.user_id, policies.silence_hours
    from {{ ref('int_onboarding__tracks') }} as tracks
    inner join {{ ref('onboarding_track_policies') }} as policies on tracks.track = policies.track

),

analysis_events as (

    select user_id, min(event_at) as event_at
    from events
    where event_name = '{{ var("analysis_event") }}'
    group by user_id

),

integration_events as (

    select
        user_id,
        lower(trim(coalesce({{ json_str('properties', 'integration_name') }}, 'unknown'))) as integration_key,
        coalesce({{ json_str('properties', 'integration_name') }}, 'unknown') as integration_name,
        event_at
    from events
    where event_name = '{{ var("integration_event") }}'

),

first_integrations as (

    select user_id, integration_key, integration_name, event_at
    from (
        select
            *,
            row_number() over (
                partition by user_id, integration_key order by event_at, integration_name
            ) as occurrence
        from integration_events
    ) as ranked
    where occurrence = 1

),

{# Silences: after the signup and after every event, if nothing follows within var silence_hours (or
    the nudge timing of the user's experiment variant), one re-engagement message, due when the silence
    reaches that length.
    Two points less than silence_hours apart never make a silence, so the points are first cut into
    buckets silence_hours long and only each bucket's first and last point are sequenced: the silences
    are exactly those of the point-by-point sequence (a silence starts at a bucket's last point), from
    a sort of a few rows per user instead of one per event. -#}
activity_points as (

    select history.user_id, history.signed_up_at as point_at
    from history
    where history.day_number = 0

    union all

    select events.user_id, events.event_at as point_at
    from events

),

activity_buckets as (

    select
        user_id,
        silence_hours,
        min(point_at) as first_point_at,
        max(point_at) as last_point_at
    from (
        select
            activity_points.user_id,
            activity_points.point_at,
            coalesce(
                overrides.nudge_silence_hours, track_silences.silence_hours, {{ var('silence_hours') }}
            ) as silence_hours
        from activity_points
        left join overrides on activity_points.user_id = overrides.user_id
        left join track_silences on activity_points.user_id = track_silences.user_id
    ) as points
    group by
        user_id,
        silence_hours,
        floor(
            {{ seconds_between("cast('1970-01-01' as " ~ dbt.type_timestamp() ~ ")", 'point_at') }}
            / (3600 * silence_hours)
        )

),

silences as (

    select
        user_id,
        silence_hours,
        last_point_at as silent_since,
        {{ dbt.dateadd('hour', 'silence_hours', 'last_point_at') }} as due_at
    from (
        select
            *,
            lead(first_point_at) over (partition by user_id order by first_point_at) as next_point_at
        from activity_buckets
    ) as sequenced
    where
        next_point_at is null
        or next_point_at >= {{ dbt.dateadd('hour', 'silence_hours', 'last_point_at') }}

),

analysis_tips as (

    select
        'analysis_tip' as trigger,
        history.user_id,
        '' as discriminator,
        history.as_of_date,
        analysis_events.event_at as due_at,
        {{ dbt.concat(["'first " ~ var('analysis_event') ~ " at '", as_text('analysis_events.event_at')]) }} as reason,
        cast(null as {{ dbt.type_string() }}) as integration_name
    from analysis_events
    inner join history
        on
            analysis_events.user_id = history.user_id
            and history.as_of_date = case
                when cast(analysis_events.event_at as date) < history.signup_date then history.signup_date
                else cast(analysis_events.event_at as date)
            end
    where history.day_number < {{ var('onboarding_days') }}

),

integrations_live as (

    select
        'integration_live' as trigger,
        history.user_id,
        first_integrations.integration_key as discriminator,
        history.as_of_date,
        first_integrations.event_at as due_at,
        {{ dbt.concat([
            "'" ~ var('integration_event') ~ " '", 'first_integrations.integration_name',
            "' at '", as_text('first_integrations.event_at')
        ]) }} as reason,
        first_integrations.integration_name
    from first_integrations
    inner join history
        on
            first_integrations.user_id = history.user_id
            and history.as_of_date = case
                when cast(first_integrations.event_at as date) < history.signup_date then history.signup_date
                else cast(first_integrations.event_at as date)
            end
    where history.day_number < {{ var('onboarding_days') }}

),

silence_reengagements as (

    select
        'silence_reengagement' as trigger,
        history.user_id,
        {{ as_text('silences.silent_since') }} as discriminator,
        history.as_of_date,
        silences.due_at,
        {{ dbt.concat([
            "'no event for '", as_text('silences.silence_hours'), "' h since '", as_text('silences.silent_since')
        ]) }} as reason,
        cast(null as {{ dbt.type_string() }}) as integration_name
    from silences
    inner join history
        on
            silences.user_id = history.user_id
            and history.as_of_date = cast(silences.due_at as date)
    where history.day_number < {{ var('onboarding_days') }} and silences.silent_since >= history.signed_up_at

),

final as (

    select * from analysis_tips
    union all
    select * from integrations_live
    union all
    select * from silence_reengagements

)

select * from final

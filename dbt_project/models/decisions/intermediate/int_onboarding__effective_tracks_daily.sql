{#- FAQ "off-track": a user on var off_track_from_track (power_user) idle for var off_track_idle_days (5)
    days gets effective track var off_track_to_track (guided_handholding); on the first active day the
    assigned track is restored. One row per user and day: the track history.
    Off-track is an onboarding-period rule (days 0 .. var onboarding_days - 1, like the nudges): nobody is
    off-track from day 60, so a user still off-track on day 59 gets the assigned track back on day 60
    (the restore flow) and no off-track message goes out on days 60-89 (docs/rules.md rule 9). -#}

with

activity as (

    select user_id, as_of_date, day_number, days_since_last_login
    from {{ ref('int_onboarding__activity_daily') }}

),

tracks as (

    select user_id, track, track_source, track_reason, track_rule
    from {{ ref('int_onboarding__tracks') }}

),

flagged as (

    select
        activity.user_id,
        activity.as_of_date,
        activity.days_since_last_login,
        tracks.track,
        tracks.track_source,
        tracks.track_reason,
        tracks.track_rule,
        (
            tracks.track = '{{ var("off_track_from_track") }}'
            and activity.days_since_last_login >= {{ var('off_track_idle_days') }}
            and activity.day_number < {{ var('onboarding_days') }}
        ) as is_off_track

    from activity
    inner join tracks on activity.user_id = tracks.user_id

),

with_previous as (

    select
        *,
        lag(is_off_track) over (partition by user_id order by as_of_date) as was_off_track

    from flagged

),

changes as (

    select
        *,
        is_off_track and not coalesce(was_off_track, false) as is_off_track_start,
        not is_off_track and coalesce(was_off_track, false) as is_track_restored

    from with_previous

),

episodes as (

    select
        *,
        max(case when is_off_track_start then as_of_date end) over (
            partition by user_id order by as_of_date rows between unbounded preceding and current row
        ) as last_off_track_start

    from changes

),

final as (

    select
        user_id,
        as_of_date,
        track,
        track_source,
        track_reason,
        track_rule,
        case when is_off_track then '{{ var("off_track_to_track") }}' else track end as effective_track,
        is_off_track,
        case
            when is_off_track then last_off_track_start
        end as off_track_since,
        is_off_track_start,
        is_track_restored

    from episodes

)

select * from final

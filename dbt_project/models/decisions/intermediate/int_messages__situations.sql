{#- Every message situation the five trigger families find, one row per (trigger, user_id, discriminator)
    with the family's own template values, and what makes two of them the same situation when late data
    moves a data-derived discriminator (int_messages__situation_keys):
    - anchor_at: the situation's start (the discriminator's timestamp for episodes and silences);
    - match_seconds: two situations of one trigger and user whose anchors are less than this apart are
      one situation. Two real risk episodes of one action start more than risk_episode_cooldown_days
      apart, two off-track episodes more than off_track_idle_days, two silences at least the silence's
      length; closer starts can only be one situation seen before and after late data. 0 for triggers
      whose discriminator no later data moves (once per user, the survey day, the integration, the NPS
      response). -#}

with

day_based as (

    select * from {{ ref('int_messages__day_based') }}

),

first_time as (

    select * from {{ ref('int_messages__first_time') }}

),

episodes as (

    select * from {{ ref('int_messages__episodes') }}

),

event_nudges as (

    select * from {{ ref('int_messages__event_nudges') }}

),

nps as (

    select * from {{ ref('int_messages__nps') }}

),

unioned as (

    select
        trigger, user_id, discriminator, as_of_date, due_at, reason,
        cast(null as {{ dbt.type_string() }}) as integration_name,
        case when trigger = 'nps_survey' then discriminator end as survey,
        cast(null as {{ dbt.type_int() }}) as nps_score,
        cast(null as {{ dbt.type_string() }}) as nps_comment
    from day_based

    union all

    select
        trigger, user_id, discriminator, as_of_date, due_at, reason,
        cast(null as {{ dbt.type_string() }}) as integration_name,
        cast(null as {{ dbt.type_string() }}) as survey,
        cast(null as {{ dbt.type_int() }}) as nps_score,
        cast(null as {{ dbt.type_string() }}) as nps_comment
    from first_time

    union all

    select
        trigger, user_id, discriminator, as_of_date, due_at, reason,
        cast(null as {{ dbt.type_string() }}) as integration_name,
        cast(null as {{ dbt.type_string() }}) as survey,
        cast(null as {{ dbt.type_int() }}) as nps_score,
        cast(null as {{ dbt.type_string() }}) as nps_comment
    from episodes

    union all

    select
        trigger, user_id, discriminator, as_of_date, due_at, reason, integration_name,
        cast(null as {{ dbt.type_string() }}) as survey,
        cast(null as {{ dbt.type_int() }}) as nps_score,
        cast(null as {{ dbt.type_string() }}) as nps_comment
    from event_nudges

    union all

    select
        trigger, user_id, discriminator, as_of_date, due_at, reason,
        cast(null as {{ dbt.type_string() }}) as integration_name,
        survey, nps_score, nps_comment
    from nps

),

matched_within as (

    select
        *,
        case
            when trigger in ('csm_outreach', 'risk_nudge')
                then 86400 * ({{ var('risk_episode_cooldown_days') }} + 1)
            when trigger in ('off_track_reengagement', 'off_track_flow', 'track_restored_flow')
                then 86400 * ({{ var('off_track_idle_days') }} + 1)
            when trigger = 'silence_reengagement'
                then {{ seconds_between('cast(discriminator as ' ~ dbt.type_timestamp() ~ ')', 'due_at') }}
            else 0
        end as match_seconds

    from unioned

),

final as (

    select
        trigger,
        user_id,
        discriminator,
        as_of_date,
        cast(due_at as {{ dbt.type_timestamp() }}) as due_at,
        reason,
        integration_name,
        survey,
        nps_score,
        nps_comment,
        case when match_seconds > 0 then cast(discriminator as {{ dbt.type_timestamp() }}) end as anchor_at,
        match_seconds

    from matched_within

)

select * from final

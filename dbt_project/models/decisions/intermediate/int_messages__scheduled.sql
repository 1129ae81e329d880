{{ config(materialized='view') }}

{#- Track-policy message situations (docs/rules.md, tracks and the day-30 loop), one per user and day:
    - csm_introduction: day 0, for users with a CSM from day 1 (their track's policy, e.g. enterprise's
      dedicated specialist, or their plan's: paid plans); the CSM is assigned on the signup day;
    - csm_checkin, success_story: the scheduled touches of seed onboarding_track_cadences (days first_day ..
      last_day, every every_days days) for users whose assigned track has a cadence;
    - quit_survey: the "What nearly made you quit?" survey, separate from the day-30 NPS, on the send_day
      of the form seed onboarding_forms names `quit_survey` (28: the start of the last onboarding week, so
      the answer lands before the day-30 wrap-up); its link is that form's URL with the user id as a
      hidden field (`#user_id=`), so the answer comes back keyed to the user (stg_typeform__responses,
      read by the themes step). The seed is the one source of the form id, URL and day.
    Each is due at the signup's time of day on its day; the discriminator is the day (`day_N`), so a
    trigger keys once per user and day. A view: only int_messages__situations reads it. -#}

with

history as (

    select * from {{ ref('user_onboarding_daily') }}

),

cadences as (

    select track, trigger, first_day, every_days, last_day from {{ ref('onboarding_track_cadences') }}

),

quit_form as (

    select form_id, form_url, send_day from {{ ref('onboarding_forms') }}
    where form_key = 'quit_survey'

),

csm_introductions as (

    select
        'csm_introduction' as trigger,
        user_id,
        '' as discriminator,
        as_of_date,
        signed_up_at as due_at,
        {{ dbt.concat(["'CSM from day 1 ('", 'plan', "' plan, '", 'track', "' track): '", 'csm']) }} as reason,
        cast(null as {{ dbt.type_string() }}) as content_url
    from history
    where day_number = 0 and csm_id is not null

),

cadenced as (

    select
        cadences.trigger,
        history.user_id,
        {{ dbt.concat(["'day_'", as_text('history.day_number')]) }} as discriminator,
        history.as_of_date,
        {{ dbt.dateadd('day', 'history.day_number', 'history.signed_up_at') }} as due_at,
        {{ dbt.concat([
            'cadences.trigger', "' for track '", 'history.track', "' on day '", as_text('history.day_number')
        ]) }} as reason,
        cast(null as {{ dbt.type_string() }}) as content_url
    from history
    inner join cadences
        on
            history.track = cadences.track
            and history.day_number >= cadences.first_day
            and history.day_number <= cadences.last_day
            and mod(history.day_number - cadences.first_day, cadences.every_days) = 0

),

quit_surveys as (

    select
        'quit_survey' as trigger,
        history.user_id,
        '' as discriminator,
        history.as_of_date,
        {{ dbt.dateadd('day', 'quit_form.send_day', 'history.signed_up_at') }} as due_at,
        {{ dbt.concat([
            "'day '", as_text('quit_form.send_day'), "': what nearly made you quit? (form '", 'quit_form.form_id', "')'"
        ]) }} as reason,
        {{ dbt.concat(['quit_form.form_url', "'#user_id='", 'history.user_id']) }} as content_url
    from history
    inner join quit_form on history.day_number = quit_form.send_day

),

final as (

    select * from csm_introductions
    union all
    select * from cadenced
    union all
    select * from quit_surveys

)

select * from final

{{ config(materialized='view') }}

{#- Day-based message situations (day 0 = signup day): welcome, day_1_plan, trial_expiring, nps_survey,
    playbook_day_14. Each needs its exact day in the decision history and is due at the same time of day
    as the signup. A view: only int_messages__situations reads it. -#}

with

history as (

    select * from {{ ref('user_onboarding_daily') }}

),

welcome as (

    select
        'welcome' as trigger,
        user_id,
        '' as discriminator,
        as_of_date,
        signed_up_at as due_at,
        {{ dbt.concat(["'signup day: welcome for track '", 'track']) }} as reason
    from history
    where day_number = 0

),

day_one_plan as (

    select
        'day_1_plan' as trigger,
        user_id,
        '' as discriminator,
        as_of_date,
        {{ dbt.dateadd('day', var('day_one_email_day'), 'signed_up_at') }} as due_at,
        'day {{ var("day_one_email_day") }} after signup: the 30-day plan' as reason
    from history
    where day_number = {{ var('day_one_email_day') }}

),

trial_expiring as (

    select
        'trial_expiring' as trigger,
        user_id,
        '' as discriminator,
        as_of_date,
        {{ dbt.dateadd('day', var('trial_offer_day'), 'signed_up_at') }} as due_at,
        'trial plan, day {{ var("trial_offer_day") }}: trial_expiring offer' as reason
    from history
    where day_number = {{ var('trial_offer_day') }} and plan = 'trial'

),

nps_surveys as (

    select
        'nps_survey' as trigger,
        user_id,
        {{ dbt.concat(["'day_'", as_text('day_number')]) }} as discriminator,
        as_of_date,
        {{ dbt.dateadd('day', 'day_number', 'signed_up_at') }} as due_at,
        {{ dbt.concat(["'NPS survey on day '", as_text('day_number')]) }} as reason
    from history
    where day_number in ({{ var('nps_survey_days') | join(', ') }})

),

playbooks as (

    select
        'playbook_day_14' as trigger,
        user_id,
        '' as discriminator,
        as_of_date,
        {{ dbt.dateadd('day', var('playbook_day'), 'signed_up_at') }} as due_at,
        'day {{ var("playbook_day") }}: the weeks 3-4 playbook' as reason
    from history
    where day_number = {{ var('playbook_day') }}

),

final as (

    select * from welcome
    union all
    select * from day_one_plan
    union all
    select * from trial_expiring
    union all
    select * from nps_surveys
    union all
    select * from playbooks

)

select * from final

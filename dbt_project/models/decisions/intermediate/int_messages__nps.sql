{{ config(materialized='view') }}

{#- NPS message situations (tips): a detractor answer (var nps_detractor_max, 0-6) routes to a CSM
    outreach, once per response, decided on the day it was submitted (the signup day if earlier).
    A view: only int_messages__situations reads it. -#}

with

history as (

    select * from {{ ref('user_onboarding_daily') }}

),

nps as (

    select response_id, user_id, survey, score, comment, submitted_at, nps_category
    from {{ ref('stg_nps__responses') }}

),

final as (

    select
        'nps_detractor_outreach' as trigger,
        history.user_id,
        nps.response_id as discriminator,
        history.as_of_date,
        nps.submitted_at as due_at,
        {{ dbt.concat([
            "'NPS '", as_text('nps.score'), "' on the '", 'nps.survey', "' survey (detractor)'"
        ]) }} as reason,
        nps.survey,
        nps.score as nps_score,
        nps.comment as nps_comment
    from nps
    inner join history
        on
            nps.user_id = history.user_id
            and history.as_of_date = case
                when cast(nps.submitted_at as date) < history.signup_date then history.signup_date
                else cast(nps.submitted_at as date)
            end
    where nps.nps_category = 'detractor'

)

select * from final

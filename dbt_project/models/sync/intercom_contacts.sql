{#- The Intercom contact attributes each user should have now (seed 1.3 and 3.1), from the latest decided
    day. onboarding_track is the effective track (off-track users show guided_handholding). -#}

with

latest as (

    select * from {{ ref('user_onboarding') }}

),

profiles as (

    select user_id, email, name, signed_up_at, company_size, industry from {{ ref('int_users__profiles') }}

),

final as (

    select
        latest.user_id,
        profiles.email,
        profiles.name,
        profiles.signed_up_at,
        latest.effective_track as onboarding_track,
        latest.onboarding_stage,
        cast(latest.onboarding_score as {{ dbt.type_int() }}) as onboarding_score,
        latest.next_action,
        latest.difficulty_level as content_difficulty,
        cast(latest.churn_risk as {{ type_double() }}) as churn_risk,
        profiles.company_size,
        profiles.industry,
        latest.as_of_date

    from latest
    inner join profiles on latest.user_id = profiles.user_id

)

select * from final

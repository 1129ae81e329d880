{#- The Appcues profile attributes per user (seed 2.2 and 3.3). Appcues has no "start this flow" endpoint:
    flows target users by these attributes, so the flow id follows the effective track. -#}

with

latest as (

    select * from {{ ref('user_onboarding') }}

),

track_content as (

    select track, appcues_flow_id from {{ ref('onboarding_track_content') }}

),

final as (

    select
        latest.user_id,
        latest.effective_track as onboarding_track,
        latest.difficulty_level as content_difficulty,
        track_content.appcues_flow_id,
        latest.onboarding_stage,
        cast(latest.onboarding_score as {{ dbt.type_int() }}) as onboarding_score,
        latest.as_of_date

    from latest
    left join track_content on latest.effective_track = track_content.track

)

select * from final

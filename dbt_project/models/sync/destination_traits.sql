{#- What Salesforce, Mixpanel and Segment should hold per user (issue 18): the engine's decisions as
    traits, from the latest decided day, plus what a new Salesforce Lead needs (email, last name,
    company). One mart the three destinations diff against, so they always agree. -#}

with

latest as (

    select user_id, effective_track, onboarding_stage, onboarding_score, churn_risk, as_of_date
    from {{ ref('user_onboarding') }}

),

daily as (

    select user_id, as_of_date, onboarding_score from {{ ref('user_onboarding_daily') }}

),

profiles as (

    select user_id, email, name, company from {{ ref('int_users__profiles') }}

),

assignments as (

    select user_id, experiment_id, variant from {{ ref('int_experiments__assignments') }}

),

bands as (

    select churn_risk_band, min_churn_risk from {{ ref('churn_risk_bands') }}

),

completions as (

    select
        user_id,
        min(as_of_date) as onboarding_completed_on

    from daily
    where onboarding_score >= {{ var('outcome_completion_score') }}
    group by user_id

),

risk_bands as (

    select user_id, churn_risk_band
    from (
        select
            latest.user_id,
            bands.churn_risk_band,
            row_number() over (partition by latest.user_id order by bands.min_churn_risk desc) as band_rank
        from latest
        inner join bands on latest.churn_risk >= bands.min_churn_risk
    ) as ranked
    where band_rank = 1

),

variants as (

    select
        user_id,
        {{ dbt.concat([
            "'{'",
            dbt.listagg(dbt.concat([json_quote('experiment_id'), "':'", json_quote('variant')]), "','",
                        'order by experiment_id'),
            "'}'",
        ]) }} as experiment_variants

    from assignments
    group by user_id

),

final as (

    select
        latest.user_id,
        profiles.email,
        profiles.name as last_name,
        profiles.company,
        latest.effective_track as onboarding_track,
        latest.onboarding_stage,
        cast(latest.onboarding_score as {{ dbt.type_int() }}) as onboarding_score,
        cast(latest.churn_risk as {{ type_double() }}) as churn_risk,
        risk_bands.churn_risk_band,
        completions.onboarding_completed_on,
        variants.experiment_variants,
        latest.as_of_date

    from latest
    inner join profiles on latest.user_id = profiles.user_id
    left join completions on latest.user_id = completions.user_id
    left join risk_bands on latest.user_id = risk_bands.user_id
    left join variants on latest.user_id = variants.user_id

)

select * from final

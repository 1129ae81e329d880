{#- "Onboarding complete -> MQL -> auto-assign to AE" (issue 18): one row per user who completed onboarding
    (score >= var outcome_completion_score), with the account executive who takes the Lead: round robin
    over the active seeds/ae_roster.csv in order of completion (day, then user). The sync sets the Lead's
    status and owner once per mql_key and records it; a user completing later takes the next AE in turn. -#}

with

traits as (

    select user_id, onboarding_completed_on, as_of_date
    from {{ ref('destination_traits') }}
    where onboarding_completed_on is not null

),

roster as (

    select
        ae_id,
        salesforce_user_id,
        row_number() over (order by roster_order) as roster_rank,
        count(*) over () as roster_size

    from {{ ref('ae_roster') }}
    where is_active

),

ranked as (

    select
        user_id,
        onboarding_completed_on,
        as_of_date,
        row_number() over (order by onboarding_completed_on, user_id) as completion_rank

    from traits

),

final as (

    select
        {{ dbt.concat(["'mql|'", 'ranked.user_id']) }} as mql_key,
        ranked.user_id,
        ranked.onboarding_completed_on as completed_on,
        roster.ae_id,
        roster.salesforce_user_id as ae_salesforce_user_id,
        cast(ranked.onboarding_completed_on as {{ dbt.type_timestamp() }}) as due_at,
        ranked.as_of_date

    from ranked
    left join roster on mod(ranked.completion_rank - 1, roster.roster_size) + 1 = roster.roster_rank

)

select * from final

{{ config(materialized='view') }}

{#- First-time message situations: coaching_offer, community_invite, case_study. Once per user, on the
    first day the condition holds; decided at the end of that day, due right after. A view: only
    int_messages__situations reads it. -#}

with

history as (

    select * from {{ ref('user_onboarding_daily') }}

),

coaching_days as (

    select
        'coaching_offer' as trigger,
        user_id,
        as_of_date,
        {{ dbt.concat([
            "'difficulty simplified ('", 'difficulty_reason',
            "'): time to first query '", explain_duration('time_to_first_query_seconds'),
            "', '", as_text('round(queries_per_day, 2)'), "' queries/day'"
        ]) }} as reason
    from history
    where difficulty_level = 'simplified' and day_number < {{ var('onboarding_days') }}

),

community_days as (

    select
        'community_invite' as trigger,
        user_id,
        as_of_date,
        {{ dbt.concat([
            "'score '", as_text('onboarding_score'), "' >= " ~ var('community_min_score') ~ " and team size '",
            as_text('team_size'), "' > " ~ var('community_min_team_size') ~ "'"
        ]) }} as reason
    from history
    where
        day_number >= {{ var('playbook_day') }}
        and onboarding_score >= {{ var('community_min_score') }}
        and team_size > {{ var('community_min_team_size') }}

),

case_study_days as (

    select
        'case_study' as trigger,
        user_id,
        as_of_date,
        {{ dbt.concat([
            "'industry '", 'industry', "' and '", as_text('records_imported'),
            "' records imported > " ~ var('case_study_min_records') ~ "'"
        ]) }} as reason
    from history
    where
        day_number >= {{ var('playbook_day') }}
        and industry = '{{ var("case_study_industry") }}'
        and records_imported > {{ var('case_study_min_records') }}

),

qualifying_days as (

    select * from coaching_days
    union all
    select * from community_days
    union all
    select * from case_study_days

),

ranked as (

    select
        *,
        row_number() over (partition by trigger, user_id order by as_of_date) as occurrence
    from qualifying_days

),

final as (

    select
        trigger,
        user_id,
        '' as discriminator,
        as_of_date,
        {{ as_of_end('as_of_date') }} as due_at,
        reason
    from ranked
    where occurrence = 1

)

select * from final

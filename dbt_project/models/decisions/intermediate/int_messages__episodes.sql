{{ config(materialized='view') }}

{#- Episode message situations, once per episode: risk episodes (5.2, 5.3: csm_outreach, risk_nudge) and
    off-track episodes (FAQ: off_track_reengagement, off_track_flow, track_restored_flow). The
    discriminator is the episode's data-derived start; int_messages__situation_keys keeps the key of an
    episode that late data shifts. A view: only int_messages__situations reads it. -#}

with

history as (

    select * from {{ ref('user_onboarding_daily') }}

),

risk_episodes as (

    select
        case when risk_action = 'emergency_outreach' then 'csm_outreach' else 'risk_nudge' end as trigger,
        user_id,
        {{ as_text('risk_episode_started_on') }} as discriminator,
        as_of_date,
        {{ as_of_end('as_of_date') }} as due_at,
        {{ dbt.concat([
            "'churn risk '", as_text('churn_risk'), "' ('", 'risk_action', "'), factors '", 'risk_factors'
        ]) }} as reason
    from history
    where is_new_risk_episode and risk_action in ('emergency_outreach', 'automated_nudge')

),

off_track_messages as (

    select
        'off_track_reengagement' as trigger,
        user_id,
        {{ as_text('off_track_since') }} as discriminator,
        as_of_date,
        {{ as_of_end('as_of_date') }} as due_at,
        {{ dbt.concat([
            'track', "' idle '", as_text('days_since_last_login'), "' days: effective track '", 'effective_track'
        ]) }} as reason
    from history
    where is_off_track_start

),

off_track_flows as (

    select
        'off_track_flow' as trigger,
        user_id,
        {{ as_text('off_track_since') }} as discriminator,
        as_of_date,
        {{ as_of_end('as_of_date') }} as due_at,
        {{ dbt.concat([
            'track', "' idle '", as_text('days_since_last_login'), "' days: Appcues switched to '", 'effective_track'
        ]) }} as reason
    from history
    where is_off_track_start

),

restored_flows as (

    select
        'track_restored_flow' as trigger,
        user_id,
        {{ as_text('as_of_date') }} as discriminator,
        as_of_date,
        {{ as_of_end('as_of_date') }} as due_at,
        {{ dbt.concat(["'active again: Appcues restored to '", 'effective_track']) }} as reason
    from history
    where is_track_restored

),

final as (

    select * from risk_episodes
    union all
    select * from off_track_messages
    union all
    select * from off_track_flows
    union all
    select * from restored_flows

)

select * from final

{{
    config(
        materialized='incremental',
        unique_key='user_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
    )
}}

{#- Step 5.2: a CSM per user who needs one (first emergency_outreach day, escalation or NPS detractor),
    balanced round-robin over the active roster in order of first need. Stable once assigned: users already
    in this table keep their CSM (while that CSM is active); only new users are placed, each on the CSM
    with the fewest users (ties: roster order). On a full rebuild this is plain round-robin in need order,
    which is exactly what day-by-day runs produce. -#}

with

risk as (

    select user_id, as_of_date, risk_action
    from {{ ref('int_onboarding__risk_daily') }}

),

episodes as (

    select user_id, as_of_date, is_escalated
    from {{ ref('int_onboarding__risk_episodes') }}

),

user_days as (

    select user_id, as_of_date, signup_date from {{ ref('int_onboarding__user_days') }}

),

nps as (

    select user_id, submitted_at, nps_category from {{ ref('stg_nps__responses') }}

),

roster as (

    select csm_id, roster_order from {{ ref('csm_roster') }}
    where is_active

),

need_days as (

    select user_id, as_of_date as need_on, 1 as need_order, 'emergency_outreach' as need
    from risk
    where risk_action = 'emergency_outreach'

    union all

    select user_id, as_of_date as need_on, 2 as need_order, 'escalation' as need
    from episodes
    where is_escalated

    union all

    select user_days.user_id, user_days.as_of_date as need_on, 3 as need_order, 'nps_detractor' as need
    from nps
    inner join user_days
        on
            nps.user_id = user_days.user_id
            and user_days.as_of_date = case
                when cast(nps.submitted_at as date) < user_days.signup_date then user_days.signup_date
                else cast(nps.submitted_at as date)
            end
    where nps.nps_category = 'detractor'

),

first_needs as (

    select user_id, need_on, need
    from (
        select
            *,
            row_number() over (partition by user_id order by need_on, need_order) as need_rank
        from need_days
    ) as ranked
    where need_rank = 1

),

kept as (

    {% if is_incremental() -%}
        select this.user_id, this.csm_id, this.assigned_on, this.first_need
        from {{ this }} as this
        inner join roster on this.csm_id = roster.csm_id
    {%- else -%}
        select user_id, cast(null as {{ dbt.type_string() }}) as csm_id, need_on as assigned_on, need as first_need
        from first_needs
        where 1 = 0
    {%- endif %}

),

new_needs as (

    select
        first_needs.user_id,
        first_needs.need_on,
        first_needs.need,
        row_number() over (order by first_needs.need_on, first_needs.user_id) as need_rank

    from first_needs
    left join kept on first_needs.user_id = kept.user_id
    where kept.user_id is null

),

loads as (

    select
        roster.csm_id,
        roster.roster_order,
        count(kept.user_id) as assigned_users

    from roster
    left join kept on roster.csm_id = kept.csm_id
    group by roster.csm_id, roster.roster_order

),

{# Each CSM offers slots load+1, load+2, ...; the n-th new user takes the n-th lowest slot (ties: roster
    order). This is "give each next user to the least-loaded CSM", set-based. -#}
slots as (

    select
        loads.csm_id,
        row_number() over (
            order by loads.assigned_users + new_needs.need_rank, loads.roster_order
        ) as slot_rank

    from loads
    cross join new_needs

),

placed as (

    select
        new_needs.user_id,
        slots.csm_id,
        new_needs.need_on as assigned_on,
        new_needs.need as first_need

    from new_needs
    inner join slots on new_needs.need_rank = slots.slot_rank

),

final as (

    select user_id, csm_id, assigned_on, first_need from kept
    union all
    select user_id, csm_id, assigned_on, first_need from placed

)

select * from final

{{
    config(
        materialized=engine_keyed_materialization(),
        unique_key='user_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
    )
}}

{#- Step 5.2: a CSM per user who needs one (from day 1 for paid plans and tracks whose policy says so, the
    first scheduled check-in of a track with CSM check-ins, the first emergency_outreach day, escalation
    or NPS detractor; a track whose policy gives a CSM only on an emergency gets none for a detractor answer),
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

    select user_id, as_of_date, day_number, signup_date from {{ ref('int_onboarding__user_days') }}

),

tracks as (

    select user_id, track from {{ ref('int_onboarding__tracks') }}

),

profiles as (

    select user_id, plan from {{ ref('int_users__profiles') }}

),

track_policies as (

    select track, csm_from_day_1, csm_only_on_emergency from {{ ref('onboarding_track_policies') }}

),

plan_policies as (

    select plan, csm_from_day_1 from {{ ref('onboarding_plan_policies') }}

),

checkin_starts as (

    select track, min(first_day) as first_day from {{ ref('onboarding_track_cadences') }}
    where trigger = 'csm_checkin'
    group by track

),

user_policies as (

    select
        tracks.user_id,
        tracks.track,
        coalesce(track_policies.csm_from_day_1, false) or coalesce(plan_policies.csm_from_day_1, false)
            as csm_from_day_1,
        coalesce(track_policies.csm_only_on_emergency, false) as csm_only_on_emergency,
        checkin_starts.first_day as first_checkin_day

    from tracks
    inner join profiles on tracks.user_id = profiles.user_id
    left join track_policies on tracks.track = track_policies.track
    left join plan_policies on profiles.plan = plan_policies.plan
    left join checkin_starts on tracks.track = checkin_starts.track

),

nps as (

    select user_id, submitted_at, nps_category from {{ ref('stg_nps__responses') }}

),

roster as (

    select csm_id, roster_order from {{ ref('csm_roster') }}
    where is_active

),

need_days as (

    select user_days.user_id, user_days.as_of_date as need_on, 0 as need_order, 'day_one' as need
    from user_days
    inner join user_policies on user_days.user_id = user_policies.user_id
    where user_days.day_number = 0 and user_policies.csm_from_day_1

    union all

    select user_days.user_id, user_days.as_of_date as need_on, 4 as need_order, 'csm_checkin' as need
    from user_days
    inner join user_policies on user_days.user_id = user_policies.user_id
    where user_days.day_number = user_policies.first_checkin_day

    union all

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
    inner join user_policies on nps.user_id = user_policies.user_id
    where nps.nps_category = 'detractor' and not user_policies.csm_only_on_emergency

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

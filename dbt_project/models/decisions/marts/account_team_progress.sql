{#- The primary contact's team progress view (issue 19 item 3): per enterprise account (the primary
    contact's user id) one row per member, the primary contact and every colleague named in the
    stakeholder map, with their stage and score as of their latest decided day (marts.user_onboarding).
    A colleague who has not signed up yet shows stage `not_signed_up` and no score; their track is the
    one their role gives them (int_stakeholders__map). No emails: a member is keyed by user id, or by a
    hash of the named email before they sign up. -#}

with

stakeholders as (

    select * from {{ ref('int_stakeholders__map') }}

),

latest as (

    select * from {{ ref('user_onboarding') }}

),

profiles as (

    select user_id, name, company from {{ ref('int_users__profiles') }}

),

accounts as (

    select distinct account_id, company from stakeholders

),

members as (

    select
        accounts.account_id,
        accounts.company,
        'primary_contact' as member_type,
        accounts.account_id as member_user_id,
        accounts.account_id as member_key,
        profiles.name as member_name,
        cast(null as {{ dbt.type_string() }}) as member_role,
        cast(null as {{ dbt.type_string() }}) as role_track,
        cast(null as {{ dbt.type_timestamp() }}) as named_at
    from accounts
    left join profiles on accounts.account_id = profiles.user_id

    union all

    select
        account_id,
        company,
        'stakeholder' as member_type,
        stakeholder_user_id as member_user_id,
        coalesce(stakeholder_user_id, {{ dbt.hash('stakeholder_email') }}) as member_key,
        stakeholder_name as member_name,
        stakeholder_role as member_role,
        role_track,
        named_at
    from stakeholders

),

progress as (

    select
        members.account_id,
        members.company,
        members.member_key,
        members.member_type,
        members.member_user_id,
        members.member_name,
        members.member_role,
        coalesce(members.role_track, latest.effective_track) as track,
        latest.effective_track as assigned_track,
        coalesce(latest.onboarding_stage, 'not_signed_up') as onboarding_stage,
        latest.onboarding_score,
        latest.next_action,
        latest.signed_up_at,
        members.named_at,
        latest.as_of_date
    from members
    left join latest on members.member_user_id = latest.user_id

),

final as (

    select
        *,
        count(*) over (partition by account_id) as team_members,
        count(signed_up_at) over (partition by account_id) as team_signed_up,
        avg(onboarding_score) over (partition by account_id) as team_average_score
    from progress

)

select * from final

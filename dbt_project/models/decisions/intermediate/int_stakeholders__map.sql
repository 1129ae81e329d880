{#- The enterprise stakeholder map (issue 19 item 3): one row per colleague a primary contact named
    (int_stakeholders__namings), the account's latest answer about them winning, with their role's track
    and their user id and signup time once they have signed up with the named email. An account is the
    primary contact's user id. -#}

with

namings as (

    select * from {{ ref('int_stakeholders__namings') }}

),

profiles as (

    select user_id, company from {{ ref('int_users__profiles') }}

),

latest as (

    select *
    from (
        select
            *,
            row_number() over (
                partition by account_id, stakeholder_email
                order by named_at desc, response_token desc, stakeholder_slot asc
            ) as answer_rank
        from namings
    ) as ranked
    where answer_rank = 1

),

final as (

    select
        latest.account_id,
        account_profiles.company,
        latest.stakeholder_email,
        latest.stakeholder_name,
        latest.stakeholder_role,
        latest.stakeholder_user_id,
        latest.stakeholder_signed_up_at,
        latest.role_track,
        latest.role_track_reason,
        latest.response_token,
        latest.named_at

    from latest
    left join profiles as account_profiles on latest.account_id = account_profiles.user_id

)

select * from final

{#- The enterprise stakeholder map (issue 19 item 3): one row per colleague a primary contact named in the
    stakeholder-map form (seed onboarding_forms, form_key stakeholder_map), with the track their role
    gives them (seed onboarding_stakeholder_role_tracks: the first pattern by priority the lower-cased
    role contains) and their user id once they have signed up with the named email. An account is the
    primary contact's user id; a colleague named twice by one account keeps the latest answer. -#}

with

answers as (

    select * from {{ ref('stg_typeform__responses') }}

),

forms as (

    select form_id from {{ ref('onboarding_forms') }}
    where form_key = 'stakeholder_map'

),

role_tracks as (

    select * from {{ ref('onboarding_stakeholder_role_tracks') }}

),

profiles as (

    select user_id, email, company from {{ ref('int_users__profiles') }}

),

slots as (

    select
        answers.user_id as account_id,
        answers.response_token,
        answers.submitted_at,
        {{ dbt.split_part('answers.question_ref', "'_'", 2) }} as stakeholder_slot,
        {{ dbt.split_part('answers.question_ref', "'_'", 3) }} as part,
        answers.answer_text
    from answers
    inner join forms on answers.form_id = forms.form_id
    where answers.user_id is not null and answers.question_ref like 'stakeholder!_%!_%' escape '!'

),

named as (

    select
        account_id,
        response_token,
        submitted_at,
        stakeholder_slot,
        max(case when part = 'name' then trim(answer_text) end) as stakeholder_name,
        max(case when part = 'email' then lower(trim(answer_text)) end) as stakeholder_email,
        max(case when part = 'role' then trim(answer_text) end) as stakeholder_role
    from slots
    group by account_id, response_token, submitted_at, stakeholder_slot

),

latest as (

    select *
    from (
        select
            *,
            row_number() over (
                partition by account_id, stakeholder_email
                order by submitted_at desc, response_token desc, stakeholder_slot asc
            ) as answer_rank
        from named
        where stakeholder_email is not null and stakeholder_email like '%@%'
    ) as ranked
    where answer_rank = 1

),

track_matches as (

    select
        latest.account_id,
        latest.stakeholder_email,
        role_tracks.track,
        role_tracks.reason,
        row_number() over (
            partition by latest.account_id, latest.stakeholder_email order by role_tracks.priority
        ) as match_rank
    from latest
    inner join role_tracks
        on
            lower(coalesce(latest.stakeholder_role, ''))
            like {{ dbt.concat(["'%'", "coalesce(role_tracks.pattern, '')", "'%'"]) }}

),

final as (

    select
        latest.account_id,
        account_profiles.company,
        latest.stakeholder_email,
        latest.stakeholder_name,
        latest.stakeholder_role,
        stakeholder_profiles.user_id as stakeholder_user_id,
        track_matches.track as role_track,
        track_matches.reason as role_track_reason,
        latest.response_token,
        latest.submitted_at as named_at

    from latest
    left join profiles as account_profiles on latest.account_id = account_profiles.user_id
    left join profiles as stakeholder_profiles
        on
            latest.stakeholder_email = lower(stakeholder_profiles.email)
            and latest.account_id <> stakeholder_profiles.user_id
    left join track_matches
        on
            latest.account_id = track_matches.account_id
            and latest.stakeholder_email = track_matches.stakeholder_email
            and track_matches.match_rank = 1

)

select * from final

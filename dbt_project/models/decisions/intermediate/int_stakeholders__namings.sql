{#- Every naming in the enterprise stakeholder map (issue 19 item 3): one row per colleague per
    stakeholder-map response (seed onboarding_forms, form_key stakeholder_map), with the track the role
    they were named with gives them (seed onboarding_stakeholder_role_tracks: the first pattern by
    priority the lower-cased role contains), and the colleague's user id and signup time once someone other
    than the naming account has signed up with that email (the one place a naming meets its user). Every
    response counts: int_stakeholders__map keeps the latest per (account, colleague),
    int_onboarding__tracks the latest before the colleague signed up. -#}

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

    select user_id, email, signed_up_at from {{ ref('int_users__profiles') }}

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

named_with_email as (

    select * from named
    where stakeholder_email is not null and stakeholder_email like '%@%'

),

track_matches as (

    select
        named_with_email.response_token,
        named_with_email.stakeholder_slot,
        role_tracks.track,
        role_tracks.reason,
        row_number() over (
            partition by named_with_email.response_token, named_with_email.stakeholder_slot
            order by role_tracks.priority
        ) as match_rank
    from named_with_email
    inner join role_tracks
        on
            lower(coalesce(named_with_email.stakeholder_role, ''))
            like {{ dbt.concat(["'%'", "coalesce(role_tracks.pattern, '')", "'%'"]) }}

),

final as (

    select
        named_with_email.account_id,
        named_with_email.response_token,
        named_with_email.stakeholder_slot,
        named_with_email.submitted_at as named_at,
        named_with_email.stakeholder_email,
        named_with_email.stakeholder_name,
        named_with_email.stakeholder_role,
        track_matches.track as role_track,
        track_matches.reason as role_track_reason,
        profiles.user_id as stakeholder_user_id,
        profiles.signed_up_at as stakeholder_signed_up_at

    from named_with_email
    left join track_matches
        on
            named_with_email.response_token = track_matches.response_token
            and named_with_email.stakeholder_slot = track_matches.stakeholder_slot
            and track_matches.match_rank = 1
    left join profiles
        on
            named_with_email.stakeholder_email = lower(profiles.email)
            and named_with_email.account_id <> profiles.user_id

)

select * from final

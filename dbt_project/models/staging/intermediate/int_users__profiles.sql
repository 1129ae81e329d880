{#- The seed's identity resolution (step 1.1): one profile per user. The signup webhook is the primary
    record; the latest Segment identify fills what the webhook lacks (and covers users whose webhook was
    lost). Name falls back to the email's local part, signup source to 'direct', unknown fields to
    'unknown'. -#}

with

signups as (

    select * from {{ ref('stg_app__signups') }}

),

identifies as (

    select * from {{ ref('stg_segment__identifies') }}
    where
        user_id is not null
        -- An identify setting none of the traits a profile reads cannot change one (it would only blank the
        -- latest identify): the sync's own identify of the engine's traits (sync/adapters/traits.py) comes
        -- back this way through the next Segment export, and must not look like a profile change.
        and (
            email is not null or name is not null or company is not null or company_size is not null
            or industry is not null or role is not null or plan is not null or team_size is not null
            or utm_source is not null or features_enabled is not null
        )

),

latest_identify as (

    select *
    from (
        select
            *,
            row_number() over (partition by user_id order by identified_at desc, message_id asc) as recency,
            min(identified_at) over (partition by user_id) as first_identified_at
        from identifies
    ) as ranked
    where recency = 1

),

users as (

    select user_id from signups
    union
    select user_id from latest_identify

),

joined as (

    select
        users.user_id,
        signups.provider,
        coalesce(signups.email, latest_identify.email) as email,
        coalesce(nullif(trim(signups.name), ''), nullif(trim(latest_identify.name), '')) as given_name,
        coalesce(signups.company, latest_identify.company) as company,
        coalesce(signups.utm_source, latest_identify.utm_source) as utm_source,
        coalesce(signups.company_size, latest_identify.company_size) as company_size,
        coalesce(signups.industry, latest_identify.industry) as industry,
        coalesce(signups.role, latest_identify.role) as role,  -- noqa: RF04
        coalesce(signups.plan, latest_identify.plan) as plan,
        coalesce(signups.team_size, latest_identify.team_size) as team_size,
        coalesce(signups.features_enabled, latest_identify.features_enabled) as features_enabled,
        coalesce(signups.signed_up_at, latest_identify.first_identified_at) as signed_up_at

    from users
    left join signups on users.user_id = signups.user_id
    left join latest_identify on users.user_id = latest_identify.user_id

),

final as (

    select
        user_id,
        email,
        coalesce(given_name, {{ dbt.split_part('email', "'@'", 1) }}, 'unknown') as name,  -- noqa: RF04
        coalesce(nullif(utm_source, ''), 'direct') as signup_source,
        coalesce(nullif(company, ''), 'unknown') as company,
        coalesce(nullif(company_size, ''), 'unknown') as company_size,
        coalesce(nullif(industry, ''), 'unknown') as industry,
        coalesce(nullif(role, ''), 'unknown') as role,  -- noqa: RF04
        coalesce(nullif(plan, ''), 'unknown') as plan,
        team_size,
        coalesce(features_enabled, '[]') as features_enabled,
        signed_up_at,
        cast(signed_up_at as date) as signup_date,
        coalesce(provider, 'segment') as provider  -- noqa: RF04

    from joined

)

select * from final

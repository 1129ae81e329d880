{#- Which products each user has access to (issue 19 item 2), one row per (user, product): the `products`
    trait of the signup profile, else of the latest identify call that has one; a colleague named in an
    account's stakeholder map without a trait of their own gets the account's; anyone else (older exports
    had no trait) gets the default product (seed onboarding_products, is_default). Products the seed does
    not know are ignored. -#}

with

profiles as (

    select user_id from {{ ref('int_users__profiles') }}

),

signups as (

    select user_id, products from {{ ref('stg_app__signups') }}
    where products is not null

),

identifies as (

    select user_id, products
    from (
        select
            user_id,
            products,
            row_number() over (
                partition by user_id order by identified_at desc, message_id desc
            ) as identify_rank
        from {{ ref('stg_segment__identifies') }}
        where user_id is not null and products is not null
    ) as ranked
    where identify_rank = 1

),

catalog as (

    select * from {{ ref('onboarding_products') }}

),

stakeholders as (

    select stakeholder_user_id, account_id, named_at from {{ ref('int_stakeholders__map') }}
    where stakeholder_user_id is not null

),

own as (

    select
        profiles.user_id,
        coalesce(signups.products, identifies.products) as products
    from profiles
    left join signups on profiles.user_id = signups.user_id
    left join identifies on profiles.user_id = identifies.user_id

),

{# A colleague named by two accounts takes the one that named them first. -#}
accounts as (

    select stakeholder_user_id, account_id
    from (
        select
            *,
            row_number() over (partition by stakeholder_user_id order by named_at asc, account_id asc) as account_rank
        from stakeholders
    ) as ranked
    where account_rank = 1

),

chosen as (

    select
        own.user_id,
        coalesce(own.products, account_own.products) as products,
        case
            when own.products is not null then 'profile'
            when account_own.products is not null then 'account'
        end as products_source
    from own
    left join accounts on own.user_id = accounts.stakeholder_user_id
    left join own as account_own on accounts.account_id = account_own.user_id

),

listed as (

    select distinct
        user_id,
        products_source,
        replace(cast(product_rows.product_value as {{ dbt.type_string() }}), '"', '') as product
    from chosen
    {{ json_array_rows('products', 'product_rows', 'product_value', 'product_position') }}
    where products is not null

),

known as (

    select
        listed.user_id,
        listed.products_source,
        catalog.product,
        catalog.product_label,
        catalog.product_rank
    from listed
    inner join catalog on listed.product = catalog.product

),

users_with_known as (

    select distinct user_id from known

),

defaulted as (

    select
        profiles.user_id,
        'default' as products_source,
        catalog.product,
        catalog.product_label,
        catalog.product_rank
    from profiles
    cross join catalog
    left join users_with_known on profiles.user_id = users_with_known.user_id
    where catalog.is_default and users_with_known.user_id is null

),

unioned as (

    select * from known
    union all
    select * from defaulted

),

final as (

    select
        *,
        count(*) over (partition by user_id) as product_count
    from unioned

)

select * from final

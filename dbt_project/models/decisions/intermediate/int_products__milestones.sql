{#- Product milestones reached (issue 19 item 2): per user, each milestone of seed
    onboarding_product_milestones for a product they have access to (int_products__access), and the
    cross-product integration milestone (product `*`, is_integration), at its first occurrence: the
    event named, and for a row with a feature, that feature in properties.feature. -#}

with

events as (

    select
        user_id,
        event_name,
        event_at,
        {{ json_str('properties', 'feature') }} as feature
    from {{ ref('int_events__unified') }}
    where user_id is not null

),

milestones as (

    select * from {{ ref('onboarding_product_milestones') }}

),

access as (

    select user_id, product from {{ ref('int_products__access') }}

),

user_milestones as (

    select
        access.user_id,
        milestones.product,
        milestones.milestone,
        milestones.event_name,
        milestones.feature,
        milestones.weight,
        milestones.is_integration
    from access
    inner join milestones on access.product = milestones.product

    union all

    select distinct
        access.user_id,
        milestones.product,
        milestones.milestone,
        milestones.event_name,
        milestones.feature,
        milestones.weight,
        milestones.is_integration
    from access
    cross join milestones
    where milestones.is_integration

),

final as (

    select
        user_milestones.user_id,
        user_milestones.product,
        user_milestones.milestone,
        user_milestones.weight,
        user_milestones.is_integration,
        min(events.event_at) as reached_at
    from user_milestones
    inner join events
        on
            user_milestones.user_id = events.user_id
            and user_milestones.event_name = events.event_name
            and (user_milestones.feature is null or user_milestones.feature = events.feature)
    group by
        user_milestones.user_id,
        user_milestones.product,
        user_milestones.milestone,
        user_milestones.weight,
        user_milestones.is_integration

)

select * from final

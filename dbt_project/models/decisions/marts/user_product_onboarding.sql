{#- Per-user-per-product onboarding (issue 19 item 2) as of each user's latest decided day
    (marts.user_onboarding): every product the user has access to gets its own track (the product's
    milestones at the user's pacing: `<product>/<effective track>`), milestones and score (min(100, sum of
    the weights reached), seed onboarding_product_milestones). A user with two or more products who
    reaches the cross-product integration milestone leaves the per-product tracks: from then on every one
    of their products shows stage `merged`, the track `combined/<effective track>` and the combined score
    (the mean of their product scores). -#}

with

latest as (

    select user_id, as_of_date, day_number, effective_track from {{ ref('user_onboarding') }}

),

product_access as (

    select * from {{ ref('int_products__access') }}

),

catalog_milestones as (

    select * from {{ ref('onboarding_product_milestones') }}
    where not is_integration

),

reached as (

    select * from {{ ref('int_products__milestones') }}

),

product_milestones as (

    select
        product_access.user_id,
        product_access.product,
        catalog_milestones.milestone,
        catalog_milestones.weight,
        reached.reached_at
    from product_access
    inner join latest on product_access.user_id = latest.user_id
    inner join catalog_milestones on product_access.product = catalog_milestones.product
    left join reached
        on
            product_access.user_id = reached.user_id
            and product_access.product = reached.product
            and catalog_milestones.milestone = reached.milestone
            and reached.reached_at < {{ as_of_end('latest.as_of_date') }}

),

next_milestones as (

    select user_id, product, milestone as next_milestone
    from (
        select
            *,
            row_number() over (
                partition by user_id, product order by weight desc, milestone asc
            ) as milestone_order
        from product_milestones
        where reached_at is null
    ) as ranked
    where milestone_order = 1

),

scores as (

    select
        user_id,
        product,
        count(reached_at) as milestones_reached,
        count(*) as milestones_total,
        least(100, coalesce(sum(case when reached_at is not null then weight end), 0)) as product_score
    from product_milestones
    group by user_id, product

),

integration_merges as (

    select
        reached.user_id,
        min(reached.reached_at) as merged_at
    from reached
    inner join latest on reached.user_id = latest.user_id
    where reached.is_integration = true and reached.reached_at < {{ as_of_end('latest.as_of_date') }}
    group by reached.user_id

),

joined as (

    select
        product_access.user_id,
        product_access.product,
        product_access.product_label,
        product_access.product_rank,
        product_access.product_count,
        product_access.products_source,
        latest.as_of_date,
        latest.day_number,
        latest.effective_track,
        coalesce(scores.milestones_reached, 0) as milestones_reached,
        coalesce(scores.milestones_total, 0) as milestones_total,
        coalesce(scores.product_score, 0) as product_score,
        next_milestones.next_milestone,
        case when product_access.product_count >= 2 then integration_merges.merged_at end as merged_at
    from product_access
    inner join latest on product_access.user_id = latest.user_id
    left join scores on product_access.user_id = scores.user_id and product_access.product = scores.product
    left join next_milestones
        on product_access.user_id = next_milestones.user_id and product_access.product = next_milestones.product
    left join integration_merges on product_access.user_id = integration_merges.user_id

),

final as (

    select
        user_id,
        product,
        product_label,
        product_rank,
        product_count,
        products_source,
        as_of_date,
        day_number,
        milestones_reached,
        milestones_total,
        product_score,
        next_milestone,
        merged_at,
        case
            when merged_at is not null then 'merged'
            when product_score >= 100 then 'completed'
            when milestones_reached > 0 then 'in_progress'
            else 'not_started'
        end as product_stage,
        case
            when merged_at is not null then {{ dbt.concat(["'combined/'", 'effective_track']) }}
            else {{ dbt.concat(['product', "'/'", 'effective_track']) }}
        end as product_track,
        case
            when merged_at is not null
                then cast(round(avg(product_score) over (partition by user_id)) as {{ dbt.type_int() }})
        end as combined_score
    from joined

)

select * from final

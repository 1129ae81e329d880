{{ config(materialized='view') }}

{#- Message situations of multi-product onboarding (issue 19 item 2), for users with two or more
    products only (a single-product user's messages are the existing ones, under their existing keys):
    - product_next_step: on day product_nudge_day, per product with no milestone reached by the end of
      that day (and no merge yet), its next milestone (the heaviest unreached). Discriminator: the product.
    - products_merged: on the day the user reaches the cross-product integration milestone (within their
      decided days): from now on one combined track. Once per user.
    Values for the templates: product (the product's label; for the merge, the labels joined with
    ' + ') and product_milestone (the milestone's next_step text). -#}

with

history as (

    select user_id, as_of_date, day_number, signed_up_at from {{ ref('user_onboarding_daily') }}

),

product_access as (

    select * from {{ ref('int_products__access') }}
    where product_count >= 2

),

catalog_milestones as (

    select * from {{ ref('onboarding_product_milestones') }}

),

reached as (

    select * from {{ ref('int_products__milestones') }}

),

nudge_days as (

    select
        product_access.user_id,
        product_access.product,
        product_access.product_label,
        history.as_of_date,
        history.signed_up_at
    from product_access
    inner join history
        on
            product_access.user_id = history.user_id
            and history.day_number = {{ var('product_nudge_day') }}

),

open_milestones as (

    select
        nudge_days.*,
        catalog_milestones.milestone,
        catalog_milestones.weight,
        reached.reached_at
    from nudge_days
    inner join catalog_milestones
        on nudge_days.product = catalog_milestones.product
    left join reached
        on
            nudge_days.user_id = reached.user_id
            and catalog_milestones.milestone = reached.milestone
            and catalog_milestones.product = reached.product
            and reached.reached_at < {{ as_of_end('nudge_days.as_of_date') }}

),

integration_before as (

    select distinct nudge_days.user_id
    from nudge_days
    inner join reached
        on
            nudge_days.user_id = reached.user_id
            and reached.is_integration = true
            and reached.reached_at < {{ as_of_end('nudge_days.as_of_date') }}

),

first_milestones as (

    select
        product,
        milestone,
        next_step,
        row_number() over (partition by product order by weight desc, milestone asc) as milestone_order
    from catalog_milestones
    where is_integration = false

),

multi_users as (

    select distinct user_id from product_access

),

untouched as (

    select
        user_id,
        product,
        max(product_label) as product_label,
        max(as_of_date) as as_of_date,
        max(signed_up_at) as signed_up_at
    from open_milestones
    group by user_id, product
    having count(reached_at) = 0

),

next_steps as (

    select
        'product_next_step' as trigger,
        untouched.user_id,
        untouched.product as discriminator,
        untouched.as_of_date,
        {{ dbt.dateadd('day', var('product_nudge_day'), 'untouched.signed_up_at') }} as due_at,
        {{ dbt.concat([
            "'multi-product user, day " ~ var('product_nudge_day') ~ ": no milestone of '", 'untouched.product',
        ]) }} as reason,
        untouched.product_label as product,
        first_milestones.next_step as product_milestone
    from untouched
    inner join first_milestones
        on untouched.product = first_milestones.product and first_milestones.milestone_order = 1
    left join integration_before on untouched.user_id = integration_before.user_id
    where integration_before.user_id is null

),

merge_events as (

    select
        reached.user_id,
        reached.milestone,
        reached.reached_at
    from reached
    inner join multi_users on reached.user_id = multi_users.user_id
    where reached.is_integration = true

),

labels as (

    select
        user_id,
        {{ dbt.listagg('product_label', "' + '", 'order by product_rank') }} as product_labels
    from product_access
    group by user_id

),

merged as (

    select
        'products_merged' as trigger,
        merge_events.user_id,
        '' as discriminator,
        history.as_of_date,
        merge_events.reached_at as due_at,
        {{ dbt.concat(["'cross-product integration milestone: '", 'merge_events.milestone']) }} as reason,
        labels.product_labels as product,
        catalog_milestones.next_step as product_milestone
    from merge_events
    inner join history
        on
            merge_events.user_id = history.user_id
            and cast(merge_events.reached_at as date) = history.as_of_date
    inner join labels on merge_events.user_id = labels.user_id
    inner join catalog_milestones
        on merge_events.milestone = catalog_milestones.milestone and catalog_milestones.is_integration = true

),

final as (

    select * from next_steps
    union all
    select * from merged

)

select * from final

{#- anonymousId -> userId links: the first userId seen with each anonymousId wins (Segment's identify
    at signup, or any track call that carries both ids). -#}

with

identifies as (

    select anonymous_id, user_id, identified_at as linked_at, loaded_day
    from {{ ref('stg_segment__identifies') }}
    where anonymous_id is not null and user_id is not null

),

tracks as (

    select anonymous_id, user_id, event_at as linked_at, loaded_day
    from {{ ref('stg_segment__tracks') }}
    where anonymous_id is not null and user_id is not null

),

links as (

    select * from identifies
    union all
    select * from tracks

),

ranked as (

    select
        anonymous_id,
        user_id,
        linked_at,
        loaded_day,
        row_number() over (partition by anonymous_id order by linked_at, user_id) as link_rank

    from links

),

final as (

    select anonymous_id, user_id, linked_at, loaded_day
    from ranked
    where link_rank = 1

)

select * from final

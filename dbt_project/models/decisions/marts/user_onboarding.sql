{#- The latest decided day per user: what the onboarding engine currently believes about each user. -#}

with

daily as (

    select * from {{ ref('user_onboarding_daily') }}

),

latest_days as (

    select user_id, max(as_of_date) as as_of_date
    from daily
    group by user_id

),

final as (

    select daily.*
    from daily
    inner join latest_days
        on
            daily.user_id = latest_days.user_id
            and daily.as_of_date = latest_days.as_of_date

)

select * from final

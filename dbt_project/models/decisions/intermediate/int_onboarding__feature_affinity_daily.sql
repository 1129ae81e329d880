{#- Which features are used together, as of each day: for every ordered pair of features (var
    feature_event, properties.feature) and every decided day, how many users had used both by the end of
    that day. The "similar behaviour pattern" of the weekly power-ups (int_messages__power_ups): a user's
    features vote for the features their co-users also use (item-to-item co-usage), computed from the
    warehouse, never from a hard-coded list. Its size is features^2 x days, whatever the number of users. -#}

with

events as (

    select user_id, event_at, properties
    from {{ ref('int_events__unified') }}
    where user_id is not null and event_name = '{{ var("feature_event") }}'

),

days as (

    select distinct as_of_date from {{ ref('int_onboarding__user_days') }}

),

first_day as (

    select min(as_of_date) as first_day from days

),

-- A use before the first decided day (stitched anonymous activity) counts on that day.
first_uses as (

    select
        used.user_id,
        used.feature,
        case
            when used.first_used_date < first_day.first_day then first_day.first_day
            else used.first_used_date
        end as first_used_date
    from (
        select
            user_id,
            {{ json_str('properties', 'feature') }} as feature,
            cast(min(event_at) as date) as first_used_date
        from events
        where {{ json_str('properties', 'feature') }} is not null
        group by user_id, {{ json_str('properties', 'feature') }}
    ) as used
    cross join first_day

),

pairs_daily as (

    select
        a.feature,
        b.feature as co_feature,
        case when a.first_used_date > b.first_used_date then a.first_used_date else b.first_used_date end
            as both_used_date,
        count(*) as user_count
    from first_uses as a
    inner join first_uses as b
        on
            a.user_id = b.user_id
            and a.feature <> b.feature
    group by
        a.feature,
        b.feature,
        case when a.first_used_date > b.first_used_date then a.first_used_date else b.first_used_date end

),

pairs as (

    select distinct feature, co_feature from pairs_daily

),

final as (

    select
        days.as_of_date,
        pairs.feature,
        pairs.co_feature,
        cast(
            sum(coalesce(pairs_daily.user_count, 0)) over (
                partition by pairs.feature, pairs.co_feature
                order by days.as_of_date
                rows between unbounded preceding and current row
            ) as {{ dbt.type_bigint() }}
        ) as users_using_both

    from pairs
    cross join days
    left join pairs_daily
        on
            pairs.feature = pairs_daily.feature
            and pairs.co_feature = pairs_daily.co_feature
            and days.as_of_date = pairs_daily.both_used_date

)

select * from final

with

source as (

    select * from {{ source('raw', 'mixpanel_events') }}

),

renamed as (

    select
        coalesce(
            insert_id,
            {{ dbt.hash(dbt.concat([
                'event', "'|'", 'distinct_id', "'|'", 'cast(time_ms as ' ~ dbt.type_string() ~ ')'
            ])) }}
        ) as insert_id,  -- noqa: RF04
        distinct_id as user_id,
        event as event_name,
        event_ts as event_at,
        properties,
        _partition_day as loaded_day

    from source

)

select * from renamed

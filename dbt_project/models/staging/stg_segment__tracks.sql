with

source as (

    select * from {{ source('raw', 'segment_events') }}
    where type = 'track'

),

renamed as (

    select
        message_id,
        user_id,
        anonymous_id,
        event as event_name,
        event_ts as event_at,
        received_at,
        properties,
        source_system,
        _partition_day as loaded_day

    from source

)

select * from renamed

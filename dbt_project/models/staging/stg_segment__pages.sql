with

source as (

    select * from {{ source('raw', 'segment_events') }}
    where type = 'page'

),

renamed as (

    select
        message_id,
        user_id,
        anonymous_id,
        coalesce(name, {{ json_str('properties', 'title') }}) as page_name,
        coalesce(
            {{ json_str('properties', 'path') }},
            {{ json_str('context', 'page.path') }}
        ) as page_path,
        event_ts as event_at,
        received_at,
        properties,
        source_system,
        _partition_day as loaded_day

    from source

)

select * from renamed

with

source as (

    select * from {{ source('raw', 'segment_events') }}
    where type = 'identify'

),

renamed as (

    select
        message_id,
        user_id,
        anonymous_id,
        event_ts as identified_at,
        {{ json_str('traits', 'email') }} as email,
        {{ json_str('traits', 'name') }} as name,  -- noqa: RF04
        {{ json_str('traits', 'company') }} as company,
        {{ json_str('traits', 'company_size') }} as company_size,
        {{ json_str('traits', 'industry') }} as industry,
        {{ json_str('traits', 'role') }} as role,  -- noqa: RF04
        {{ json_str('traits', 'plan') }} as plan,
        {{ dbt.safe_cast(json_str('traits', 'team_size'), api.Column.translate_type('integer')) }} as team_size,
        coalesce(
            {{ json_str('traits', 'utm_source') }},
            {{ json_str('context', 'campaign.source') }}
        ) as utm_source,
        {{ json_get('traits', 'features_enabled') }} as features_enabled,
        {{ json_get('traits', 'products') }} as products,
        _partition_day as loaded_day

    from source

)

select * from renamed

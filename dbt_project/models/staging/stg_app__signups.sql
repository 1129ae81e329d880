with

source as (

    select * from {{ source('raw', 'signups') }}

),

renamed as (

    select
        user_id,
        provider,
        email,
        name,
        created_at as signed_up_at,
        {{ json_str('metadata', 'company') }} as company,
        {{ json_str('metadata', 'utm_source') }} as utm_source,
        {{ json_str('metadata', 'company_size') }} as company_size,
        {{ json_str('metadata', 'industry') }} as industry,
        {{ json_str('metadata', 'role') }} as role,  -- noqa: RF04
        {{ json_str('metadata', 'plan') }} as plan,
        {{ dbt.safe_cast(json_str('metadata', 'team_size'), api.Column.translate_type('integer')) }} as team_size,
        {{ json_get('metadata', 'features_enabled') }} as features_enabled,
        {{ json_get('metadata', 'products') }} as products,
        _partition_day as loaded_day

    from source

)

select * from renamed

with

source as (

    select * from {{ source('raw', 'nps_responses') }}

),

renamed as (

    select
        response_id,
        user_id,
        survey,
        score,
        comment,
        submitted_at,
        case
            when score <= {{ var('nps_detractor_max', 6) }} then 'detractor'
            when score <= {{ var('nps_passive_max', 8) }} then 'passive'
            else 'promoter'
        end as nps_category,
        _partition_day as loaded_day

    from source

)

select * from renamed

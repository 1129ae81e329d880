with

source as (

    select * from {{ source('raw', 'support_tickets') }}

),

renamed as (

    select
        ticket_id,
        user_id,
        status,
        occurred_at,
        subject,
        channel,
        _partition_day as loaded_day

    from source

)

select * from renamed

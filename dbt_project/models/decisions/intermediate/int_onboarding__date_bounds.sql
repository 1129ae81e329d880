{#- The as-of days a run can decide: from the first signup day to the last day of the partition window
    (var end_date), or, without a window, to the last landed day. One row. -#}

with

profiles as (

    select signup_date from {{ ref('int_users__profiles') }}

),

landed_days as (

    select max(loaded_day) as loaded_day from {{ ref('int_events__unified') }}
    union all
    select max(loaded_day) as loaded_day from {{ ref('stg_app__signups') }}
    union all
    select max(loaded_day) as loaded_day from {{ ref('stg_support__tickets') }}
    union all
    select max(loaded_day) as loaded_day from {{ ref('stg_nps__responses') }}

),

last_landed as (

    select max(loaded_day) as last_landed_day from landed_days

),

first_signup as (

    select min(signup_date) as first_day from profiles

),

final as (

    select
        first_signup.first_day,
        {% if window_bound('end_date') -%}
            cast('{{ window_bound("end_date") }}' as date)
        {%- else -%}
            last_landed.last_landed_day
        {%- endif %} as last_day,
        last_landed.last_landed_day

    from first_signup
    cross join last_landed

)

select * from final

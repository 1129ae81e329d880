{#- The user x day spine of the dated decisions: one row per user per as-of day, from the signup day
    (day_number 0) for var snapshot_days days, up to the last decidable day. Carries the onboarding stage,
    which depends only on the day and the plan (var onboarding_stages). -#}

with

profiles as (

    select user_id, signed_up_at, signup_date, plan from {{ ref('int_users__profiles') }}

),

bounds as (

    select first_day, last_day from {{ ref('int_onboarding__date_bounds') }}

),

day_numbers as (

    select cast(generated_number - 1 as {{ dbt.type_int() }}) as day_number
    from ({{ dbt.generate_series(var('snapshot_days')) }}) as series

),

spine as (

    select
        profiles.user_id,
        cast({{ dbt.dateadd('day', 'day_numbers.day_number', 'profiles.signup_date') }} as date) as as_of_date,
        day_numbers.day_number,
        profiles.signed_up_at,
        profiles.signup_date,
        profiles.plan

    from profiles
    cross join bounds
    cross join day_numbers
    where
        profiles.signup_date <= bounds.last_day
        and day_numbers.day_number <= {{ days_between('profiles.signup_date', 'bounds.last_day') }}

),

final as (

    select
        user_id,
        as_of_date,
        day_number,
        signed_up_at,
        signup_date,
        plan,
        case
            {%- for stage in var('onboarding_stages') %}
                when day_number >= {{ stage['from_day'] }}
                    {%- if stage.get('plan') %} and plan = '{{ stage["plan"] }}'{% endif %}
                    then '{{ stage["stage"] }}'
            {%- endfor %}
        end as onboarding_stage

    from spine

)

select * from final

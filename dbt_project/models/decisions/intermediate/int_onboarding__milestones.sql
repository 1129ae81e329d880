{#- Step 3.1: when each milestone (var onboarding_milestones) was first reached, one row per user. A
    milestone counts once, at its first occurrence, however often its event repeats. -#}

with

events as (

    select user_id, event_name, event_at
    from {{ ref('int_events__unified') }}
    where
        user_id is not null
        and event_name in (
            {%- for m in var('onboarding_milestones') %}
                '{{ m["event"] }}'{% if not loop.last %},{% endif %}
            {%- endfor %}
        )

),

final as (

    select
        user_id,
        {%- for m in var('onboarding_milestones') %}
            min(case when event_name = '{{ m["event"] }}' then event_at end) as {{ m['milestone'] }}_at
            {%- if not loop.last %},{% endif %}
        {%- endfor %}

    from events
    group by user_id

)

select * from final

{#- The A/B layer's outcomes for Mixpanel (issue 18): one event per experiment and user once the
    experiment's metric is decided (ab_exposures.is_analysed: the metric window is over). event_key is
    the event's $insert_id, an md5 of experiment and user, so a resend is deduplicated by Mixpanel. -#}

with

exposures as (

    select * from {{ ref('ab_exposures') }}
    where is_analysed

),

final as (

    select
        {{ dbt.hash(dbt.concat(['experiment_id', "':'", 'user_id'])) }} as event_key,
        user_id,
        experiment_id,
        variant,
        metric,
        is_converted,
        cast(days_to_metric as {{ type_double() }}) as days_to_metric,
        window_end_at as decided_at,
        as_of_date

    from exposures

)

select * from final

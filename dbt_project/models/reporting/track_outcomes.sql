{#- The outcomes per onboarding track and signup-week cohort (weeks start on Monday). Rates are over the
    users whose outcome is observable (see onboarding_outcomes); the *_users columns are the denominators
    and numerators. The *_in_window rates (within var outcome_ttv_window_days of signup) are the unbiased
    time-to-value measures; the medians of days to value are over the users who reached it so far (read
    them with the reached counts: a young cohort has only its fast users in them). net_promoter_score is
    % promoters (9-10) - % detractors (0-6) over the latest answers. -#}

with

outcomes as (

    select * from {{ ref('onboarding_outcomes') }}

),

flagged as (

    select
        coalesce(track, 'unassigned') as track,
        signup_week,
        as_of_date,
        days_to_first_query,
        days_to_activation,
        nps_score,
        csm_touches,
        case when is_completion_observable then 1 else 0 end as is_completion_observable,
        case when onboarding_completed then 1 else 0 end as is_completed,
        case when is_ttv_window_observable then 1 else 0 end as is_ttv_window_observable,
        case when first_query_in_window then 1 else 0 end as is_first_query_in_window,
        case when activated_in_window then 1 else 0 end as is_activated_in_window,
        case when first_query_at is not null then 1 else 0 end as has_first_query,
        case when activated_at is not null then 1 else 0 end as is_activated,
        case when is_churn_observable then 1 else 0 end as is_churn_observable,
        case when churned then 1 else 0 end as is_churned,
        case when nps_score is not null then 1 else 0 end as has_nps,
        case when nps_category = 'promoter' then 1 when nps_category = 'detractor' then -1 else 0 end as nps_sign

    from outcomes

),

aggregated as (

    select
        track,
        signup_week,
        max(as_of_date) as as_of_date,
        cast(count(*) as {{ dbt.type_bigint() }}) as users,  -- noqa: RF04
        cast(sum(is_completion_observable) as {{ dbt.type_bigint() }}) as completion_observable_users,
        cast(sum(is_completed) as {{ dbt.type_bigint() }}) as completed_users,
        cast(sum(is_ttv_window_observable) as {{ dbt.type_bigint() }}) as ttv_window_observable_users,
        cast(sum(is_first_query_in_window) as {{ dbt.type_bigint() }}) as first_query_in_window_users,
        cast(sum(is_activated_in_window) as {{ dbt.type_bigint() }}) as activated_in_window_users,
        cast(sum(has_first_query) as {{ dbt.type_bigint() }}) as first_query_users,
        {{ median('days_to_first_query') }} as median_days_to_first_query,
        cast(sum(is_activated) as {{ dbt.type_bigint() }}) as activated_users,
        {{ median('days_to_activation') }} as median_days_to_activation,
        cast(sum(is_churn_observable) as {{ dbt.type_bigint() }}) as churn_observable_users,
        cast(sum(is_churned) as {{ dbt.type_bigint() }}) as churned_users,
        cast(sum(has_nps) as {{ dbt.type_bigint() }}) as nps_responses,
        avg(cast(nps_score as {{ type_double() }})) as avg_nps_score,
        cast(sum(nps_sign) as {{ type_double() }}) as nps_balance,
        cast(sum(csm_touches) as {{ dbt.type_bigint() }}) as csm_touches

    from flagged
    group by track, signup_week

),

final as (

    select
        track,
        signup_week,
        as_of_date,
        users,
        completion_observable_users,
        completed_users,
        completed_users * 1.0 / nullif(completion_observable_users, 0) as completion_rate,
        ttv_window_observable_users,
        first_query_in_window_users,
        first_query_in_window_users * 1.0 / nullif(ttv_window_observable_users, 0) as first_query_in_window_rate,
        activated_in_window_users,
        activated_in_window_users * 1.0 / nullif(ttv_window_observable_users, 0) as activated_in_window_rate,
        first_query_users,
        median_days_to_first_query,
        activated_users,
        median_days_to_activation,
        churn_observable_users,
        churned_users,
        churned_users * 1.0 / nullif(churn_observable_users, 0) as churn_rate,
        nps_responses,
        avg_nps_score,
        100.0 * nps_balance / nullif(nps_responses, 0) as net_promoter_score,
        csm_touches,
        csm_touches * 1.0 / users as csm_touches_per_user

    from aggregated

)

select * from final

{#- The A/B report: per experiment and variant, the users analysed, their conversions on the experiment's
    metric, and the statistics against the control (macro ab_variant_statistics; docs/analytics.md gives
    the formulas and tests/reporting/test_statistics.py checks them against scipy).
    A user is analysed once the metric window is over (ab_exposures.is_analysed): counting younger users
    would compare unequal exposure times, so they only count in assigned_users (which the sample-ratio
    check uses). A conversion is the metric reached within the window (ab_exposures.is_converted). -#}

with

experiments as (

    select * from {{ ref('experiments') }}

),

variants as (

    select * from {{ ref('experiment_variants') }}

),

exposures as (

    select experiment_id, variant, user_id, is_analysed, is_converted from {{ ref('ab_exposures') }}

),

bounds as (

    select last_day from {{ ref('int_onboarding__date_bounds') }}

),

variant_counts as (

    select
        variants.experiment_id,
        variants.variant,
        variants.is_control,
        variants.weight,
        cast(count(exposures.user_id) as {{ dbt.type_bigint() }}) as assigned_users,
        cast(sum(case when exposures.is_analysed then 1 else 0 end) as {{ dbt.type_bigint() }}) as users,  -- noqa: RF04
        cast(
            sum(case when exposures.is_analysed and exposures.is_converted then 1 else 0 end)
            as {{ dbt.type_bigint() }}
        ) as conversions,
        experiments.alpha,
        experiments.srm_alpha,
        experiments.min_users_per_variant

    from variants
    inner join experiments on variants.experiment_id = experiments.experiment_id
    left join exposures
        on
            variants.experiment_id = exposures.experiment_id
            and variants.variant = exposures.variant
    group by
        variants.experiment_id,
        variants.variant,
        variants.is_control,
        variants.weight,
        experiments.alpha,
        experiments.srm_alpha,
        experiments.min_users_per_variant

),

variant_statistics as (

    {{ ab_variant_statistics('variant_counts') }}

),

final as (

    select
        variant_statistics.experiment_id,
        variant_statistics.variant,
        variants.variant_order,
        variant_statistics.is_control,
        experiments.metric,
        experiments.metric_window_days,
        bounds.last_day as as_of_date,
        variant_statistics.expected_share,
        variant_statistics.assigned_users,
        variant_statistics.observed_share,
        variant_statistics.users,
        variant_statistics.conversions,
        variant_statistics.rate,
        variant_statistics.rate_ci_low,
        variant_statistics.rate_ci_high,
        variant_statistics.control_rate,
        variant_statistics.abs_lift,
        variant_statistics.abs_lift_ci_low,
        variant_statistics.abs_lift_ci_high,
        variant_statistics.rel_lift,
        variant_statistics.rel_lift_ci_low,
        variant_statistics.rel_lift_ci_high,
        variant_statistics.z_score,
        variant_statistics.p_value,
        experiments.alpha,
        variant_statistics.decision_alpha,
        variant_statistics.is_significant,
        variant_statistics.srm_chi2,
        variant_statistics.srm_df,
        variant_statistics.srm_p_value,
        variant_statistics.has_srm,
        experiments.min_users_per_variant,
        variant_statistics.status,
        variant_statistics.winner

    from variant_statistics
    inner join experiments on variant_statistics.experiment_id = experiments.experiment_id
    inner join variants
        on
            variant_statistics.experiment_id = variants.experiment_id
            and variant_statistics.variant = variants.variant
    cross join bounds

)

select * from final

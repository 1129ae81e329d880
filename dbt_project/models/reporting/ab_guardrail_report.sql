{#- The guardrails of each experiment: one row per (experiment, guardrail, variant) with the per-user mean of
    the guardrail metric, its difference from the control and the harm test (macro ab_guardrail_statistics:
    one-sided, fixed horizon or always valid as the experiment is configured). A broken guardrail keeps a
    variant that wins the primary metric from being the winner (ab_cohort_report.status). -#}

with

guardrails as (

    select experiment_id, guardrail, metric, window_days, alpha from {{ ref('experiment_guardrails') }}

),

experiments as (

    select experiment_id, is_sequential, horizon_users_per_variant from {{ ref('experiments') }}

),

variants as (

    select experiment_id, variant, variant_order, is_control from {{ ref('experiment_variants') }}

),

variant_totals as (

    select
        experiment_id,
        count(*) as variants

    from variants
    group by experiment_id

),

values_by_user as (

    select experiment_id, guardrail, variant, is_analysed, metric_value, as_of_date
    from {{ ref('ab_guardrail_exposures') }}

),

bounds as (

    select last_day from {{ ref('int_onboarding__date_bounds') }}

),

guardrail_counts as (

    select
        guardrails.experiment_id,
        guardrails.guardrail,
        variants.variant,
        variants.is_control,
        cast(
            sum(case when values_by_user.is_analysed then 1 else 0 end) as {{ dbt.type_bigint() }}
        ) as users,  -- noqa: RF04
        coalesce(sum(case when values_by_user.is_analysed then values_by_user.metric_value end), 0) as sum_value,
        coalesce(
            sum(
                case
                    when values_by_user.is_analysed then values_by_user.metric_value * values_by_user.metric_value
                end
            ),
            0
        ) as sum_value_sq,
        guardrails.alpha,
        experiments.is_sequential,
        experiments.horizon_users_per_variant,
        variant_totals.variants

    from guardrails
    inner join experiments on guardrails.experiment_id = experiments.experiment_id
    inner join variants on guardrails.experiment_id = variants.experiment_id
    inner join variant_totals on guardrails.experiment_id = variant_totals.experiment_id
    left join values_by_user
        on
            guardrails.experiment_id = values_by_user.experiment_id
            and guardrails.guardrail = values_by_user.guardrail
            and variants.variant = values_by_user.variant
    group by
        guardrails.experiment_id,
        guardrails.guardrail,
        variants.variant,
        variants.is_control,
        guardrails.alpha,
        experiments.is_sequential,
        experiments.horizon_users_per_variant,
        variant_totals.variants

),

guardrail_statistics as (

    {{ ab_guardrail_statistics('guardrail_counts') }}

),

final as (

    select
        guardrail_statistics.experiment_id,
        guardrail_statistics.guardrail,
        guardrails.metric,
        guardrails.window_days,
        guardrail_statistics.variant,
        variants.variant_order,
        guardrail_statistics.is_control,
        bounds.last_day as as_of_date,
        guardrail_statistics.users,
        guardrail_statistics.mean,
        guardrail_statistics.control_mean,
        guardrail_statistics.diff,
        guardrail_statistics.diff_ci_low,
        guardrail_statistics.diff_ci_high,
        guardrail_statistics.z_score,
        guardrail_statistics.harm_p_value,
        guardrail_statistics.alpha,
        guardrail_statistics.is_sequential,
        guardrail_statistics.seq_diff_ci_low,
        guardrail_statistics.seq_diff_ci_high,
        guardrail_statistics.seq_p_value,
        guardrail_statistics.is_broken

    from guardrail_statistics
    inner join guardrails
        on
            guardrail_statistics.experiment_id = guardrails.experiment_id
            and guardrail_statistics.guardrail = guardrails.guardrail
    inner join variants
        on
            guardrail_statistics.experiment_id = variants.experiment_id
            and guardrail_statistics.variant = variants.variant
    cross join bounds

)

select * from final

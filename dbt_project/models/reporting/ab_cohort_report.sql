{#- The A/B report: per experiment and variant, the users analysed, their conversions on the experiment's
    metric, and the statistics against the control (macro ab_variant_statistics; docs/analytics.md gives
    the formulas and tests/reporting/test_statistics.py checks them against scipy).
    A user is analysed once the metric window is over (ab_exposures.is_analysed): counting younger users
    would compare unequal exposure times, so they only count in assigned_users (which the sample-ratio
    check uses). A conversion is the metric reached within the window (ab_exposures.is_converted).
    Beside the fixed-horizon test: CUPED on the pre-exposure covariate (ab_exposures.pre_exposure_events),
    the always-valid confidence sequence (used for the status of experiments with is_sequential), and the
    guardrails (ab_guardrail_report): a variant that breaks one is never the winner. -#}

with

experiments as (

    select * from {{ ref('experiments') }}

),

variants as (

    select * from {{ ref('experiment_variants') }}

),

exposures as (

    select experiment_id, variant, user_id, is_analysed, is_converted, pre_exposure_events
    from {{ ref('ab_exposures') }}

),

guardrail_breaks as (

    select
        experiment_id,
        variant,
        max(case when is_broken then 1 else 0 end) = 1 as guardrail_broken,
        {{ dbt.listagg('case when is_broken then guardrail end', "', '", 'order by guardrail') }} as broken_guardrails

    from {{ ref('ab_guardrail_report') }}
    group by experiment_id, variant

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
        {{ ab_variant_sums('exposures', 'exposures.is_analysed') }},
        experiments.alpha,
        {{ ab_experiment_settings() }}

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
        {{ ab_experiment_settings() }}

),

guarded_counts as (

    select
        variant_counts.*,
        coalesce(guardrail_breaks.guardrail_broken, false) as guardrail_broken

    from variant_counts
    left join guardrail_breaks
        on
            variant_counts.experiment_id = guardrail_breaks.experiment_id
            and variant_counts.variant = guardrail_breaks.variant

),

variant_statistics as (

    {{ ab_variant_statistics('guarded_counts') }}

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
        variant_statistics.covariate_mean,
        variant_statistics.cuped_theta,
        variant_statistics.cuped_rate,
        variant_statistics.cuped_abs_lift,
        variant_statistics.cuped_abs_lift_ci_low,
        variant_statistics.cuped_abs_lift_ci_high,
        variant_statistics.cuped_p_value,
        variant_statistics.variance_reduction,
        variant_statistics.is_sequential,
        variant_statistics.horizon_users_per_variant,
        variant_statistics.seq_abs_lift_ci_low,
        variant_statistics.seq_abs_lift_ci_high,
        variant_statistics.seq_p_value,
        variant_statistics.seq_is_significant,
        variant_statistics.guardrail_broken,
        guardrail_breaks.broken_guardrails,
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
    left join guardrail_breaks
        on
            variant_statistics.experiment_id = guardrail_breaks.experiment_id
            and variant_statistics.variant = guardrail_breaks.variant
    cross join bounds

)

select * from final

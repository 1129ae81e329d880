{#- The A/B report as it read on each day: one row per (experiment, snapshot day, variant), the snapshot days
    being every exposure day up to the as-of day and the as-of day itself. On day D a user counts once the
    metric window is over by the end of D (window_end_at <= D + 1 day), exactly as the report run on D
    counted them, so an analyst sees the confidence sequence (seq_abs_lift_ci_low/high) narrow while the
    fixed-horizon interval, read daily, would have crossed 0 by chance. Primary metric only: status_primary
    is the report's status without the guardrails (judged on the final data in ab_guardrail_report). -#}

with

experiments as (

    select * from {{ ref('experiments') }}

),

variants as (

    select * from {{ ref('experiment_variants') }}

),

exposures as (

    select
        experiment_id,
        variant,
        user_id,
        exposure_date,
        window_end_at,
        is_converted,
        pre_exposure_events,
        as_of_date

    from {{ ref('ab_exposures') }}

),

snapshot_days as (

    select distinct experiment_id, exposure_date as snapshot_date from exposures
    union
    select distinct experiment_id, as_of_date as snapshot_date from exposures

),

variant_counts as (

    select
        snapshot_days.experiment_id,
        snapshot_days.snapshot_date,
        variants.variant,
        variants.is_control,
        variants.weight,
        {{ ab_variant_sums(
            'exposures',
            analysed='exposures.window_end_at <= ' ~ as_of_end('snapshot_days.snapshot_date'),
            assigned='exposures.exposure_date <= snapshot_days.snapshot_date',
        ) }},
        experiments.alpha,
        {{ ab_experiment_settings() }},
        false as guardrail_broken

    from snapshot_days
    inner join experiments on snapshot_days.experiment_id = experiments.experiment_id
    inner join variants on snapshot_days.experiment_id = variants.experiment_id
    left join exposures
        on
            snapshot_days.experiment_id = exposures.experiment_id
            and variants.variant = exposures.variant
    group by
        snapshot_days.experiment_id,
        snapshot_days.snapshot_date,
        variants.variant,
        variants.is_control,
        variants.weight,
        experiments.alpha,
        {{ ab_experiment_settings() }}

),

variant_statistics as (

    {{ ab_variant_statistics('variant_counts', keys=['experiment_id', 'snapshot_date']) }}

),

final as (

    select
        experiment_id,
        snapshot_date,
        variant,
        is_control,
        assigned_users,
        users,
        conversions,
        rate,
        abs_lift,
        abs_lift_ci_low,
        abs_lift_ci_high,
        p_value,
        decision_alpha,
        is_significant,
        cuped_abs_lift,
        cuped_abs_lift_ci_low,
        cuped_abs_lift_ci_high,
        variance_reduction,
        is_sequential,
        seq_abs_lift_ci_low,
        seq_abs_lift_ci_high,
        -- the running intersection of the days' sequences: every day's is valid at once (time-uniform),
        -- so their intersection is too, and it never widens back
        max(seq_abs_lift_ci_low) over (
            partition by experiment_id, variant order by snapshot_date
            rows between unbounded preceding and current row
        ) as seq_running_ci_low,
        min(seq_abs_lift_ci_high) over (
            partition by experiment_id, variant order by snapshot_date
            rows between unbounded preceding and current row
        ) as seq_running_ci_high,
        seq_p_value,
        seq_is_significant,
        srm_p_value,
        status as status_primary

    from variant_statistics

)

select * from final

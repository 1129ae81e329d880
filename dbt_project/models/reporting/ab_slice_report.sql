{#- The A/B report by slice: one row per (experiment, slice dimension, slice value, variant), the dimensions
    being rule_track (the decision table's track for the profile: a pre-exposure attribute, unlike the track
    the user got, which the trial experiment changes), plan and signup_week. Same statistics as
    ab_cohort_report (macro ab_variant_statistics) on the slice's users, judged on the primary metric only
    (guardrails are judged per experiment), with the multiple-comparison correction stated in
    decision_alpha: Bonferroni over the slices of the dimension and the comparisons with the control,
    alpha / (slices * (variants - 1)). -#}

with

experiments as (

    select * from {{ ref('experiments') }}

),

variants as (

    select * from {{ ref('experiment_variants') }}

),

exposures as (

    select * from {{ ref('ab_exposures') }}

),

bounds as (

    select last_day from {{ ref('int_onboarding__date_bounds') }}

),

sliced as (

    {%- for dimension in ['rule_track', 'plan', 'signup_week'] %}

        select
            experiment_id,
            variant,
            user_id,
            is_analysed,
            is_converted,
            pre_exposure_events,
            '{{ dimension }}' as slice_dimension,
            coalesce(cast({{ dimension }} as {{ dbt.type_string() }}), '(unknown)') as slice_value

        from exposures
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

slice_values as (

    select distinct experiment_id, slice_dimension, slice_value from sliced

),

slice_counts as (

    select
        experiment_id,
        slice_dimension,
        count(*) as slices

    from slice_values
    group by experiment_id, slice_dimension

),

variant_counts as (

    select
        slice_values.experiment_id,
        slice_values.slice_dimension,
        slice_values.slice_value,
        variants.variant,
        variants.is_control,
        variants.weight,
        {{ ab_variant_sums('sliced', 'sliced.is_analysed') }},
        experiments.alpha / slice_counts.slices as alpha,
        {{ ab_experiment_settings() }},
        false as guardrail_broken

    from slice_values
    inner join experiments on slice_values.experiment_id = experiments.experiment_id
    inner join variants on slice_values.experiment_id = variants.experiment_id
    inner join slice_counts
        on
            slice_values.experiment_id = slice_counts.experiment_id
            and slice_values.slice_dimension = slice_counts.slice_dimension
    left join sliced
        on
            slice_values.experiment_id = sliced.experiment_id
            and slice_values.slice_dimension = sliced.slice_dimension
            and slice_values.slice_value = sliced.slice_value
            and variants.variant = sliced.variant
    group by
        slice_values.experiment_id,
        slice_values.slice_dimension,
        slice_values.slice_value,
        variants.variant,
        variants.is_control,
        variants.weight,
        experiments.alpha,
        slice_counts.slices,
        {{ ab_experiment_settings() }}

),

variant_statistics as (

    {{ ab_variant_statistics('variant_counts', keys=['experiment_id', 'slice_dimension', 'slice_value']) }}

),

final as (

    select
        variant_statistics.experiment_id,
        variant_statistics.slice_dimension,
        variant_statistics.slice_value,
        slice_counts.slices,
        variant_statistics.variant,
        variants.variant_order,
        variant_statistics.is_control,
        experiments.metric,
        bounds.last_day as as_of_date,
        variant_statistics.assigned_users,
        variant_statistics.users,
        variant_statistics.conversions,
        variant_statistics.rate,
        variant_statistics.rate_ci_low,
        variant_statistics.rate_ci_high,
        variant_statistics.control_rate,
        variant_statistics.abs_lift,
        variant_statistics.abs_lift_ci_low,
        variant_statistics.abs_lift_ci_high,
        variant_statistics.p_value,
        experiments.alpha,
        variant_statistics.decision_alpha,
        variant_statistics.is_significant,
        variant_statistics.cuped_abs_lift,
        variant_statistics.variance_reduction,
        variant_statistics.seq_abs_lift_ci_low,
        variant_statistics.seq_abs_lift_ci_high,
        variant_statistics.seq_p_value,
        variant_statistics.srm_p_value,
        variant_statistics.has_srm,
        variant_statistics.status,
        variant_statistics.winner

    from variant_statistics
    inner join experiments on variant_statistics.experiment_id = experiments.experiment_id
    inner join variants
        on
            variant_statistics.experiment_id = variants.experiment_id
            and variant_statistics.variant = variants.variant
    inner join slice_counts
        on
            variant_statistics.experiment_id = slice_counts.experiment_id
            and variant_statistics.slice_dimension = slice_counts.slice_dimension
    cross join bounds

)

select * from final

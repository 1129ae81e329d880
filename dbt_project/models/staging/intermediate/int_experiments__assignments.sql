{#- Deterministic experiment assignment: one row per experiment and enrolled user. A user is enrolled when
    the experiment's segment matches the profile and the signup day is inside [starts_on, ends_on]; the
    variant is the one whose slice of [0, 1) (weights in variant_order) holds the user's bucket, the md5
    hash of "experiment_id:user_id" (macro experiment_bucket; the generator uses the same formula). The
    exposure is the signup: the variant changes what the user gets from the first message on. -#}

with

experiments as (

    select * from {{ ref('experiments') }}

),

variants as (

    select * from {{ ref('experiment_variants') }}

),

profiles as (

    select user_id, signed_up_at, signup_date, plan, company_size, industry, signup_source
    from {{ ref('int_users__profiles') }}

),

variant_slices as (

    select
        *,
        (
            sum(weight) over (
                partition by experiment_id order by variant_order
                rows between unbounded preceding and current row
            ) - weight
        ) / sum(weight) over (partition by experiment_id) as bucket_from,
        sum(weight) over (
            partition by experiment_id order by variant_order
            rows between unbounded preceding and current row
        ) / sum(weight) over (partition by experiment_id) as bucket_to

    from variants

),

enrolled as (

    select
        experiments.experiment_id,
        experiments.priority as experiment_priority,
        profiles.user_id,
        profiles.signed_up_at,
        profiles.signup_date

    from experiments
    inner join profiles
        on
            (experiments.segment_plan is null or experiments.segment_plan = profiles.plan)
            and (
                experiments.segment_company_size is null
                or experiments.segment_company_size = profiles.company_size
            )
            and (experiments.segment_industry is null or experiments.segment_industry = profiles.industry)
            and (
                experiments.segment_signup_source is null
                or experiments.segment_signup_source = profiles.signup_source
            )
            and (experiments.starts_on is null or experiments.starts_on <= profiles.signup_date)
            and (experiments.ends_on is null or experiments.ends_on >= profiles.signup_date)
    where profiles.signed_up_at is not null

),

bucketed as (

    select
        *,
        {{ experiment_bucket('experiment_id', 'user_id') }} as bucket

    from enrolled

),

final as (

    select
        bucketed.experiment_id,
        bucketed.user_id,
        variant_slices.variant,
        variant_slices.is_control,
        bucketed.bucket,
        bucketed.signed_up_at as exposed_at,
        bucketed.signup_date as exposure_date,
        bucketed.experiment_priority,
        variant_slices.track_override,
        variant_slices.template_variant,
        variant_slices.nudge_silence_hours

    from bucketed
    inner join variant_slices
        on
            bucketed.experiment_id = variant_slices.experiment_id
            and bucketed.bucket >= variant_slices.bucket_from
            and bucketed.bucket < variant_slices.bucket_to

)

select * from final

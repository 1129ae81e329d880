{#- Every experiment has exactly one control variant (the A/B report compares each variant with it). -#}

{{ config(meta={'dagster': {'ref': {'name': 'experiment_variants'}}}) }}

with

experiments as (

    select experiment_id from {{ ref('experiments') }}

),

variants as (

    select experiment_id, is_control from {{ ref('experiment_variants') }}

),

final as (

    select
        experiments.experiment_id,
        sum(case when variants.is_control then 1 else 0 end) as controls

    from experiments
    left join variants on experiments.experiment_id = variants.experiment_id
    group by experiments.experiment_id
    having sum(case when variants.is_control then 1 else 0 end) <> 1

)

select * from final

{{ config(schema='staging', materialized='view') }}

{#- The day-14 playbooks the AI step wrote (LLM, cache or template), as the decision models read them:
    one place that names the source, so a column change in ai.playbooks is absorbed here. -#}

with

source as (

    select * from {{ source('ai', 'playbooks') }}

),

renamed as (

    select
        user_id,
        as_of_date,
        subject,
        html,
        status,
        reason,
        model,
        prompt_version,
        features,
        generated_at

    from source

)

select * from renamed

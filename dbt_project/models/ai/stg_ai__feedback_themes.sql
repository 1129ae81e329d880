{{ config(schema='staging', materialized='view') }}

{#- The classified feedback answers the AI step wrote (LLM, cache or the keyword classifier), as the
    reporting models read them: one place that names the source. -#}

with

source as (

    select * from {{ source('ai', 'feedback_themes') }}

),

renamed as (

    select
        response_id,
        user_id,
        survey,
        score,
        theme,
        summary,
        source,
        reason,
        model,
        prompt_version,
        submitted_at,
        classified_at

    from source

)

select * from renamed

{{ config(schema='staging', materialized='view') }}

{#- The LLM journey answers the AI step wrote (llm, cache or fallback rows), as the decision models read
    them: one place that names the source, so a column change in ai.track_assignments is absorbed here.
    A user without a row was not sent (LLM off, or a rule-only track such as enterprise_custom). -#}

with

source as (

    select * from {{ source('ai', 'track_assignments') }}

),

renamed as (

    select
        user_id,
        profile_signature,
        model,
        prompt_version,
        llm_track,
        confidence,
        explanation,
        status,
        reason,
        assigned_at

    from source

)

select * from renamed

{{ config(materialized='view') }}

{#- Phase 1.2 journey assignment: the single place a user's assigned track is chosen, in three layers:
    1. the decision table (int_onboarding__rule_tracks): track_source 'rules';
    2. the LLM answer (stg_ai__track_assignments, docs/ai.md), used when its status is llm or cache and
       the track is a known one; a fallback row keeps the rule track with track_source 'fallback' and why;
    3. a colleague an enterprise primary contact named in the stakeholder map before they signed up
       (int_stakeholders__namings; the latest such naming) gets the track of the role they were named
       with: track_source 'stakeholder_map'. The contact's word on a colleague's role is firmer than a
       guess from the signup profile; namings after the signup never change it (a decision is never
       rewritten by late news, docs/rules.md);
    4. an experiment variant that overrides the track (int_onboarding__rule_tracks.track_override,
       docs/analytics.md) wins over all: track_source 'experiment'.
    rule_track always keeps the decision table's choice, so analysts can compare the layers.
    A view: a few joins over one row per user, so every reader (the decision models, `onboarding ai
    eval`) sees the layering over the AI step's latest rows without a rebuild. -#}

with

rule_tracks as (

    select * from {{ ref('int_onboarding__rule_tracks') }}

),

llm_assignments as (

    select user_id, llm_track, confidence, explanation, status, reason, model
    from {{ ref('stg_ai__track_assignments') }}

),

-- a colleague's latest naming at or before their signup (a later answer never changes a decided track)
named_colleagues as (

    select user_id, role_track, role_reason
    from (
        select
            stakeholder_user_id as user_id,
            role_track,
            -- the seed's reason for the role, not the typed role (free text, which could hold a name)
            {{ dbt.concat([
                "'named in the stakeholder map of account '", 'account_id', "': '",
                "coalesce(role_track_reason, role_track)",
            ]) }} as role_reason,
            row_number() over (
                partition by stakeholder_user_id
                order by named_at desc, response_token desc, stakeholder_slot asc
            ) as naming_rank
        from {{ ref('int_stakeholders__namings') }}
        where role_track is not null and named_at <= stakeholder_signed_up_at
    ) as namings_before_signup
    where naming_rank = 1

),

known_tracks as (

    select track from {{ ref('onboarding_track_content') }}

),

layered as (

    select
        rule_tracks.*,
        llm_assignments.llm_track,
        llm_assignments.confidence as llm_confidence,
        llm_assignments.explanation as llm_explanation,
        llm_assignments.reason as llm_fallback_reason,
        llm_assignments.model as llm_model,
        coalesce(
            llm_assignments.status in ('llm', 'cache') and known_tracks.track is not null, false
        ) as has_llm_track,
        llm_assignments.status as llm_status,
        named_colleagues.role_track,
        named_colleagues.role_reason

    from rule_tracks
    left join llm_assignments on rule_tracks.user_id = llm_assignments.user_id
    left join named_colleagues on rule_tracks.user_id = named_colleagues.user_id
    left join known_tracks on llm_assignments.llm_track = known_tracks.track

),

final as (

    select
        user_id,
        role_group,
        case
            when track_override is not null then track_override
            when role_track is not null then role_track
            when has_llm_track then llm_track
            else rule_track
        end as track,
        case
            when track_override is not null then 'experiment'
            when role_track is not null then 'stakeholder_map'
            when has_llm_track then llm_status
            when llm_status is not null then 'fallback'
            else 'rules'
        end as track_source,
        track_rule,
        case
            when track_override is not null then track_override_reason
            when role_track is not null then role_reason
            when has_llm_track
                then {{ dbt.concat([
                    "'LLM ('", 'llm_model', "', confidence '",
                    as_text('round(llm_confidence, 2)'),
                    "'): '", "coalesce(llm_explanation, '')",
                ]) }}
            when llm_status is not null
                then {{ dbt.concat([
                    'rule_reason', "' (LLM fallback: '", "coalesce(llm_fallback_reason, 'unknown')", "')'",
                ]) }}
            else rule_reason
        end as track_reason,
        rule_track,
        case
            when llm_status is not null and not has_llm_track then coalesce(llm_fallback_reason, 'unknown')
        end as llm_fallback_reason

    from layered

)

select * from final

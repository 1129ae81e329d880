{#- Phase 1.2 journey assignment: the single place a user's assigned track is chosen, in three layers:
    1. the decision table seed (first matching rule by priority): track_source 'rules';
    2. the LLM answer in ai.track_assignments (docs/ai.md), used when its status is llm or cache and the
       track is in the enum; a fallback row keeps the rule track with track_source 'fallback' and why;
    3. an experiment variant that overrides the track (int_experiments__user_overrides,
       docs/analytics.md) wins over both: track_source 'experiment'.
    rule_track always keeps the decision table's choice, so analysts can compare the layers. -#}

with

profiles as (

    select user_id, plan, role, company_size, industry, signup_source
    from {{ ref('int_users__profiles') }}

),

role_groups as (

    select * from {{ ref('onboarding_role_groups') }}

),

track_rules as (

    select * from {{ ref('onboarding_track_rules') }}

),

llm_assignments as (

    select user_id, llm_track, confidence, explanation, status, reason, model
    from {{ source('ai', 'track_assignments') }}

),

known_tracks as (

    select track from {{ ref('onboarding_track_content') }}

),

overrides as (

    select user_id, track_override, track_override_reason
    from {{ ref('int_experiments__user_overrides') }}
    where track_override is not null

),

users as (

    select
        *,
        {{ normalize_role('role') }} as role_key

    from profiles

),

role_matches as (

    select
        users.user_id,
        role_groups.role_group,
        row_number() over (partition by users.user_id order by role_groups.priority) as match_rank

    from users
    inner join role_groups
        on
            (role_groups.match_type = 'exact' and users.role_key = role_groups.pattern)
            or (
                role_groups.match_type = 'prefix'
                and users.role_key like {{ dbt.concat(['role_groups.pattern', "'%'"]) }}
            )
            or (
                role_groups.match_type = 'contains'
                and users.role_key like {{ dbt.concat(["'%'", 'role_groups.pattern', "'%'"]) }}
            )

),

users_grouped as (

    select
        users.*,
        coalesce(role_matches.role_group, 'unknown') as role_group

    from users
    left join role_matches
        on
            users.user_id = role_matches.user_id
            and role_matches.match_rank = 1

),

rule_matches as (

    select
        users_grouped.*,
        track_rules.rule_id,
        track_rules.track,
        track_rules.reason,
        row_number() over (partition by users_grouped.user_id order by track_rules.priority) as rule_rank

    from users_grouped
    inner join track_rules
        on
            (track_rules.plan is null or users_grouped.plan = track_rules.plan)
            and (track_rules.role_group is null or users_grouped.role_group = track_rules.role_group)
            and (track_rules.company_size is null or users_grouped.company_size = track_rules.company_size)
            and (track_rules.industry is null or users_grouped.industry = track_rules.industry)
            and (track_rules.signup_source is null or users_grouped.signup_source = track_rules.signup_source)

),

rule_tracks as (

    select
        user_id,
        role_group,
        track,
        rule_id as track_rule,
        {{ render_template('reason', {'plan': 'plan', 'role': 'role'}) }} as track_reason

    from rule_matches
    where rule_rank = 1

),

layered as (

    select
        rule_tracks.*,
        llm_assignments.llm_track,
        llm_assignments.confidence as llm_confidence,
        llm_assignments.explanation as llm_explanation,
        llm_assignments.reason as llm_fallback_reason,
        llm_assignments.model as llm_model,
        overrides.track_override,
        overrides.track_override_reason,
        coalesce(
            llm_assignments.status in ('llm', 'cache') and known_tracks.track is not null, false
        ) as has_llm_track,
        llm_assignments.status as llm_status

    from rule_tracks
    left join llm_assignments on rule_tracks.user_id = llm_assignments.user_id
    left join known_tracks on llm_assignments.llm_track = known_tracks.track
    left join overrides on rule_tracks.user_id = overrides.user_id

),

final as (

    select
        user_id,
        role_group,
        case
            when track_override is not null then track_override
            when has_llm_track then llm_track
            else track
        end as track,
        case
            when track_override is not null then 'experiment'
            when has_llm_track then llm_status
            when llm_status is not null then 'fallback'
            else 'rules'
        end as track_source,
        track_rule,
        case
            when track_override is not null then track_override_reason
            when has_llm_track
                then {{ dbt.concat([
                    "'LLM ('", 'llm_model', "', confidence '",
                    as_text('round(llm_confidence, 2)'),
                    "'): '", "coalesce(llm_explanation, '')",
                ]) }}
            when llm_status is not null
                then {{ dbt.concat([
                    'track_reason', "' (LLM fallback: '", "coalesce(llm_fallback_reason, 'unknown')", "')'",
                ]) }}
            else track_reason
        end as track_reason,
        track as rule_track

    from layered

)

select * from final

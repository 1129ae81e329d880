{#- Phase 1.2 journey assignment without the LLM: the decision table and the experiment layer, one row
    per user. Built in the step before the Python AI assets, so the AI journey step reads its rule
    result (the enterprise guard) from here instead of re-deriving it, and int_onboarding__tracks
    adds the LLM layer on top of it.
    1. the decision table seed: the first rule by priority whose conditions match the user's plan,
       role group (seed onboarding_role_groups), company size, industry and signup source;
    2. an experiment variant's track override (int_experiments__user_overrides), which wins over the
       LLM too (int_onboarding__tracks). -#}

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

final as (

    select
        rule_matches.user_id,
        rule_matches.role_group,
        rule_matches.track as rule_track,
        rule_matches.rule_id as track_rule,
        {{ render_template('rule_matches.reason', {'plan': 'rule_matches.plan', 'role': 'rule_matches.role'}) }}
            as rule_reason,
        overrides.track_override,
        overrides.track_override_reason

    from rule_matches
    left join overrides on rule_matches.user_id = overrides.user_id
    where rule_matches.rule_rank = 1

)

select * from final

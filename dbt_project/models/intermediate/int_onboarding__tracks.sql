{#- Phase 1.2 journey assignment: the single place a user's assigned track is chosen. Rules from the
    decision table seed (first matching rule by priority); track_source says where the track came from
    ('rules' here). A later model (the LLM issue) can override track and track_source, keeping this shape. -#}

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
        user_id,
        role_group,
        track,
        'rules' as track_source,
        rule_id as track_rule,
        {{ render_template('reason', {'plan': 'plan', 'role': 'role'}) }} as track_reason

    from rule_matches
    where rule_rank = 1

)

select * from final

{#- Weekly power-ups (the seed's "product power-ups" tip): for users who reach the advanced milestones
    (var power_up_milestones) by day var power_up_qualify_by_day, one hidden feature per power-up day:
    the day they qualify, then every `power_up_every_days` days of their assigned track's policy (seed
    onboarding_track_policies; 0 = none) while in the onboarding period, at most var power_up_max.

    The feature: one they have not used by the end of that day, chosen by the users with a similar
    behaviour pattern: every feature the user has used votes, with the number of users who used both
    (int_onboarding__feature_affinity_daily, as of that day), for each feature they have not; the most
    voted wins (ties by feature name). Never the same feature twice: each week's pick excludes the earlier
    weeks' picks; the sequence stops at the first week with no feature left (nothing unused has a vote).
    The weeks are unrolled (var power_up_max CTEs): each needs the picks before it, and a fixed number of
    plain joins ports to every warehouse where a recursive query would not. The discriminator is the
    feature, so a feature is keyed (and sent) once per user. -#}

{%- set milestone_names = var('power_up_milestones') %}
{%- set weeks = range(var('power_up_max')) %}

with

history as (

    select user_id, as_of_date, day_number, signup_date, track
    from {{ ref('user_onboarding_daily') }}

),

milestones as (

    select * from {{ ref('int_onboarding__milestones') }}

),

policies as (

    select track, power_up_every_days from {{ ref('onboarding_track_policies') }}
    where power_up_every_days > 0

),

affinity as (

    select * from {{ ref('int_onboarding__feature_affinity_daily') }}

),

library as (

    select
        feature,
        feature_label,
        walkthrough_url,
        row_number() over (
            partition by feature
            order by case when industry = 'default' then 0 else 1 end, industry, feature_rank
        ) as preference
    from {{ ref('onboarding_feature_library') }}

),

first_uses as (

    select
        user_id,
        {{ json_str('properties', 'feature') }} as feature,
        min(event_at) as first_used_at
    from {{ ref('int_events__unified') }}
    where
        user_id is not null
        and event_name = '{{ var("feature_event") }}'
        and {{ json_str('properties', 'feature') }} is not null
    group by user_id, {{ json_str('properties', 'feature') }}

),

-- The day each user had every advanced milestone (null if they have not).
qualified as (

    select
        user_id,
        {%- set ns = namespace(latest=milestone_names[0] ~ '_at') %}
        {%- for name in milestone_names[1:] %}
            {%- set ns.latest = greatest_of(ns.latest, name ~ '_at') %}
        {%- endfor %}
        cast({{ ns.latest }} as date) as qualified_on
    from milestones
    where
        {%- for name in milestone_names %}
            {{ name }}_at is not null{% if not loop.last %} and{% endif %}
        {%- endfor %}

),

power_up_days as (

    select
        history.user_id,
        history.as_of_date,
        history.day_number,
        cast(
            {{ days_between('qualified.qualified_on', 'history.as_of_date') }} / policies.power_up_every_days
            as {{ dbt.type_int() }}
        ) as week_number
    from history
    inner join qualified on history.user_id = qualified.user_id
    inner join policies on history.track = policies.track
    where
        history.day_number < {{ var('onboarding_days') }}
        and history.as_of_date >= case
            when qualified.qualified_on < history.signup_date then history.signup_date
            else qualified.qualified_on
        end
        and {{ days_between('history.signup_date', 'qualified.qualified_on') }} <= {{ var('power_up_qualify_by_day') }}
        and mod({{ days_between('qualified.qualified_on', 'history.as_of_date') }}, policies.power_up_every_days) = 0
        and {{ days_between('qualified.qualified_on', 'history.as_of_date') }}
        < {{ var('power_up_max') }} * policies.power_up_every_days

),

-- Every unused feature's votes on every power-up day.
votes as (

    select
        power_up_days.user_id,
        power_up_days.week_number,
        power_up_days.as_of_date,
        affinity.co_feature as feature,
        sum(affinity.users_using_both) as votes
    from power_up_days
    inner join first_uses as used
        on
            power_up_days.user_id = used.user_id
            and used.first_used_at < {{ as_of_end('power_up_days.as_of_date') }}
    inner join affinity
        on
            power_up_days.as_of_date = affinity.as_of_date
            and used.feature = affinity.feature
    left join first_uses as already
        on
            power_up_days.user_id = already.user_id
            and affinity.co_feature = already.feature
            and already.first_used_at < {{ as_of_end('power_up_days.as_of_date') }}
    where already.user_id is null and affinity.users_using_both > 0
    group by power_up_days.user_id, power_up_days.week_number, power_up_days.as_of_date, affinity.co_feature

),

{% for week in weeks %}
    pick_{{ week }} as (

        {%- set q = 'votes.' if week > 0 else '' %}
        select user_id, week_number, as_of_date, feature, votes
        from (
            select
                {{ q }}*,
                row_number() over (
                    partition by {{ q }}user_id order by {{ q }}votes desc, {{ q }}feature asc
                ) as preference
            from votes
            {%- if week > 0 %}
                inner join pick_{{ week - 1 }} as previous on votes.user_id = previous.user_id
                {%- for earlier in range(week) %}
                    left join pick_{{ earlier }} as earlier_{{ earlier }}
                        on
                            votes.user_id = earlier_{{ earlier }}.user_id
                            and votes.feature = earlier_{{ earlier }}.feature
                {%- endfor %}
            {%- endif %}
            where
                {{ q }}week_number = {{ week }}
                {%- for earlier in range(week) %}
                    and earlier_{{ earlier }}.user_id is null
                {%- endfor %}
        ) as ranked
        where preference = 1

    ),

{% endfor %}

picks as (

    {% for week in weeks %}
        select * from pick_{{ week }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

final as (

    select
        'power_up' as trigger,
        picks.user_id,
        picks.feature as discriminator,
        picks.as_of_date,
        {{ as_of_end('picks.as_of_date') }} as due_at,
        {{ dbt.concat([
            "'power-up week '", as_text('picks.week_number + 1'), "': '", 'picks.feature',
            "' (unused; '", as_text('picks.votes'), "' co-uses with the features this user uses)'"
        ]) }} as reason,
        picks.feature as content_key,
        coalesce(library.feature_label, replace(picks.feature, '_', ' ')) as content_label,
        library.walkthrough_url as content_url

    from picks
    left join library
        on
            picks.feature = library.feature
            and library.preference = 1

)

select * from final

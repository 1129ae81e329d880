{#- Every message situation found in the decision history (marts.user_onboarding_daily) and the events
    behind it: one row per (trigger, user_id, discriminator), with the day it was decided, when it is due,
    why, and the situation's own template values. A pure function of the history: re-running or
    backfilling gives the same rows. Day-based messages need their exact day in the history; event-based
    ones need the event's day (so nothing is triggered beyond the last decided day). -#}

{%- set bands = var('risk_action_bands') %}

with

history as (

    select * from {{ ref('user_onboarding_daily') }}

),

events as (

    select user_id, event_name, event_at, properties
    from {{ ref('int_events__unified') }}
    where user_id is not null

),

nps as (

    select response_id, user_id, survey, score, comment, submitted_at, nps_category
    from {{ ref('stg_nps__responses') }}

),

feature_library as (

    select * from {{ ref('onboarding_feature_library') }}

),

{# Day-based messages (day 0 = signup day): due at the same time of day as the signup. -#}
day_messages as (

    select
        'welcome' as trigger,
        user_id,
        '' as discriminator,
        as_of_date,
        signed_up_at as due_at,
        {{ dbt.concat(["'signup day: welcome for track '", 'track']) }} as reason
    from history
    where day_number = 0

    union all

    select
        'day_1_plan' as trigger,
        user_id,
        '' as discriminator,
        as_of_date,
        {{ dbt.dateadd('day', var('day_one_email_day'), 'signed_up_at') }} as due_at,
        'day {{ var("day_one_email_day") }} after signup: the 30-day plan' as reason
    from history
    where day_number = {{ var('day_one_email_day') }}

    union all

    select
        'trial_expiring' as trigger,
        user_id,
        '' as discriminator,
        as_of_date,
        {{ dbt.dateadd('day', var('trial_offer_day'), 'signed_up_at') }} as due_at,
        'trial plan, day {{ var("trial_offer_day") }}: trial_expiring offer' as reason
    from history
    where day_number = {{ var('trial_offer_day') }} and plan = 'trial'

    union all

    select
        'nps_survey' as trigger,
        user_id,
        {{ dbt.concat(["'day_'", as_text('day_number')]) }} as discriminator,
        as_of_date,
        {{ dbt.dateadd('day', 'day_number', 'signed_up_at') }} as due_at,
        {{ dbt.concat(["'NPS survey on day '", as_text('day_number')]) }} as reason
    from history
    where day_number in ({{ var('nps_survey_days') | join(', ') }})

    union all

    select
        'playbook_day_14' as trigger,
        user_id,
        '' as discriminator,
        as_of_date,
        {{ dbt.dateadd('day', var('playbook_day'), 'signed_up_at') }} as due_at,
        'day {{ var("playbook_day") }}: the weeks 3-4 playbook' as reason
    from history
    where day_number = {{ var('playbook_day') }}

),

{# Once per user, on the first day the condition holds. Decided at the end of the day, due right after. -#}
first_time_conditions as (

    select
        'coaching_offer' as trigger,
        user_id,
        as_of_date,
        {{ dbt.concat([
            "'difficulty simplified ('", 'difficulty_reason',
            "'): ttfq '", "coalesce(" ~ as_text('time_to_first_query_seconds') ~ ", 'none')",
            "' s, '", as_text('round(queries_per_day, 2)'), "' queries/day'"
        ]) }} as reason
    from history
    where difficulty_level = 'simplified' and day_number < {{ var('onboarding_days') }}

    union all

    select
        'community_invite' as trigger,
        user_id,
        as_of_date,
        {{ dbt.concat([
            "'score '", as_text('onboarding_score'), "' >= " ~ var('community_min_score') ~ " and team size '",
            as_text('team_size'), "' > " ~ var('community_min_team_size') ~ "'"
        ]) }} as reason
    from history
    where
        day_number >= {{ var('playbook_day') }}
        and onboarding_score >= {{ var('community_min_score') }}
        and team_size > {{ var('community_min_team_size') }}

    union all

    select
        'case_study' as trigger,
        user_id,
        as_of_date,
        {{ dbt.concat([
            "'industry '", 'industry', "' and '", as_text('records_imported'),
            "' records imported > " ~ var('case_study_min_records') ~ "'"
        ]) }} as reason
    from history
    where
        day_number >= {{ var('playbook_day') }}
        and industry = '{{ var("case_study_industry") }}'
        and records_imported > {{ var('case_study_min_records') }}

),

first_time_messages as (

    select
        trigger,
        user_id,
        '' as discriminator,
        as_of_date,
        {{ as_of_end('as_of_date') }} as due_at,
        reason
    from (
        select
            *,
            row_number() over (partition by trigger, user_id order by as_of_date) as occurrence
        from first_time_conditions
    ) as ranked
    where occurrence = 1

),

{# Once per episode: risk episodes (5.2, 5.3) and off-track episodes (FAQ). -#}
episode_messages as (

    select
        case when risk_action = 'emergency_outreach' then 'csm_outreach' else 'risk_nudge' end as trigger,
        user_id,
        {{ as_text('risk_episode_started_on') }} as discriminator,
        as_of_date,
        {{ as_of_end('as_of_date') }} as due_at,
        {{ dbt.concat([
            "'churn risk '", as_text('churn_risk'), "' ('", 'risk_action', "'), factors '", 'risk_factors'
        ]) }} as reason
    from history
    where is_new_risk_episode and risk_action in ('emergency_outreach', 'automated_nudge')

    union all

    select
        'off_track_reengagement' as trigger,
        user_id,
        {{ as_text('off_track_since') }} as discriminator,
        as_of_date,
        {{ as_of_end('as_of_date') }} as due_at,
        {{ dbt.concat([
            'track', "' idle '", as_text('days_since_last_login'), "' days: effective track '", 'effective_track'
        ]) }} as reason
    from history
    where is_off_track_start

    union all

    select
        'off_track_flow' as trigger,
        user_id,
        {{ as_text('off_track_since') }} as discriminator,
        as_of_date,
        {{ as_of_end('as_of_date') }} as due_at,
        {{ dbt.concat([
            'track', "' idle '", as_text('days_since_last_login'), "' days: Appcues switched to '", 'effective_track'
        ]) }} as reason
    from history
    where is_off_track_start

    union all

    select
        'track_restored_flow' as trigger,
        user_id,
        {{ as_text('as_of_date') }} as discriminator,
        as_of_date,
        {{ as_of_end('as_of_date') }} as due_at,
        {{ dbt.concat(["'active again: Appcues restored to '", 'effective_track']) }} as reason
    from history
    where is_track_restored

),

{# Event nudges (3.2): the first user.ran_analysis; the first user.created_integration per integration. -#}
analysis_events as (

    select user_id, min(event_at) as event_at
    from events
    where event_name = '{{ var("analysis_event") }}'
    group by user_id

),

integration_events as (

    select
        user_id,
        lower(trim(coalesce({{ json_str('properties', 'integration_name') }}, 'unknown'))) as integration_key,
        coalesce({{ json_str('properties', 'integration_name') }}, 'unknown') as integration_name,
        event_at
    from events
    where event_name = '{{ var("integration_event") }}'

),

first_integrations as (

    select user_id, integration_key, integration_name, event_at
    from (
        select
            *,
            row_number() over (
                partition by user_id, integration_key order by event_at, integration_name
            ) as occurrence
        from integration_events
    ) as ranked
    where occurrence = 1

),

{# Silences (3.2): after the signup and after every event, if nothing follows within var silence_hours
    (or the nudge timing of the user's experiment variant), one re-engagement message, due when the
    silence reaches that length.
    Two points less than silence_hours apart never make a silence, so the points are first cut into
    buckets silence_hours long and only each bucket's first and last point are sequenced: the silences
    are exactly those of the point-by-point sequence (a silence starts at a bucket's last point), from
    a sort of a few rows per user instead of one per event. -#}
overrides as (

    select user_id, nudge_silence_hours from {{ ref('int_experiments__user_overrides') }}

),

activity_points as (

    select history.user_id, history.signed_up_at as point_at
    from history
    where history.day_number = 0

    union all

    select events.user_id, events.event_at as point_at
    from events

),

activity_buckets as (

    select
        user_id,
        silence_hours,
        min(point_at) as first_point_at,
        max(point_at) as last_point_at
    from (
        select
            activity_points.user_id,
            activity_points.point_at,
            coalesce(overrides.nudge_silence_hours, {{ var('silence_hours') }}) as silence_hours
        from activity_points
        left join overrides on activity_points.user_id = overrides.user_id
    ) as points
    group by
        user_id,
        silence_hours,
        floor(
            {{ seconds_between("cast('1970-01-01' as " ~ dbt.type_timestamp() ~ ")", 'point_at') }}
            / (3600 * silence_hours)
        )

),

silences as (

    select
        user_id,
        silence_hours,
        last_point_at as silent_since,
        {{ dbt.dateadd('hour', 'silence_hours', 'last_point_at') }} as due_at
    from (
        select
            *,
            lead(first_point_at) over (partition by user_id order by first_point_at) as next_point_at
        from activity_buckets
    ) as sequenced
    where
        next_point_at is null
        or next_point_at >= {{ dbt.dateadd('hour', 'silence_hours', 'last_point_at') }}

),

event_messages as (

    select
        'analysis_tip' as trigger,
        history.user_id,
        '' as discriminator,
        history.as_of_date,
        analysis_events.event_at as due_at,
        {{ dbt.concat(["'first " ~ var('analysis_event') ~ " at '", as_text('analysis_events.event_at')]) }} as reason,
        cast(null as {{ dbt.type_string() }}) as integration_name
    from analysis_events
    inner join history
        on
            analysis_events.user_id = history.user_id
            and history.as_of_date = case
                when cast(analysis_events.event_at as date) < history.signup_date then history.signup_date
                else cast(analysis_events.event_at as date)
            end
    where history.day_number < {{ var('onboarding_days') }}

    union all

    select
        'integration_live' as trigger,
        history.user_id,
        first_integrations.integration_key as discriminator,
        history.as_of_date,
        first_integrations.event_at as due_at,
        {{ dbt.concat([
            "'" ~ var('integration_event') ~ " '", 'first_integrations.integration_name',
            "' at '", as_text('first_integrations.event_at')
        ]) }} as reason,
        first_integrations.integration_name
    from first_integrations
    inner join history
        on
            first_integrations.user_id = history.user_id
            and history.as_of_date = case
                when cast(first_integrations.event_at as date) < history.signup_date then history.signup_date
                else cast(first_integrations.event_at as date)
            end
    where history.day_number < {{ var('onboarding_days') }}

    union all

    select
        'silence_reengagement' as trigger,
        history.user_id,
        {{ as_text('silences.silent_since') }} as discriminator,
        history.as_of_date,
        silences.due_at,
        {{ dbt.concat([
            "'no event for '", as_text('silences.silence_hours'), "' h since '", as_text('silences.silent_since')
        ]) }} as reason,
        cast(null as {{ dbt.type_string() }}) as integration_name
    from silences
    inner join history
        on
            silences.user_id = history.user_id
            and history.as_of_date = cast(silences.due_at as date)
    where history.day_number < {{ var('onboarding_days') }} and silences.silent_since >= history.signed_up_at

),

{# NPS (tips): a detractor answer (0-6) routes to a CSM outreach, once per response. -#}
nps_messages as (

    select
        'nps_detractor_outreach' as trigger,
        history.user_id,
        nps.response_id as discriminator,
        history.as_of_date,
        nps.submitted_at as due_at,
        {{ dbt.concat([
            "'NPS '", as_text('nps.score'), "' on the '", 'nps.survey', "' survey (detractor)'"
        ]) }} as reason,
        nps.survey,
        nps.score as nps_score,
        nps.comment as nps_comment
    from nps
    inner join history
        on
            nps.user_id = history.user_id
            and history.as_of_date = case
                when cast(nps.submitted_at as date) < history.signup_date then history.signup_date
                else cast(nps.submitted_at as date)
            end
    where nps.nps_category = 'detractor'

),

all_candidates as (

    select
        trigger, user_id, discriminator, as_of_date, due_at, reason,
        cast(null as {{ dbt.type_string() }}) as integration_name,
        case when trigger = 'nps_survey' then discriminator end as survey,
        cast(null as {{ dbt.type_int() }}) as nps_score,
        cast(null as {{ dbt.type_string() }}) as nps_comment
    from day_messages

    union all

    select
        trigger, user_id, discriminator, as_of_date, due_at, reason,
        cast(null as {{ dbt.type_string() }}) as integration_name,
        cast(null as {{ dbt.type_string() }}) as survey,
        cast(null as {{ dbt.type_int() }}) as nps_score,
        cast(null as {{ dbt.type_string() }}) as nps_comment
    from first_time_messages

    union all

    select
        trigger, user_id, discriminator, as_of_date, due_at, reason,
        cast(null as {{ dbt.type_string() }}) as integration_name,
        cast(null as {{ dbt.type_string() }}) as survey,
        cast(null as {{ dbt.type_int() }}) as nps_score,
        cast(null as {{ dbt.type_string() }}) as nps_comment
    from episode_messages

    union all

    select
        trigger, user_id, discriminator, as_of_date, due_at, reason, integration_name,
        cast(null as {{ dbt.type_string() }}) as survey,
        cast(null as {{ dbt.type_int() }}) as nps_score,
        cast(null as {{ dbt.type_string() }}) as nps_comment
    from event_messages

    union all

    select
        trigger, user_id, discriminator, as_of_date, due_at, reason,
        cast(null as {{ dbt.type_string() }}) as integration_name,
        survey, nps_score, nps_comment
    from nps_messages

),

{# 5.3 / 4.1: the most valuable feature for the user's industry (else the default list) that they have
    not used (user.used_feature properties.feature) before the end of the decision day; if they used them
    all, the most valuable one. -#}
library_industries as (

    select distinct industry from feature_library

),

used_features as (

    select
        user_id,
        {{ json_str('properties', 'feature') }} as feature,
        min(event_at) as first_used_at
    from events
    where event_name = '{{ var("feature_event") }}'
    group by user_id, {{ json_str('properties', 'feature') }}

),

feature_choices as (

    select
        all_candidates.trigger,
        all_candidates.user_id,
        all_candidates.discriminator,
        feature_library.feature,
        feature_library.feature_label,
        feature_library.walkthrough_url,
        row_number() over (
            partition by all_candidates.trigger, all_candidates.user_id, all_candidates.discriminator
            order by case when used_features.feature is null then 0 else 1 end, feature_library.feature_rank
        ) as preference

    from all_candidates
    inner join history
        on
            all_candidates.user_id = history.user_id
            and all_candidates.as_of_date = history.as_of_date
    left join library_industries on history.industry = library_industries.industry
    inner join feature_library
        on coalesce(library_industries.industry, 'default') = feature_library.industry
    left join used_features
        on
            all_candidates.user_id = used_features.user_id
            and feature_library.feature = used_features.feature
            and used_features.first_used_at < {{ as_of_end('all_candidates.as_of_date') }}
    where all_candidates.trigger in ('risk_nudge', 'playbook_day_14')

),

final as (

    select
        all_candidates.trigger,
        all_candidates.user_id,
        all_candidates.discriminator,
        all_candidates.as_of_date,
        cast(all_candidates.due_at as {{ dbt.type_timestamp() }}) as due_at,
        all_candidates.reason,
        all_candidates.integration_name,
        all_candidates.survey,
        all_candidates.nps_score,
        all_candidates.nps_comment,
        feature_choices.feature as unused_feature_key,
        feature_choices.feature_label as unused_feature,
        feature_choices.walkthrough_url as feature_video_url

    from all_candidates
    left join feature_choices
        on
            all_candidates.trigger = feature_choices.trigger
            and all_candidates.user_id = feature_choices.user_id
            and all_candidates.discriminator = feature_choices.discriminator
            and feature_choices.preference = 1

)

select * from final

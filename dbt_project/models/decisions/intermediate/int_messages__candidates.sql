{#- Every message situation found in the decision history (marts.user_onboarding_daily) and the events
    behind it: one row per (trigger, user_id, discriminator), with the day it was decided, when it is due,
    why, and the situation's own template values. The union of the five trigger families
    (int_messages__day_based, __first_time, __episodes, __event_nudges, __nps, through
    int_messages__situations), each situation under its stable key (int_messages__situation_keys: a
    situation late data moved keeps the discriminator it was first keyed with), and for risk nudges and
    the playbook the most valuable feature not used yet. -#}

with

situations as (

    select * from {{ ref('int_messages__situations') }}

),

known_keys as (

    select trigger, user_id, discriminator, anchor_at from {{ ref('int_messages__situation_keys') }}

),

history as (

    select user_id, as_of_date, industry from {{ ref('user_onboarding_daily') }}

),

events as (

    select user_id, event_name, event_at, properties
    from {{ ref('int_events__unified') }}
    where user_id is not null and event_name = '{{ var("feature_event") }}'

),

feature_library as (

    select * from {{ ref('onboarding_feature_library') }}

),

{# A situation takes the known key it matches, the nearest one; a key is taken by one situation only
    (the nearest), so two real situations never share a key. -#}
key_matches as (

    select
        situations.trigger,
        situations.user_id,
        situations.discriminator,
        known_keys.discriminator as key_discriminator,
        case
            when situations.discriminator = known_keys.discriminator then 0
            else abs({{ seconds_between('known_keys.anchor_at', 'situations.anchor_at') }})
        end as distance
    from situations
    inner join known_keys
        on {{ same_situation('situations', 'known_keys') }}

),

nearest_keys as (

    select *
    from (
        select
            *,
            row_number() over (
                partition by trigger, user_id, discriminator order by distance, key_discriminator
            ) as key_rank
        from key_matches
    ) as ranked
    where key_rank = 1

),

assigned_keys as (

    select trigger, user_id, discriminator, key_discriminator
    from (
        select
            *,
            row_number() over (
                partition by trigger, user_id, key_discriminator order by distance, discriminator
            ) as situation_rank
        from nearest_keys
    ) as ranked
    where situation_rank = 1

),

keyed as (

    select
        situations.trigger,
        situations.user_id,
        coalesce(assigned_keys.key_discriminator, situations.discriminator) as discriminator,
        situations.as_of_date,
        situations.due_at,
        situations.reason,
        situations.integration_name,
        situations.survey,
        situations.nps_score,
        situations.nps_comment,
        situations.content_key,
        situations.content_label,
        situations.content_url

    from situations
    left join assigned_keys
        on
            situations.trigger = assigned_keys.trigger
            and situations.user_id = assigned_keys.user_id
            and situations.discriminator = assigned_keys.discriminator

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
    group by user_id, {{ json_str('properties', 'feature') }}

),

feature_choices as (

    select
        keyed.trigger,
        keyed.user_id,
        keyed.discriminator,
        feature_library.feature,
        feature_library.feature_label,
        feature_library.walkthrough_url,
        row_number() over (
            partition by keyed.trigger, keyed.user_id, keyed.discriminator
            order by
                case when used_features.feature is null then 0 else 1 end,
                feature_library.feature_rank,
                feature_library.feature
        ) as preference

    from keyed
    inner join history
        on
            keyed.user_id = history.user_id
            and keyed.as_of_date = history.as_of_date
    left join library_industries on history.industry = library_industries.industry
    inner join feature_library
        on coalesce(library_industries.industry, 'default') = feature_library.industry
    left join used_features
        on
            keyed.user_id = used_features.user_id
            and feature_library.feature = used_features.feature
            and used_features.first_used_at < {{ as_of_end('keyed.as_of_date') }}
    where keyed.trigger in ('risk_nudge', 'playbook_day_14')

),

final as (

    select
        keyed.trigger,
        keyed.user_id,
        keyed.discriminator,
        keyed.as_of_date,
        keyed.due_at,
        keyed.reason,
        keyed.integration_name,
        keyed.survey,
        keyed.nps_score,
        keyed.nps_comment,
        -- risk nudge / playbook: the library's choice; power-up: its feature; quit survey: the form link
        coalesce(feature_choices.feature, keyed.content_key) as unused_feature_key,
        coalesce(feature_choices.feature_label, keyed.content_label) as unused_feature,
        coalesce(feature_choices.walkthrough_url, keyed.content_url) as feature_video_url

    from keyed
    left join feature_choices
        on
            keyed.trigger = feature_choices.trigger
            and keyed.user_id = feature_choices.user_id
            and keyed.discriminator = feature_choices.discriminator
            and feature_choices.preference = 1

)

select * from final

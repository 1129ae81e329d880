{#- Every message situation the five trigger families find, one row per (trigger, user_id, discriminator)
    with the family's own template values, and what makes two of them the same situation when late data
    moves a data-derived discriminator (int_messages__situation_keys):
    - anchor_at: the situation's start (the discriminator's timestamp for episodes and silences);
    - match_seconds: two situations of one trigger and user whose anchors are less than this apart are
      one situation. Two real risk episodes of one action start more than risk_episode_cooldown_days
      apart, two off-track episodes more than off_track_idle_days, two silences at least the silence's
      length; closer starts can only be one situation seen before and after late data. 0 for triggers
      whose discriminator no later data moves (once per user, the survey day, the integration, the NPS
      response). -#}

with

day_based as (

    select * from {{ ref('int_messages__day_based') }}

),

first_time as (

    select * from {{ ref('int_messages__first_time') }}

),

episodes as (

    select * from {{ ref('int_messages__episodes') }}

),

event_nudges as (

    select * from {{ ref('int_messages__event_nudges') }}

),

nps as (

    select * from {{ ref('int_messages__nps') }}

),

scheduled as (

    select * from {{ ref('int_messages__scheduled') }}

),

power_ups as (

    select * from {{ ref('int_messages__power_ups') }}

),

-- Multi-product and stakeholder-map situations (J2): their values ride in the content columns (product
-- label or team progress -> content_label, next step -> content_key, form link -> content_url).
products as (

    select * from {{ ref('int_products__messages') }}

),

stakeholders as (

    select * from {{ ref('int_stakeholders__messages') }}

),

-- Every trigger consults the track policy table: a situation whose trigger does not apply to the user's
-- assigned track (on the situation's day) is dropped here, before it is keyed.
history as (

    select user_id, as_of_date, track from {{ ref('user_onboarding_daily') }}

),

policies as (

    select track, trigger, applies from {{ ref('track_trigger_policies') }}

),

unioned as (

    {{ situation_family('day_based', {'survey': "case when trigger = 'nps_survey' then discriminator end"}) }}
    union all
    {{ situation_family('first_time') }}
    union all
    {{ situation_family('episodes') }}
    union all
    {{ situation_family('event_nudges', {'integration_name': 'integration_name'}) }}
    union all
    {{ situation_family('nps', {'survey': 'survey', 'nps_score': 'nps_score', 'nps_comment': 'nps_comment'}) }}
    union all
    {{ situation_family('scheduled', {'content_url': 'content_url'}) }}
    union all
    {{ situation_family('power_ups', {
        'content_key': 'content_key', 'content_label': 'content_label', 'content_url': 'content_url',
    }) }}
    union all
    {{ situation_family('products', {'content_key': 'product_milestone', 'content_label': 'product'}) }}
    union all
    {{ situation_family('stakeholders', {'content_label': 'team_progress', 'content_url': 'form_link'}) }}

),

applicable as (

    select unioned.*
    from unioned
    left join history
        on
            unioned.user_id = history.user_id
            and unioned.as_of_date = history.as_of_date
    left join policies
        on
            history.track = policies.track
            and unioned.trigger = policies.trigger
    where coalesce(policies.applies, true)

),

matched_within as (

    select
        *,
        case
            when trigger in ('csm_outreach', 'risk_nudge')
                then 86400 * ({{ var('risk_episode_cooldown_days') }} + 1)
            when trigger in ('off_track_reengagement', 'off_track_flow', 'track_restored_flow')
                then 86400 * ({{ var('off_track_idle_days') }} + 1)
            when trigger = 'silence_reengagement'
                then {{ seconds_between('cast(discriminator as ' ~ dbt.type_timestamp() ~ ')', 'due_at') }}
            else 0
        end as match_seconds

    from applicable

),

final as (

    select
        trigger,
        user_id,
        discriminator,
        as_of_date,
        cast(due_at as {{ dbt.type_timestamp() }}) as due_at,
        reason,
        integration_name,
        survey,
        nps_score,
        nps_comment,
        content_key,
        content_label,
        content_url,
        case when match_seconds > 0 then cast(discriminator as {{ dbt.type_timestamp() }}) end as anchor_at,
        match_seconds

    from matched_within

)

select * from final

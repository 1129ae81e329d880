{#- Per track, which triggers and channels apply: the one table that says how the five tracks differ
    (docs/rules.md, "Tracks that behave like their descriptions"). Built from the seeds only: the track
    policies (channels allowed, CSM rules, coaching, nudge pacing, power-up cadence), the plan policies
    (CSM from day 1), the scheduled cadences and the message templates (the track's own template, else the
    generic one, gives the channel). int_messages__situations drops every situation whose trigger does not
    apply to the user's assigned track, so every trigger consults this table; a trigger with no row here
    (a new one) applies everywhere until the table knows it. -#}

with

policies as (

    select * from {{ ref('onboarding_track_policies') }}

),

cadences as (

    select track, trigger, first_day, every_days, last_day from {{ ref('onboarding_track_cadences') }}

),

scheduled_triggers as (

    select distinct trigger from cadences

),

templates as (

    select template_id, trigger, track, channel
    from {{ ref('onboarding_message_templates') }}
    where template_variant is null and trigger <> 'booking_link'

),

triggers as (

    select distinct trigger, channel = 'csm_alert' as is_alert from templates

),

-- The template a track's users get for each trigger: the track's own, else the generic one.
track_templates as (

    select
        policies.track,
        triggers.trigger,
        triggers.is_alert,
        coalesce(own.template_id, generic.template_id) as template_id,
        coalesce(own.channel, generic.channel) as channel

    from policies
    cross join triggers
    left join templates as own
        on
            triggers.trigger = own.trigger
            and policies.track = own.track
    left join templates as generic
        on
            triggers.trigger = generic.trigger
            and generic.track is null

),

decided as (

    select
        track_templates.track,
        track_templates.trigger,
        track_templates.template_id,
        track_templates.channel,
        case
            when track_templates.channel in ('intercom_in_app', 'appcues') and not policies.in_app_allowed
                then 'no in-app messages on this track'
            when track_templates.channel = 'intercom_email' and not policies.email_allowed
                then 'no email on this track'
            when track_templates.channel = 'slack' and not policies.slack_allowed
                then 'no Slack community invite on this track'
            when track_templates.trigger in ('escalation', 'nps_detractor_outreach', 'nps_detractor')
                and policies.csm_only_on_emergency
                then 'a CSM only when churn risk is an emergency'
            when track_templates.trigger = 'coaching_offer' and not policies.coaching_allowed
                then 'no live coaching on this track'
            when track_templates.trigger = 'power_up' and policies.power_up_every_days <= 0
                then 'no power-ups on this track'
            when scheduled_triggers.trigger is not null and cadences.track is null
                then 'not scheduled on this track'
            when track_templates.trigger in ('off_track_reengagement', 'off_track_flow', 'track_restored_flow')
                and track_templates.track <> '{{ var("off_track_from_track") }}'
                then 'only {{ var("off_track_from_track") }} users go off-track'
        end as excluded_because,
        case
            when track_templates.trigger = 'csm_introduction' and policies.specialist_from_day_1
                then 'day 0: the dedicated specialist from the CSM roster'
            when track_templates.trigger = 'csm_introduction' and policies.csm_from_day_1
                then 'day 0: the CSM from the roster'
            when track_templates.trigger = 'csm_introduction'
                then 'day 0, paid plans only (onboarding_plan_policies)'
            when track_templates.trigger = 'power_up'
                then {{ dbt.concat([
                    "'early achievers, every '", as_text('policies.power_up_every_days'), "' days'"
                ]) }}
            when cadences.track is not null
                then {{ dbt.concat([
                    "'days '", as_text('cadences.first_day'), "'-'", as_text('cadences.last_day'),
                    "', every '", as_text('cadences.every_days'), "' days'"
                ]) }}
            when track_templates.trigger = 'silence_reengagement'
                then {{ dbt.concat(["'after '", as_text('policies.silence_hours'), "' h without an event'"]) }}
            when track_templates.trigger = 'csm_outreach' and policies.csm_only_on_emergency
                then 'emergency risk only: the one human contact of this track'
        end as pacing,
        track_templates.is_alert

    from track_templates
    inner join policies on track_templates.track = policies.track
    left join cadences
        on
            track_templates.track = cadences.track
            and track_templates.trigger = cadences.trigger
    left join scheduled_triggers on track_templates.trigger = scheduled_triggers.trigger

),

final as (

    select
        track,
        trigger,
        case when is_alert then 'csm_alert' else 'message' end as kind,
        template_id,
        channel,
        excluded_because is null as applies,
        excluded_because,
        pacing

    from decided
    where template_id is not null

)

select * from final
